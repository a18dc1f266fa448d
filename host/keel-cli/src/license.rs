//! `keel license keygen | sign`: the license issuer's tools. They create
//! the signing key pair and sign documents for the default license plugin;
//! neither talks to an agent.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Subcommand;
use ed25519_dalek::SigningKey;
use rand::RngCore as _;

use crate::parse_setting;
use license_ed25519_issuer::{self as license_document, LicenseError, Terms};

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process; boxing would only add noise")]
pub enum LicenseCommand {
    /// Creates a license signing key pair: PREFIX.key, the secret key (mode
    /// 0600), and PREFIX.pub, the value of the license plugin's
    /// `public_key` setting.
    Keygen {
        /// Where the two files go: PREFIX.key and PREFIX.pub.
        #[arg(long, value_name = "PREFIX", default_value = "keel-license")]
        out: PathBuf,
    },
    /// Signs a license document and prints it.
    Sign(SignArgs),
}

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The secret key, as `keel license keygen` wrote it.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Who the license is for.
    #[arg(long, value_name = "ID")]
    customer: String,
    /// The product the license is for.
    #[arg(long, default_value = "nomad")]
    product: String,
    /// When the license expires: a duration from now (720h) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = When::parse)]
    expires: When,
    /// When the license becomes valid, like --expires [default: now]
    #[arg(long, value_name = "WHEN", value_parser = When::parse)]
    start: Option<When>,
    /// When the license stops working even in a grace period, like --expires [default: the expiration]
    #[arg(long, value_name = "WHEN", value_parser = When::parse)]
    terminates: Option<When>,
    /// The license's identifier [default: a random UUID]
    #[arg(long, value_name = "ID")]
    license_id: Option<String>,
    /// The installation the license is for; `*` for any.
    #[arg(long, value_name = "ID", default_value = "*")]
    installation: String,
    /// A feature the license grants, such as "Redundancy Zones" (repeatable).
    #[arg(long = "feature", value_name = "NAME")]
    features: Vec<String>,
    /// A module the license includes (repeatable).
    #[arg(long = "module", value_name = "NAME")]
    modules: Vec<String>,
    /// A flag, as KEY=VALUE (repeatable).
    #[arg(long = "flag", value_name = "KEY=VALUE", value_parser = parse_setting)]
    flags: Vec<(String, String)>,
    /// Mark the license as for non-production use.
    #[arg(long)]
    non_production: bool,
}

/// A point in time given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum When {
    /// This long after now.
    FromNow(Duration),
    /// An RFC 3339 time, signed as written; the license plugin's parser
    /// judges it when the document is checked after signing.
    At(String),
}

impl When {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(duration) = keel_api::duration::parse(text) {
            return Ok(When::FromNow(duration));
        }
        let bytes = text.as_bytes();
        if bytes.len() >= 20 && bytes[4] == b'-' && matches!(bytes[10], b'T' | b't') {
            return Ok(When::At(text.to_owned()));
        }
        Err(format!("expected a duration such as 720h or an RFC 3339 time such as 2027-01-01T00:00:00Z, got {text:?}"))
    }

    fn resolve(&self, now_ms: i64) -> String {
        match self {
            When::FromNow(duration) => {
                let later_ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
                keel_api::time::rfc3339_ms(now_ms.saturating_add(later_ms))
            }
            When::At(text) => text.clone(),
        }
    }
}

impl SignArgs {
    /// The license these arguments describe, issued at `now_ms`.
    fn terms(&self, now_ms: i64, new_license_id: impl FnOnce() -> String) -> Terms {
        let expiration_time = self.expires.resolve(now_ms);
        Terms {
            license_id: self.license_id.clone().unwrap_or_else(new_license_id),
            customer_id: self.customer.clone(),
            installation_id: self.installation.clone(),
            issue_time: keel_api::time::rfc3339_ms(now_ms),
            start_time: self.start.as_ref().map_or_else(|| keel_api::time::rfc3339_ms(now_ms), |at| at.resolve(now_ms)),
            termination_time: self.terminates.as_ref().map_or_else(|| expiration_time.clone(), |at| at.resolve(now_ms)),
            expiration_time,
            non_production: self.non_production,
            product: self.product.clone(),
            flags: self.flags.iter().cloned().collect(),
            modules: self.modules.clone(),
            features: self.features.clone(),
        }
    }
}

pub fn run(command: LicenseCommand) -> anyhow::Result<()> {
    match command {
        LicenseCommand::Keygen { out } => {
            let files = keygen(&out, &new_signing_key())?;
            println!("Key ID:     {}", files.key_id);
            println!("Secret key: {} (keep it secret: it signs licenses)", files.secret.display());
            println!("Public key: {}", files.public.display());
            println!();
            println!("Trust it with the license plugin's setting: public_key = \"{}\"", files.public_key);
        }
        LicenseCommand::Sign(args) => {
            let key = read_secret_key(&args.key)?;
            let now_ms = now_ms();
            let terms = args.terms(now_ms, || uuid::Uuid::new_v4().to_string());
            let document = license_document::sign(&terms, &key);
            let now = u64::try_from(now_ms).unwrap_or(0);
            if let Some(warning) = check(&document, &key, &terms, now)? {
                eprintln!("warning: {warning}");
            }
            println!("{document}");
        }
    }
    Ok(())
}

/// Checks a freshly signed document with the license plugin's own code.
/// A document the plugin would refuse is an error; one that is genuine but
/// grants nothing right now is a warning.
fn check(document: &str, key: &SigningKey, terms: &Terms, now_ms: u64) -> anyhow::Result<Option<String>> {
    match license_document::validate(document, &key.verifying_key(), &terms.product, now_ms) {
        Ok(_) => Ok(None),
        Err(LicenseError::NotYetValid(_)) => Ok(Some(format!("the license is not valid before {}", terms.start_time))),
        Err(LicenseError::Expired(_)) => Ok(Some(format!("the license expired at {}", terms.expiration_time))),
        Err(LicenseError::Terminated(_)) => Ok(Some(format!("the license terminated at {}", terms.termination_time))),
        Err(LicenseError::Malformed(reason)) => anyhow::bail!("the license would be refused: {reason}"),
        Err(LicenseError::BadSignature) => anyhow::bail!("the license would be refused: its signature does not verify"),
        Err(LicenseError::WrongProduct(_)) => anyhow::bail!("the license would be refused: wrong product"),
    }
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// The files `keygen` wrote.
pub(crate) struct KeyFiles {
    pub(crate) secret: PathBuf,
    pub(crate) public: PathBuf,
    pub(crate) public_key: String,
    key_id: String,
}

/// A new Ed25519 signing key from the operating system's randomness.
pub(crate) fn new_signing_key() -> SigningKey {
    let mut seed = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    SigningKey::from_bytes(&seed)
}

/// Reads a secret key file as [`keygen`] wrote it.
pub(crate) fn read_secret_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    license_document::decode_secret_key(&text)
        .map_err(|reason| anyhow::anyhow!("{} is not a secret key: {reason}", path.display()))
}

/// Writes `PREFIX.key` (mode 0600) and `PREFIX.pub` for `key`, refusing to
/// replace either.
pub(crate) fn keygen(prefix: &Path, key: &SigningKey) -> anyhow::Result<KeyFiles> {
    let with_suffix = |suffix: &str| {
        let mut name = OsString::from(prefix.as_os_str());
        name.push(suffix);
        PathBuf::from(name)
    };
    let (secret, public) = (with_suffix(".key"), with_suffix(".pub"));
    for path in [&secret, &public] {
        if path.exists() {
            anyhow::bail!("{} already exists; not replacing it", path.display());
        }
    }
    let public_key = license_document::encode_public_key(&key.verifying_key());
    write_new(&secret, &license_document::encode_secret_key(key), 0o600)?;
    write_new(&public, &public_key, 0o644)?;
    Ok(KeyFiles { secret, public, public_key, key_id: license_document::key_id(&key.verifying_key()) })
}

/// Creates `path` with `text` and a newline; fails if it exists. The mode
/// is set at creation, so a secret is never readable by others, even briefly.
pub(crate) fn write_new(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).with_context(|| format!("create {}", path.display()))?;
    writeln!(file, "{text}").and_then(|()| file.sync_all()).with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: LicenseCommand,
    }

    fn sign_args(args: &[&str]) -> Result<SignArgs, clap::Error> {
        let argv = ["license", "sign", "--key", "issuer.key", "--customer", "acme"].into_iter();
        match Cli::try_parse_from(argv.chain(args.iter().copied()))?.command {
            LicenseCommand::Sign(args) => Ok(args),
            other => panic!("expected sign, got {other:?}"),
        }
    }

    /// 2026-01-01T00:00:00Z.
    const NOW_MS: i64 = 1_767_225_600_000;

    #[test]
    fn times_are_durations_from_now_or_rfc3339() {
        assert_eq!(When::parse("720h"), Ok(When::FromNow(Duration::from_secs(720 * 3_600))));
        assert_eq!(When::parse("2027-01-01T00:00:00Z"), Ok(When::At("2027-01-01T00:00:00Z".to_owned())));
        assert_eq!(When::parse("2027-01-01T00:00:00+02:00"), Ok(When::At("2027-01-01T00:00:00+02:00".to_owned())));
        for bad in ["tomorrow", "2027-01-01", "30d", ""] {
            assert!(When::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(When::FromNow(Duration::from_secs(86_400)).resolve(NOW_MS), "2026-01-02T00:00:00Z");
    }

    #[test]
    fn defaults_fill_in_the_terms() {
        let terms = sign_args(&["--expires", "720h"]).expect("valid").terms(NOW_MS, || "generated".to_owned());
        assert_eq!(
            terms,
            Terms {
                license_id: "generated".to_owned(),
                customer_id: "acme".to_owned(),
                installation_id: "*".to_owned(),
                issue_time: "2026-01-01T00:00:00Z".to_owned(),
                start_time: "2026-01-01T00:00:00Z".to_owned(),
                expiration_time: "2026-01-31T00:00:00Z".to_owned(),
                termination_time: "2026-01-31T00:00:00Z".to_owned(),
                non_production: false,
                product: "nomad".to_owned(),
                flags: Default::default(),
                modules: Vec::new(),
                features: Vec::new(),
            }
        );
    }

    #[test]
    fn every_flag_lands_in_the_terms() {
        let args = sign_args(&[
            "--product",
            "consul",
            "--expires",
            "2027-01-01T00:00:00Z",
            "--start",
            "1h",
            "--terminates",
            "2027-02-01T00:00:00Z",
            "--license-id",
            "lic-7",
            "--installation",
            "cluster-a",
            "--feature",
            "Redundancy Zones",
            "--feature",
            "Automated Upgrades",
            "--module",
            "governance-policy",
            "--flag",
            "edition=platform",
            "--flag",
            "seats=10",
            "--non-production",
        ])
        .expect("valid");
        let terms = args.terms(NOW_MS, || panic!("the license ID was given"));
        assert_eq!(terms.product, "consul");
        assert_eq!(terms.license_id, "lic-7");
        assert_eq!(terms.installation_id, "cluster-a");
        assert_eq!(terms.start_time, "2026-01-01T01:00:00Z");
        assert_eq!(terms.expiration_time, "2027-01-01T00:00:00Z");
        assert_eq!(terms.termination_time, "2027-02-01T00:00:00Z");
        assert_eq!(terms.features, ["Redundancy Zones", "Automated Upgrades"]);
        assert_eq!(terms.modules, ["governance-policy"]);
        assert_eq!(terms.flags.get("seats").map(String::as_str), Some("10"));
        assert!(terms.non_production);
        assert!(sign_args(&[]).is_err(), "--expires is required");
        assert!(sign_args(&["--expires", "720h", "--flag", "no-equals"]).is_err());
    }

    #[test]
    fn keygen_writes_a_private_key_and_the_plugin_setting() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let prefix = dir.path().join("issuer");
        let key = SigningKey::from_bytes(&[3; 32]);
        let files = keygen(&prefix, &key).expect("written");
        assert_eq!(files.secret, dir.path().join("issuer.key"));
        assert_eq!(files.public, dir.path().join("issuer.pub"));
        assert_eq!(files.key_id, license_document::key_id(&key.verifying_key()));
        let secret_text = std::fs::read_to_string(&files.secret).expect("readable");
        assert_eq!(license_document::decode_secret_key(&secret_text).expect("valid").to_bytes(), key.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&files.secret).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let public_text = std::fs::read_to_string(&files.public).expect("readable");
        assert_eq!(
            license_document::check_public_key_setting(&public_text),
            Ok(()),
            "the plugin takes the .pub file as it is"
        );
        let again = keygen(&prefix, &key).err().expect("no overwrite").to_string();
        assert!(again.contains("already exists"), "{again}");
    }

    #[test]
    fn a_signed_license_is_checked_before_it_is_printed() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let now = u64::try_from(NOW_MS).expect("positive");
        let terms = sign_args(&["--expires", "720h"]).expect("valid").terms(NOW_MS, || "lic".to_owned());
        let document = license_document::sign(&terms, &key);
        assert_eq!(check(&document, &key, &terms, now).expect("accepted"), None);

        let past = ["--expires", "2025-01-01T00:00:00Z", "--start", "2024-01-01T00:00:00Z"];
        let terminated = sign_args(&past).expect("valid").terms(NOW_MS, || "lic".to_owned());
        let warning = check(&license_document::sign(&terminated, &key), &key, &terminated, now).expect("genuine");
        assert_eq!(warning.as_deref(), Some("the license terminated at 2025-01-01T00:00:00Z"));
        let in_grace = [&past[..], &["--terminates", "2027-01-01T00:00:00Z"]].concat();
        let expired = sign_args(&in_grace).expect("valid").terms(NOW_MS, || "lic".to_owned());
        let warning = check(&license_document::sign(&expired, &key), &key, &expired, now).expect("genuine");
        assert_eq!(warning.as_deref(), Some("the license expired at 2025-01-01T00:00:00Z"));

        let backwards =
            sign_args(&["--expires", "2025-01-01T00:00:00Z"]).expect("valid").terms(NOW_MS, || "lic".to_owned());
        let error = check(&license_document::sign(&backwards, &key), &key, &backwards, now).expect_err("refused");
        assert!(error.to_string().contains("StartTime is after its ExpirationTime"), "{error}");
    }
}
