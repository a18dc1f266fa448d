//! Bindings generated from `wit/` by wit-bindgen.
//!
//! They are generated once, for a world that includes all four plugin
//! worlds, so that every kind shares one set of types and one `lifecycle`
//! trait. A plugin exports only its own kind's interfaces: the export macros
//! of this crate invoke the per-interface export macros, never the world's,
//! and `make plugins` embeds the plugin's own world when it builds the
//! component. Plugin authors do not use this module directly.

wit_bindgen::generate!({
    inline: "
        package keel:sdk;
        world all-kinds {
            include keel:plugin/acl-policy@0.3.0;
            include keel:plugin/autopilot-strategy@0.3.0;
            include keel:plugin/scheduler-algorithm@0.3.0;
            include keel:plugin/license-validator@0.3.0;
        }
    ",
    path: "../wit",
    world: "keel:sdk/all-kinds",
    pub_export_macro: true,
    default_bindings_module: "keel_sdk::bindings",
    additional_derives: [PartialEq],
    generate_all,
});
