//! What each plugin instance's store holds: its name for the log, its
//! memory cap, and the host imports it may call.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::bindings::acl::keel::plugin::host::{self, LogLevel};

/// The most log lines one call may write; more are dropped, so a chatty or
/// hostile plugin cannot flood the server's log.
const LOG_LINES_PER_CALL_MAX: u32 = 64;
/// The longest log line kept; longer ones are cut.
const LOG_LINE_MAX_BYTES: usize = 4096;

/// The host state of one instance.
pub(crate) struct StoreData {
    plugin: String,
    memory_max_bytes: usize,
    memory_cap_hit: bool,
    log_lines_this_call: u32,
}

impl StoreData {
    pub(crate) fn new(plugin: String, memory_max_bytes: usize) -> Self {
        Self { plugin, memory_max_bytes, memory_cap_hit: false, log_lines_this_call: 0 }
    }

    /// Names the plugin in log lines, once it has said who it is.
    pub(crate) fn set_plugin(&mut self, plugin: String) {
        self.plugin = plugin;
    }

    /// Resets the per-call state before a call starts.
    pub(crate) fn begin_call(&mut self) {
        self.memory_cap_hit = false;
        self.log_lines_this_call = 0;
    }

    /// Whether the instance was refused memory during the current call.
    pub(crate) fn memory_cap_hit(&self) -> bool {
        self.memory_cap_hit
    }
}

impl wasmtime::ResourceLimiter for StoreData {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_max_bytes {
            self.memory_cap_hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl host::Host for StoreData {
    fn log(&mut self, level: LogLevel, message: String) {
        self.log_lines_this_call += 1;
        if self.log_lines_this_call > LOG_LINES_PER_CALL_MAX {
            return;
        }
        let mut message = message;
        if message.len() > LOG_LINE_MAX_BYTES {
            let mut cut = LOG_LINE_MAX_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("...");
        }
        let plugin = self.plugin.as_str();
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn now_ms(&mut self) -> u64 {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
    }
}
