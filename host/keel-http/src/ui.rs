//! The status page at `/ui/`: static files embedded at build time (see
//! `build.rs`) and served as they are, except that the page's
//! `<!-- views -->` marker becomes one script tag per file in `ui/views/`.
//! The page reads the agent's API from the browser with the user's token;
//! serving it needs no right. `/` and `/ui` lead to `/ui/`, as in Nomad.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// Only the agent's own files run and style the page (no inline scripts or
/// style attributes; the page sets colours through the DOM), and no other
/// site can frame it.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The page, with a script tag for each view.
static INDEX: LazyLock<String> = LazyLock::new(|| {
    let page = String::from_utf8_lossy(asset("index.html").expect("ui/index.html is embedded"));
    let tags: String = ASSETS
        .iter()
        .filter_map(|(name, _)| name.strip_prefix("views/").filter(|file| file.ends_with(".js")).map(|_| name))
        .map(|name| format!("<script src=\"/ui/{name}\" defer></script>\n"))
        .collect();
    page.replace("<!-- views -->\n", &tags)
});

fn asset(name: &str) -> Option<&'static [u8]> {
    ASSETS.iter().find(|(file, _)| *file == name).map(|(_, bytes)| *bytes)
}

/// `GET /` and `GET /ui`: a temporary redirect to the page.
pub(crate) async fn to_page() -> Response {
    (StatusCode::TEMPORARY_REDIRECT, [(LOCATION, "/ui/")]).into_response()
}

/// `GET /ui/`: the page.
pub(crate) async fn index() -> Response {
    reply("index.html", INDEX.as_bytes())
}

/// `GET /ui/{*asset}`: an embedded file, or Go's "404 page not found".
pub(crate) async fn file(Path(name): Path<String>) -> Result<Response, ApiError> {
    match name.as_str() {
        "index.html" => Ok(index().await),
        _ => asset(&name).map(|bytes| reply(&name, bytes)).ok_or_else(|| ApiError::not_found("404 page not found")),
    }
}

fn reply(name: &str, bytes: &'static [u8]) -> Response {
    let content_type = match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (HeaderName::from_static("content-security-policy"), HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")),
    ];
    (headers, bytes).into_response()
}
