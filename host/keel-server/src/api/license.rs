//! `/v1/operator/license`: verdicts from the license plugin.

use keel_api::operator::LicenseReply;
use keel_http::{ApiError, Consistency, Read};
use keel_state::Command;

use crate::{Service, license};

impl keel_http::LicenseApi for Service {
    async fn license(&self, consistency: Consistency) -> Result<Read<Option<LicenseReply>>, ApiError> {
        let server = self.reader(consistency).await?;
        let stored = server.view().read(|state| state.license.clone());
        let meta = self.meta(server, stored.as_ref().map_or(0, |license| license.modify_index));
        let reply = match stored {
            Some(stored) => Some(license::reply(&self.plugins.license, &stored.blob, self.now_ms()).await?),
            None => None,
        };
        Ok(Read { value: reply, meta })
    }

    async fn set_license(&self, blob: String, force: bool) -> Result<u64, ApiError> {
        let server = self.server()?;
        let installed = server.view().read(|state| state.license.clone());
        license::check_new(
            &self.plugins.license,
            &blob,
            installed.as_ref().map(|l| l.blob.as_str()),
            force,
            self.now_ms(),
        )
        .await?;
        let applied = self.write(Command::SetLicense { blob }).await?;
        Ok(applied.index)
    }
}
