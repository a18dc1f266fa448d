//! Host bindings generated from `wit/`, one module per world. The `host`
//! import is generated once, in `acl`, and shared by the other worlds.

pub mod acl {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "acl-policy",
    });
}

pub mod autopilot {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "autopilot-strategy",
        with: { "keel:plugin/host": super::acl::keel::plugin::host },
    });
}

pub mod scheduler {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "scheduler-algorithm",
        with: { "keel:plugin/host": super::acl::keel::plugin::host },
    });
}

pub mod license {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "license-validator",
        with: { "keel:plugin/host": super::acl::keel::plugin::host },
    });
}
