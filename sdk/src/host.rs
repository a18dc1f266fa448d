//! The host imports, with a native stand-in for tests.

pub use crate::bindings::keel::plugin::host::LogLevel;

/// Writes one line to the server's log, tagged with the plugin's name.
///
/// Off `wasm32` the line goes to standard error and to the buffer that
/// [`crate::testing::take_logs`] drains.
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::keel::plugin::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    crate::testing::record_log(level, message);
}

/// Wall-clock time in milliseconds since the Unix epoch, as the host sees it.
///
/// Off `wasm32` this is the system clock, unless a test pinned it with
/// [`crate::testing::set_now_ms`].
pub fn now_ms() -> u64 {
    #[cfg(target_arch = "wasm32")]
    return crate::bindings::keel::plugin::host::now_ms();
    #[cfg(not(target_arch = "wasm32"))]
    return crate::testing::native_now_ms();
}
