//! Embeds the default plugins: `make plugins` writes them to
//! `target/plugins/<name>.wasm` (or `$KEEL_PLUGIN_DIR`), and the binary
//! carries them so that `keel agent --dev` needs no files beside it.

use std::path::PathBuf;

const DEFAULT_PLUGINS: [&str; 4] = ["acl-nomad", "autopilot-default", "scheduler-default", "license-ed25519"];

fn main() {
    println!("cargo:rerun-if-env-changed=KEEL_PLUGIN_DIR");
    let dir = match std::env::var_os("KEEL_PLUGIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("../../target/plugins"),
    };
    for name in DEFAULT_PLUGINS {
        let path = dir.join(format!("{name}.wasm"));
        println!("cargo:rerun-if-changed={}", path.display());
        if !path.is_file() {
            panic!("the default plugin {} is missing: run `make plugins` first", path.display());
        }
        let variable = format!("KEEL_PLUGIN_{}", name.to_uppercase().replace('-', "_"));
        println!("cargo:rustc-env={variable}={}", path.display());
    }
}
