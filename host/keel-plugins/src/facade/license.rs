//! License plugins: which enterprise features a license grants. A fault
//! makes the license invalid; it never stops the server.

use crate::adapt::Adapt;
pub use crate::bindings::v0_3::license::exports::keel::plugin::license::{License, LicenseError};
use crate::bindings::{v0_1, v0_2, v0_3};
use crate::instance::{Versioned, Warm, any_version, impl_world};
use crate::{Metrics, PluginError, PluginInfo};

impl_world!(keel_contract::Kind::License, license, LicenseValidator, LicenseValidatorPre);

/// The outcome of validating a license.
#[derive(Debug)]
pub enum LicenseVerdict {
    /// Genuine and current: its features are on.
    Valid(License),
    /// Refused by the plugin, with its reason.
    Invalid(LicenseError),
    /// The plugin failed; the license counts as invalid.
    Failed(PluginError),
}

impl LicenseVerdict {
    /// The features this verdict turns on: a valid license's, else none.
    pub fn features(&self) -> &[String] {
        match self {
            LicenseVerdict::Valid(license) => &license.features,
            LicenseVerdict::Invalid(_) | LicenseVerdict::Failed(_) => &[],
        }
    }
}

/// A license component of any contract version.
type LicenseWorld =
    Versioned<v0_1::license::LicenseValidator, v0_2::license::LicenseValidator, v0_3::license::LicenseValidator>;

/// A loaded license plugin.
pub struct LicensePlugin {
    warm: Warm<LicenseWorld>,
}

impl LicensePlugin {
    pub(crate) fn new(warm: Warm<LicenseWorld>) -> Self {
        Self { warm }
    }

    pub fn info(&self) -> &PluginInfo {
        self.warm.info()
    }

    pub fn metrics(&self) -> &Metrics {
        self.warm.metrics()
    }

    pub fn contract(&self) -> keel_contract::Contract {
        self.warm.contract()
    }

    /// Validates `blob` for `product` at `now_ms`.
    pub async fn validate(&self, blob: &str, product: &str, now_ms: u64) -> LicenseVerdict {
        let (blob, product) = (blob.to_owned(), product.to_owned());
        let verdict = self.warm.call("validate", move |bindings, store, _| {
            any_version!(bindings, world => {
                Ok(world.keel_plugin_license().call_validate(store, &blob, &product, now_ms)?.adapt())
            })
        });
        match verdict.await {
            Ok(Ok(license)) => LicenseVerdict::Valid(license),
            Ok(Err(reason)) => {
                self.warm.metrics().record_error();
                LicenseVerdict::Invalid(reason)
            }
            Err(error) => LicenseVerdict::Failed(error),
        }
    }
}
