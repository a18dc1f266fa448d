//! `/v1/client/fs/logs/:alloc_id`: a task's stdout or stderr, read from
//! the allocation's directory on the client that runs it (not followed).
//! `?plain=true` answers the bytes as they are; otherwise one of Nomad's
//! stream frames, `{"Data": <base64>, "File": ..., "Offset": ...}`.
//! `?origin=start|end` and `?offset=N` choose where the answer starts, as
//! in Nomad: `N` bytes from the start, or back from the end.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use keel_api::task::LogKind;

use crate::request::{self, Params};
use crate::{ApiError, Backend};

/// What a logs request asks, checked before its right is.
#[derive(Debug, PartialEq, Eq)]
struct LogRequest {
    task: String,
    kind: LogKind,
    plain: bool,
    from_end: bool,
    offset: u64,
}

fn log_request(params: &Params) -> Result<LogRequest, ApiError> {
    let task = params.non_empty("task").ok_or_else(|| ApiError::bad_request("must provide task name"))?;
    let kind = params
        .non_empty("type")
        .and_then(LogKind::parse)
        .ok_or_else(|| ApiError::bad_request("must provide log type (stdout, stderr)"))?;
    let from_end = match params.non_empty("origin") {
        None | Some("start") => false,
        Some("end") => true,
        Some(_) => return Err(ApiError::bad_request("origin must be start or end")),
    };
    let offset = match params.non_empty("offset") {
        None => 0,
        Some(offset) => offset
            .parse()
            .map_err(|_| ApiError::bad_request(format!("Failed to parse offset {offset:?}: not a whole number")))?,
    };
    Ok(LogRequest { task: task.to_owned(), kind, plain: params.flag("plain")?, from_end, offset })
}

/// The query checks of the route.
pub(crate) fn check(params: &Params) -> Result<(), ApiError> {
    log_request(params).map(drop)
}

/// `GET /v1/client/fs/logs/:alloc_id`.
pub(crate) async fn logs<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    let id = request::segment(id)?;
    let asked = log_request(&params)?;
    let namespace = params.non_empty("namespace").unwrap_or("default").to_owned();
    let log = backend.alloc_logs(id, namespace, asked.task.clone(), asked.kind).await?;
    let total = log.len() as u64;
    let start = match asked.from_end {
        false => asked.offset.min(total),
        true => total.saturating_sub(asked.offset),
    };
    let data = &log[usize::try_from(start).unwrap_or(log.len())..];
    if asked.plain {
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], data.to_vec()).into_response());
    }
    let frame = serde_json::json!({
        "Data": base64::engine::general_purpose::STANDARD.encode(data),
        "File": format!("alloc/logs/{}.{}.0", asked.task, asked.kind.name()),
        "Offset": total,
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], frame.to_string()).into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::Capability;
    use crate::testing::{Harness, assert_error};

    #[tokio::test]
    async fn logs_are_read_plain_or_framed_from_an_offset_and_bad_queries_are_400s() {
        let harness = Harness::new();
        let alloc = keel_api::job::Allocation { id: "a1".into(), namespace: "default".into(), ..Default::default() };
        harness.backend.state().allocs.insert("a1".into(), alloc);
        let plain = harness.send("GET", "/v1/client/fs/logs/a1?task=web&type=stdout&plain=true").await;
        assert_eq!((plain.status, plain.text()), (StatusCode::OK, "web stdout\n"));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::ReadLogs)));
        let tail =
            harness.send("GET", "/v1/client/fs/logs/a1?task=web&type=stderr&plain=true&origin=end&offset=3").await;
        assert_eq!(tail.text(), "rr\n");
        let framed = harness.send("GET", "/v1/client/fs/logs/a1?task=web&type=stdout&offset=4").await.json();
        assert_eq!((framed["Data"].as_str(), framed["Offset"].as_u64()), (Some("c3Rkb3V0Cg=="), Some(11)));
        assert_eq!(framed["File"], "alloc/logs/web.stdout.0");

        for (query, message) in [
            ("type=stdout", "must provide task name"),
            ("task=web&type=stdin", "must provide log type (stdout, stderr)"),
            ("task=web&type=stdout&origin=middle", "origin must be start or end"),
            ("task=web&type=stdout&offset=-1", "Failed to parse offset \"-1\": not a whole number"),
        ] {
            let reply = harness.send("GET", &format!("/v1/client/fs/logs/a1?{query}")).await;
            assert_error(reply, StatusCode::BAD_REQUEST, message);
        }
        let elsewhere = harness.send("GET", "/v1/client/fs/logs/a1?task=web&type=stdout&namespace=prod").await;
        assert_eq!(elsewhere.status, StatusCode::NOT_FOUND, "an allocation of another namespace is not there");
        let unknown = harness.send("GET", "/v1/client/fs/logs/nope?task=web&type=stdout").await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    }
}
