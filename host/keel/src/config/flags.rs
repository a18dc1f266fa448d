//! `keel agent`'s flags, and Nomad's single-dash spelling of them.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use keel_plugins::Kind;

/// `keel agent` flags. Each one overrides the config file.
#[derive(Debug, Args, Default)]
#[command(after_help = "Nomad's spelling works too: -dev, -server, -client, -bootstrap-expect=N, -retry-join=ADDR, \
-config=PATH, -data-dir=DIR, -bind=ADDR, -node=NAME, -region=R, -dc=DC, -acl-enabled, with `=` or a space before \
the value.")]
pub struct AgentArgs {
    /// A single-node server and client with a temporary data directory,
    /// bound to 127.0.0.1, ACLs off.
    #[arg(long)]
    pub dev: bool,
    /// Runs a server.
    #[arg(long)]
    pub server: bool,
    /// Runs a client.
    #[arg(long)]
    pub client: bool,
    /// Where the agent keeps its state.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The address every port binds to.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,
    /// The node's name (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// The region (default "global").
    #[arg(long)]
    pub region: Option<String>,
    /// The datacenter (default "dc1").
    #[arg(long = "dc", value_name = "DC")]
    pub datacenter: Option<String>,
    /// Bootstraps the cluster once this many servers have joined.
    #[arg(long, value_name = "N")]
    pub bootstrap_expect: Option<u32>,
    /// A server to join, retried until it succeeds (repeatable).
    #[arg(long = "retry-join", value_name = "ADDR")]
    pub retry_join: Vec<String>,
    /// A client's server, `ip[:port]`, RPC port 4647 by default (repeatable).
    #[arg(long = "servers", value_name = "ADDR")]
    pub servers: Vec<String>,
    /// Enforces ACLs.
    #[arg(long)]
    pub acl_enabled: bool,
    /// The cluster key, base64 of 32 bytes (`keel operator keygen`):
    /// encrypts gossip and authenticates RPC connections.
    #[arg(long, value_name = "KEY")]
    pub encrypt: Option<String>,
    /// A config file (HCL or JSON) or a directory of `*.hcl` and `*.json`
    /// files merged in name order (repeatable; later files win, flags win over all).
    #[arg(long = "config", value_name = "PATH")]
    pub config: Vec<PathBuf>,
    /// Loads a plugin component instead of the embedded default, as KIND=PATH
    /// with KIND one of acl, autopilot, scheduler, license (repeatable).
    #[arg(long = "plugin", value_name = "KIND=PATH", value_parser = parse_plugin_override)]
    pub plugins: Vec<(Kind, PathBuf)>,
    /// A setting for KIND's plugin, as KIND.KEY=VALUE (repeatable); it
    /// replaces that key of the config file's `plugin "KIND" { config {} }`.
    #[arg(long = "plugin-config", value_name = "KIND.KEY=VALUE", value_parser = parse_plugin_setting)]
    pub plugin_settings: Vec<(Kind, String, String)>,
}

fn parse_plugin_override(value: &str) -> Result<(Kind, PathBuf), String> {
    let (kind, path) = value.split_once('=').ok_or_else(|| format!("expected KIND=PATH, got {value:?}"))?;
    Ok((kind.parse::<Kind>().map_err(|e| e.to_string())?, PathBuf::from(path)))
}

fn parse_plugin_setting(value: &str) -> Result<(Kind, String, String), String> {
    let (kind, setting) = value.split_once('.').ok_or_else(|| format!("expected KIND.KEY=VALUE, got {value:?}"))?;
    let (key, value) = keel_cli::parse_setting(setting)?;
    Ok((kind.parse::<Kind>().map_err(|e| e.to_string())?, key, value))
}

/// The agent flags Nomad spells with one dash; `-dev` means `--dev`.
const NOMAD_FLAGS: [&str; 13] = [
    "dev",
    "server",
    "client",
    "bootstrap-expect",
    "retry-join",
    "config",
    "data-dir",
    "bind",
    "node",
    "region",
    "dc",
    "acl-enabled",
    "encrypt",
];

/// The agent flags, Nomad's and Keel's own, that take a value, so that the
/// word after them is a value and never rewritten.
const VALUE_FLAGS: [&str; 11] = [
    "bootstrap-expect",
    "retry-join",
    "config",
    "data-dir",
    "bind",
    "node",
    "region",
    "dc",
    "plugin",
    "plugin-config",
    "encrypt",
];

/// Rewrites Nomad's `-flag` and `-flag=value` to clap's `--flag` for `keel
/// agent` only, and only for the names Nomad has, so that no short flag of
/// another command changes meaning. A flag's value and anything after `--`
/// are left as they are.
pub fn nomad_spelling(args: Vec<String>) -> Vec<String> {
    if args.get(1).map(String::as_str) != Some("agent") {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    let mut value_next = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i < 2 || value_next || out.iter().any(|seen: &String| seen == "--") {
            value_next = false;
            out.push(arg);
            continue;
        }
        let rewritten = match arg.strip_prefix('-').filter(|rest| !rest.starts_with('-')) {
            Some(rest) if NOMAD_FLAGS.contains(&rest.split('=').next().unwrap_or(rest)) => format!("-{arg}"),
            _ => arg,
        };
        value_next =
            rewritten.strip_prefix("--").is_some_and(|name| !name.contains('=') && VALUE_FLAGS.contains(&name));
        out.push(rewritten);
    }
    out
}
