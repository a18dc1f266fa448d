//! Errors of loading and calling plugins.

use std::fmt;

use keel_contract::{ContractError, Kind};

/// How a call failed without giving an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The call ran past its deadline and was interrupted.
    Timeout,
    /// The instance tried to grow its memory past its cap.
    MemoryLimit,
    /// The guest trapped: a panic, unreachable code, an out-of-bounds access.
    Trap,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FaultKind::Timeout => "deadline exceeded",
            FaultKind::MemoryLimit => "memory limit exceeded",
            FaultKind::Trap => "trapped",
        })
    }
}

/// A call that failed without an answer. The instance it ran in has been
/// thrown away; the next call gets a fresh one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin {plugin} {kind} in {function}: {detail}")]
pub struct Fault {
    pub plugin: String,
    pub function: &'static str,
    pub kind: FaultKind,
    /// The trap message and backtrace, for the log only: never shown to clients.
    pub detail: String,
}

/// Errors of the plugin runtime.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("load {kind} plugin: {source}")]
    Contract {
        kind: Kind,
        #[source]
        source: ContractError,
    },
    #[error("load plugin: {0}")]
    NotAPlugin(#[source] ContractError),
    #[error("compile plugin: {0}")]
    Compile(String),
    #[error("instantiate {kind} plugin: {detail}")]
    Instantiate { kind: Kind, detail: String },
    #[error("configure plugin {plugin}: {message}")]
    Configure { plugin: String, message: String },
    #[error("start plugin engine: {0}")]
    Engine(String),
    #[error("plugin compile cache: {0}")]
    Cache(#[source] std::io::Error),
    #[error(transparent)]
    Fault(#[from] Fault),
    /// The plugin answered with an error value: a decision, not a fault.
    #[error("plugin {plugin}: {message}")]
    Refused { plugin: String, message: String },
    /// Every call thread is busy and the queue in front of them is full:
    /// the call was refused at once, without waiting.
    #[error("call plugin {plugin}: plugin pool is busy, call refused")]
    Busy { plugin: String },
    /// The call threads are gone; only a host bug stops them.
    #[error("call plugin: plugin call threads have stopped")]
    PoolStopped,
    /// The plugin answered a conformance smoke case wrongly.
    #[error("plugin {plugin} failed a conformance smoke case: {case}")]
    Smoke { plugin: String, case: String },
    #[error("check acl: every plugin instance that compiled it has since been replaced; compile it again")]
    StaleAcl,
}
