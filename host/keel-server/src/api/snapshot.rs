//! `/v1/operator/snapshot`: save, and verify before restore.

use keel_http::{ApiError, Consistency, Read};

use crate::{Service, snapshot};

impl keel_http::SnapshotApi for Service {
    async fn save_snapshot(&self, consistency: Consistency) -> Result<Read<Vec<u8>>, ApiError> {
        let server = self.reader(consistency).await?;
        let (archive, index) = snapshot::save(server, self.now_ms())?;
        Ok(Read { value: archive, meta: self.meta(server, index) })
    }

    async fn restore_snapshot(&self, archive: Vec<u8>) -> Result<u64, ApiError> {
        let bytes = archive.len();
        // Unpacking and decoding up to the unpack limit takes long enough to
        // hold up heartbeats on the async runtime.
        let state = tokio::task::spawn_blocking(move || snapshot::verify(&archive))
            .await
            .map_err(|error| ApiError::internal(format!("verify the snapshot: {error}")))??;
        let applied = self.server()?.restore(state).await.map_err(crate::service::cluster_error)?;
        tracing::info!(index = applied.index, bytes, "snapshot restored");
        Ok(applied.index)
    }
}
