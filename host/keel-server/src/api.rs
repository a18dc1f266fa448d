//! The HTTP API's traits, implemented for [`crate::Service`]: one file per
//! endpoint family, each calling the service's helpers directly.

mod acl;
mod agent;
mod authorize;
mod autopilot;
mod jobs;
mod license;
mod node;
mod operator_raft;
mod plugins;
mod scheduler;
mod snapshot;
mod watch;
