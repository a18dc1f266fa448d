//! The replicated ACL data: policies by name, tokens by accessor, and the
//! bootstrap marker, with an in-memory index from a digest of each secret to
//! its accessor.

use std::collections::{BTreeMap, HashMap};

use keel_api::acl::{AclPolicy, AclToken};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The SHA-256 of a secret: the key of the secret index. A guess is hashed
/// before it meets the index, so how far a lookup gets says nothing about
/// how much of the guess matched a real secret.
type SecretDigest = [u8; 32];

fn secret_digest(secret: &str) -> SecretDigest {
    Sha256::digest(secret.as_bytes()).into()
}

/// Policies, tokens and whether (and at which index) ACLs were bootstrapped.
///
/// The secret index is derived data: it is rebuilt whenever the state is
/// read back (from sled records, a Raft snapshot or an archive) and never
/// stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Stored")]
pub struct AclState {
    pub policies: BTreeMap<String, AclPolicy>,
    pub tokens: BTreeMap<String, AclToken>,
    /// The Raft index of the last bootstrap: Nomad's "reset index", which an
    /// operator writes into `<data_dir>/acl-bootstrap-reset` to allow one more
    /// bootstrap. `None` until the first bootstrap.
    pub bootstrap_index: Option<u64>,
    #[serde(skip)]
    by_secret: HashMap<SecretDigest, String>,
}

/// [`AclState`] as it is serialized: everything but the derived index.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Stored {
    policies: BTreeMap<String, AclPolicy>,
    tokens: BTreeMap<String, AclToken>,
    bootstrap_index: Option<u64>,
}

impl From<Stored> for AclState {
    fn from(stored: Stored) -> Self {
        let mut state = AclState {
            policies: stored.policies,
            tokens: BTreeMap::new(),
            bootstrap_index: stored.bootstrap_index,
            by_secret: HashMap::new(),
        };
        for token in stored.tokens.into_values() {
            state.put_token(token);
        }
        state
    }
}

impl AclState {
    /// The token whose secret is `secret`. The index, keyed by the secret's
    /// digest, finds a candidate; the stored secret is then compared in
    /// constant time, so neither step depends on how much of a guess was right.
    pub fn token_by_secret(&self, secret: &str) -> Option<&AclToken> {
        let accessor = self.by_secret.get(&secret_digest(secret))?;
        let token = self.tokens.get(accessor)?;
        constant_time_eq(token.secret_id.as_bytes(), secret.as_bytes()).then_some(token)
    }

    /// Stores `token`, replacing the one with the same accessor and keeping
    /// the secret index in step.
    pub(crate) fn put_token(&mut self, token: AclToken) {
        if let Some(old) = self.tokens.get(&token.accessor_id) {
            self.by_secret.remove(&secret_digest(&old.secret_id));
        }
        self.by_secret.insert(secret_digest(&token.secret_id), token.accessor_id.clone());
        self.tokens.insert(token.accessor_id.clone(), token);
    }

    /// Removes the token with `accessor`, if there is one.
    pub(crate) fn remove_token(&mut self, accessor: &str) -> bool {
        match self.tokens.remove(accessor) {
            Some(token) => {
                self.by_secret.remove(&secret_digest(&token.secret_id));
                true
            }
            None => false,
        }
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(accessor: &str, secret: &str) -> AclToken {
        AclToken { accessor_id: accessor.into(), secret_id: secret.into(), ..AclToken::default() }
    }

    #[test]
    fn secrets_find_their_token_until_it_changes() {
        let mut acl = AclState::default();
        acl.put_token(token("a", "s1"));
        assert_eq!(acl.token_by_secret("s1").map(|t| t.accessor_id.as_str()), Some("a"));
        assert!(acl.token_by_secret("s2").is_none());
        acl.put_token(token("a", "s2"));
        assert!(acl.token_by_secret("s1").is_none(), "the old secret is forgotten");
        assert!(acl.token_by_secret("s2").is_some());
        assert!(acl.remove_token("a"));
        assert!(acl.token_by_secret("s2").is_none());
        assert!(!acl.remove_token("a"));
    }

    #[test]
    fn the_index_is_rebuilt_when_read_back() {
        let mut acl = AclState::default();
        acl.put_token(token("a", "s1"));
        acl.bootstrap_index = Some(4);
        let json = serde_json::to_string(&acl).expect("serializes");
        assert!(!json.contains("by_secret"), "{json}");
        let back: AclState = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, acl);
        assert!(back.token_by_secret("s1").is_some());
    }

    #[test]
    fn the_index_holds_digests_not_secrets() {
        let mut acl = AclState::default();
        acl.put_token(token("a", "3f4a0fcd-7c42-773c-25db-2d31ba0c05fe"));
        assert_eq!(acl.by_secret.len(), 1);
        let (key, accessor) = acl.by_secret.iter().next().expect("one entry");
        assert_eq!((key, accessor.as_str()), (&secret_digest("3f4a0fcd-7c42-773c-25db-2d31ba0c05fe"), "a"));
        assert!(acl.token_by_secret("3f4a0fcd-7c42-773c-25db-2d31ba0c05ff").is_none(), "one character off");
    }

    #[test]
    fn equality_is_exact() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
