//! The API-key middleware: `Authorization: Bearer KEY` -> a [`Principal`] in the request extensions.
//!
//! The header is the way to send a key. One exception: browsers' `EventSource` cannot set headers, so
//! `GET /api/events/stream` and `GET /api/stats/series/stream` (and only they) also take the key as `?access_token=KEY` when no
//! `Authorization` header is sent. The middleware removes the parameter from the query before the
//! handler sees it. A key in a URL can end up in proxy logs and browser history: prefer the header
//! wherever the client can set one.
//!
//! Next to the principal it stores a [`brain_http::live::StreamPolicy`]: an SSE stream or WebSocket
//! opened by the request re-checks its key through it and ends when the key is revoked or at the maximum
//! lifetime.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use brain_http::{ApiError, Role};

use super::errors;
use crate::server::AppState;

/// The bearer token of a request, if it sent one.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The only routes that take `?access_token=`: the SSE streams the dashboard opens with `EventSource`
/// (which cannot send headers).
const QUERY_TOKEN_PATHS: [&str; 2] = ["/api/events/stream", "/api/stats/series/stream"];
/// The query parameter of [`QUERY_TOKEN_PATHS`].
const QUERY_TOKEN_PARAM: &str = "access_token";

/// For `GET` on [`QUERY_TOKEN_PATHS`] only: the `access_token` query parameter (percent-decoded), and the
/// URI without it. `None` elsewhere or without the parameter.
fn query_token(req: &Request) -> Option<(String, Uri)> {
    let path = req.uri().path();
    if req.method() != Method::GET || !QUERY_TOKEN_PATHS.contains(&path) {
        return None;
    }
    let query = req.uri().query()?;
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((QUERY_TOKEN_PARAM, v)) if token.is_none() => token = Some(percent_decode(v)?),
            _ if pair.is_empty() => {}
            _ => rest.push(pair),
        }
    }
    let token = token?;
    let path_and_query = if rest.is_empty() { path.to_owned() } else { format!("{path}?{}", rest.join("&")) };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Some((token, Uri::from_parts(parts).ok()?))
}

/// Decodes `%XX` escapes and `+`; `None` for invalid escapes or UTF-8. (Keys are URL-safe, so this is
/// rarely needed, but a client may escape them anyway.)
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The only route a `metrics` key may use.
const METRICS_PATH: &str = "/metrics";

/// Authenticates the request; 401 `unauthorized` without a valid, unrevoked key; 429
/// `too_many_failures` while the client's address is over its budget of failed key checks; 403 for a
/// `metrics` key anywhere but `/metrics`.
pub(crate) async fn require_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let client = super::guard::client_addr(&req);
    if let Some(retry_after) = state.guards.failures.blocked(client) {
        return super::guard::too_many_failures(retry_after);
    }
    let from_query;
    let token = match bearer(&req) {
        Some(token) => token,
        None => match query_token(&req) {
            Some((token, uri)) => {
                *req.uri_mut() = uri;
                from_query = token;
                from_query.as_str()
            }
            None => return ApiError::unauthorized().into_response(),
        },
    };
    match state.keys.authenticate(token).await {
        Ok(Some(principal)) if principal.role == Role::Metrics && req.uri().path() != METRICS_PATH => {
            ApiError::forbidden("a metrics key may only read /metrics").into_response()
        }
        Ok(Some(principal)) => {
            // For long-lived routes: re-checks of this key, the maximum lifetime, the WebSocket limit.
            req.extensions_mut().insert(state.live_keys.policy(&principal.key_id));
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Ok(None) => {
            state.guards.failures.record(client);
            ApiError::unauthorized().into_response()
        }
        Err(e) => errors::keys(&e).into_response(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn req(method: Method, uri: &str) -> Request {
        Request::builder().method(method).uri(uri).body(Body::empty()).unwrap()
    }

    #[test]
    fn access_token_is_taken_from_the_stream_query_only() {
        let (token, uri) = query_token(&req(Method::GET, "/api/events/stream?type=task.*&access_token=brk_a%2Bb&since=1h")).unwrap();
        assert_eq!(token, "brk_a+b");
        assert_eq!(uri.to_string(), "/api/events/stream?type=task.*&since=1h");
        let (token, uri) = query_token(&req(Method::GET, "/api/events/stream?access_token=k")).unwrap();
        assert_eq!((token.as_str(), uri.to_string().as_str()), ("k", "/api/events/stream"));
        assert!(query_token(&req(Method::GET, "/api/events?access_token=k")).is_none());
        let (token, uri) = query_token(&req(Method::GET, "/api/stats/series/stream?access_token=s")).unwrap();
        assert_eq!((token.as_str(), uri.to_string().as_str()), ("s", "/api/stats/series/stream"));
        assert!(query_token(&req(Method::GET, "/api/stats/series?access_token=k")).is_none());
        assert!(query_token(&req(Method::POST, "/api/events/stream?access_token=k")).is_none());
        assert!(query_token(&req(Method::GET, "/api/events/stream?type=x")).is_none());
        assert!(query_token(&req(Method::GET, "/api/events/stream?access_token=%zz")).is_none());
    }
}
