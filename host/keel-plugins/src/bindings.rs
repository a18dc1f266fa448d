//! Host bindings generated from `wit/`, one module per contract version and
//! one per world inside it. Each version's `host` import is generated once,
//! in its `acl` module, and shared by its other worlds.

/// `keel:plugin@0.3.0`, the current contract: its types are the host's,
/// comparable for tests.
pub mod v0_3 {
    pub mod acl {
        wasmtime::component::bindgen!({
            path: "../../wit",
            world: "acl-policy",
            additional_derives: [PartialEq],
        });
    }

    pub mod autopilot {
        wasmtime::component::bindgen!({
            path: "../../wit",
            world: "autopilot-strategy",
            with: { "keel:plugin/host": super::acl::keel::plugin::host },
            additional_derives: [PartialEq],
        });
    }

    pub mod scheduler {
        wasmtime::component::bindgen!({
            path: "../../wit",
            world: "scheduler-algorithm",
            with: { "keel:plugin/host": super::acl::keel::plugin::host },
            additional_derives: [PartialEq],
        });
    }

    pub mod license {
        wasmtime::component::bindgen!({
            path: "../../wit",
            world: "license-validator",
            with: { "keel:plugin/host": super::acl::keel::plugin::host },
            additional_derives: [PartialEq],
        });
    }
}

/// The bindings of a frozen contract version in `$path`, one module per
/// world, the `host` import generated once in `acl`.
macro_rules! frozen {
    ($path:literal) => {
        pub mod acl {
            wasmtime::component::bindgen!({ path: $path, world: "acl-policy" });
        }

        pub mod autopilot {
            wasmtime::component::bindgen!({
                path: $path,
                world: "autopilot-strategy",
                with: { "keel:plugin/host": super::acl::keel::plugin::host },
            });
        }

        pub mod scheduler {
            wasmtime::component::bindgen!({
                path: $path,
                world: "scheduler-algorithm",
                with: { "keel:plugin/host": super::acl::keel::plugin::host },
            });
        }

        pub mod license {
            wasmtime::component::bindgen!({
                path: $path,
                world: "license-validator",
                with: { "keel:plugin/host": super::acl::keel::plugin::host },
            });
        }
    };
}

/// `keel:plugin@0.2.0`, frozen: components of it are adapted (`adapt/`).
pub mod v0_2 {
    frozen!("../../wit/0.2.0");
}

/// `keel:plugin@0.1.0`, frozen: components of it are adapted (`adapt/`).
pub mod v0_1 {
    frozen!("../../wit/0.1.0");
}
