//! Issuing version 1 license documents, the format the default license
//! plugin (`license_ed25519`) reads and specifies: `keel-license-v1.` then
//! the payload JSON and its Ed25519 signature, each in unpadded base64url.
//! This is the one place Keel writes that format; the plugin's own
//! constants and validation code are used so the two cannot drift apart.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{SECRET_KEY_LENGTH, Signer as _, SigningKey, VerifyingKey};
use keel_sdk::Plugin as _;
use keel_sdk::license::{License, LicenseError, LicenseValidator as _};
use license_ed25519::{DOCUMENT_PREFIX, Ed25519Validator};
use serde::Serialize;

/// What a license says, with the payload's field names. Times are RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Terms {
    #[serde(rename = "LicenseID")]
    pub license_id: String,
    #[serde(rename = "CustomerID")]
    pub customer_id: String,
    #[serde(rename = "InstallationID")]
    pub installation_id: String,
    pub issue_time: String,
    pub start_time: String,
    pub expiration_time: String,
    pub termination_time: String,
    pub non_production: bool,
    pub product: String,
    pub flags: BTreeMap<String, String>,
    pub modules: Vec<String>,
    pub features: Vec<String>,
}

/// The signed payload: the terms and the signing key's identifier.
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(flatten)]
    terms: &'a Terms,
    #[serde(rename = "KeyID")]
    key_id: String,
}

/// The license document for `terms`, signed with `key`.
pub fn sign(terms: &Terms, key: &SigningKey) -> String {
    let payload = Payload { terms, key_id: key_id(&key.verifying_key()) };
    let payload = serde_json::to_vec(&payload).expect("license terms serialize");
    let signature = key.sign(&payload);
    format!("{DOCUMENT_PREFIX}{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// How a document names the key that signed it.
pub fn key_id(key: &VerifyingKey) -> String {
    license_ed25519::key_id(key.as_bytes())
}

/// A secret key file's text: the standard base64 of the 32-byte key.
pub fn encode_secret_key(key: &SigningKey) -> String {
    STANDARD.encode(key.to_bytes())
}

/// Reads what [`encode_secret_key`] wrote.
pub fn decode_secret_key(text: &str) -> Result<SigningKey, String> {
    let bytes = STANDARD.decode(text.trim()).map_err(|error| format!("not base64: {error}"))?;
    let bytes: [u8; SECRET_KEY_LENGTH] = bytes.as_slice().try_into().map_err(|_| {
        format!("an Ed25519 secret key is {SECRET_KEY_LENGTH} bytes, this one decodes to {}", bytes.len())
    })?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// A public key as the license plugin's `public_key` setting takes it.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    STANDARD.encode(key.as_bytes())
}

/// Validates `document` with the license plugin's own code, trusting only
/// `public_key`, exactly as a server configured with that key would.
#[allow(clippy::result_large_err, reason = "license errors carry the license by the plugin contract")]
pub fn validate(
    document: &str,
    public_key: &VerifyingKey,
    product: &str,
    now_ms: u64,
) -> Result<License, LicenseError> {
    let settings = [("public_key".to_owned(), encode_public_key(public_key))];
    let validator = Ed25519Validator::configure(&settings).map_err(LicenseError::Malformed)?;
    validator.validate(document, product, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-01T00:00:00Z.
    const START_MS: u64 = 1_767_225_600_000;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn terms() -> Terms {
        Terms {
            license_id: "lic-0001".to_owned(),
            customer_id: "acme".to_owned(),
            installation_id: "*".to_owned(),
            issue_time: "2026-01-01T00:00:00Z".to_owned(),
            start_time: "2026-01-01T00:00:00Z".to_owned(),
            expiration_time: "2026-01-31T00:00:00Z".to_owned(),
            termination_time: "2026-02-28T00:00:00.500Z".to_owned(),
            non_production: true,
            product: "nomad".to_owned(),
            flags: [("edition".to_owned(), "platform".to_owned())].into_iter().collect(),
            modules: vec!["governance-policy".to_owned()],
            features: vec!["Redundancy Zones".to_owned(), "Automated Upgrades".to_owned()],
        }
    }

    fn payload_of(document: &str) -> serde_json::Value {
        let parts: Vec<&str> = document.split('.').collect();
        let bytes = URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    #[test]
    fn a_signed_license_is_accepted_by_the_plugin() {
        let signer = key(7);
        let document = sign(&terms(), &signer);
        let license = validate(&document, &signer.verifying_key(), "nomad", START_MS + 1).expect("valid");
        assert_eq!(license.license_id, "lic-0001");
        assert_eq!(license.customer_id, "acme");
        assert_eq!(license.installation_id, "*");
        assert_eq!(license.start_time_ms, START_MS);
        assert_eq!(license.expiration_time_ms, START_MS + 30 * 86_400_000);
        assert_eq!(license.termination_time_ms, START_MS + 58 * 86_400_000 + 500);
        assert!(license.non_production);
        assert_eq!(license.flags, vec![("edition".to_owned(), "platform".to_owned())]);
        assert_eq!(license.modules, ["governance-policy"]);
        assert_eq!(license.features, ["Redundancy Zones", "Automated Upgrades"]);
    }

    #[test]
    fn the_document_follows_the_format() {
        let signer = key(7);
        let document = sign(&terms(), &signer);
        let parts: Vec<&str> = document.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(format!("{}.", parts[0]), DOCUMENT_PREFIX);
        assert!(!document.contains('=') && !document.contains('+') && !document.contains('/'));
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).expect("base64url").len(), 64);
        let payload = payload_of(&document);
        let public = signer.verifying_key().to_bytes();
        let expected_id: String = public[..8].iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(payload["KeyID"], expected_id);
        let mut fields: Vec<&str> = payload.as_object().expect("an object").keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "CustomerID",
                "ExpirationTime",
                "Features",
                "Flags",
                "InstallationID",
                "IssueTime",
                "KeyID",
                "LicenseID",
                "Modules",
                "NonProduction",
                "Product",
                "StartTime",
                "TerminationTime",
            ]
        );
    }

    #[test]
    fn a_tampered_license_is_refused() {
        let signer = key(7);
        let document = sign(&terms(), &signer);
        let parts: Vec<&str> = document.split('.').collect();
        let mut payload = payload_of(&document);
        payload["Features"] = serde_json::json!(["Redundancy Zones", "Automated Upgrades", "Namespaces"]);
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).expect("JSON"));
        let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        let public = signer.verifying_key();
        assert_eq!(validate(&forged, &public, "nomad", START_MS + 1), Err(LicenseError::BadSignature));

        let mut flipped = document.clone().into_bytes();
        let at = DOCUMENT_PREFIX.len() + 10;
        flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ASCII");
        assert!(matches!(
            validate(&flipped, &public, "nomad", START_MS + 1),
            Err(LicenseError::BadSignature | LicenseError::Malformed(_))
        ));

        let other_signer = sign(&terms(), &key(8));
        assert_eq!(validate(&other_signer, &public, "nomad", START_MS + 1), Err(LicenseError::BadSignature));
    }

    #[test]
    fn the_plugin_judges_time_and_product() {
        let signer = key(7);
        let document = sign(&terms(), &signer);
        let public = signer.verifying_key();
        assert!(matches!(validate(&document, &public, "nomad", START_MS - 1), Err(LicenseError::NotYetValid(_))));
        assert!(matches!(
            validate(&document, &public, "nomad", START_MS + 40 * 86_400_000),
            Err(LicenseError::Expired(_))
        ));
        assert!(matches!(validate(&document, &public, "consul", START_MS + 1), Err(LicenseError::WrongProduct(_))));
        let bad_time = Terms { expiration_time: "next week".to_owned(), ..terms() };
        let Err(LicenseError::Malformed(reason)) = validate(&sign(&bad_time, &signer), &public, "nomad", START_MS)
        else {
            panic!("a bad time is malformed");
        };
        assert!(reason.contains("ExpirationTime"), "{reason}");
    }

    #[test]
    fn keys_round_trip_through_their_text() {
        let signer = key(9);
        let decoded = decode_secret_key(&format!("{}\n", encode_secret_key(&signer))).expect("valid");
        assert_eq!(decoded.to_bytes(), signer.to_bytes());
        assert!(decode_secret_key("AAAA").expect_err("short").contains("decodes to 3"));
        assert!(decode_secret_key("not base64!").expect_err("garbage").starts_with("not base64"));
        let setting = [("public_key".to_owned(), encode_public_key(&signer.verifying_key()))];
        assert!(Ed25519Validator::configure(&setting).is_ok(), "the plugin takes the public key text");
    }
}
