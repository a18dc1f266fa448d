//! `keel plugin new`: a guest crate of one kind that builds and tests
//! outside this repository.
//!
//! The crate carries the SDK and the WIT contract of this `keel` binary
//! (`vendor/keel-sdk`, `vendor/wit`), so the SDK always matches the host
//! that loads the plugin, and a `Cargo.lock` with the versions this
//! repository builds with, so nothing newer is fetched. Each kind's
//! starting point (`templates/`) compiles, does something sensible and has
//! native tests.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use keel_plugins::Kind;

/// `keel plugin new`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct NewOptions {
    /// The kind of plugin: acl, autopilot, scheduler or license.
    #[arg(long, value_parser = |kind: &str| kind.parse::<Kind>().map_err(|e| e.to_string()))]
    pub kind: Kind,
    /// The crate's name, also the plugin's name: lowercase letters, digits and `-`.
    pub name: String,
    /// Where to create it (default: ./NAME); must not exist or be empty.
    pub dir: Option<PathBuf>,
}

/// The SDK and contract files, as this binary was built with them.
const SDK_FILES: [(&str, &str); 13] = [
    ("vendor/keel-sdk/src/lib.rs", include_str!("../../../sdk/src/lib.rs")),
    ("vendor/keel-sdk/src/acl.rs", include_str!("../../../sdk/src/acl.rs")),
    ("vendor/keel-sdk/src/autopilot.rs", include_str!("../../../sdk/src/autopilot.rs")),
    ("vendor/keel-sdk/src/bindings.rs", include_str!("../../../sdk/src/bindings.rs")),
    ("vendor/keel-sdk/src/host.rs", include_str!("../../../sdk/src/host.rs")),
    ("vendor/keel-sdk/src/license.rs", include_str!("../../../sdk/src/license.rs")),
    ("vendor/keel-sdk/src/plugin.rs", include_str!("../../../sdk/src/plugin.rs")),
    ("vendor/keel-sdk/src/scheduler.rs", include_str!("../../../sdk/src/scheduler.rs")),
    ("vendor/keel-sdk/src/testing.rs", include_str!("../../../sdk/src/testing.rs")),
    ("vendor/keel-sdk/src/version.rs", include_str!("../../../sdk/src/version.rs")),
    ("vendor/wit/plugin.wit", include_str!("../../../wit/plugin.wit")),
    ("vendor/wit/0.1.0/plugin.wit", include_str!("../../../wit/0.1.0/plugin.wit")),
    ("vendor/wit/0.2.0/plugin.wit", include_str!("../../../wit/0.2.0/plugin.wit")),
];

/// The workspace's lock file: cargo keeps the versions of what the new
/// crate shares with it and drops the rest.
const LOCK: &str = include_str!("../../../Cargo.lock");

/// The vendored SDK's wit-bindgen, as the workspace pins it.
const WIT_BINDGEN: &str =
    r#"wit-bindgen = { version = "=0.61.1", default-features = false, features = ["macros", "realloc"] }"#;

/// The license template's verifier, as the workspace pins it.
const ED25519: &str = r#"ed25519-dalek = { version = "=2.2.0", default-features = false, features = ["fast"] }"#;

/// Writes the crate and returns its directory.
pub fn new(options: &NewOptions) -> anyhow::Result<PathBuf> {
    let name = &options.name;
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!("{name:?} is not a plugin name: lowercase letters, digits and `-`, starting with a letter");
    }
    let dir = options.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!("{} exists and is not empty", dir.display());
    }
    for (path, text) in files(options.kind, name) {
        write(&dir.join(path), &text)?;
    }
    Ok(dir)
}

/// Every file of the new crate, by its path inside it.
fn files(kind: Kind, name: &str) -> Vec<(&'static str, String)> {
    let template = match kind {
        Kind::Acl => include_str!("../templates/acl.rs"),
        Kind::Autopilot => include_str!("../templates/autopilot.rs"),
        Kind::Scheduler => include_str!("../templates/scheduler.rs"),
        Kind::License => include_str!("../templates/license.rs"),
    };
    let extra = if kind == Kind::License { format!("{ED25519}\n") } else { String::new() };
    let version = env!("CARGO_PKG_VERSION");
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n\
         [dependencies]\nkeel-sdk = {{ path = \"vendor/keel-sdk\" }}\n{extra}\n\
         # What `keel plugin build` builds with: small, and a panic aborts the call.\n\
         [profile.release]\nopt-level = \"s\"\nlto = true\ncodegen-units = 1\npanic = \"abort\"\n\
         debug = false\nstrip = \"debuginfo\"\nincremental = false\n\n\
         # Its own workspace, wherever it is created.\n[workspace]\n"
    );
    let sdk_manifest = format!(
        "[package]\nname = \"keel-sdk\"\nversion = \"{version}\"\nedition = \"2024\"\npublish = false\n\
         description = \"The Keel plugin SDK of keel {version}, written by `keel plugin new`.\"\n\n\
         [dependencies]\n{WIT_BINDGEN}\n"
    );
    let mut files = vec![
        ("Cargo.toml", manifest),
        ("Cargo.lock", LOCK.to_owned()),
        (".gitignore", "/target\n".to_owned()),
        ("src/lib.rs", template.replace("{{name}}", name)),
        ("vendor/keel-sdk/Cargo.toml", sdk_manifest),
    ];
    files.extend(SDK_FILES.iter().map(|(path, text)| (*path, (*text).to_owned())));
    files
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn workspace_file(path: &str) -> String {
        std::fs::read_to_string(root().join(path)).expect("a workspace file")
    }

    #[test]
    fn the_vendored_sdk_is_every_file_of_the_sdk_and_the_contract() {
        fn files(dir: &str, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(root().join(dir)).expect("a source dir") {
                let path = format!("{dir}/{}", entry.expect("an entry").file_name().to_string_lossy());
                if root().join(&path).is_dir() { files(&path, out) } else { out.push(path) }
            }
        }
        let mut in_tree = Vec::new();
        files("sdk/src", &mut in_tree);
        files("wit", &mut in_tree);
        in_tree.sort();
        let mut vendored: Vec<String> = SDK_FILES
            .iter()
            .map(|(path, _)| path.replace("vendor/keel-sdk/src", "sdk/src").replace("vendor/wit", "wit"))
            .collect();
        vendored.sort();
        assert_eq!(vendored, in_tree, "SDK_FILES lists every file of sdk/src and wit/");
    }

    #[test]
    fn the_vendored_dependencies_are_pinned_as_the_workspace_pins_them() {
        let manifest = workspace_file("Cargo.toml");
        assert!(manifest.lines().any(|line| line == WIT_BINDGEN), "{WIT_BINDGEN}");
        let ed25519 = manifest.lines().find(|l| l.starts_with("ed25519-dalek = ")).expect("ed25519-dalek is pinned");
        assert!(ED25519.starts_with(&ed25519[..ed25519.find(", default-features").expect("a version")]), "{ed25519}");
        let plugin = workspace_file("plugins/license-ed25519/Cargo.toml");
        assert!(plugin.contains(r#"ed25519-dalek = { workspace = true, features = ["fast"] }"#));
    }

    #[test]
    fn names_and_places_are_checked() {
        let dir = tempfile::tempdir().expect("a temp dir");
        for name in ["", "Upper", "9lives", "under_score", "a/b"] {
            let options = NewOptions { kind: Kind::Acl, name: name.into(), dir: Some(dir.path().join("x")) };
            assert!(new(&options).is_err(), "{name:?} accepted");
        }
        std::fs::write(dir.path().join("taken"), "").expect("write");
        let options = NewOptions { kind: Kind::Acl, name: "taken".into(), dir: Some(dir.path().to_path_buf()) };
        assert!(new(&options).expect_err("refused").to_string().contains("not empty"));
    }
}
