//! The browser app: `web/`, embedded in the binary (rust-embed), so `trellis`
//! serves it from any folder with nothing beside it. `/app/` is the shell
//! (one page; the views are ES modules that talk to the JSON API), `/app/static/…`
//! its files. No Node toolchain is involved in building or running it.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::problem::Problem;

#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/"]
#[exclude = "README.md"]
struct Web;

/// `/` → the app.
pub async fn root() -> Redirect {
    Redirect::to("/app/")
}

/// The app's one page.
pub async fn app(headers: HeaderMap) -> Response {
    file("index.html", &headers)
}

/// The page a public form link opens (no sign-in; it reads its token from the address).
pub fn public_page(headers: &HeaderMap) -> Response {
    let mut res = file("public.html", headers);
    // A shared link's token must not leak to other sites through Referer.
    res.headers_mut().insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}

/// Browsers ask for `/favicon.ico` on their own: the app's icon (SVG).
pub async fn favicon(headers: HeaderMap) -> Response {
    file("favicon.svg", &headers)
}

/// A file of the app.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    file(&path, &headers)
}

fn file(path: &str, headers: &HeaderMap) -> Response {
    let Some(f) = Web::get(path) else {
        return Problem::new(StatusCode::NOT_FOUND, "not-found", format!("the app has no file {path}")).into_response();
    };
    // The embedded file's hash: a browser revalidates (no-cache) and gets a 304 until the binary changes.
    let etag = format!("\"{}\"", f.metadata.sha256_hash().iter().take(12).map(|b| format!("{b:02x}")).collect::<String>());
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut res = (StatusCode::OK, f.data.into_owned()).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(f.metadata.mimetype()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert("content-security-policy", HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"));
    res
}
