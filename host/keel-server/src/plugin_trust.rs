//! The keys a plugin installed in the cluster must be signed by
//! (`plugin_trust { keys = [...] }`), and the check of a signature.
//!
//! A signature is Ed25519 over `keel-plugin-v1\n<kind>\n<hex sha256 of the
//! component>`, so a signature for one kind or one component is worth
//! nothing for another. With keys configured, an unsigned plugin is
//! refused: a signature that may simply be left out would protect nothing.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use keel_api::plugin::signed_message;
use sha2::{Digest as _, Sha256};

/// The configured trusted keys; none means signatures are not required.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<VerifyingKey>,
}

/// A trusted key's id: the first 8 bytes of the SHA-256 of the key, in hex.
fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

impl TrustedKeys {
    /// Parses standard-base64 Ed25519 public keys.
    pub fn parse(keys: &[String]) -> Result<Self, String> {
        let keys = keys
            .iter()
            .map(|text| {
                let bytes = STANDARD.decode(text.trim()).map_err(|e| format!("{text:?} is not base64: {e}"))?;
                let bytes: [u8; 32] =
                    bytes.try_into().map_err(|_| format!("{text:?} is not a 32-byte Ed25519 public key"))?;
                VerifyingKey::from_bytes(&bytes).map_err(|e| format!("{text:?} is not an Ed25519 public key: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// Checks `signature` (standard base64) of the component with `digest`
    /// for `kind`. Returns the id of the key that signed it; `None` when no
    /// keys are configured and nothing was checked.
    pub fn check(&self, kind: &str, digest: &str, signature: Option<&str>) -> Result<Option<String>, String> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        let Some(signature) = signature else {
            return Err("the plugin is not signed, and plugin_trust requires a signature by a trusted key".into());
        };
        let bytes = STANDARD.decode(signature.trim()).map_err(|_| "Signature is not valid base64".to_owned())?;
        let signature =
            Signature::from_slice(&bytes).map_err(|_| "Signature is not an Ed25519 signature".to_owned())?;
        let message = signed_message(kind, digest);
        self.keys
            .iter()
            .find(|key| key.verify(message.as_bytes(), &signature).is_ok())
            .map(|key| Some(key_id(key)))
            .ok_or_else(|| format!("the signature is not by a trusted key for this {kind} component ({digest})"))
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    fn signer(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn trusting(keys: &[&SigningKey]) -> TrustedKeys {
        let keys: Vec<String> = keys.iter().map(|k| STANDARD.encode(k.verifying_key().as_bytes())).collect();
        TrustedKeys::parse(&keys).expect("valid keys")
    }

    fn sign(key: &SigningKey, kind: &str, digest: &str) -> String {
        STANDARD.encode(key.sign(signed_message(kind, digest).as_bytes()).to_bytes())
    }

    #[test]
    fn a_signature_by_a_trusted_key_names_it() {
        let (one, two) = (signer(1), signer(2));
        let trust = trusting(&[&one, &two]);
        let signed = trust.check("acl", "abcd", Some(&sign(&two, "acl", "abcd")));
        assert_eq!(signed, Ok(Some(key_id(&two.verifying_key()))));
    }

    #[test]
    fn unsigned_unknown_and_misdirected_signatures_are_refused() {
        let (trusted, stranger) = (signer(1), signer(9));
        let trust = trusting(&[&trusted]);
        assert!(trust.check("acl", "abcd", None).expect_err("refused").contains("not signed"));
        let by_stranger = sign(&stranger, "acl", "abcd");
        assert!(trust.check("acl", "abcd", Some(&by_stranger)).expect_err("refused").contains("not by a trusted key"));
        let other_kind = sign(&trusted, "license", "abcd");
        assert!(trust.check("acl", "abcd", Some(&other_kind)).is_err(), "a signature is for one kind");
        let other_bytes = sign(&trusted, "acl", "ffff");
        assert!(trust.check("acl", "abcd", Some(&other_bytes)).is_err(), "a signature is for one component");
        assert_eq!(trust.check("acl", "abcd", Some("%%%")), Err("Signature is not valid base64".into()));
        assert_eq!(trust.check("acl", "abcd", Some("AAAA")), Err("Signature is not an Ed25519 signature".into()));
    }

    #[test]
    fn without_keys_nothing_is_required() {
        assert_eq!(TrustedKeys::default().check("acl", "abcd", None), Ok(None));
    }

    #[test]
    fn bad_keys_are_refused_at_start() {
        assert!(TrustedKeys::parse(&["not base64!".into()]).expect_err("refused").contains("not base64"));
        assert!(TrustedKeys::parse(&[STANDARD.encode([1u8; 5])]).expect_err("refused").contains("32-byte"));
    }
}
