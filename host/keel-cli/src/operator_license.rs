//! `keel operator license get | put`: the license installed in the cluster.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use keel_api::operator::{LicenseReply, LicenseUpdateResponse};
use ureq::http::StatusCode;

use super::http::ClientArgs;
use super::table::key_values;

const LICENSE_PATH: &str = "/v1/operator/license";

#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Prints the installed license and the features it grants.
    Get,
    /// Installs the license in FILE for the whole cluster.
    Put {
        /// The license document.
        file: PathBuf,
    },
}

pub fn run(args: &ClientArgs, command: LicenseCommand) -> anyhow::Result<()> {
    let client = args.client()?;
    match command {
        LicenseCommand::Get => {
            let reply = client.get(LICENSE_PATH).context("read the license")?;
            match (reply.status, args.json) {
                (StatusCode::NO_CONTENT, true) => println!("null"),
                (StatusCode::NO_CONTENT, false) => println!("No license installed"),
                (_, true) => println!("{}", reply.pretty()),
                (_, false) => print!("{}", render_license(&reply.decode()?)),
            }
        }
        LicenseCommand::Put { file } => {
            let blob = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
            let reply = client.put(LICENSE_PATH, &blob).context("install the license")?;
            if args.json {
                println!("{}", reply.pretty());
            } else {
                let update: LicenseUpdateResponse = reply.decode()?;
                println!("Successfully applied license (index {})", update.index);
            }
        }
    }
    Ok(())
}

/// The license's fields, then its modules and the features it grants now.
fn render_license(reply: &LicenseReply) -> String {
    let license = &reply.license;
    let mut fields = vec![
        ("Product", license.product.clone()),
        ("License ID", license.license_id.clone()),
        ("Customer ID", license.customer_id.clone()),
        ("Installation ID", license.installation_id.clone()),
        ("Issued At", license.issue_time.clone()),
        ("Starts At", license.start_time.clone()),
        ("Expires At", license.expiration_time.clone()),
        ("Terminates At", license.termination_time.clone()),
        ("Non-Production", license.non_production.to_string()),
        ("Config Outdated", reply.config_outdated.to_string()),
    ];
    if let Some(warning) = &reply.warning {
        fields.push(("Warning", warning.clone()));
    }
    let mut out = key_values(&fields);
    for (heading, items) in [("Modules", &license.modules), ("Licensed Features", &license.features)] {
        out.push_str(&format!("\n{heading}:\n"));
        if items.is_empty() {
            out.push_str("\t(none)\n");
        }
        for item in items {
            out.push_str(&format!("\t{item}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use keel_api::operator::License;

    use super::*;

    #[test]
    fn a_license_renders_its_fields_and_features() {
        let reply = LicenseReply {
            license: License {
                license_id: "lic-1".to_owned(),
                customer_id: "acme".to_owned(),
                installation_id: "*".to_owned(),
                issue_time: "2026-01-01T00:00:00Z".to_owned(),
                start_time: "2026-01-01T00:00:00Z".to_owned(),
                expiration_time: "2027-01-01T00:00:00Z".to_owned(),
                termination_time: "2027-02-01T00:00:00Z".to_owned(),
                non_production: false,
                product: "nomad".to_owned(),
                flags: Default::default(),
                modules: Vec::new(),
                features: vec!["Redundancy Zones".to_owned(), "Automated Upgrades".to_owned()],
            },
            config_outdated: false,
            warning: Some("the license has expired".to_owned()),
            known_leader: true,
            last_contact: 0,
            last_index: 7,
        };
        let rendered = render_license(&reply);
        assert!(rendered.starts_with("Product         = nomad\nLicense ID      = lic-1\n"), "{rendered}");
        assert!(rendered.contains("Warning         = the license has expired\n"), "{rendered}");
        assert!(
            rendered
                .ends_with("\nModules:\n\t(none)\n\nLicensed Features:\n\tRedundancy Zones\n\tAutomated Upgrades\n"),
            "{rendered}"
        );
    }
}
