//! What blocking queries wait on: the applied index of this server's state.

use crate::Service;

impl keel_http::Watch for Service {
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.server.as_ref().map(|server| server.view().subscribe_applied())
    }
}
