//! The current version's types pass through unchanged, so that a call
//! written once for every version (`any_version!`) adapts its arguments and
//! answers whatever the component speaks.

use super::Adapt;
use crate::bindings::v0_3::{acl, autopilot, license};

same!(
    acl::exports::keel::plugin::acl::Request,
    acl::exports::keel::plugin::acl::Verdict,
    acl::exports::keel::plugin::acl::Policy,
    autopilot::exports::keel::plugin::autopilot::Cluster,
    autopilot::exports::keel::plugin::autopilot::Decision,
    license::exports::keel::plugin::license::License,
    license::exports::keel::plugin::license::LicenseError
);
