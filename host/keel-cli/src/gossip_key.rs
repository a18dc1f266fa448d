//! `keel operator keygen` and `keel operator gossip keyring generate`: a new
//! cluster key for `server { encrypt = "..." }`, printed as base64 of 32
//! random bytes, as Nomad prints a gossip key.

use base64::Engine as _;
use rand::RngCore as _;

#[derive(Debug, clap::Subcommand)]
pub enum GossipCommand {
    /// Manages the cluster key.
    #[command(subcommand)]
    Keyring(KeyringCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum KeyringCommand {
    /// Prints a new cluster key.
    Generate,
}

/// A new key, as the agent reads it.
pub fn generate() -> String {
    let mut key = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}
