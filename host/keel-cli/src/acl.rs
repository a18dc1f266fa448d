//! `keel acl bootstrap | policy ... | token ...`: ACL policies and tokens, as
//! Nomad's `nomad acl` has them.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use keel_api::acl::{AclPolicy, AclPolicyListStub, AclToken, AclTokenListStub};

use super::http::ClientArgs;
use super::parse_go_duration;
use super::table::{key_values, table};

#[derive(Debug, clap::Args)]
pub struct AclArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: AclCommand,
}

#[derive(Debug, Subcommand)]
enum AclCommand {
    /// Creates the first management token; works once per cluster.
    Bootstrap,
    /// Writes, lists, shows and deletes ACL policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Creates, lists, shows and deletes ACL tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Creates or replaces the policy NAME with the rules in FILE.
    Apply {
        name: String,
        /// The rule document (HCL or JSON for the default ACL plugin).
        file: PathBuf,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Lists the policies.
    List,
    /// Shows one policy and its rules.
    Info { name: String },
    /// Deletes a policy.
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Creates a token and prints it with its secret.
    Create {
        #[arg(long, default_value = "")]
        name: String,
        /// client or management.
        #[arg(long = "type", default_value = "client")]
        token_type: String,
        /// A policy of a client token (repeatable).
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// Replicate the token to every region.
        #[arg(long)]
        global: bool,
        /// Expire the token after this long, such as 1h.
        #[arg(long, value_parser = parse_go_duration)]
        ttl: Option<Duration>,
    },
    /// Lists the tokens, without their secrets.
    List,
    /// Shows the token with accessor ID.
    Info { accessor: String },
    /// Shows the token the CLI is using.
    #[command(name = "self")]
    Own,
    /// Deletes the token with accessor ID.
    Delete { accessor: String },
}

pub fn run(args: AclArgs) -> anyhow::Result<()> {
    let options = &args.client;
    let client = options.client()?;
    let print = |reply: super::http::Reply, render: &dyn Fn(&super::http::Reply) -> anyhow::Result<String>| {
        let text = if options.json { format!("{}\n", reply.pretty()) } else { render(&reply)? };
        print!("{text}");
        anyhow::Ok(())
    };
    let token = |reply: &super::http::Reply| Ok(render_token(&reply.decode()?));
    match args.command {
        AclCommand::Bootstrap => print(client.put("/v1/acl/bootstrap", b"").context("bootstrap ACLs")?, &token)?,
        AclCommand::Policy(PolicyCommand::Apply { name, file, description }) => {
            let rules = std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
            let policy = AclPolicy { name: name.clone(), description, rules, ..AclPolicy::default() };
            let body = serde_json::to_vec(&policy).context("encode the policy")?;
            client.put(&policy_path(&name), &body).with_context(|| format!("write ACL policy {name:?}"))?;
            println!("Successfully wrote {name:?} ACL policy!");
        }
        AclCommand::Policy(PolicyCommand::List) => {
            let reply = client.get("/v1/acl/policies").context("list ACL policies")?;
            print(reply, &|reply| Ok(render_policies(&reply.decode::<Vec<_>>()?)))?;
        }
        AclCommand::Policy(PolicyCommand::Info { name }) => {
            let reply = client.get(&policy_path(&name)).with_context(|| format!("read ACL policy {name:?}"))?;
            print(reply, &|reply| Ok(render_policy(&reply.decode()?)))?;
        }
        AclCommand::Policy(PolicyCommand::Delete { name }) => {
            client.delete(&policy_path(&name)).with_context(|| format!("delete ACL policy {name:?}"))?;
            println!("Successfully deleted {name:?} ACL policy!");
        }
        AclCommand::Token(TokenCommand::Create { name, token_type, policies, global, ttl }) => {
            let new = AclToken {
                name,
                token_type,
                policies,
                global,
                expiration_ttl: ttl.unwrap_or_default(),
                ..AclToken::default()
            };
            let body = serde_json::to_vec(&new).context("encode the token")?;
            print(client.put("/v1/acl/token", &body).context("create an ACL token")?, &token)?;
        }
        AclCommand::Token(TokenCommand::List) => {
            let reply = client.get("/v1/acl/tokens").context("list ACL tokens")?;
            print(reply, &|reply| Ok(render_tokens(&reply.decode::<Vec<_>>()?)))?;
        }
        AclCommand::Token(TokenCommand::Info { accessor }) => {
            let reply = client.get(&token_path(&accessor)).context("read the ACL token")?;
            print(reply, &token)?;
        }
        AclCommand::Token(TokenCommand::Own) => {
            print(client.get("/v1/acl/token/self").context("read this ACL token")?, &token)?;
        }
        AclCommand::Token(TokenCommand::Delete { accessor }) => {
            client.delete(&token_path(&accessor)).context("delete the ACL token")?;
            println!("Token {accessor} successfully deleted");
        }
    }
    Ok(())
}

fn policy_path(name: &str) -> String {
    format!("/v1/acl/policy/{}", super::http::path_segment(name))
}

fn token_path(accessor: &str) -> String {
    format!("/v1/acl/token/{}", super::http::path_segment(accessor))
}

fn time(unix_ms: i64) -> String {
    keel_api::time::rfc3339_ms(unix_ms)
}

fn render_token(token: &AclToken) -> String {
    key_values(&[
        ("Accessor ID", token.accessor_id.clone()),
        ("Secret ID", token.secret_id.clone()),
        ("Name", token.name.clone()),
        ("Type", token.token_type.clone()),
        ("Global", token.global.to_string()),
        ("Create Time", time(token.create_time)),
        ("Expiry Time", token.expiration_time.map_or_else(|| "<none>".to_owned(), time)),
        ("Create Index", token.create_index.to_string()),
        ("Modify Index", token.modify_index.to_string()),
        ("Policies", format!("{:?}", token.policies)),
    ])
}

fn render_tokens(tokens: &[AclTokenListStub]) -> String {
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|token| {
            vec![
                token.name.clone(),
                token.token_type.clone(),
                token.global.to_string(),
                token.accessor_id.clone(),
                token.expiration_time.map_or_else(|| "<none>".to_owned(), time),
            ]
        })
        .collect();
    table(&["Name", "Type", "Global", "Accessor ID", "Expiry Time"], &rows)
}

fn render_policies(policies: &[AclPolicyListStub]) -> String {
    let rows: Vec<Vec<String>> =
        policies.iter().map(|policy| vec![policy.name.clone(), policy.description.clone()]).collect();
    table(&["Name", "Description"], &rows)
}

fn render_policy(policy: &AclPolicy) -> String {
    let mut out = key_values(&[
        ("Name", policy.name.clone()),
        ("Description", policy.description.clone()),
        ("CreateIndex", policy.create_index.to_string()),
        ("ModifyIndex", policy.modify_index.to_string()),
    ]);
    out.push_str(&format!("\nRules:\n\n{}\n", policy.rules.trim_end()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_shows_no_secret_and_a_token_shows_its_own() {
        let token = AclToken {
            accessor_id: "acc-1".into(),
            secret_id: "sec-1".into(),
            name: "ci".into(),
            token_type: "client".into(),
            policies: vec!["ops".into()],
            create_time: 0,
            ..AclToken::default()
        };
        let listing = render_tokens(&[AclTokenListStub::from(&token)]);
        assert!(listing.contains("acc-1") && !listing.contains("sec-1"), "{listing}");
        let shown = render_token(&token);
        assert!(shown.contains("sec-1") && shown.contains(r#"["ops"]"#) && shown.contains("<none>"), "{shown}");
    }

    #[test]
    fn a_policy_shows_its_rules_last() {
        let policy =
            AclPolicy { name: "ops".into(), rules: "operator { policy = \"read\" }\n".into(), ..AclPolicy::default() };
        assert!(render_policy(&policy).ends_with("Rules:\n\noperator { policy = \"read\" }\n"));
    }
}
