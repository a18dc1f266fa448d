//! `/v1/operator/snapshot`: the state as an archive, and back.

use keel_cluster::Server;
use keel_http::ApiError;
use keel_state::State;
use keel_state::archive::{self, ArchiveMeta, ArchiveServer};

pub use archive::MAX_UNPACKED_BYTES;

/// An archive of the server's applied state, and the index it reflects,
/// stamped as created at `now_ms`.
pub(crate) fn save(server: &Server, now_ms: u64) -> Result<(Vec<u8>, u64), ApiError> {
    let (state, applied) = server.view().read_at(|state, applied| {
        // A restore in pieces is the log's business, not the archive's.
        let json = match state.restoring {
            None => serde_json::to_vec(state),
            Some(_) => serde_json::to_vec(&State { restoring: None, ..state.clone() }),
        };
        (json.expect("the state is plain data and always serializes"), applied)
    });
    let (peers, _) = server.configuration();
    let meta = ArchiveMeta {
        version: archive::FORMAT_VERSION,
        keel_version: env!("CARGO_PKG_VERSION").to_owned(),
        index: applied.map_or(0, |log_id| log_id.index),
        term: applied.map_or(0, |log_id| log_id.leader_id.term),
        membership: peers
            .into_iter()
            .map(|peer| ArchiveServer {
                id: peer.node.id,
                address: peer.node.address,
                name: peer.node.name,
                voter: peer.voter,
            })
            .collect(),
        created_at: keel_api::time::rfc3339_ms(i64::try_from(now_ms).unwrap_or(i64::MAX)),
    };
    let index = meta.index;
    Ok((archive::write(&meta, &state), index))
}

/// Checks an archive completely and decodes its state; nothing is changed
/// here, so a refused archive leaves the cluster as it was.
pub(crate) fn verify(bytes: &[u8]) -> Result<State, ApiError> {
    let (meta, state) = archive::read(bytes, MAX_UNPACKED_BYTES)
        .map_err(|error| ApiError::bad_request(format!("invalid snapshot: {error}")))?;
    let state = serde_json::from_slice(&state)
        .map_err(|error| ApiError::bad_request(format!("invalid snapshot: state.bin does not decode: {error}")))?;
    tracing::info!(index = meta.index, term = meta.term, keel_version = %meta.keel_version, "snapshot archive verified");
    Ok(state)
}
