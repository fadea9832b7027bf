//! Response headers every answer carries: `X-Content-Type-Options: nosniff` (a browser never guesses
//! a JSON or text body to be HTML or script) and `Cache-Control: no-store` (API answers hold tenant
//! data and must not stay in a browser or proxy cache). A header a handler set already is kept: the
//! dashboard's assets say `no-cache` themselves.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use axum::middleware::Next;
use axum::response::Response;

/// Adds the headers to the response of `req`.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.entry(X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    h.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    resp
}
