//! `keel plugin build`: a guest crate built for `wasm32-unknown-unknown`,
//! turned into a component, checked and tested.
//!
//! The toolchain is the one `make plugins` uses: a rustup
//! `wasm32-unknown-unknown` target when one is installed; else Debian's
//! `rustc-web`, `cargo-web` and `rust-web-src` with `-Z build-std` and
//! `wasm-ld` from `lld-N`. The build remaps the workspace, target
//! directory, cargo home and standard library paths, and clears what an
//! outer cargo leaves in the environment, so the same sources give the same
//! bytes wherever they are built. (`make plugins` builds every guest of the
//! repository in one cargo run, where features are unified across them, so
//! its bytes for a crate may differ from this build of that crate alone.)

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use keel_plugins::smoke::Samples;

/// What to build and where: `keel plugin build`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BuildOptions {
    /// The guest crate's directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The cargo profile to build with.
    #[arg(long, default_value = "release")]
    pub profile: String,
    /// Cargo's target directory (default: the crate's workspace's own).
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Where to write the component (default: TARGET_DIR/components/CRATE.wasm).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Installs a missing Debian wasm toolchain with apt-get (run as root).
    #[arg(long)]
    pub install_toolchain: bool,
    /// A setting for the plugin's `configure` in the tests after the
    /// build, as KEY=VALUE (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = keel_cli::parse_setting)]
    pub settings: Vec<(String, String)>,
}

/// The guest crate cargo reports for a directory.
struct Crate {
    name: String,
    workspace_root: PathBuf,
    target_dir: PathBuf,
}

/// How to run cargo for `wasm32-unknown-unknown` on this machine.
enum Toolchain {
    Rustup,
    Debian { llvm_major: String },
}

/// Builds the crate in `options.dir` into a component, checks it and runs
/// its kind's conformance cases; returns the component's path.
pub fn build(options: &BuildOptions) -> anyhow::Result<PathBuf> {
    let guest = inspect(&options.dir)?;
    let toolchain = Toolchain::find(options.install_toolchain)?;
    let target_dir = options.target_dir.clone().unwrap_or_else(|| guest.target_dir.clone());
    let target_dir = std::path::absolute(&target_dir).with_context(|| target_dir.display().to_string())?;
    let mut cargo = toolchain.cargo(&guest.workspace_root, &target_dir);
    cargo.current_dir(&options.dir).args(["build", "--target", "wasm32-unknown-unknown", "--profile"]);
    cargo.arg(&options.profile).arg("--target-dir").arg(&target_dir).args(["-p", &guest.name]);
    println!("building {} for wasm32-unknown-unknown ({})", guest.name, toolchain.describe());
    let status = cargo.status().context("run cargo")?;
    anyhow::ensure!(status.success(), "cargo build failed ({status})");
    let profile_dir = if options.profile == "dev" { "debug" } else { options.profile.as_str() };
    let module_path = target_dir
        .join("wasm32-unknown-unknown")
        .join(profile_dir)
        .join(format!("{}.wasm", guest.name.replace('-', "_")));
    let module = std::fs::read(&module_path).with_context(|| format!("read {}", module_path.display()))?;
    let (kind, _, component) = keel_contract::componentize(&module).context("turn the module into a component")?;
    let out = options.out.clone().unwrap_or_else(|| target_dir.join("components").join(format!("{}.wasm", guest.name)));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::write(&out, component).with_context(|| format!("write {}", out.display()))?;
    crate::test(&out, &options.settings, &Samples::default())?;
    let shown = out.display();
    println!("component: {shown}");
    println!("load it on one agent:    keel agent --dev --plugin {}={shown}", kind.name());
    println!("install it in a cluster: keel plugin install {} {shown}", kind.name());
    Ok(out)
}

/// The package in `dir` and its workspace's root and target directory.
fn inspect(dir: &Path) -> anyhow::Result<Crate> {
    let manifest = dir.join("Cargo.toml");
    let output = Command::new(outer_cargo())
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("run cargo metadata")?;
    if !output.status.success() {
        bail!("{}: {}", manifest.display(), String::from_utf8_lossy(&output.stderr).trim());
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).context("read cargo metadata")?;
    let manifest = std::fs::canonicalize(&manifest).with_context(|| manifest.display().to_string())?;
    let package = metadata["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["manifest_path"].as_str() == manifest.to_str()))
        .with_context(|| format!("{} is a workspace, not a plugin crate", manifest.display()))?;
    let path =
        |key: &str| metadata[key].as_str().map(PathBuf::from).with_context(|| format!("cargo metadata names no {key}"));
    Ok(Crate {
        name: package["name"].as_str().context("a package without a name")?.to_owned(),
        workspace_root: path("workspace_root")?,
        target_dir: path("target_directory")?,
    })
}

impl Toolchain {
    /// The toolchain `make plugins` would use; a missing Debian one is
    /// installed when `install` is set and this runs as root, else named.
    fn find(install: bool) -> anyhow::Result<Self> {
        let rustup = Command::new("rustup").args(["target", "list", "--installed"]).output();
        if rustup.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).lines().any(|t| t == "wasm32-unknown-unknown")) {
            return Ok(Self::Rustup);
        }
        // Two rounds: wasm-ld's package is named after the LLVM of the
        // rustc the first round installs.
        for _ in 0..2 {
            let missing = debian_missing();
            if missing.is_empty() {
                break;
            }
            let command = format!("apt-get install -y {}", missing.join(" "));
            if !install {
                bail!(
                    "no wasm32-unknown-unknown toolchain: run `rustup target add wasm32-unknown-unknown`, or \
                     `{command}` as root, or pass --install-toolchain"
                );
            }
            let status = Command::new("sh").arg("-c").arg(format!("apt-get update -qq && {command}")).status()?;
            anyhow::ensure!(status.success(), "`{command}` failed ({status})");
        }
        let missing = debian_missing();
        anyhow::ensure!(missing.is_empty(), "still missing after the install: {}", missing.join(" "));
        Ok(Self::Debian { llvm_major: llvm_major().context("/usr/bin/rustc names no LLVM version")? })
    }

    fn describe(&self) -> String {
        match self {
            Self::Rustup => "rustup target".to_owned(),
            Self::Debian { llvm_major } => format!("Debian rustc-web, build-std, wasm-ld-{llvm_major}"),
        }
    }

    /// `cargo` with the environment and flags of this toolchain, paths
    /// under `workspace_root` remapped.
    fn cargo(&self, workspace_root: &Path, target_dir: &Path) -> Command {
        let mut cargo = match self {
            Self::Rustup => Command::new(outer_cargo()),
            Self::Debian { .. } => Command::new("/usr/bin/cargo"),
        };
        // What an outer cargo (a `cargo run` or a test) leaves in the
        // environment would change the guest build, and so its bytes.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if (name.starts_with("CARGO") && name != "CARGO_HOME")
                || name.starts_with("RUSTUP_TOOLCHAIN")
                || name.starts_with("RUSTC")
                || name == "LD_LIBRARY_PATH"
            {
                cargo.env_remove(&*name);
            }
        }
        let home = std::env::var("HOME").unwrap_or_default();
        // The target directory last: the last matching prefix wins, and it
        // may lie inside the workspace.
        let remap = format!(
            "--remap-path-prefix={}=/keel --remap-path-prefix={home}/.cargo=/cargo \
             --remap-path-prefix=/usr/lib/rustlib/src/rust=/rust --remap-path-prefix={}=/target",
            workspace_root.display(),
            target_dir.display()
        );
        cargo.env("RUSTFLAGS", remap);
        if let Self::Debian { llvm_major } = self {
            cargo.env("RUSTC", "/usr/bin/rustc").env("RUSTC_BOOTSTRAP", "1");
            cargo.env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", format!("wasm-ld-{llvm_major}"));
            cargo.args(["-Z", "build-std=std,panic_abort"]);
        }
        cargo
    }
}

/// The cargo that runs this (`CARGO` under `cargo run`), else the one on `PATH`.
fn outer_cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The Debian packages the wasm toolchain still needs.
fn debian_missing() -> Vec<String> {
    let mut missing = Vec::new();
    let have_rust = ["/usr/bin/cargo", "/usr/bin/rustc", "/usr/lib/rustlib/src/rust/library"];
    if !have_rust.iter().all(|path| Path::new(path).exists()) {
        missing.extend(["rustc-web", "cargo-web", "rust-web-src"].map(String::from));
    }
    match llvm_major() {
        Some(major) if which(&format!("wasm-ld-{major}")) => {}
        Some(major) => missing.push(format!("lld-{major}")),
        None => {}
    }
    missing
}

/// The LLVM major version of Debian's rustc.
fn llvm_major() -> Option<String> {
    let output = Command::new("/usr/bin/rustc").arg("-vV").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let version = text.lines().find_map(|line| line.strip_prefix("LLVM version: "))?;
    version.split('.').next().map(str::to_owned)
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
