//! The native test mode.
//!
//! Off `wasm32`, [`crate::log`] and [`crate::now_ms`] are served from here:
//! log lines are kept per thread until a test takes them, and the clock can
//! be pinned. On `wasm32` these functions exist but the host serves the
//! imports, so [`take_logs`] is always empty there.

use std::cell::{Cell, RefCell};

use crate::LogLevel;
use crate::acl::{Access, Area, Request};

thread_local! {
    static LOGS: RefCell<Vec<(LogLevel, String)>> = const { RefCell::new(Vec::new()) };
    static PINNED_NOW_MS: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Returns and clears the lines this thread logged.
pub fn take_logs() -> Vec<(LogLevel, String)> {
    LOGS.with(|logs| std::mem::take(&mut *logs.borrow_mut()))
}

/// An ACL question as the host asks it for a `GET` of `/v1/test` in the
/// `default` namespace, at the time [`crate::now_ms`] reads; change the
/// fields a test is about with struct update syntax.
pub fn request(area: Area, access: Access) -> Request {
    Request {
        area,
        access,
        target: None,
        method: "GET".into(),
        path: "/v1/test".into(),
        namespace: "default".into(),
        now_ms: crate::now_ms(),
    }
}

/// Pins the clock [`crate::now_ms`] reads on this thread; `None` unpins it.
pub fn set_now_ms(now_ms: Option<u64>) {
    PINNED_NOW_MS.with(|pinned| pinned.set(now_ms));
}

#[cfg_attr(target_arch = "wasm32", allow(dead_code, reason = "the host serves log on wasm32"))]
pub(crate) fn record_log(level: LogLevel, message: &str) {
    eprintln!("[{level:?}] {message}");
    LOGS.with(|logs| logs.borrow_mut().push((level, message.to_owned())));
}

#[cfg_attr(target_arch = "wasm32", allow(dead_code, reason = "the host serves now-ms on wasm32"))]
pub(crate) fn native_now_ms() -> u64 {
    PINNED_NOW_MS.with(Cell::get).unwrap_or_else(|| {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
    })
}
