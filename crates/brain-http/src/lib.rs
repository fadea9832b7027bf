//! Shared axum glue of the BRAiN HTTP API, used by the server and by every module's routes:
//!
//! - [`Principal`]: who is calling (tenant + [`Role`]), put into the request extensions by the server's
//!   API-key middleware and read by handlers with the `Principal` extractor;
//! - [`ApiError`]: the one error type, rendered as `{"code", "message", "field"?}` with a stable code and
//!   the right status; 5xx bodies carry no internals and are logged once;
//! - [`Json`]: a JSON extractor whose rejections are [`ApiError`]s naming what is wrong; [`Query`] and
//!   [`Path`] do the same for query strings and path parameters;
//! - [`live`]: what long-lived connections (SSE, WebSockets) obey: key re-checks, a maximum lifetime and
//!   the WebSocket message limit.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use eventstream_core::TenantId;
use eventstream_core::error::{Chain, root};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub mod live;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Scrapes `GET /metrics` and nothing else (for Prometheus); below every other role.
    Metrics,
    /// Read only.
    Reader,
    /// Read and write within its tenant.
    Writer,
    /// Everything, across tenants.
    Admin,
}

impl Role {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Metrics => "metrics",
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "metrics" => Ok(Role::Metrics),
            "reader" => Ok(Role::Reader),
            "writer" => Ok(Role::Writer),
            "admin" => Ok(Role::Admin),
            other => Err(format!("invalid role {other:?}: expected admin, writer, reader or metrics")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The key's tenant; events it publishes belong to it, and it only sees this tenant's data.
    pub tenant: TenantId,
    /// The key's role.
    pub role: Role,
    /// The key's public id (never the secret).
    pub key_id: String,
}

impl Principal {
    /// Whether this principal may cross tenants.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// `Ok` when the role is at least `writer`.
    ///
    /// # Errors
    /// [`ApiError::forbidden`] for readers.
    pub fn require_writer(&self) -> Result<(), ApiError> {
        if self.role >= Role::Writer { Ok(()) } else { Err(ApiError::forbidden("this key is read-only (role reader)")) }
    }

    /// `Ok` for admins.
    ///
    /// # Errors
    /// [`ApiError::forbidden`] otherwise.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() { Ok(()) } else { Err(ApiError::forbidden("this needs an admin key")) }
    }

    /// The tenant a query runs for: the key's own, or for an admin the requested one (`None` = all).
    ///
    /// # Errors
    /// [`ApiError::forbidden`] when a non-admin asks for another tenant.
    pub fn scope(&self, requested: Option<&TenantId>) -> Result<Option<TenantId>, ApiError> {
        match (self.is_admin(), requested) {
            (true, r) => Ok(r.cloned()),
            (false, None) => Ok(Some(self.tenant.clone())),
            (false, Some(t)) if *t == self.tenant => Ok(Some(t.clone())),
            (false, Some(_)) => Err(ApiError::forbidden("only admin keys may read other tenants").with_field("tenant")),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(ApiError::unauthorized)
    }
}

/// The one error type of the API: a status, a stable machine-readable code, a message for people and,
/// where one field is at fault, its name or JSON pointer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code (`invalid_payload`, `not_found`, ...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The field (or JSON pointer) at fault.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
    }

    /// Names the field at fault.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400 `invalid_query`: the query parameter `field` is missing, unknown or has a bad value. Every route
    /// (the event API and the modules') answers a bad query this way.
    pub fn invalid_query(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
    }

    /// 422 `validation_failed` on `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message).with_field(field)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "missing or invalid API key: send `Authorization: Bearer KEY`")
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409 `conflict` with a specific code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 413 `payload_too_large`: the body, or a part of it, is over its limit.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 503 `unavailable`: a backend is down; retry later.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500 `internal`: logs `source` once, with its whole cause chain
    /// ([`eventstream_core::error::chain`]), and answers without internals.
    pub fn internal(source: &dyn std::error::Error) -> Self {
        tracing::error!(error = %Chain(source), "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code, message: &self.message, field: self.field.as_deref() };
        (self.status, axum::Json(body)).into_response()
    }
}

/// JSON body extractor whose rejections are [`ApiError`]s: 415 `unsupported_media_type`, 400
/// `malformed_json`, 422 `invalid_body` naming the field serde reported, 413 `payload_too_large`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

/// Maps axum's JSON rejection to an [`ApiError`].
pub fn json_rejection(rej: JsonRejection) -> ApiError {
    match rej {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send `Content-Type: application/json`")
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("malformed JSON: {}", source_text(&e)))
        }
        JsonRejection::JsonDataError(e) => {
            let text = source_text(&e);
            // serde_path_to_error renders "path: message".
            let path = text.split_once(": ").map(|(p, _)| p.to_owned()).filter(|p| !p.contains(' ') && p != ".");
            // A missing key is reported at the object that lacks it (an unknown one at the key itself):
            // name the key.
            let key = text.split_once("missing field `").and_then(|(_, rest)| rest.split_once('`')).map(|(k, _)| k.to_owned());
            let field = match (path, key) {
                (Some(p), Some(k)) => Some(format!("{p}.{k}")),
                (None, Some(k)) => Some(k),
                (p, None) => p,
            };
            let mut err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", text);
            err.field = field;
            err
        }
        JsonRejection::BytesRejection(e) => {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large("the request body is too large")
            } else {
                ApiError::bad_request(format!("cannot read the body: {e}"))
            }
        }
        other => ApiError::bad_request(other.body_text()),
    }
}

/// The innermost cause's text: serde's own message (`"path: message"`) under axum's wrappers.
fn source_text(e: &(dyn std::error::Error + 'static)) -> String {
    root(e).to_string()
}

/// Query-string extractor whose rejections are 400 `invalid_query` [`ApiError`]s naming the parameter
/// serde reported (an unknown or missing parameter, a value of the wrong type) in `field`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(rej) => Err(query_rejection(&rej)),
        }
    }
}

/// The field a bad query names: serde's "unknown field `x`", "missing field `x`" or "x: reason". When
/// serde names none, `query` (the query string as a whole), so the error always carries a field.
fn query_rejection(rej: &QueryRejection) -> ApiError {
    let text = source_text(rej);
    let quoted = |prefix: &str| text.strip_prefix(prefix).and_then(|r| r.split_once('`')).map(|(f, _)| f.to_owned());
    let field = quoted("unknown field `")
        .or_else(|| quoted("missing field `"))
        .or_else(|| text.split_once(": ").map(|(p, _)| p.to_owned()).filter(|p| !p.is_empty() && !p.contains(' ')))
        .unwrap_or_else(|| "query".to_owned());
    ApiError::invalid_query(field, format!("invalid query string: {text}"))
}

/// Path-parameter extractor whose rejections are 400 `invalid_path` [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rej) => Err(path_rejection(&rej)),
        }
    }
}

fn path_rejection(rej: &PathRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", format!("invalid path parameter: {}", source_text(rej)))
}

/// Wraps any `Serialize` as a JSON response (re-exported for symmetry with [`Json`]).
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

#[cfg(test)]
mod tests;
