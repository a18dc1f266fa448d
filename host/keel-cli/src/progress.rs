//! The progress bar of snapshot transfers: on standard error, and only when
//! standard error is a terminal, so scripts and logs see none of it.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const TEMPLATE: &str = "{msg} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} {eta}";
const TEMPLATE_WITHOUT_TOTAL: &str = "{spinner} {msg} {bytes} {bytes_per_sec}";

/// Whether transfers should show a bar.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar for moving `total_bytes` (when known), hidden unless `on_terminal`.
pub fn transfer_bar(message: &'static str, total_bytes: Option<u64>, on_terminal: bool) -> ProgressBar {
    if !on_terminal {
        return ProgressBar::hidden();
    }
    let template = if total_bytes.is_some() { TEMPLATE } else { TEMPLATE_WITHOUT_TOTAL };
    let style = ProgressStyle::with_template(template).expect("the template is valid").progress_chars("=> ");
    ProgressBar::with_draw_target(total_bytes, ProgressDrawTarget::stderr()).with_style(style).with_message(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bar_without_a_terminal() {
        assert!(transfer_bar("Saving", Some(1_000), false).is_hidden());
        assert!(transfer_bar("Saving", None, false).is_hidden());
    }

    #[test]
    fn both_templates_are_valid() {
        for template in [TEMPLATE, TEMPLATE_WITHOUT_TOTAL] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }
}
