//! `/v1/operator/autopilot/...`: the configuration and the plugin's health report.

use keel_api::operator::{AutopilotConfiguration, OperatorHealthReply};
use keel_http::{ApiError, Consistency, Read, Written};
use keel_state::Command;

use crate::Service;

impl keel_http::AutopilotApi for Service {
    async fn autopilot_configuration(
        &self,
        consistency: Consistency,
    ) -> Result<Read<AutopilotConfiguration>, ApiError> {
        self.read(
            consistency,
            |config: &AutopilotConfiguration| config.modify_index,
            |state| state.autopilot.clone().unwrap_or_else(|| self.config.autopilot.clone()),
        )
        .await
    }

    async fn set_autopilot_configuration(
        &self,
        config: AutopilotConfiguration,
        cas: Option<u64>,
    ) -> Result<Written, ApiError> {
        self.write_config(Command::SetAutopilotConfig { config, cas }).await
    }

    async fn autopilot_health(&self) -> Result<OperatorHealthReply, ApiError> {
        let server = self.reader(Consistency::Leader).await?;
        self.evaluate_autopilot(server).await
    }
}
