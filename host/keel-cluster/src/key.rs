//! The cluster key (`server { encrypt = "..." }`): a shared secret of 32
//! bytes, written in base64 as Nomad's gossip key is.
//!
//! With a key, every gossip packet is sealed with ChaCha20-Poly1305 under a
//! fresh random nonce, so a packet from a process without the key, or one
//! changed on the way, is dropped unread; and every RPC connection starts
//! with a mutual challenge (HMAC-SHA256 over both sides' random nonces), so
//! neither end talks to a peer that cannot prove it holds the key. Frames
//! after the handshake are not encrypted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes in a key.
pub const KEY_BYTES: usize = 32;
/// Bytes of the nonce in front of each sealed gossip packet.
const NONCE_BYTES: usize = 12;

/// The shared secret of a cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterKey([u8; KEY_BYTES]);

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterKey(<redacted>)")
    }
}

impl ClusterKey {
    /// Reads a key as `keel operator gossip keyring generate` prints it.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|error| format!("the key is not valid base64: {error}"))?;
        let key: [u8; KEY_BYTES] = bytes
            .try_into()
            .map_err(|bytes: Vec<u8>| format!("the key is {} bytes; it must be {KEY_BYTES}", bytes.len()))?;
        Ok(Self(key))
    }

    /// A new random key.
    pub fn generate() -> Self {
        Self(ChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// `packet`, encrypted and authenticated, behind a fresh nonce.
    pub(crate) fn seal(&self, packet: &[u8]) -> Vec<u8> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self.cipher().encrypt(&nonce, packet).expect("sealing in memory does not fail");
        [nonce.as_slice(), &sealed].concat()
    }

    /// The packet `seal` was given, or `None` when `sealed` was not sealed
    /// with this key or was changed since.
    pub(crate) fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_BYTES)?;
        self.cipher().decrypt(Nonce::from_slice(nonce), ciphertext).ok()
    }

    /// The proof that one side (`role`) of a handshake holds the key.
    pub(crate) fn prove(&self, role: &[u8], client_nonce: &[u8], server_nonce: &[u8]) -> [u8; 32] {
        self.mac(role, client_nonce, server_nonce).finalize().into_bytes().into()
    }

    /// Whether `proof` is what `prove` gives, compared in constant time.
    pub(crate) fn verify(&self, role: &[u8], client_nonce: &[u8], server_nonce: &[u8], proof: &[u8]) -> bool {
        self.mac(role, client_nonce, server_nonce).verify_slice(proof).is_ok()
    }

    fn mac(&self, role: &[u8], client_nonce: &[u8], server_nonce: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        for part in [b"keel-rpc-v1\n".as_slice(), role, client_nonce, server_nonce] {
            mac.update(part);
        }
        mac
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&self.0.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_back_from_its_base64_and_bad_text_is_refused_with_the_reason() {
        let key = ClusterKey::generate();
        assert_eq!(ClusterKey::from_base64(&key.to_base64()), Ok(key));
        assert!(ClusterKey::from_base64("not base64!").expect_err("refused").contains("not valid base64"));
        assert_eq!(
            ClusterKey::from_base64(&STANDARD.encode([1_u8; 16])).expect_err("refused"),
            "the key is 16 bytes; it must be 32"
        );
        assert_eq!(format!("{:?}", ClusterKey::generate()), "ClusterKey(<redacted>)");
    }

    #[test]
    fn a_sealed_packet_opens_only_with_its_key_and_unchanged() {
        let (key, other) = (ClusterKey::generate(), ClusterKey::generate());
        let sealed = key.seal(b"gossip");
        assert_eq!(key.open(&sealed).as_deref(), Some(b"gossip".as_slice()));
        assert_ne!(key.seal(b"gossip"), sealed, "every packet has its own nonce");
        assert_eq!(other.open(&sealed), None);
        for at in [0, NONCE_BYTES, sealed.len() - 1] {
            let mut changed = sealed.clone();
            changed[at] ^= 1;
            assert_eq!(key.open(&changed), None, "a bit flipped at {at}");
        }
        assert_eq!(key.open(b"short"), None);
        assert_eq!(key.open(b"gossip in the clear, long enough"), None);
    }

    #[test]
    fn a_proof_holds_only_for_its_key_role_and_nonces() {
        let (key, other) = (ClusterKey::generate(), ClusterKey::generate());
        let proof = key.prove(b"client", &[1; 32], &[2; 32]);
        assert!(key.verify(b"client", &[1; 32], &[2; 32], &proof));
        assert!(!other.verify(b"client", &[1; 32], &[2; 32], &proof));
        assert!(!key.verify(b"server", &[1; 32], &[2; 32], &proof));
        assert!(!key.verify(b"client", &[2; 32], &[1; 32], &proof));
        assert!(!key.verify(b"client", &[1; 32], &[2; 32], &proof[..31]));
    }
}
