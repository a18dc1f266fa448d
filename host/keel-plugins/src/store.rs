//! What each plugin instance's store holds: its name for the log, its
//! memory cap, and the host imports it may call.

use crate::bindings::{v0_1, v0_2, v0_3};

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

impl StoreData {
    /// `host.log`: at most [`LOG_LINES_PER_CALL_MAX`] lines a call, each cut
    /// at [`LOG_LINE_MAX_BYTES`].
    fn log(&mut self, level: tracing::Level, message: String) {
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
            tracing::Level::TRACE => tracing::trace!(plugin, "{message}"),
            tracing::Level::DEBUG => tracing::debug!(plugin, "{message}"),
            tracing::Level::INFO => tracing::info!(plugin, "{message}"),
            tracing::Level::WARN => tracing::warn!(plugin, "{message}"),
            _ => tracing::error!(plugin, "{message}"),
        }
    }
}

/// The `host` interface of one contract version: the same functions in
/// every version.
macro_rules! impl_host {
    ($($version:ident),*) => {$(
        impl $version::acl::keel::plugin::host::Host for StoreData {
            fn log(&mut self, level: $version::acl::keel::plugin::host::LogLevel, message: String) {
                use $version::acl::keel::plugin::host::LogLevel;
                let level = match level {
                    LogLevel::Trace => tracing::Level::TRACE,
                    LogLevel::Debug => tracing::Level::DEBUG,
                    LogLevel::Info => tracing::Level::INFO,
                    LogLevel::Warn => tracing::Level::WARN,
                    LogLevel::Error => tracing::Level::ERROR,
                };
                StoreData::log(self, level, message);
            }

            fn now_ms(&mut self) -> u64 {
                $crate::now_ms()
            }
        }
    )*};
}

impl_host!(v0_1, v0_2, v0_3);
