//! `/v1/operator/snapshot`: save, and verify before restore.

use keel_http::{ApiError, Consistency, Read};
use keel_state::Command;

use crate::{Service, snapshot};

impl keel_http::SnapshotApi for Service {
    async fn save_snapshot(&self, consistency: Consistency) -> Result<Read<Vec<u8>>, ApiError> {
        let server = self.reader(consistency).await?;
        let (archive, index) = snapshot::save(server, self.now_ms())?;
        Ok(Read { value: archive, meta: self.meta(server, index) })
    }

    async fn restore_snapshot(&self, archive: Vec<u8>) -> Result<u64, ApiError> {
        let state = snapshot::verify(&archive)?;
        let applied = self.write(Command::Restore { state: Box::new(state) }).await?;
        tracing::info!(index = applied.index, bytes = archive.len(), "snapshot restored");
        Ok(applied.index)
    }
}
