//! {{name}}: a license validator for documents signed with Ed25519.
//!
//! A license is `key: value` lines followed by a `signature:` line, the
//! hex of an Ed25519 signature over every byte before that line:
//!
//! ```text
//! product: nomad
//! license-id: 0001
//! customer-id: acme
//! expires-ms: 1900000000000
//! features: Automated Upgrades, Redundancy Zones
//! signature: 6f1c...
//! ```
//!
//! The setting `public_key` is the hex of the 32-byte verifying key. The
//! signature is checked before any field is trusted.

use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use keel_sdk::license::{License, LicenseError, LicenseValidator};
use keel_sdk::{Plugin, PluginInfo};

pub struct Signed {
    key: VerifyingKey,
}

impl Plugin for Signed {
    fn info() -> PluginInfo {
        PluginInfo::new("{{name}}", "0.1.0")
    }

    fn configure(settings: &[(String, String)]) -> Result<Self, String> {
        let mut key = None;
        for (name, value) in settings {
            match name.as_str() {
                "public_key" => key = Some(value.trim()),
                other => return Err(format!("unknown setting {other:?}")),
            }
        }
        let bytes: [u8; 32] = hex(key.ok_or("the setting public_key is required")?)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or("public_key is not the hex of 32 bytes")?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| format!("public_key: {e}"))?;
        Ok(Signed { key })
    }
}

impl LicenseValidator for Signed {
    fn validate(&self, blob: &str, product: &str, now_ms: u64) -> Result<License, LicenseError> {
        let malformed = |why: &str| LicenseError::Malformed(why.to_owned());
        let at = blob.rfind("signature:").ok_or_else(|| malformed("no signature line"))?;
        let (signed, signature) = (&blob[..at], blob[at + "signature:".len()..].trim());
        let signature: [u8; 64] = hex(signature)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| malformed("the signature is not 64 bytes of hex"))?;
        if self.key.verify(signed.as_bytes(), &Signature::from_bytes(&signature)).is_err() {
            return Err(LicenseError::BadSignature);
        }
        let field = |name: &str| {
            signed
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':').map(str::trim))
                .unwrap_or_default()
        };
        let expiration_time_ms = field("expires-ms").parse().map_err(|_| malformed("expires-ms is not a number"))?;
        let license = License {
            license_id: field("license-id").to_owned(),
            customer_id: field("customer-id").to_owned(),
            installation_id: "*".to_owned(),
            issue_time_ms: 0,
            start_time_ms: 0,
            expiration_time_ms,
            termination_time_ms: expiration_time_ms,
            non_production: false,
            product: field("product").to_owned(),
            flags: Vec::new(),
            modules: Vec::new(),
            features: field("features").split(',').map(str::trim).filter(|f| !f.is_empty()).map(String::from).collect(),
        };
        if license.product != product {
            Err(LicenseError::WrongProduct(license))
        } else if now_ms >= license.expiration_time_ms {
            Err(LicenseError::Expired(license))
        } else {
            Ok(license)
        }
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().map(|b| (b as char).to_digit(16).map(|d| d as u8)).collect::<Option<_>>()?;
    (digits.len() % 2 == 0).then(|| digits.chunks(2).map(|pair| pair[0] << 4 | pair[1]).collect())
}

keel_sdk::export_license_validator!(Signed);

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer as _, SigningKey};

    use super::*;

    const NOW_MS: u64 = 1_800_000_000_000;

    fn to_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn signing_key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn validator() -> Signed {
        let public_key = to_hex(signing_key().verifying_key().as_bytes());
        Signed::configure(&[("public_key".into(), public_key)]).expect("configures")
    }

    fn sign(document: &str) -> String {
        format!("{document}signature: {}\n", to_hex(&signing_key().sign(document.as_bytes()).to_bytes()))
    }

    const DOCUMENT: &str = "product: nomad\nlicense-id: 0001\ncustomer-id: acme\nexpires-ms: 1900000000000\nfeatures: Automated Upgrades, Redundancy Zones\n";

    #[test]
    fn a_signed_license_grants_its_features() {
        let license = validator().validate(&sign(DOCUMENT), "nomad", NOW_MS).expect("valid");
        assert_eq!(license.features, ["Automated Upgrades", "Redundancy Zones"]);
        assert_eq!(license.customer_id, "acme");
    }

    #[test]
    fn a_changed_byte_breaks_the_signature() {
        let forged = sign(DOCUMENT).replace("acme", "acmf");
        assert!(matches!(validator().validate(&forged, "nomad", NOW_MS), Err(LicenseError::BadSignature)));
    }

    #[test]
    fn product_and_time_are_checked() {
        assert!(matches!(validator().validate(&sign(DOCUMENT), "consul", NOW_MS), Err(LicenseError::WrongProduct(_))));
        let later = 1_900_000_000_000;
        assert!(matches!(validator().validate(&sign(DOCUMENT), "nomad", later), Err(LicenseError::Expired(_))));
        assert!(matches!(validator().validate("not a license", "nomad", NOW_MS), Err(LicenseError::Malformed(_))));
    }

    #[test]
    fn the_key_is_required() {
        assert!(Signed::configure(&[]).is_err());
        assert!(Signed::configure(&[("public_key".into(), "abcd".into())]).is_err());
    }
}
