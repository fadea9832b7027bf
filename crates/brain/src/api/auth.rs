//! The API-key middleware: `Authorization: Bearer KEY` -> a [`Principal`] in the request extensions.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use brain_http::ApiError;

use super::errors;
use crate::server::AppState;

/// The bearer token of a request, if it sent one.
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Authenticates the request; 401 `unauthorized` without a valid, unrevoked key.
pub(crate) async fn require_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(token) = bearer(&req) else { return ApiError::unauthorized().into_response() };
    match state.keys.authenticate(token).await {
        Ok(Some(principal)) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Ok(None) => ApiError::unauthorized().into_response(),
        Err(e) => errors::keys(&e).into_response(),
    }
}
