//! The crate arrows of the design (DESIGN.md §2), checked against what the
//! manifests really say: a header that says "must not depend on X" and a
//! `Cargo.toml` that does is a bug this test finds. The binary crate is kept
//! thin: under 1,000 lines of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use keel_tests::workspace_root;
use serde_json::Value;

/// The guest crates: built for wasm, never linked by a host crate.
const GUEST_CRATES: [&str; 5] = ["keel-sdk", "acl-nomad", "autopilot-default", "scheduler-default", "license-ed25519"];

/// Each host crate and the workspace crates it may use directly. A crate
/// may also use whatever the crates it may use may use (the arrows are
/// transitive), so only the first step is listed.
const ARROWS: [(&str, &[&str]); 12] = [
    ("keel-hcl", &[]),
    ("keel-api", &[]),
    ("keel-contract", &[]),
    ("keel-state", &["keel-api"]),
    ("keel-plugins", &["keel-contract"]),
    ("keel-cluster", &["keel-state"]),
    ("keel-http", &["keel-api"]),
    // The client agent's runtime runs tasks; it knows the wire types only.
    ("keel-client", &["keel-api"]),
    ("keel-server", &["keel-http", "keel-plugins", "keel-cluster", "keel-client"]),
    // The CLI reads snapshot archives offline (`snapshot inspect`) with the
    // archive code the servers use, and issues licenses with the license
    // plugin's own format, which lives beside the plugin.
    ("keel-cli", &["keel-state", "license-ed25519-issuer"]),
    ("keel-author", &["keel-plugins", "keel-cli"]),
    ("keel", &["keel-server", "keel-author", "keel-hcl"]),
];

/// The third-party crates a host crate must not use directly, because they
/// belong to another room: the runtime, consensus and storage engines.
const FOREIGN: [(&str, &[&str]); 7] = [
    ("keel-api", &["wasmtime", "openraft", "sled", "axum", "tokio"]),
    ("keel-http", &["wasmtime", "openraft", "sled", "foca"]),
    ("keel-state", &["wasmtime", "axum", "foca"]),
    ("keel-cluster", &["wasmtime", "axum"]),
    ("keel-client", &["wasmtime", "openraft", "sled", "axum", "foca"]),
    ("keel-cli", &["wasmtime", "openraft", "sled", "axum", "foca"]),
    ("keel-author", &["openraft", "sled", "axum", "foca"]),
];

/// Every workspace crate with the names of its normal (not dev, not build)
/// dependencies.
fn normal_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("metadata lists packages");
    packages
        .iter()
        .map(|package| {
            let name = package["name"].as_str().expect("a package has a name").to_owned();
            let dependencies = package["dependencies"]
                .as_array()
                .expect("a package lists its dependencies")
                .iter()
                .filter(|dependency| dependency["kind"].is_null())
                .map(|dependency| dependency["name"].as_str().expect("a dependency has a name").to_owned())
                .collect();
            (name, dependencies)
        })
        .collect()
}

/// What `krate` may use, following the arrows.
fn reachable(krate: &str) -> BTreeSet<&'static str> {
    let arrows: BTreeMap<&str, &[&str]> = ARROWS.into_iter().collect();
    let mut seen = BTreeSet::new();
    let mut next: Vec<&'static str> = arrows.get(krate).map(|to| to.to_vec()).unwrap_or_default();
    while let Some(name) = next.pop() {
        if seen.insert(name) {
            next.extend(arrows.get(name).copied().unwrap_or_default());
        }
    }
    seen
}

#[test]
fn host_crates_depend_only_along_the_arrows() {
    let packages = normal_dependencies();
    let workspace: BTreeSet<&str> = packages.keys().map(String::as_str).collect();
    let mut wrong = Vec::new();
    for (krate, _) in ARROWS {
        let dependencies = packages.get(krate).unwrap_or_else(|| panic!("{krate} is a workspace crate"));
        let allowed = reachable(krate);
        for dependency in dependencies.iter().filter(|d| workspace.contains(d.as_str())) {
            if !allowed.contains(dependency.as_str()) {
                wrong.push(format!("{krate} -> {dependency}"));
            }
        }
    }
    assert!(wrong.is_empty(), "dependencies against DESIGN.md §2: {wrong:?}");
}

#[test]
fn every_host_crate_is_on_the_map() {
    let packages = normal_dependencies();
    let mapped: BTreeSet<&str> = ARROWS.iter().map(|(krate, _)| *krate).collect();
    let root = workspace_root();
    let host: Vec<String> = std::fs::read_dir(root.join("host"))
        .expect("host/ is readable")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    for krate in host {
        assert!(packages.contains_key(&krate), "host/{krate} is a workspace member named {krate}");
        assert!(mapped.contains(krate.as_str()), "host/{krate} has no row in ARROWS");
    }
}

#[test]
fn no_host_crate_links_a_guest_crate() {
    let packages = normal_dependencies();
    for (krate, _) in ARROWS {
        for guest in GUEST_CRATES {
            assert!(!packages[krate].contains(guest), "{krate} depends on the guest crate {guest}");
        }
    }
}

#[test]
fn rooms_keep_their_engines() {
    let packages = normal_dependencies();
    for (krate, foreign) in FOREIGN {
        for engine in foreign {
            assert!(!packages[krate].contains(*engine), "{krate} must not use {engine} directly");
        }
    }
}

/// The binary's code outside its tests: wiring, flags and config files.
fn binary_lines(dir: &std::path::Path) -> usize {
    let mut lines = 0;
    for entry in std::fs::read_dir(dir).expect("read host/keel/src") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            lines += binary_lines(&path);
        } else if path.extension().is_some_and(|ext| ext == "rs") && path.file_name() != Some("tests.rs".as_ref()) {
            lines += std::fs::read_to_string(&path).expect("read a source file").lines().count();
        }
    }
    lines
}

/// `host/keel` stays a thin binary: logic that grows goes into the library
/// crate that owns it, where it can be tested without the plugins.
#[test]
fn the_binary_stays_thin() {
    let lines = binary_lines(&workspace_root().join("host/keel/src"));
    assert!(lines < 1_000, "host/keel/src has {lines} lines outside its tests; move logic into a library crate");
}
