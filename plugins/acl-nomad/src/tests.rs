//! The plugin as the host sees it: settings, validation, compilation of
//! whole tokens, and the same policy written in HCL and in JSON.

use keel_sdk::Plugin;
use keel_sdk::acl::{Access, AclPolicy, Area, Level, Policy, Request};

use crate::NomadAcl;
use crate::rules::Rules;

fn plugin() -> NomadAcl {
    NomadAcl::configure(&[]).expect("no settings is valid")
}

fn policy(name: &str, rules: &str) -> Policy {
    Policy { name: name.to_owned(), rules: rules.to_owned() }
}

fn ask(area: Area, access: Access, target: Option<&str>) -> Request {
    Request { target: target.map(str::to_owned), ..keel_sdk::testing::request(area, access) }
}

fn level(area: Area, level: Level, target: Option<&str>) -> Request {
    ask(area, Access::Level(level), target)
}

fn capability(area: Area, name: &str, target: &str) -> Request {
    ask(area, Access::Capability(name.to_owned()), Some(target))
}

fn parsed(text: &str) -> Rules {
    match Rules::parse(text) {
        Ok(rules) => rules,
        Err(error) => panic!("{text:?} should be valid: {error}"),
    }
}

#[test]
fn info_names_the_plugin_and_its_version() {
    let info = NomadAcl::info();
    assert_eq!(info.name, "acl-nomad");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn configure_refuses_any_setting_and_names_it() {
    let error = NomadAcl::configure(&[("strict".to_owned(), "true".to_owned())]).expect_err("no settings exist");
    assert_eq!(error, "unknown setting \"strict\": this plugin takes no settings");
}

#[test]
fn validate_accepts_good_rules_and_explains_bad_ones() {
    assert_eq!(plugin().validate(r#"namespace "default" { policy = "read" }"#), Ok(()));
    assert_eq!(plugin().validate(""), Ok(()));
    assert_eq!(
        plugin().validate("namespace \"prod\" {\n  policy = \"admin\"\n}"),
        Err("parse rules: 2:12: invalid namespace policy \"admin\" in namespace \"prod\"; expected deny, read, write or scale"
            .to_owned())
    );
    assert_eq!(
        plugin().validate(r#"{"agent": {"policy": "admin"}}"#),
        Err("parse rules: invalid agent policy \"admin\"; expected deny, read or write".to_owned())
    );
}

#[test]
fn compile_names_the_policy_at_fault() {
    let policies = [policy("readers", r#"agent { policy = "read" }"#), policy("ops", "operator { policy = \"sudo\" }")];
    let Err(error) = plugin().compile(&policies) else { panic!("the ops policy is invalid") };
    assert_eq!(
        error,
        "policy \"ops\": parse rules: 1:21: invalid operator policy \"sudo\"; expected deny, read or write"
    );
}

#[test]
fn the_anonymous_token_without_policies_allows_nothing() {
    let acl = plugin().compile(&[]).expect("an empty token compiles");
    for area in [Area::Agent, Area::Node, Area::Operator, Area::Quota, Area::Plugin, Area::NodePool, Area::HostVolume] {
        for wanted in [Level::Read, Level::List, Level::Write, Level::Scale, Level::Deny] {
            assert!(!acl.allows(&level(area, wanted, Some("default"))), "{wanted:?}");
        }
    }
    assert!(!acl.allows(&level(Area::Namespace, Level::Read, None)));
    assert!(!acl.allows(&capability(Area::Namespace, "list-jobs", "*")));
}

/// A realistic token: three policies from three teams that overlap.
fn realistic_policies() -> [Policy; 3] {
    [
        // Everyone may look around.
        policy(
            "anonymous-ish",
            r#"
            namespace "*" { policy = "read" }
            node { policy = "read" }
            agent { policy = "read" }
            plugin { policy = "list" }
            node_pool "*" { policy = "read" }
            "#,
        ),
        // The web team runs its own namespaces, except the payments one.
        policy(
            "web-team",
            r#"
            # Deploy and debug.
            namespace "web-*" {
              policy       = "write"
              capabilities = ["alloc-node-exec"]
            }
            namespace "web-payments" {
              policy = "read"
            }
            host_volume "web-*" { policy = "write" }
            node_pool "web" { policy = "write" }
            "#,
        ),
        // Compliance takes exec away from payments, whatever else says.
        policy(
            "compliance",
            r#"{
              "namespace": {"web-payments": {"capabilities": ["deny"]}},
              "host_volume": {"web-secrets": {"policy": "deny"}},
              "operator": {"policy": "read"}
            }"#,
        ),
    ]
}

/// Whether the realistic token allows each request, asked of one compilation.
fn realistic_token() -> impl Fn(Request) -> bool {
    let acl = plugin().compile(&realistic_policies()).expect("all three are valid");
    move |request: Request| acl.allows(&request)
}

#[test]
fn a_realistic_token_reads_everywhere_its_baseline_allows() {
    let allowed = realistic_token();
    // The read-everything baseline.
    assert!(allowed(level(Area::Namespace, Level::Read, None)));
    assert!(allowed(level(Area::Namespace, Level::List, Some("batch"))));
    assert!(!allowed(level(Area::Namespace, Level::Write, Some("batch"))));
    assert!(!allowed(capability(Area::Namespace, "read-logs", "batch")));
    assert!(allowed(level(Area::Node, Level::Read, None)));
    assert!(!allowed(level(Area::Node, Level::Write, None)));
    assert!(allowed(level(Area::Plugin, Level::List, None)));
    assert!(!allowed(level(Area::Plugin, Level::Read, None)));
    assert!(allowed(level(Area::Operator, Level::Read, None)));
    assert!(!allowed(level(Area::Operator, Level::Write, None)));
    assert!(!allowed(level(Area::Quota, Level::Read, None)));
}

#[test]
fn a_realistic_token_writes_the_teams_namespaces_but_not_payments() {
    let allowed = realistic_token();
    // The web team's namespaces, through the closer glob.
    assert!(allowed(level(Area::Namespace, Level::Write, Some("web-api"))));
    assert!(allowed(capability(Area::Namespace, "alloc-node-exec", "web-api")));
    assert!(allowed(capability(Area::Namespace, "dispatch-job", "web-api")));
    assert!(!allowed(capability(Area::Namespace, "sentinel-override", "web-api")));
    // Payments: an exact label, denied by compliance over the team's read.
    assert!(!allowed(level(Area::Namespace, Level::Read, Some("web-payments"))));
    assert!(!allowed(capability(Area::Namespace, "list-jobs", "web-payments")));
    // Listing across namespaces still works thanks to the others.
    assert!(allowed(level(Area::Namespace, Level::List, Some("*"))));
}

#[test]
fn a_realistic_token_keeps_node_pools_and_host_volumes_to_the_team() {
    let allowed = realistic_token();
    // Node pools: read everywhere, write on the team's own.
    assert!(allowed(level(Area::NodePool, Level::Read, Some("gpu"))));
    assert!(!allowed(level(Area::NodePool, Level::Write, Some("gpu"))));
    assert!(allowed(level(Area::NodePool, Level::Write, Some("web"))));
    assert!(allowed(capability(Area::NodePool, "delete", "web")));

    // Host volumes: the team's glob, but not the denied secrets.
    assert!(allowed(capability(Area::HostVolume, "mount-readwrite", "web-cache")));
    assert!(!allowed(capability(Area::HostVolume, "mount-readonly", "web-secrets")));
    assert!(!allowed(capability(Area::HostVolume, "mount-readonly", "db")));
}

#[test]
fn compiling_twice_gives_the_same_answers() {
    let policies =
        [policy("a", r#"namespace "x" { policy = "write" }"#), policy("b", r#"namespace "x" { policy = "deny" }"#)];
    let first = plugin().compile(&policies).expect("valid");
    let second = plugin().compile(&policies[..1]).expect("valid");
    assert!(!first.allows(&level(Area::Namespace, Level::Read, Some("x"))));
    assert!(second.allows(&level(Area::Namespace, Level::Read, Some("x"))), "nothing of the first compile remains");
}

#[test]
fn hcl_and_json_give_equal_rules() {
    let hcl = r#"
        namespace "default" {
          policy = "read"
          capabilities = ["submit-job", "host-volume-register"]
          variables {
            path "nomad/jobs/*" { capabilities = ["read"] }
          }
        }
        namespace "prod-*" { policy = "deny" }
        node_pool "gpu_*" { policy = "write" }
        host_volume "data" { capabilities = ["mount-readonly"] }
        agent { policy = "read" }
        node { policy = "write" }
        operator { policy = "read" }
        quota { policy = "deny" }
        plugin { policy = "list" }
    "#;
    let json = r#"
    {
      "namespace": {
        "default": {
          "policy": "read",
          "capabilities": ["submit-job", "host-volume-register"],
          "variables": {"path": {"nomad/jobs/*": {"capabilities": ["read"]}}}
        },
        "prod-*": {"policy": "deny"}
      },
      "node_pool": {"gpu_*": {"policy": "write"}},
      "host_volume": {"data": {"capabilities": ["mount-readonly"]}},
      "agent": {"policy": "read"},
      "node": {"policy": "write"},
      "operator": {"policy": "read"},
      "quota": {"policy": "deny"},
      "plugin": {"policy": "list"}
    }"#;
    let from_hcl = parsed(hcl);
    assert_eq!(from_hcl, parsed(json));
    assert_eq!(from_hcl.namespaces.len(), 2);
    assert_eq!(from_hcl.namespaces[0].variables.len(), 1);
}

#[test]
fn hcl1_json_lists_of_blocks_equal_hcl() {
    let hcl = r#"namespace "a" { policy = "read" } namespace "b" { policy = "write" } agent { policy = "write" }"#;
    let json =
        r#"{"namespace": [{"a": {"policy": "read"}}, {"b": [{"policy": "write"}]}], "agent": [{"policy": "write"}]}"#;
    assert_eq!(parsed(hcl), parsed(json));
}

#[test]
fn a_repeated_json_key_cannot_hide_a_deny() {
    let json = r#"{"namespace": {"prod": {"policy": "deny"}, "prod": {"policy": "write"}}}"#;
    let acl = plugin().compile(&[policy("sneaky", json)]).expect("valid");
    assert!(!acl.allows(&level(Area::Namespace, Level::Write, Some("prod"))));
}
