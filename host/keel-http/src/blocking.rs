//! Nomad's blocking queries: a read with `?index=N` waits until what it
//! answers has an index above `N`, or `?wait=` (5 minutes when absent, at
//! most 10) has passed, and then answers as it is. The state's change
//! notifications ([`crate::Watch`]) wake it; each wake reads again.

use std::future::Future;
use std::time::Duration;

use crate::request::Params;
use crate::{ApiError, Read, Watch};

/// Nomad's wait when `?wait=` is not given.
const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);
/// The longest wait Nomad grants.
const MAX_WAIT: Duration = Duration::from_secs(10 * 60);

/// `?index=N` (above 0) and how long to wait for the answer to pass it.
fn blocking(params: &Params) -> Result<Option<(u64, Duration)>, ApiError> {
    let Some(index) = params.non_empty("index") else { return Ok(None) };
    let index: u64 = index.parse().map_err(|_| ApiError::bad_request("Invalid index"))?;
    let wait = match params.non_empty("wait") {
        Some(wait) => keel_api::duration::parse(wait).map_err(|_| ApiError::bad_request("Invalid wait time"))?,
        None => DEFAULT_WAIT,
    };
    Ok((index > 0).then_some((index, wait.min(MAX_WAIT))))
}

/// How long the blocking read `uri` asks may wait, when it is one: a
/// follower relaying it to the leader gives the relay that long, beyond
/// its usual hold.
pub(crate) fn wait_of(uri: &axum::http::Uri) -> Option<Duration> {
    blocking(&Params::from_uri(uri)?).ok().flatten().map(|(_, wait)| wait)
}

/// Runs `query`, again each time the state changes, until its index passes
/// the request's `?index` or the wait is over.
pub(crate) async fn read<W, T, F, Fut>(watch: &W, params: &Params, query: F) -> Result<Read<T>, ApiError>
where
    W: Watch + ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Read<T>, ApiError>>,
{
    let Some((index, wait)) = blocking(params)? else { return query().await };
    let deadline = tokio::time::Instant::now() + wait;
    let Some(mut changes) = watch.changes() else { return query().await };
    loop {
        changes.borrow_and_update();
        let read = query().await?;
        if read.meta.index > index {
            return Ok(read);
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            // The wait is over, or the state is gone with its server.
            Ok(Err(_)) | Err(_) => return Ok(read),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        let uri: axum::http::Uri = format!("/v1/jobs?{query}").parse().expect("a uri");
        Params::from_uri(&uri).expect("a query")
    }

    #[test]
    fn index_and_wait_are_read_as_nomad_reads_them() {
        assert_eq!(blocking(&params("")).expect("fine"), None);
        assert_eq!(blocking(&params("index=0")).expect("fine"), None, "index 0 answers at once");
        assert_eq!(blocking(&params("index=7")).expect("fine"), Some((7, DEFAULT_WAIT)));
        assert_eq!(blocking(&params("index=7&wait=2s")).expect("fine"), Some((7, Duration::from_secs(2))));
        assert_eq!(blocking(&params("index=7&wait=1h")).expect("fine"), Some((7, MAX_WAIT)));
        assert_eq!(blocking(&params("index=x")).expect_err("refused").message, "Invalid index");
        assert_eq!(blocking(&params("index=1&wait=soon")).expect_err("refused").message, "Invalid wait time");
    }
}
