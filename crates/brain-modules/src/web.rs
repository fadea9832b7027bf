//! What every module's routes share at the HTTP boundary: who is calling and on behalf of which request
//! ([`RequestContext`], [`Origin`]), identifier checks, and the mapping of state-store failures to
//! responses. Path, query and body extraction is brain-http's ([`brain_http::Path`], [`brain_http::Query`],
//! [`brain_http::Json`]), the same as the event API's, so a bad query is 400 `invalid_query` with its
//! `field` on every route.
//!
//! Nothing here knows a module: it exists so that every route answers bad input the same way (a 4xx with a
//! code naming the field) and stamps its events with the caller's tenant and correlation id.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use brain_http::{ApiError, Principal};
use eventstream::store::StoreError;
use eventstream_core::{Event, TenantId};

/// The request header carrying the correlation id; generated when absent.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// Longest accepted correlation id and module identifier (robot, agent, mission ids).
const MAX_ID_CHARS: usize = 128;

/// Where an event comes from: the tenant it belongs to, the request it answers, the caller.
///
/// Built from a request ([`RequestContext::origin`]) or, for background work, from what a row remembers
/// of the request that created it (a mission keeps its tenant and correlation id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The tenant every event and row belongs to.
    pub tenant: TenantId,
    /// The correlation id carried into every event.
    pub correlation_id: Option<String>,
    /// The key that asked (its public id).
    pub actor_id: Option<String>,
}

impl Origin {
    /// An origin for background work of `tenant`, continuing `correlation_id`.
    pub fn background(tenant: TenantId, correlation_id: Option<String>) -> Self {
        Self { tenant, correlation_id, actor_id: None }
    }

    /// Stamps the envelope of `event` with the tenant, correlation id and actor.
    pub fn stamp(&self, mut event: Event) -> Event {
        event.tenant_id = Some(self.tenant.clone());
        if self.correlation_id.is_some() {
            event.correlation_id.clone_from(&self.correlation_id);
        }
        if self.actor_id.is_some() {
            event.actor_id.clone_from(&self.actor_id);
        }
        event
    }

    /// The tenant as a string, for SQL.
    pub fn tenant(&self) -> &str {
        self.tenant.as_str()
    }
}

/// The caller of a request: the principal the server's auth middleware put into the extensions, and the
/// correlation id from `X-Correlation-ID` (or a fresh one).
///
/// Rejections: 401 `unauthorized` without a principal, 400 `invalid_correlation_id` for a header that is
/// not 1 to 128 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Who is calling.
    pub principal: Principal,
    /// The request's correlation id.
    pub correlation_id: String,
}

impl RequestContext {
    /// The origin of events this request causes.
    pub fn origin(&self) -> Origin {
        Origin {
            tenant: self.principal.tenant.clone(),
            correlation_id: Some(self.correlation_id.clone()),
            actor_id: Some(self.principal.key_id.clone()).filter(|k| !k.is_empty()),
        }
    }

    /// `Ok` when the caller may change state (role writer or admin).
    ///
    /// # Errors
    /// 403 `forbidden` for read-only keys.
    pub fn require_writer(&self) -> Result<(), ApiError> {
        self.principal.require_writer()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        let correlation_id = match parts.headers.get(CORRELATION_HEADER) {
            None => uuid::Uuid::now_v7().to_string(),
            Some(v) => {
                let text = v.to_str().ok().filter(|s| valid_correlation(s)).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_correlation_id",
                        "X-Correlation-ID must be 1 to 128 visible ASCII characters",
                    )
                    .with_field("X-Correlation-ID")
                })?;
                text.to_owned()
            }
        };
        Ok(Self { principal, correlation_id })
    }
}

fn valid_correlation(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ID_CHARS && s.bytes().all(|b| b.is_ascii_graphic())
}

/// brain-http's extractors, re-exported for module code that still imports them from here; new code
/// imports them from `brain_http`. There is one implementation of each.
pub use brain_http::{Path, Query};

/// Checks a module identifier taken from a path or body (robot, agent, mission ids): 1 to 128 characters
/// of `[A-Za-z0-9_.:-]`.
///
/// # Errors
/// 422 `validation_failed` naming `field`.
pub fn check_id(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.chars().count() <= MAX_ID_CHARS
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(field, format!("`{field}` must be 1 to 128 characters of letters, digits, `_`, `.`, `:` or `-`")))
    }
}

/// Checks a free-text field: at most `max` characters and, when `required`, not blank.
///
/// # Errors
/// 422 `validation_failed` naming `field`.
pub fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), ApiError> {
    if required && value.trim().is_empty() {
        return Err(ApiError::invalid(field, format!("`{field}` must not be empty")));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(field, format!("`{field}` must be at most {max} characters")));
    }
    Ok(())
}

/// Maps a state-store failure: 503 `unavailable` when retrying may help, else 500 `internal` (logged once).
pub fn store_error(e: &StoreError) -> ApiError {
    if e.is_transient() { ApiError::unavailable("the state store is busy or unreachable; retry later") } else { ApiError::internal(e) }
}

/// The current time as epoch seconds with fractions (the catalog's timestamp fields).
pub fn now_secs() -> f64 {
    ms_to_secs(now_ms())
}

/// The current time as epoch milliseconds (what the tables store).
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Epoch milliseconds as epoch seconds.
pub fn ms_to_secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(check_id("robot_id", "go2-7").is_ok());
        assert!(check_id("robot_id", "a:b.c_d").is_ok());
        assert!(check_id("robot_id", "").is_err());
        assert!(check_id("robot_id", "a b").is_err());
        assert!(check_id("robot_id", &"x".repeat(129)).is_err());
    }

    #[test]
    fn correlation_ids_are_visible_ascii() {
        assert!(valid_correlation("req-1"));
        assert!(!valid_correlation(""));
        assert!(!valid_correlation("a b"));
        assert!(!valid_correlation(&"x".repeat(129)));
    }
}
