//! `keel plugin install | list | status | promote | rollback | remove`: the
//! cluster's plugin registry; `keel plugin keygen | sign`: the keys and
//! signatures `plugin_trust` asks for.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Subcommand;
use ed25519_dalek::Signer as _;
use keel_api::plugin::{
    AgentPlugin, AgentShadow, PluginEntry, PluginIndexResponse, PluginInstallRequest, PluginInstallResponse,
    PluginStatus, signed_message,
};
use sha2::{Digest as _, Sha256};

use crate::http::{ClientArgs, path_segment, with_query};
use crate::license::{keygen, new_signing_key, read_secret_key, write_new};
use crate::parse_setting;
use crate::table::{key_values, table};

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Installs FILE as the cluster's KIND plugin, on every server at one Raft index.
    Install {
        /// acl, autopilot, scheduler or license.
        kind: String,
        /// The component file.
        file: PathBuf,
        /// A setting passed to the plugin's `configure`, as KEY=VALUE (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
        /// A signature file, as `keel plugin sign` writes it.
        #[arg(long, value_name = "FILE", conflicts_with = "sign_key")]
        signature: Option<PathBuf>,
        /// Signs the component with this secret key before installing it.
        #[arg(long, value_name = "KEYFILE")]
        sign_key: Option<PathBuf>,
        /// Installs it as KIND's shadow: asked the same questions as the
        /// active plugin, its answers compared and never used.
        #[arg(long)]
        shadow: bool,
    },
    /// Lists each kind's plugin in the cluster's registry.
    List,
    /// Shows KIND's plugin on every server, with its counters and latencies.
    Status { kind: String },
    /// Makes KIND's shadow plugin the active one.
    Promote { kind: String },
    /// Makes KIND's previous (or the named) version active again.
    Rollback {
        kind: String,
        /// The digest of the kept version to go back to.
        #[arg(long)]
        digest: Option<String>,
    },
    /// Removes KIND's installed plugin; each server's own takes over.
    Remove { kind: String },
    /// Creates a plugin signing key pair: NAME.key (mode 0600) and NAME.pub,
    /// the value for `plugin_trust { keys = [...] }`.
    Keygen {
        #[arg(long, value_name = "NAME", default_value = "keel-plugin")]
        out: PathBuf,
    },
    /// Signs FILE, a component of KIND, and writes FILE.sig.
    Sign {
        /// The secret key, as `keel plugin keygen` wrote it.
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
        /// acl, autopilot, scheduler or license: a signature is for one kind.
        #[arg(long)]
        kind: String,
        file: PathBuf,
    },
}

pub fn run(args: &ClientArgs, command: RegistryCommand) -> anyhow::Result<()> {
    match command {
        RegistryCommand::Install { kind, file, settings, signature, sign_key, shadow } => {
            let signing = Signing { signature: signature.as_deref(), sign_key: sign_key.as_deref() };
            install(args, &kind, &file, settings, signing, shadow)?;
        }
        RegistryCommand::List => {
            let reply = args.client()?.get("/v1/operator/plugins").context("list the plugins")?;
            if args.json {
                println!("{}", reply.pretty())
            } else {
                print!("{}", render_list(&reply.decode::<Vec<PluginEntry>>()?))
            }
        }
        RegistryCommand::Status { kind } => {
            let reply = args.client()?.get(&kind_path(&kind)).with_context(|| format!("read the {kind} plugin"))?;
            if args.json { println!("{}", reply.pretty()) } else { print!("{}", render_status(&reply.decode()?)) }
        }
        RegistryCommand::Promote { kind } => {
            change(args, &kind, "promote", |c| c.post(&format!("{}/promote", kind_path(&kind)), b""))?
        }
        RegistryCommand::Rollback { kind, digest } => {
            let path = format!("{}/rollback", kind_path(&kind));
            let path = match &digest {
                Some(digest) => with_query(&path, &[("digest", digest)]),
                None => path,
            };
            change(args, &kind, "roll back", |c| c.post(&path, b""))?;
        }
        RegistryCommand::Remove { kind } => change(args, &kind, "remove", |c| c.delete(&kind_path(&kind)))?,
        RegistryCommand::Keygen { out } => {
            let files = keygen(&out, &new_signing_key())?;
            println!("Secret key: {} (keep it secret: it signs plugins)", files.secret.display());
            println!("Public key: {}", files.public.display());
            println!();
            println!("Trust it in each server's configuration: plugin_trust {{ keys = [\"{}\"] }}", files.public_key);
        }
        RegistryCommand::Sign { key, kind, file } => {
            let component = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
            let signature = sign(&read_secret_key(&key)?, &kind, &component);
            let mut out = file.clone().into_os_string();
            out.push(".sig");
            let out = PathBuf::from(out);
            write_new(&out, &signature, 0o644)?;
            println!("Wrote {}", out.display());
        }
    }
    Ok(())
}

/// Where an install's signature comes from: a file, a key to sign with, or nowhere.
struct Signing<'a> {
    signature: Option<&'a Path>,
    sign_key: Option<&'a Path>,
}

/// `keel plugin install`: signs (or takes the signature file), sends, reports.
fn install(
    args: &ClientArgs,
    kind: &str,
    file: &Path,
    settings: Vec<(String, String)>,
    signing: Signing<'_>,
    shadow: bool,
) -> anyhow::Result<()> {
    let component = std::fs::read(file).with_context(|| format!("read {}", file.display()))?;
    let signature = match (signing.signature, signing.sign_key) {
        (Some(path), _) => Some(read_trimmed(path)?),
        (None, Some(key)) => Some(sign(&read_secret_key(key)?, kind, &component)),
        (None, None) => None,
    };
    let request = PluginInstallRequest {
        component: STANDARD.encode(&component),
        settings: settings.into_iter().collect(),
        signature,
        mode: shadow.then(|| "shadow".to_owned()),
    };
    let body = serde_json::to_vec(&request)?;
    let reply = args.client()?.put(&kind_path(kind), &body).with_context(|| format!("install the {kind} plugin"))?;
    if args.json {
        println!("{}", reply.pretty());
    } else {
        let installed: PluginInstallResponse = reply.decode()?;
        let role = if installed.mode == "shadow" { "shadow" } else { "plugin" };
        println!(
            "Installed {} {} as the {} {role} (digest {}, index {})",
            installed.name, installed.version, installed.kind, installed.digest, installed.index
        );
    }
    Ok(())
}

fn kind_path(kind: &str) -> String {
    format!("/v1/operator/plugin/{}", path_segment(kind))
}

fn read_trimmed(path: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?.trim().to_owned())
}

/// The standard-base64 signature of `component` as a `kind` plugin.
fn sign(key: &ed25519_dalek::SigningKey, kind: &str, component: &[u8]) -> String {
    let digest = hex_digest(component);
    STANDARD.encode(key.sign(signed_message(kind, &digest).as_bytes()).to_bytes())
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Sends a registry change and reports its index.
fn change(
    args: &ClientArgs,
    kind: &str,
    what: &str,
    send: impl FnOnce(&crate::http::Client) -> Result<crate::http::Reply, crate::http::ClientError>,
) -> anyhow::Result<()> {
    let reply = send(&args.client()?).with_context(|| format!("{what} the {kind} plugin"))?;
    if args.json {
        println!("{}", reply.pretty());
    } else {
        let done: PluginIndexResponse = reply.decode()?;
        println!("Done: the {kind} plugin changed at index {}", done.index);
    }
    Ok(())
}

fn short(digest: &str) -> String {
    digest.chars().take(12).collect()
}

fn render_list(entries: &[PluginEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|entry| {
            let (name, version, contract, digest, index) = match &entry.installed {
                Some(v) => {
                    let contract = contract_version(&v.contract);
                    (v.name.clone(), v.version.clone(), contract, short(&v.digest), v.install_index.to_string())
                }
                None => ("(each server's own)".into(), String::new(), String::new(), String::new(), String::new()),
            };
            let shadow = entry.shadow.as_ref().map_or_else(String::new, |s| format!("{} {}", s.name, short(&s.digest)));
            vec![
                entry.kind.clone(),
                entry.source.clone(),
                name,
                version,
                contract,
                digest,
                index,
                entry.history.len().to_string(),
                shadow,
            ]
        })
        .collect();
    table(&["Kind", "Source", "Name", "Version", "Contract", "Digest", "Install Index", "Kept", "Shadow"], &rows)
}

/// `0.2.0` of `keel:plugin@0.2.0`; the whole text when it has no version.
fn contract_version(contract: &str) -> String {
    contract.rsplit_once('@').map_or(contract, |(_, version)| version).to_owned()
}

fn render_status(status: &PluginStatus) -> String {
    let entry = &status.entry;
    let mut fields = vec![
        ("Kind", entry.kind.clone()),
        ("Source", entry.source.clone()),
        ("Active Index", entry.active_index.to_string()),
    ];
    if let Some(installed) = &entry.installed {
        fields.extend([
            ("Name", format!("{} {}", installed.name, installed.version)),
            ("Digest", installed.digest.clone()),
            ("Contract", installed.contract.clone()),
            ("Signer", installed.signer.clone().unwrap_or_else(|| "(unsigned)".into())),
        ]);
    }
    if let Some(shadow) = &entry.shadow {
        fields.push(("Shadow", format!("{} {} ({})", shadow.name, shadow.version, shadow.digest)));
    }
    if let Some(rollback) = &entry.rolled_back {
        let line = format!("{} at index {}: {}", short(&rollback.digest), rollback.index, rollback.reason);
        fields.push(("Rolled Back", line));
    }
    let mut out = key_values(&fields);
    let rows: Vec<Vec<String>> = status.servers.iter().map(server_row).collect();
    out.push('\n');
    out.push_str(&table(
        &["Server", "Plugin", "Contract", "Source", "Digest", "Index", "Calls", "Faults", "p50", "p99", "Latency"],
        &rows,
    ));
    if entry.shadow.is_some() {
        out.push('\n');
        out.push_str(&render_shadows(&status.servers));
    }
    out
}

/// Each server's shadow: its comparisons, then its recent disagreements.
fn render_shadows(servers: &[keel_api::plugin::PluginServerStatus]) -> String {
    let shadows: Vec<(&str, &AgentShadow)> = servers
        .iter()
        .filter_map(|server| Some((server.name.as_str(), server.active.as_ref()?.shadow.as_ref()?)))
        .collect();
    let rows: Vec<Vec<String>> = shadows
        .iter()
        .map(|(server, shadow)| {
            let c = &shadow.counters;
            vec![
                (*server).to_owned(),
                short(&shadow.digest),
                shadow.agreements.to_string(),
                shadow.disagreements.to_string(),
                shadow.faults.to_string(),
                micros(c.latency_p50_us),
                shadow.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = table(&["Server", "Shadow", "Agreements", "Disagreements", "Shadow Faults", "p50", "Error"], &rows);
    let recent: Vec<Vec<String>> = shadows
        .iter()
        .flat_map(|(server, shadow)| {
            shadow.recent_disagreements.iter().map(|d| {
                vec![(*server).to_owned(), d.time.clone(), d.input.clone(), d.active.clone(), d.shadow.clone()]
            })
        })
        .collect();
    if !recent.is_empty() {
        out.push('\n');
        out.push_str(&table(&["Server", "Time", "Input", "Active", "Shadow"], &recent));
    }
    out
}

fn server_row(server: &keel_api::plugin::PluginServerStatus) -> Vec<String> {
    let Some(active) = &server.active else {
        let error = server.error.clone().unwrap_or_default();
        return vec![server.name.clone(), format!("(no answer: {error})")];
    };
    let c = &active.counters;
    let mut source = active.source.clone();
    if let Some(error) = &active.error {
        source.push_str(&format!(" (activation failed: {error})"));
    }
    vec![
        server.name.clone(),
        format!("{} {}", active.name, active.version),
        contract_version(&active.contract),
        source,
        short(&active.digest),
        active.active_index.to_string(),
        c.calls.to_string(),
        (c.traps + c.timeouts + c.memory_limits).to_string(),
        micros(c.latency_p50_us),
        micros(c.latency_p99_us),
        sparkline(&c.latency_buckets),
    ]
}

/// One line on the agent's `kind` plugin's calls and latency, for reports
/// that come from it; `None` when the agent does not say (an older agent,
/// or a token without `agent:read`).
pub(crate) fn latency_line(client: &crate::http::Client, kind: &str) -> Option<String> {
    let plugins: Vec<AgentPlugin> = client.get("/v1/agent/plugins").ok()?.decode().ok()?;
    let plugin = plugins.into_iter().find(|plugin| plugin.kind == kind)?;
    let c = &plugin.counters;
    Some(format!(
        "Plugin {} {} on this agent: {} calls, p50 {}, p99 {}, latency {}\n",
        plugin.name,
        plugin.version,
        c.calls,
        micros(c.latency_p50_us),
        micros(c.latency_p99_us),
        sparkline(&c.latency_buckets)
    ))
}

fn micros(us: u64) -> String {
    if us >= 1_000 { format!("{:.1}ms", us as f64 / 1_000.0) } else { format!("{us}µs") }
}

/// A latency histogram in one line: the power-of-two buckets from the
/// first to the last that holds a call, each a bar as tall as its share of
/// the largest, with the range's bounds around it (`1µs ▁▃█▂ 65µs`).
pub fn sparkline(buckets: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (Some(first), Some(last)) = (buckets.iter().position(|&n| n > 0), buckets.iter().rposition(|&n| n > 0)) else {
        return "(no calls)".into();
    };
    let top = buckets[first..=last].iter().copied().max().unwrap_or(1) as f64;
    let bars: String = buckets[first..=last]
        .iter()
        .map(|&n| if n == 0 { ' ' } else { BARS[((n as f64 / top) * 7.0).round() as usize] })
        .collect();
    let bound = |bucket: usize| nanos((1u64 << bucket.min(63)) / 2);
    format!("{} {bars} {}", bound(first), nanos(1u64 << last.min(63)))
}

fn nanos(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{}µs", ns / 1_000),
        1_000_000..1_000_000_000 => format!("{}ms", ns / 1_000_000),
        _ => format!("{}s", ns / 1_000_000_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_is_one_line_between_its_bounds() {
        let mut buckets = vec![0; 41];
        buckets[11] = 2; // under 2 µs
        buckets[12] = 8;
        buckets[14] = 1;
        assert_eq!(sparkline(&buckets), "1µs ▃█ ▂ 16µs");
        assert_eq!(sparkline(&[0; 41]), "(no calls)");
    }

    #[test]
    fn a_signature_verifies_for_its_kind_and_component_only() {
        use ed25519_dalek::Verifier as _;
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let signature = STANDARD.decode(sign(&key, "acl", b"component")).expect("base64");
        let signature = ed25519_dalek::Signature::from_slice(&signature).expect("64 bytes");
        let digest = hex_digest(b"component");
        let verify = |kind: &str, digest: &str| {
            key.verifying_key().verify(signed_message(kind, digest).as_bytes(), &signature).is_ok()
        };
        assert!(verify("acl", &digest));
        assert!(!verify("license", &digest));
        assert!(!verify("acl", &hex_digest(b"other")));
    }

    #[test]
    fn a_server_that_did_not_answer_says_why() {
        let server = keel_api::plugin::PluginServerStatus {
            name: "s2".into(),
            error: Some("unreachable".into()),
            ..Default::default()
        };
        assert_eq!(server_row(&server), ["s2", "(no answer: unreachable)"]);
        let answered = keel_api::plugin::PluginServerStatus {
            name: "s1".into(),
            active: Some(AgentPlugin {
                name: "acl-nomad".into(),
                contract: "keel:plugin@0.2.0".into(),
                source: "installed".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(server_row(&answered)[2..4], ["0.2.0", "installed"]);
    }
}
