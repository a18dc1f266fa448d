//! `/v1/operator/autopilot/...`: autopilot's configuration and its report on
//! the cluster's health.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keel_api::operator::AutopilotConfiguration;

use crate::reply::{self, Json};
use crate::request::{self, Params};
use crate::{ApiError, Backend, Limits};

/// `GET /v1/operator/autopilot/configuration[?stale]`.
pub(crate) async fn configuration<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Params,
) -> Result<Response, ApiError> {
    let consistency = params.read_options()?;
    let read = backend.autopilot_configuration(consistency).await?;
    Ok((reply::meta(&read.meta), Json::new(read.value, params.format())).into_response())
}

/// `PUT /v1/operator/autopilot/configuration[?cas=N]`: the body replaces the
/// whole configuration. The reply is a bare JSON boolean: the check-and-set
/// outcome with `?cas`, else `true`.
pub(crate) async fn set_configuration<B: Backend>(
    State(backend): State<Arc<B>>,
    State(limits): State<Limits>,
    params: Params,
    body: Body,
) -> Result<Response, ApiError> {
    let cas = params.cas()?;
    let body = request::read_body(body, limits.body_max_bytes, limits.body_idle_timeout_ms).await?;
    let config: AutopilotConfiguration = request::decode_json(&body, "autopilot config")?;
    let written = backend.set_autopilot_configuration(config, cas).await?;
    let updated = cas.is_none() || written.updated;
    Ok(Json::new(updated, params.format()).into_response())
}

/// `GET /v1/operator/autopilot/health`: 200 when the cluster is healthy,
/// else 429 with the same body. Always answered by the leader, so `?stale`
/// is checked but changes nothing.
pub(crate) async fn health<B: Backend>(State(backend): State<Arc<B>>, params: Params) -> Result<Response, ApiError> {
    params.read_options()?;
    let report = backend.autopilot_health().await?;
    let status = if report.healthy { StatusCode::OK } else { StatusCode::TOO_MANY_REQUESTS };
    Ok((status, Json::new(report, params.format())).into_response())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use crate::testing::{Harness, assert_error};
    use crate::{Capability, Consistency};

    use super::*;

    const CONFIGURATION: &str = "/v1/operator/autopilot/configuration";
    const HEALTH: &str = "/v1/operator/autopilot/health";

    #[tokio::test]
    async fn configuration_is_json_with_query_headers() {
        let harness = Harness::new();
        let reply = harness.send("GET", &format!("{CONFIGURATION}?stale")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json(),
            json!({
                "CleanupDeadServers": true, "LastContactThreshold": "200ms", "MaxTrailingLogs": 250,
                "MinQuorum": 0, "ServerStabilizationTime": "10s", "EnableRedundancyZones": false,
                "DisableUpgradeMigration": false, "EnableCustomUpgrades": false, "CreateIndex": 4, "ModifyIndex": 4
            })
        );
        assert_eq!(reply.header("X-Nomad-Index"), Some("12"));
        assert_eq!(reply.header("X-Nomad-KnownLeader"), Some("true"));
        assert_eq!(reply.header("X-Nomad-LastContact"), Some("0"));
        assert_eq!(harness.backend.state().last_consistency, Some(Consistency::Stale));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::OperatorRead)));
    }

    #[tokio::test]
    async fn put_replaces_the_configuration_and_answers_true() {
        let harness = Harness::new();
        let body =
            r#"{"CleanupDeadServers": false, "LastContactThreshold": "1s", "MaxTrailingLogs": 10, "MinQuorum": 3}"#;
        let reply = harness.send_body("PUT", CONFIGURATION, body).await;
        assert_eq!((reply.status, reply.content_type(), reply.text()), (StatusCode::OK, "application/json", "true"));
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::OperatorWrite)));
        let stored = harness.backend.state().autopilot.clone();
        assert_eq!(
            stored,
            AutopilotConfiguration {
                last_contact_threshold: Duration::from_secs(1),
                max_trailing_logs: 10,
                min_quorum: 3,
                create_index: 4,
                modify_index: 13,
                ..AutopilotConfiguration::default()
            }
        );
    }

    #[tokio::test]
    async fn cas_answers_whether_the_write_won() {
        let harness = Harness::new();
        let reply = harness.send_body("PUT", &format!("{CONFIGURATION}?cas=3"), r#"{"MaxTrailingLogs": 1}"#).await;
        assert_eq!((reply.status, reply.text()), (StatusCode::OK, "false"));
        assert_eq!(harness.backend.state().autopilot.max_trailing_logs, 250);

        let reply = harness.send_body("PUT", &format!("{CONFIGURATION}?cas=4"), r#"{"MaxTrailingLogs": 1}"#).await;
        assert_eq!((reply.status, reply.text()), (StatusCode::OK, "true"));
        assert_eq!(harness.backend.state().autopilot.max_trailing_logs, 1);
    }

    #[tokio::test]
    async fn bad_bodies_and_cas_values_are_400s() {
        let harness = Harness::new();
        let cases = [
            ("", "", "Error parsing autopilot config: Request body is empty"),
            ("", "{", "Error parsing autopilot config: EOF while parsing an object at line 1 column 1"),
            (
                "",
                r#"{"MaxTrailingLogs": "many"}"#,
                "Error parsing autopilot config: invalid type: string \"many\", expected u64 at line 1 column 26",
            ),
            (
                "",
                r#"{"MaxTrailingLogs": -1}"#,
                "Error parsing autopilot config: invalid value: integer `-1`, expected u64 at line 1 column 22",
            ),
            (
                "",
                r#"{"LastContactThreshold": "soon"}"#,
                "Error parsing autopilot config: time: invalid duration \"soon\" at line 1 column 31",
            ),
            ("?cas=abc", "{}", "Error parsing cas value: strconv.ParseUint: parsing \"abc\": invalid syntax"),
        ];
        for (query, body, message) in cases {
            let reply = harness.send_body("PUT", &format!("{CONFIGURATION}{query}"), body).await;
            assert_error(reply, StatusCode::BAD_REQUEST, message);
        }
        assert_eq!(harness.backend.state().autopilot.modify_index, 4);
    }

    #[tokio::test]
    async fn configuration_refuses_other_methods_with_404() {
        let harness = Harness::new();
        harness
            .assert_invalid_methods(CONFIGURATION, &["POST", "DELETE", "HEAD", "PATCH"], StatusCode::NOT_FOUND)
            .await;
    }

    #[tokio::test]
    async fn health_is_200_when_healthy_and_429_when_not() {
        let harness = Harness::new();
        let reply = harness.send("GET", HEALTH).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json(),
            json!({
                "Healthy": true, "FailureTolerance": 0, "Voters": ["id-1"], "Leader": "id-1",
                "Servers": [{
                    "ID": "id-1", "Name": "keel-1", "Address": "127.0.0.1:4647", "SerfStatus": "alive",
                    "Version": "0.1.0", "Leader": true, "LastContact": "0s", "LastTerm": 2, "LastIndex": 46,
                    "Healthy": true, "Voter": true, "StableSince": "2024-03-06T22:07:51Z"
                }]
            })
        );
        assert_eq!(harness.backend.last_auth(), Some((None, Capability::OperatorRead)));

        harness.backend.state().health.healthy = false;
        let reply = harness.send("GET", HEALTH).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.json()["Healthy"], false);
        assert_eq!(reply.json()["Servers"][0]["ID"], "id-1");
    }

    #[tokio::test]
    async fn health_checks_its_query_and_method() {
        let harness = Harness::new();
        let reply = harness.send("GET", &format!("{HEALTH}?stale=perhaps")).await;
        assert_error(reply, StatusCode::BAD_REQUEST, "Expect `true` or `false` for `stale` query string parameter");
        let reply = harness.send("GET", &format!("{HEALTH}?region=mars")).await;
        assert_error(reply, StatusCode::INTERNAL_SERVER_ERROR, r#"No path to region "mars""#);
        harness.assert_invalid_methods(HEALTH, &["PUT", "POST", "DELETE", "HEAD"], StatusCode::NOT_FOUND).await;
        harness.backend.state().leader = None;
        assert_error(harness.send("GET", HEALTH).await, StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader");
    }
}
