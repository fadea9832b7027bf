//! The rejection mapping of the extractors, driven through a real axum router, and the 500 log line.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt;

use super::{ApiError, Json, Path, Query};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Body1 {
    name: String,
    n: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum Status {
    Open,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Q {
    limit: Option<u32>,
    status: Option<Status>,
    tenant: String,
}

fn app() -> Router {
    Router::new()
        .route("/json", post(|Json(_b): Json<Body1>| async { "ok" }))
        .route("/query", get(|Query(_q): Query<Q>| async { "ok" }))
        .route("/path/{n}", get(|Path(_n): Path<u32>| async { "ok" }))
        .layer(DefaultBodyLimit::max(64))
}

/// Sends `req`; returns the status and the JSON body (Null when it is not JSON).
async fn send(req: Request<Body>) -> (StatusCode, Value) {
    let resp = app().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn get_uri(uri: &str) -> (StatusCode, Value) {
    send(Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post_json(body: &str, content_type: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::post("/json");
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    send(req.body(Body::from(body.to_owned())).unwrap()).await
}

#[tokio::test]
async fn json_rejections_have_codes_and_name_the_field() {
    assert_eq!(post_json(r#"{"name":"x","n":1}"#, Some("application/json")).await.0, StatusCode::OK);

    let (status, v) = post_json(r#"{"name":"x","n":1}"#, None).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type")), "{v}");

    let (status, v) = post_json("{not json", Some("application/json")).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed_json")), "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("malformed JSON: key must be a string"), "{v}");

    let (status, v) = post_json(r#"{"name":"x","n":"ten"}"#, Some("application/json")).await;
    assert_eq!(
        (status, v["code"].as_str(), v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"), Some("n")),
        "{v}"
    );

    let (status, v) = post_json(r#"{"n":1}"#, Some("application/json")).await;
    assert_eq!(
        (status, v["code"].as_str(), v["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"), Some("name")),
        "a missing key is named as the field: {v}"
    );
    let (status, v) = post_json(r#"{"name":"x","n":1,"zz":2}"#, Some("application/json")).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("zz")), "an unknown key is named: {v}");

    let (status, v) = post_json(&format!(r#"{{"name":"{}","n":1}}"#, "x".repeat(100)), Some("application/json")).await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")), "{v}");
}

#[tokio::test]
async fn query_rejections_are_400_invalid_query_with_the_field() {
    assert_eq!(get_uri("/query?tenant=t&limit=5&status=OPEN").await.0, StatusCode::OK);
    for (uri, field) in [
        ("/query?tenant=t&limit=abc", "limit"),
        ("/query?tenant=t&limit=-1", "limit"),
        ("/query?tenant=t&status=DONE", "status"),
        ("/query?tenant=t&surprise=1", "surprise"),
        ("/query?limit=5", "tenant"),
    ] {
        let (status, v) = get_uri(uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert_eq!(v["code"].as_str(), Some("invalid_query"), "{uri}: {v}");
        assert_eq!(v["field"].as_str(), Some(field), "{uri}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with("invalid query string: "), "{uri}: {v}");
    }
}

#[tokio::test]
async fn path_rejections_are_400_invalid_path() {
    assert_eq!(get_uri("/path/7").await.0, StatusCode::OK);
    let (status, v) = get_uri("/path/seven").await;
    assert_eq!((status, v["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_path")), "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("invalid path parameter: "), "{v}");
}

#[test]
fn invalid_query_is_400_and_names_its_field() {
    let e = ApiError::invalid_query("limit", "limit must be 1 to 1000");
    assert_eq!((e.status, e.code, e.field.as_deref()), (StatusCode::BAD_REQUEST, "invalid_query", Some("limit")));
}

/// An error with a cause, like a state-store failure over the database's message.
#[derive(Debug, thiserror::Error)]
#[error("state store query failed while indexing an event")]
struct Outer(#[source] std::io::Error);

/// A `MakeWriter` appending to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn internal_error_logs_the_whole_chain_and_answers_without_it() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let source = Outer(std::io::Error::other("no such table: events"));
    let err = tracing::subscriber::with_default(subscriber, || ApiError::internal(&source));
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("error=state store query failed while indexing an event: no such table: events"),
        "the 500's log line carries the chain: {log}"
    );
    assert_eq!((err.status, err.code), (StatusCode::INTERNAL_SERVER_ERROR, "internal"));
    assert!(!err.message.contains("no such table"), "no internals in the body: {}", err.message);
}
