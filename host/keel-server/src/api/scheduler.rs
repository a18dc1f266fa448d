//! `/v1/operator/scheduler/configuration`.

use keel_api::operator::SchedulerConfiguration;
use keel_http::{ApiError, Consistency, Read, Written};
use keel_state::Command;

use crate::Service;

impl keel_http::SchedulerApi for Service {
    async fn scheduler_configuration(
        &self,
        consistency: Consistency,
    ) -> Result<Read<SchedulerConfiguration>, ApiError> {
        self.read(
            consistency,
            |config: &SchedulerConfiguration| config.modify_index,
            |state| state.scheduler.clone().unwrap_or_else(|| self.config.scheduler.clone()),
        )
        .await
    }

    async fn set_scheduler_configuration(
        &self,
        config: SchedulerConfiguration,
        cas: Option<u64>,
    ) -> Result<Written, ApiError> {
        self.write_config(Command::SetSchedulerConfig { config, cas }).await
    }
}
