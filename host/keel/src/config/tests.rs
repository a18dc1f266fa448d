use std::path::Path;

use super::*;

fn resolve(text: &str, args: AgentArgs) -> anyhow::Result<AgentConfig> {
    AgentConfig::resolve(FileConfig::parse(text)?, &args, Vec::new())
}

#[test]
fn dev_mode_is_one_server_and_client_on_loopback() {
    let config = resolve("", AgentArgs { dev: true, ..AgentArgs::default() }).expect("dev resolves");
    assert!(config.server && config.client && !config.acl_enabled);
    assert_eq!(config.http_address().to_string(), "127.0.0.1:4646");
    assert_eq!(config.rpc_address().to_string(), "127.0.0.1:4647");
    assert_eq!(config.serf_address().to_string(), "127.0.0.1:4648");
    assert_eq!(config.bootstrap_expect, 1);
    assert_eq!((config.region.as_str(), config.datacenter.as_str()), ("global", "dc1"));
}

#[test]
fn a_full_file_is_read_and_flags_win() {
    let file = r#"
        name = "alpha"
        region = "eu"
        datacenter = "fra1"
        data_dir = "/var/lib/keel"
        bind_addr = "127.0.0.5"
        ports { http = 5646 }
        server {
          enabled = true
          bootstrap_expect = 3
          server_join { retry_join = ["127.0.0.6"] }
          default_scheduler_config {
            scheduler_algorithm = "spread"
            preemption_config { service_scheduler_enabled = true }
          }
        }
        acl {
          enabled = true
          token_min_expiration_ttl = "1s"
        }
        autopilot {
          last_contact_threshold = "500ms"
          min_quorum = 3
        }
        plugin "license" {
          path = "custom.wasm"
          config { public_key = "abc" }
        }
        client { memory_total_mb = 512 }
    "#;
    let args = AgentArgs { node: Some("beta".into()), retry_join: vec!["127.0.0.7".into()], ..AgentArgs::default() };
    let config = resolve(file, args).expect("resolves");
    assert_eq!(config.node_name, "beta");
    assert_eq!((config.region.as_str(), config.datacenter.as_str()), ("eu", "fra1"));
    assert_eq!(config.http_address().to_string(), "127.0.0.5:5646");
    assert_eq!(config.rpc_address().to_string(), "127.0.0.5:4647");
    assert_eq!(config.bootstrap_expect, 3);
    assert_eq!(config.retry_join, ["127.0.0.6", "127.0.0.7"]);
    assert!(config.acl_enabled && config.server && !config.client);
    assert_eq!(
        (config.acl_token_min_ttl, config.acl_token_max_ttl),
        (Duration::from_secs(1), Duration::from_secs(86_400))
    );
    assert_eq!(config.autopilot.last_contact_threshold, Duration::from_millis(500));
    assert_eq!(config.autopilot.min_quorum, 3);
    assert_eq!(config.autopilot.max_trailing_logs, 250);
    assert_eq!(config.scheduler.scheduler_algorithm, "spread");
    assert!(config.scheduler.preemption_config.system_scheduler_enabled);
    assert!(config.scheduler.preemption_config.service_scheduler_enabled);
    let license = &config.plugins[&Kind::License];
    assert_eq!(license.path.as_deref(), Some(Path::new("custom.wasm")));
    assert_eq!(license.settings, [("public_key".to_owned(), "abc".to_owned())]);
    assert_eq!(config.capacity, keel_server::Capacity { memory_total_mb: Some(512), cpu_total_compute: None });
}

#[test]
fn unknown_keys_are_named() {
    let error = resolve("server {\n  enabled = true\n  bootstrap = 1\n}\n", AgentArgs::default()).expect_err("refused");
    assert!(format!("{error:#}").contains("unknown field `bootstrap`"), "{error:#}");
    let error = resolve("colour = \"blue\"", AgentArgs::default()).expect_err("refused");
    assert!(format!("{error:#}").contains("unknown field `colour`"), "{error:#}");
    let error = resolve("plugin \"billing\" {}", AgentArgs { dev: true, ..AgentArgs::default() }).expect_err("refused");
    assert!(format!("{error:#}").contains("billing"), "{error:#}");
}

#[test]
fn bad_values_are_refused() {
    assert!(resolve("autopilot { last_contact_threshold = \"soon\" }", AgentArgs::default()).is_err());
    assert!(resolve("server { enabled = true }", AgentArgs::default()).is_err(), "a server needs a data dir");
    assert!(resolve("", AgentArgs::default()).is_err(), "neither server nor client");
    let dev_three = AgentArgs { dev: true, bootstrap_expect: Some(3), ..AgentArgs::default() };
    assert!(resolve("", dev_three).is_err());
}

/// The README's ```hcl blocks, read at test time so that an example that
/// stops parsing fails here.
fn readme_hcl_blocks() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md is readable");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```hcl") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_readme_config_example_parses_and_resolves() {
    let blocks = readme_hcl_blocks();
    assert!(!blocks.is_empty(), "README.md has configuration examples");
    for block in blocks {
        let config = resolve(&block, AgentArgs::default()).unwrap_or_else(|e| panic!("{e:#}\n{block}"));
        assert!(config.server || config.client);
    }
}

const ONE_LINE_HCL: &str = r#"
name = "alpha"
data_dir = "/var/lib/keel"
ports { http = 5646  rpc = 5647, serf = 5648 }
server { enabled = true  bootstrap_expect = 3  server_join { retry_join = ["10.0.0.6", "10.0.0.7"] } }
autopilot = { last_contact_threshold = "300ms", min_quorum = 3 }
plugin "acl" { path = "acl.wasm" }
plugin "license" { config { public_key = <<EOF
abc
EOF
} }
"#;

const SAME_JSON: &str = r#"{
  "name": "alpha",
  "data_dir": "/var/lib/keel",
  "ports": { "http": 5646, "rpc": 5647, "serf": 5648 },
  "server": [{ "enabled": true, "bootstrap_expect": 3, "server_join": { "retry_join": ["10.0.0.6", "10.0.0.7"] } }],
  "autopilot": { "last_contact_threshold": "300ms", "min_quorum": 3 },
  "plugin": [{ "acl": { "path": "acl.wasm" } }, { "license": { "config": { "public_key": "abc\n" } } }]
}"#;

fn load(paths: &[&Path]) -> anyhow::Result<AgentConfig> {
    AgentConfig::load(&AgentArgs { config: paths.iter().map(|p| p.to_path_buf()).collect(), ..AgentArgs::default() })
}

fn assert_resolved_alpha(config: &AgentConfig) {
    assert_eq!(config.node_name, "alpha");
    assert_eq!(config.http_address().to_string(), "0.0.0.0:5646");
    assert_eq!((config.ports.rpc, config.ports.serf), (5647, 5648));
    assert_eq!((config.server, config.bootstrap_expect), (true, 3));
    assert_eq!(config.retry_join, ["10.0.0.6", "10.0.0.7"]);
    assert_eq!(config.autopilot.last_contact_threshold, Duration::from_millis(300));
    assert_eq!(config.autopilot.min_quorum, 3);
    assert_eq!(config.plugins[&Kind::Acl].path.as_deref(), Some(Path::new("acl.wasm")));
    assert_eq!(config.plugins[&Kind::License].settings, [("public_key".to_owned(), "abc\n".to_owned())]);
}

#[test]
fn an_hcl1_file_and_a_json_file_resolve_alike() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let (hcl, json) = (dir.path().join("agent.hcl"), dir.path().join("agent.json"));
    std::fs::write(&hcl, ONE_LINE_HCL).expect("write");
    std::fs::write(&json, SAME_JSON).expect("write");
    let from_hcl = load(&[&hcl]).expect("hcl resolves");
    assert_resolved_alpha(&from_hcl);
    assert_eq!(from_hcl.files, [hcl]);
    assert_resolved_alpha(&load(&[&json]).expect("json resolves"));
}

#[test]
fn a_directory_merges_its_files_in_name_order() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let base = "name = \"first\"\ndata_dir = \"/d\"\nserver { enabled = true }\nplugin \"acl\" { path = \"a.wasm\" }\n";
    std::fs::write(dir.path().join("10-base.hcl"), base).expect("write");
    let overlay = r#"{"name": "second", "server": {"bootstrap_expect": 3}, "plugin": {"license": {"path": "l.wasm"}}}"#;
    std::fs::write(dir.path().join("20-overlay.json"), overlay).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not a config").expect("write");
    let config = load(&[dir.path()]).expect("resolves");
    assert_eq!(config.node_name, "second", "the later file wins");
    assert_eq!((config.server, config.bootstrap_expect), (true, 3), "blocks merge key by key");
    assert_eq!(config.plugins[&Kind::Acl].path.as_deref(), Some(Path::new("a.wasm")));
    assert_eq!(config.plugins[&Kind::License].path.as_deref(), Some(Path::new("l.wasm")));
    assert_eq!(config.files.len(), 2, "only *.hcl and *.json are read: {:?}", config.files);
    let extra = dir.path().join("30.hcl.later");
    std::fs::write(&extra, "name = \"third\"").expect("write");
    assert_eq!(load(&[dir.path(), &extra]).expect("resolves").node_name, "third", "--config repeats");
}

#[test]
fn unknown_keys_name_their_file_and_line() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let hcl = dir.path().join("bad.hcl");
    std::fs::write(&hcl, "data_dir = \"/d\"\nserver {\n  enabled = true\n  bootstrap = 1\n}\n").expect("write");
    let error = format!("{:#}", load(&[&hcl]).expect_err("refused"));
    assert!(error.contains("bad.hcl") && error.contains("line 4, column 3"), "{error}");
    assert!(error.contains("unknown field `bootstrap`"), "{error}");
    let json = dir.path().join("bad.json");
    std::fs::write(&json, r#"{"data_dir": "/d", "colour": "blue"}"#).expect("write");
    let error = format!("{:#}", load(&[&json]).expect_err("refused"));
    assert!(error.contains("bad.json") && error.contains("unknown field `colour`"), "{error}");
    let broken = dir.path().join("broken.hcl");
    std::fs::write(&broken, "ports { http = }").expect("write");
    let error = format!("{:#}", load(&[&broken]).expect_err("refused"));
    assert!(error.contains("broken.hcl") && error.contains("line 1, column 16"), "{error}");
}

fn agent_args(args: &[&str]) -> AgentArgs {
    try_agent_args(args).expect("flags parse")
}

fn try_agent_args(args: &[&str]) -> Result<AgentArgs, clap::Error> {
    use clap::{Args, FromArgMatches};
    let words = nomad_spelling(["keel", "agent"].iter().chain(args).map(|s| (*s).to_owned()).collect());
    let command = clap::Command::new("keel").subcommand(AgentArgs::augment_args(clap::Command::new("agent")));
    let matches = command.try_get_matches_from(words)?;
    AgentArgs::from_arg_matches(matches.subcommand_matches("agent").expect("agent"))
}

#[test]
fn nomad_flag_spelling_means_the_same() {
    let nomad = agent_args(&[
        "-server",
        "-client",
        "-bootstrap-expect=3",
        "-retry-join",
        "10.0.0.6",
        "-config=a.hcl",
        "-config",
        "b.hcl",
        "-data-dir=/d",
        "-bind",
        "10.0.0.5",
        "-node=-dev",
        "-region=eu",
        "-dc",
        "fra1",
        "-acl-enabled",
    ]);
    let keel = agent_args(&[
        "--server",
        "--client",
        "--bootstrap-expect",
        "3",
        "--retry-join=10.0.0.6",
        "--config",
        "a.hcl",
        "--config=b.hcl",
        "--data-dir",
        "/d",
        "--bind=10.0.0.5",
        "--node=-dev",
        "--region",
        "eu",
        "--dc=fra1",
        "--acl-enabled",
    ]);
    assert_eq!(format!("{nomad:?}"), format!("{keel:?}"));
    assert_eq!(nomad.node.as_deref(), Some("-dev"), "a flag's value is never rewritten");
    assert!(agent_args(&["-dev"]).dev);
    let other = nomad_spelling(["keel", "operator", "-dev"].map(String::from).to_vec());
    assert_eq!(other[2], "-dev", "only `keel agent` is rewritten");
    let after = nomad_spelling(["keel", "agent", "--", "-dev", "-x"].map(String::from).to_vec());
    assert_eq!(after[3..], ["-dev", "-x"]);
}

#[test]
fn plugin_settings_on_the_command_line_replace_the_files_keys() {
    let file = "plugin \"license\" {\n  path = \"l.wasm\"\n  config { public_key = \"file\"\n  keep = \"1\" }\n}\n";
    let args = agent_args(&[
        "-dev",
        "--plugin-config",
        "license.public_key=flag=with=equals",
        "--plugin-config=acl.mode=strict",
        "--plugin",
        "acl=a.wasm",
    ]);
    let config = resolve(file, args).expect("resolves");
    let license = &config.plugins[&Kind::License];
    assert_eq!(license.path.as_deref(), Some(Path::new("l.wasm")), "the file's path stays");
    let settings: BTreeMap<&str, &str> = license.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(settings, BTreeMap::from([("keep", "1"), ("public_key", "flag=with=equals")]));
    let acl = &config.plugins[&Kind::Acl];
    assert_eq!(
        (acl.path.as_deref(), acl.settings.as_slice()),
        (Some(Path::new("a.wasm")), &[("mode".into(), "strict".into())][..])
    );
    for (bad, why) in [("license", "KIND.KEY=VALUE"), ("license.key", "KEY=VALUE"), ("billing.key=v", "billing")] {
        let error = try_agent_args(&["--plugin-config", bad]).expect_err("refused").to_string();
        assert!(error.contains(why), "{bad}: {error}");
    }
}
