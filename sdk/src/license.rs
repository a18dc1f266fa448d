//! License validators: which enterprise features a license grants.

// `LicenseError` carries the genuine license so that the host can show it;
// the size is the contract's, paid once per license check.
#![allow(clippy::result_large_err, reason = "license errors carry the license by contract")]

use crate::bindings::exports::keel::plugin::license as wit;
pub use crate::bindings::exports::keel::plugin::license::{License, LicenseError};
use crate::plugin::{Adapter, Plugin, Slot};

/// A license validator.
///
/// # To ensure correctness
/// - Authenticity is checked before any field is trusted; a document that
///   cannot be verified grants nothing (`LicenseError::BadSignature` or
///   `LicenseError::Malformed`).
/// - Time checks use the `now_ms` argument, not the clock, so the answer is
///   a pure function of the input.
///
/// # When the host calls it
/// When a license is written (`PUT /v1/operator/license`, before it is
/// stored), when it is read (`GET /v1/operator/license`), and in every
/// autopilot round on the leader (for the licensed features). The host
/// keeps no answer: each of those asks again, with the time of asking.
pub trait LicenseValidator: Plugin {
    /// Validates `blob` for `product` at `now_ms`.
    fn validate(&self, blob: &str, product: &str, now_ms: u64) -> Result<License, LicenseError>;
}

/// Makes a [`LicenseValidator`] the exports of a `license-validator` component.
#[macro_export]
macro_rules! export_license_validator {
    ($plugin:ty) => {
        $crate::__keel_export!($plugin, license, __export_keel_plugin_license_0_3_0_cabi);
    };
}

impl<P: Slot + LicenseValidator> wit::Guest for Adapter<P> {
    fn validate(blob: String, product: String, now_ms: u64) -> Result<License, LicenseError> {
        Self::with(|plugin| plugin.validate(&blob, &product, now_ms))
    }
}
