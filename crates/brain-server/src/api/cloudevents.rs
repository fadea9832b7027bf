//! `POST /api/cloudevents`: publishing a CloudEvents 1.0 event, in structured mode
//! (`Content-Type: application/cloudevents+json`, the whole event as JSON) or binary mode (`ce-*`
//! headers, the payload as the JSON body). The event then takes the same path as `POST /api/events`:
//! tenant from the key, catalog validation, append.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use brain_http::{ApiError, Principal};
use eventstream_core::DecodeError;
use eventstream_core::codec::cloudevents;

use super::events::{Published, publish_checked};
use crate::server::AppState;

fn invalid(e: &DecodeError) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_cloudevent", e.to_string()).with_field(e.field.clone())
}

/// `POST /api/cloudevents`.
pub(super) async fn publish(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Published, ApiError> {
    principal.require_writer()?;
    let body = body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large("the request body is too large")
        } else {
            ApiError::bad_request(format!("cannot read the body: {rej}"))
        }
    })?;
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let event = if content_type.starts_with("application/cloudevents+json") {
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("malformed JSON: {e}")))?;
        cloudevents::from_structured(&v).map_err(|e| invalid(&e))?
    } else if content_type.starts_with("application/cloudevents-batch+json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "batch mode is not supported; send one event per request",
        ));
    } else if headers.contains_key("ce-specversion") {
        let pairs: Vec<(&str, &str)> = headers.iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))).collect();
        cloudevents::from_binary(pairs, &body).map_err(|e| invalid(&e))?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send `Content-Type: application/cloudevents+json` (structured mode) or `ce-*` headers (binary mode)",
        ));
    };
    publish_checked(&state, &principal, event).await
}
