//! One typed facade per plugin kind, each applying its kind's fail-closed rule.

pub mod acl;
pub mod autopilot;
pub mod license;
pub mod scheduler;
