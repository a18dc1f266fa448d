//! `/v1/operator/license`: the stored blob, read through the license plugin.

use keel_api::operator::{License, LicenseReply};
use keel_api::time::rfc3339_ms;
use keel_http::ApiError;
use keel_plugins::license::{License as Verified, LicenseError};
use keel_plugins::{LicensePlugin, LicenseVerdict, Slot};

/// The product licenses are checked for, as Nomad names itself.
pub const PRODUCT: &str = "nomad";

/// The reply for the installed license as the plugin reads it now. A genuine
/// license that is expired, terminated or not yet valid is shown with no
/// features and a warning; the server keeps running either way. The query
/// meta fields are left at zero: the router fills them from the read's meta.
pub(crate) async fn reply(plugin: &Slot<LicensePlugin>, blob: &str, now_ms: u64) -> Result<LicenseReply, ApiError> {
    let (license, warning) = match validate(plugin, blob, now_ms).await {
        LicenseVerdict::Valid(license) => (wire(&license, true), None),
        LicenseVerdict::Invalid(error) => match genuine(&error) {
            Some(license) => (wire(license, false), Some(refusal(&error))),
            None => {
                tracing::warn!(reason = %refusal(&error), "the installed license no longer validates");
                return Err(ApiError::internal(format!(
                    "the installed license no longer validates: {}",
                    refusal(&error)
                )));
            }
        },
        LicenseVerdict::Failed(error) => {
            tracing::error!(%error, "license plugin failed");
            return Err(ApiError::internal("the license plugin failed; see the server log"));
        }
    };
    Ok(LicenseReply { license, config_outdated: false, warning, known_leader: false, last_contact: 0, last_index: 0 })
}

/// Whether `blob` may replace the installed license: the plugin must accept
/// it `now`, and without `force` it must not be older than the installed one.
pub(crate) async fn check_new(
    plugin: &Slot<LicensePlugin>,
    blob: &str,
    installed: Option<&str>,
    force: bool,
    now: u64,
) -> Result<(), ApiError> {
    let new = match validate(plugin, blob, now).await {
        LicenseVerdict::Valid(license) => license,
        LicenseVerdict::Invalid(error) => {
            return Err(ApiError::bad_request(format!("error validating license: {}", refusal(&error))));
        }
        LicenseVerdict::Failed(error) => {
            tracing::error!(%error, "license plugin failed");
            return Err(ApiError::internal("the license plugin failed; see the server log"));
        }
    };
    let installed = match installed {
        Some(blob) => Some(validate(plugin, blob, now).await),
        None => None,
    };
    if let Some(LicenseVerdict::Valid(current)) = installed
        && !force
        && new.issue_time_ms < current.issue_time_ms
    {
        return Err(ApiError::bad_request(format!(
            "error validating license: the new license was issued at {}, before the installed one ({}); \
             use ?force=true to install it anyway",
            rfc3339_ms(millis(new.issue_time_ms)),
            rfc3339_ms(millis(current.issue_time_ms))
        )));
    }
    Ok(())
}

/// The active license plugin's verdict on `blob`. A shadow, if there is
/// one, validates it too, beside the caller.
pub(crate) async fn validate(plugin: &Slot<LicensePlugin>, blob: &str, now_ms: u64) -> LicenseVerdict {
    let verdict = plugin.get().validate(blob, PRODUCT, now_ms).await;
    if let (Some(shadow), Ok(active)) = (plugin.shadow(), summary(&verdict)) {
        let input =
            format!("a license of {} bytes, sha256 {}", blob.len(), &keel_plugins::digest(blob.as_bytes())[..12]);
        let blob = blob.to_owned();
        shadow.compare(input, active, move |shadow| async move {
            summary(&shadow.plugin.validate(&blob, PRODUCT, now_ms).await)
        });
    }
    verdict
}

/// What a shadow's verdict is compared on; a plugin failure is an `Err`.
fn summary(verdict: &LicenseVerdict) -> Result<String, String> {
    match verdict {
        LicenseVerdict::Valid(license) => Ok(format!("valid, features {:?}", license.features)),
        LicenseVerdict::Invalid(error) => Ok(format!("refused: {}", refusal(error))),
        LicenseVerdict::Failed(error) => Err(error.to_string()),
    }
}

/// The license a refusal carries when the document itself is genuine.
fn genuine(error: &LicenseError) -> Option<&Verified> {
    match error {
        LicenseError::WrongProduct(license)
        | LicenseError::NotYetValid(license)
        | LicenseError::Expired(license)
        | LicenseError::Terminated(license) => Some(license),
        LicenseError::Malformed(_) | LicenseError::BadSignature => None,
    }
}

/// Why the plugin refused a license, in words for the operator.
fn refusal(error: &LicenseError) -> String {
    match error {
        LicenseError::Malformed(reason) => format!("not a license: {reason}"),
        LicenseError::BadSignature => "bad signature: no configured public key verifies this license".to_owned(),
        LicenseError::WrongProduct(license) => {
            format!("wrong product: the license is for {:?}, this server is {PRODUCT:?}", license.product)
        }
        LicenseError::NotYetValid(license) => {
            format!("not yet valid: the license starts at {}", rfc3339_ms(millis(license.start_time_ms)))
        }
        LicenseError::Expired(license) => {
            format!("expired: the license expired at {}", rfc3339_ms(millis(license.expiration_time_ms)))
        }
        LicenseError::Terminated(license) => {
            format!("terminated: the license was terminated at {}", rfc3339_ms(millis(license.termination_time_ms)))
        }
    }
}

/// The wire form; `granted` says whether its features are on now.
fn wire(license: &Verified, granted: bool) -> License {
    License {
        license_id: license.license_id.clone(),
        customer_id: license.customer_id.clone(),
        installation_id: license.installation_id.clone(),
        issue_time: rfc3339_ms(millis(license.issue_time_ms)),
        start_time: rfc3339_ms(millis(license.start_time_ms)),
        expiration_time: rfc3339_ms(millis(license.expiration_time_ms)),
        termination_time: rfc3339_ms(millis(license.termination_time_ms)),
        non_production: license.non_production,
        product: license.product.clone(),
        // Flags that were not strings in the document arrive as JSON text.
        flags: license
            .flags
            .iter()
            .map(|(key, value)| {
                let parsed = serde_json::from_str::<serde_json::Value>(value)
                    .ok()
                    .filter(|json| !json.is_string())
                    .unwrap_or_else(|| serde_json::Value::String(value.clone()));
                (key.clone(), parsed)
            })
            .collect(),
        modules: license.modules.clone(),
        features: if granted { license.features.clone() } else { Vec::new() },
    }
}

fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}
