//! The host's side of the plugin contract.
//!
//! This crate owns what the host knows about `wit/` without running a
//! plugin: the WIT source of every contract version ([`Contract`]), the
//! four plugin [`Kind`]s and their worlds,
//! the shape check that every component passes before it is loaded
//! ([`inspect`]), and the step that turns a core module built by `cargo`
//! into a component ([`componentize`], used by `make plugins`).
//!
//! It depends on the wasm-tools crates only and must not depend on wasmtime
//! or any other host crate, so that `make plugins` can build it quickly
//! before anything else.

mod componentize;
mod contract;
mod inspect;
mod kind;

pub use componentize::{componentize, componentize_with_embedded_wit};
pub use contract::Contract;
pub use inspect::{Shape, inspect};
pub use kind::Kind;

/// Why a module or component does not fit the contract.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("a core WebAssembly module, not a component: build it with `make plugins` or `keel plugin build`")]
    CoreModule,
    #[error("imports {import:?}, but a plugin may import only {allowed}")]
    ForbiddenImport { import: String, allowed: String },
    #[error("exports no plugin world of {packages}: it exports {0:?}", packages = Contract::packages())]
    UnknownWorld(Vec<String>),
    #[error("exports {found:?}, but the {expected} world needs {needs:?}")]
    WrongWorld { expected: &'static str, found: Vec<String>, needs: Vec<String> },
    #[error("exports the interfaces of more than one plugin world: {0:?}")]
    SeveralWorlds(Vec<&'static str>),
    #[error("build component: {0:#}")]
    Encode(String),
}
