//! `/v1/operator/scheduler/configuration`: the scheduler's settings.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use keel_api::operator::{SchedulerConfiguration, SchedulerConfigurationResponse, SchedulerSetConfigurationResponse};

use crate::reply::{self, Json};
use crate::request::{self, Params};
use crate::{ApiError, Backend, Limits};

/// `GET /v1/operator/scheduler/configuration[?stale]`: the configuration with
/// the query meta both in the body and in the headers, as Nomad sends it.
pub(crate) async fn configuration<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    let read = backend.scheduler_configuration(consistency).await?;
    let body = SchedulerConfigurationResponse {
        scheduler_config: read.value,
        index: read.meta.index,
        last_contact: read.meta.last_contact_ms,
        known_leader: read.meta.known_leader,
    };
    Ok((reply::meta(&read.meta), Json::new(body, params.format())).into_response())
}

/// `PUT|POST /v1/operator/scheduler/configuration[?cas=N]`: the body
/// replaces the whole configuration. `Updated` reports the check-and-set
/// outcome and is false without `?cas`, though the write was applied.
pub(crate) async fn set_configuration<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let cas = params.cas()?;
    let body = request::read_body(body, limits.body_max_bytes, limits.body_idle_timeout_ms).await?;
    let config: SchedulerConfiguration = request::decode_json(&body, "scheduler config")?;
    config.validate().map_err(ApiError::bad_request)?;
    let written = backend.set_scheduler_configuration(config, cas).await?;
    let reply = SchedulerSetConfigurationResponse { updated: cas.is_some() && written.updated, index: written.index };
    Ok((reply::index(written.index), Json::new(reply, params.format())).into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use keel_api::operator::PreemptionConfig;
    use serde_json::json;

    use crate::Capability;
    use crate::testing::{Harness, assert_error};

    use super::*;

    const CONFIGURATION: &str = "/v1/operator/scheduler/configuration";

    #[tokio::test]
    async fn get_carries_meta_in_body_and_headers() {
        let harness = Harness::new();
        harness.backend.state().meta.last_contact_ms = 35;
        harness.backend.state().meta.known_leader = false;
        let reply = harness.send("GET", CONFIGURATION).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json(),
            json!({
                "SchedulerConfig": {
                    "SchedulerAlgorithm": "binpack",
                    "PreemptionConfig": {
                        "SystemSchedulerEnabled": true, "SysBatchSchedulerEnabled": false,
                        "BatchSchedulerEnabled": false, "ServiceSchedulerEnabled": false
                    },
                    "MemoryOversubscriptionEnabled": false, "RejectJobRegistration": false,
                    "PauseEvalBroker": false, "CreateIndex": 5, "ModifyIndex": 5
                },
                "Index": 12, "LastContact": 35, "KnownLeader": false
            })
        );
        assert_eq!(reply.header("X-Nomad-Index"), Some("12"));
        assert_eq!(reply.header("X-Nomad-KnownLeader"), Some("false"));
        assert_eq!(reply.header("X-Nomad-LastContact"), Some("35"));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::OperatorRead)));
    }

    #[tokio::test]
    async fn put_and_post_replace_the_configuration() {
        let harness = Harness::new();
        let body = r#"{"SchedulerAlgorithm": "spread", "PreemptionConfig": {"ServiceSchedulerEnabled": true}}"#;
        for (method, index) in [("PUT", 13), ("POST", 14)] {
            let reply = harness.send_body(method, CONFIGURATION, body).await;
            assert_eq!(reply.status, StatusCode::OK, "{method}");
            assert_eq!(reply.json(), json!({"Updated": false, "Index": index}));
            assert_eq!(reply.header("X-Nomad-Index"), Some(index.to_string().as_str()));
            assert_eq!(reply.header("X-Nomad-KnownLeader"), None);
            assert_eq!(reply.header("X-Nomad-LastContact"), None);
            assert_eq!(harness.backend.last_auth(), Some((None, Capability::OperatorWrite)));
        }
        let stored = harness.backend.state().scheduler.clone();
        assert_eq!(
            stored,
            SchedulerConfiguration {
                scheduler_algorithm: "spread".into(),
                preemption_config: PreemptionConfig { service_scheduler_enabled: true, ..PreemptionConfig::default() },
                create_index: 5,
                modify_index: 14,
                ..SchedulerConfiguration::default()
            }
        );
    }

    #[tokio::test]
    async fn cas_reports_whether_the_write_won() {
        let harness = Harness::new();
        let reply = harness.send_body("PUT", &format!("{CONFIGURATION}?cas=4"), "{}").await;
        assert_eq!(reply.json(), json!({"Updated": false, "Index": 12}));
        assert_eq!(harness.backend.state().scheduler.scheduler_algorithm, "binpack");
        let reply = harness.send_body("PUT", &format!("{CONFIGURATION}?cas=5"), "{}").await;
        assert_eq!(reply.json(), json!({"Updated": true, "Index": 13}));
        assert_eq!(harness.backend.state().scheduler.scheduler_algorithm, "");
    }

    #[tokio::test]
    async fn bad_bodies_are_400s() {
        let harness = Harness::new();
        let cases = [
            ("", "", "Error parsing scheduler config: Request body is empty"),
            (
                "",
                r#""spread""#,
                "Error parsing scheduler config: invalid type: string \"spread\", expected struct SchedulerConfiguration at line 1 column 8",
            ),
            (
                "",
                r#"{"PreemptionConfig": {"SystemSchedulerEnabled": "yes"}}"#,
                "Error parsing scheduler config: invalid type: string \"yes\", expected a boolean at line 1 column 53",
            ),
            ("", r#"{"SchedulerAlgorithm": "random"}"#, "invalid scheduler algorithm: random"),
            ("?cas=x", "{}", "Error parsing cas value: strconv.ParseUint: parsing \"x\": invalid syntax"),
        ];
        for (query, body, message) in cases {
            let reply = harness.send_body("POST", &format!("{CONFIGURATION}{query}"), body).await;
            assert_error(reply, StatusCode::BAD_REQUEST, message);
        }
        assert_eq!(harness.backend.state().scheduler.modify_index, 5);
    }

    #[tokio::test]
    async fn other_methods_are_405() {
        let harness = Harness::new();
        harness
            .assert_invalid_methods(CONFIGURATION, &["DELETE", "PATCH", "HEAD"], StatusCode::METHOD_NOT_ALLOWED)
            .await;
    }
}
