//! `/v1/jobs`, `/v1/job/:id`, `/v1/evaluation(s)` and `/v1/allocation(s)`:
//! jobs as Nomad's clients submit them, and what the scheduler made of
//! them. A job's namespace is `?namespace=` (`default` when absent), as the
//! ACL gate reads it too.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use keel_api::job::{Job, JobRegisterRequest, without_nulls};

use crate::blocking;
use crate::reply::{self, Json};
use crate::request::{self, Params};
use crate::{ApiError, Backend, Consistency, Limits, Read, Watch};

fn namespace(params: &Params) -> String {
    params.non_empty("namespace").unwrap_or("default").to_owned()
}

/// Reads a registration body: `{"Job": {...}}`, with Go's `null`s read as
/// fields left out, canonicalized and checked as Nomad does.
async fn submitted(body: Body, limits: &Limits, params: &Params, path_id: Option<&str>) -> Result<Job, ApiError> {
    let body = request::read_body(body, limits.body_max_bytes, limits.body_idle_timeout_ms).await?;
    let value: serde_json::Value = request::decode_json(&body, "job")?;
    let request: JobRegisterRequest = serde_json::from_value(without_nulls(value))
        .map_err(|error| ApiError::bad_request(format!("Error parsing job: {error}")))?;
    let mut job = request.job.ok_or_else(|| ApiError::bad_request("Job must be specified"))?;
    if job.namespace.is_empty() {
        job.namespace = namespace(params);
    }
    job.canonicalize();
    if let Some(id) = path_id
        && id != job.id
    {
        return Err(ApiError::bad_request("Job ID does not match name"));
    }
    job.validate().map_err(ApiError::bad_request)?;
    Ok(job)
}

/// `PUT|POST /v1/jobs`: registers a job; answers its evaluation.
pub(crate) async fn register<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    submit(&*backend, &limits, &params, body, None).await
}

/// `POST|PUT /v1/job/:id`: registers the job named in the path.
pub(crate) async fn update<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let id = request::segment(id)?;
    submit(&*backend, &limits, &params, body, Some(&id)).await
}

/// Both registrations: the job from the body, its evaluation in the reply.
async fn submit<B: Backend>(
    backend: &B,
    limits: &Limits,
    params: &Params,
    body: Body,
    path_id: Option<&str>,
) -> Result<Response, ApiError> {
    let job = submitted(body, limits, params, path_id).await?;
    let reply = backend.submit_job(job).await?;
    Ok((reply::index(reply.index), Json::new(reply, params.format())).into_response())
}

/// `DELETE /v1/job/:id[?purge=true]`: stops the job.
pub(crate) async fn stop<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    let id = request::segment(id)?;
    let reply = backend.stop_job(namespace(&params), id, params.flag("purge")?).await?;
    Ok((reply::index(reply.index), Json::new(reply, params.format())).into_response())
}

/// `GET /v1/jobs[?prefix=&namespace=]`.
pub(crate) async fn list<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    listed(&*backend, &params, |namespace, prefix, c| backend.jobs(namespace, prefix, c)).await
}

/// `GET /v1/job/:id`.
pub(crate) async fn read<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    by_id(&*backend, id, &params, |namespace, id, c| backend.job(namespace, id, c)).await
}

/// `GET /v1/job/:id/allocations`.
pub(crate) async fn allocations<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    by_id(&*backend, id, &params, |namespace, id, c| backend.job_allocations(namespace, id, c)).await
}

/// `GET /v1/job/:id/evaluations`.
pub(crate) async fn evaluations<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    by_id(&*backend, id, &params, |namespace, id, c| backend.job_evaluations(namespace, id, c)).await
}

/// `POST|PUT /v1/job/:id/plan`: a dry run of the registration.
pub(crate) async fn plan<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let id = request::segment(id)?;
    let job = submitted(body, &limits, &params, Some(&id)).await?;
    let answer = backend.plan_job(job).await?;
    Ok((reply::index(answer.index), Json::new(answer, params.format())).into_response())
}

/// `GET /v1/job/:id/summary`.
pub(crate) async fn summary<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    by_id(&*backend, id, &params, |namespace, id, c| backend.job_summary(namespace, id, c)).await
}

fn prefix(params: &Params) -> String {
    params.first("prefix").unwrap_or_default().to_owned()
}

/// A read of the item of the request's namespace named by the path, as a
/// blocking query.
async fn by_id<T: serde::Serialize, Fut>(
    watch: &impl Watch,
    id: Result<Path<String>, PathRejection>,
    params: &Params,
    query: impl Fn(String, String, Consistency) -> Fut,
) -> Result<Response, ApiError>
where
    Fut: Future<Output = Result<Read<T>, ApiError>>,
{
    let (id, consistency) = (request::segment(id)?, params.read_options()?);
    let read = blocking::read(watch, params, || query(namespace(params), id.clone(), consistency));
    Ok(reply::read(read.await?, params.format()))
}

/// A read of the request's namespace and `?prefix`, as a blocking query.
async fn listed<T: serde::Serialize, Fut>(
    watch: &impl Watch,
    params: &Params,
    query: impl Fn(String, String, Consistency) -> Fut,
) -> Result<Response, ApiError>
where
    Fut: Future<Output = Result<Read<T>, ApiError>>,
{
    let consistency = params.read_options()?;
    let read = blocking::read(watch, params, || query(namespace(params), prefix(params), consistency));
    Ok(reply::read(read.await?, params.format()))
}

/// `GET /v1/evaluations` (`?prefix`, `?namespace`).
pub(crate) async fn all_evaluations<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
) -> Result<Response, ApiError> {
    listed(&*backend, &params, |namespace, prefix, c| backend.evaluations(namespace, prefix, c)).await
}

/// `GET /v1/evaluation/:id`.
pub(crate) async fn evaluation<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    by_id(&*backend, id, &params, |namespace, id, c| backend.evaluation(namespace, id, c)).await
}

/// `GET /v1/evaluation/:id/allocations`.
pub(crate) async fn evaluation_allocations<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    by_id(&*backend, id, &params, |namespace, id, c| backend.evaluation_allocations(namespace, id, c)).await
}

/// `GET /v1/node/:id/allocations`: the node's allocations of the request's
/// namespace.
pub(crate) async fn node_allocations<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    by_id(&*backend, id, &params, |namespace, id, c| backend.node_allocations(namespace, id, c)).await
}

/// `GET /v1/allocations` (`?prefix`, `?namespace`).
pub(crate) async fn all_allocations<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
) -> Result<Response, ApiError> {
    listed(&*backend, &params, |namespace, prefix, c| backend.allocations(namespace, prefix, c)).await
}

/// `GET /v1/allocation/:id`.
pub(crate) async fn allocation<B: Backend>(
    State(backend): State<Arc<B>>,
    id: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Response, ApiError> {
    by_id(&*backend, id, &params, |namespace, id, c| backend.allocation(namespace, id, c)).await
}

/// A path missing its id.
pub(crate) async fn missing_id() -> ApiError {
    ApiError::bad_request("Missing ID")
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use crate::Capability;
    use crate::testing::{Harness, assert_error};

    fn body(value: serde_json::Value) -> String {
        value.to_string()
    }

    #[tokio::test]
    async fn a_submitted_job_is_canonicalized_in_the_request_namespace_and_asks_submit_job() {
        let harness = Harness::new();
        let job = json!({"Job": {"ID": "web", "Datacenters": null,
            "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec", "Resources": null}]}]}});
        let reply = harness.send_body("PUT", "/v1/jobs?namespace=ops", body(job)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::SubmitJob)));
        let stored = harness.backend.state().jobs["ops/web"].clone();
        assert_eq!(
            (stored.namespace.as_str(), stored.priority, stored.datacenters.clone()),
            ("ops", 50, vec!["*".into()])
        );
        assert_eq!(stored.task_groups[0].tasks[0].resources.memory_mb, Some(300));
        let listed = harness.send("GET", "/v1/jobs?namespace=ops").await;
        assert_eq!(listed.json()[0]["ID"], "web");
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::ListJobs)));
        assert_eq!(harness.send("GET", "/v1/job/web?namespace=ops").await.status, StatusCode::OK);
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::ReadJob)));
        assert_error(harness.send("GET", "/v1/job/web").await, StatusCode::NOT_FOUND, "job not found");
    }

    #[tokio::test]
    async fn bad_registrations_are_nomads_400s() {
        let harness = Harness::new();
        let cases = [
            ("{}", "Job must be specified"),
            (r#"{"Job": {}}"#, "Job ID hasn't been provided"),
            (r#"{"Job": {"ID": "a b", "TaskGroups": []}}"#, "Job ID contains a space or null character: \"a b\""),
            (
                r#"{"Job": {"ID": "j", "Priority": 500, "TaskGroups": []}}"#,
                "Job priority must be between [1, 100], not 500",
            ),
            ("", "Error parsing job: Request body is empty"),
        ];
        for (sent, message) in cases {
            assert_error(harness.send_body("POST", "/v1/jobs", sent).await, StatusCode::BAD_REQUEST, message);
        }
        assert!(harness.backend.state().jobs.is_empty(), "nothing was stored");
        assert_error(harness.send("GET", "/v1/evaluation/").await, StatusCode::BAD_REQUEST, "Missing ID");
        assert_error(harness.send("GET", "/v1/allocation/nope").await, StatusCode::NOT_FOUND, "alloc not found");
        assert_error(harness.send("PATCH", "/v1/jobs").await, StatusCode::METHOD_NOT_ALLOWED, "Invalid method");
    }
}
