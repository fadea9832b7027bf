//! telemetry: the WebSocket lifecycle with real close reasons, metrics frames published as events.

use brain_events::EventPayload;
use brain_events::telemetry::{TelemetryConnectionClosed, TelemetryConnectionEstablished, TelemetryMetricsPublished};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &App, robot: &str, corr: &str) -> Ws {
    let mut req = format!("{}/api/telemetry/ws/{robot}", app.ws_base).into_client_request().expect("request");
    req.headers_mut().insert("x-test-tenant", TENANT.parse().expect("header"));
    req.headers_mut().insert("x-correlation-id", corr.parse().expect("header"));
    let (ws, _) = tokio_tungstenite::connect_async(req).await.expect("connect");
    ws
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(Message::Close(_))) | None => return String::new(),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("websocket error: {e}"),
        }
    }
}

#[tokio::test]
async fn websocket_lifecycle_reports_real_close_reasons_and_publishes_metrics() {
    let app = App::start(fast_config()).await;
    let mut first = connect(&app, "r-1", "corr-ws-1").await;
    let metrics = json!({"cpu_usage": 45.2, "memory_usage": 62.8, "network_latency_ms": 12.5, "battery_percentage": 78.0});
    first.send(Message::Text(metrics.to_string().into())).await.expect("send");
    let ack: Value = serde_json::from_str(&next_text(&mut first).await).unwrap_or(Value::Null);
    assert_eq!(ack["type"], "metrics_ack");
    first.send(Message::Text("hello".into())).await.expect("send");
    let err: Value = serde_json::from_str(&next_text(&mut first).await).unwrap_or(Value::Null);
    assert_eq!(err["code"], "invalid_frame", "other text is refused, never echoed: {err}");
    first
        .send(Message::Text(
            json!({"cpu_usage": 500, "memory_usage": 1, "network_latency_ms": 1, "battery_percentage": 1}).to_string().into(),
        ))
        .await
        .expect("send");
    let err: Value = serde_json::from_str(&next_text(&mut first).await).unwrap_or(Value::Null);
    assert_eq!(err["code"], "invalid_metrics");
    let (_, info) = app.get("/api/telemetry/info").await;
    assert_eq!(info["active_connections"], 1);

    // A newer connection for the same robot replaces the first, which is closed by the server.
    let mut second = connect(&app, "r-1", "corr-ws-2").await;
    assert_eq!(next_text(&mut first).await, "", "the first socket is closed");
    second.send(Message::Text("still here".into())).await.expect("send");
    assert!(next_text(&mut second).await.contains("invalid_frame"), "the newer socket still answers");
    let (_, info) = app.get("/api/telemetry/info").await;
    assert_eq!(info["active_connections"], 1, "closing the replaced socket kept the newer one");
    second.close(None).await.expect("close");

    let (status, m) = app.call(reqwest::Method::GET, "/api/telemetry/robots/r-1/metrics", TENANT, Some("corr-ws-get"), None).await;
    assert_eq!((status, m["cpu_usage"].as_f64(), m["battery_percentage"].as_f64()), (200, Some(45.2), Some(78.0)));
    let (status, m) = app.get("/api/telemetry/robots/r-404/metrics").await;
    assert_eq!((status, m["code"].as_str()), (404, Some("robot_not_found")));

    let events = app
        .wait_events("telemetry events", |ev| {
            of_type(ev, TelemetryConnectionClosed::TYPE).len() == 2 && of_type(ev, TelemetryMetricsPublished::TYPE).len() == 2
        })
        .await;
    let est = of_type(&events, TelemetryConnectionEstablished::TYPE);
    assert_eq!(est.len(), 2);
    assert_envelope(est[0], TelemetryConnectionEstablished::SOURCE, TENANT, Some("corr-ws-1"));
    assert_envelope(est[1], TelemetryConnectionEstablished::SOURCE, TENANT, Some("corr-ws-2"));
    let closed = of_type(&events, TelemetryConnectionClosed::TYPE);
    let first_closed = closed.iter().find(|e| e.correlation_id.as_deref() == Some("corr-ws-1")).expect("first closed");
    let second_closed = closed.iter().find(|e| e.correlation_id.as_deref() == Some("corr-ws-2")).expect("second closed");
    assert_eq!(field(first_closed, "reason"), "replaced");
    assert_eq!(field(second_closed, "reason"), "client_disconnect");
    assert_eq!(field(first_closed, "connection_id"), field(est[0], "connection_id"));
    assert_ne!(field(first_closed, "connection_id"), field(second_closed, "connection_id"));
    assert!(field(first_closed, "duration_seconds").as_f64().unwrap_or(-1.0) > 0.0);
    assert_envelope(first_closed, TelemetryConnectionClosed::SOURCE, TENANT, Some("corr-ws-1"));
    let published = of_type(&events, TelemetryMetricsPublished::TYPE);
    assert_envelope(published[0], TelemetryMetricsPublished::SOURCE, TENANT, Some("corr-ws-1"));
    assert_eq!(field(published[0], "robot_id"), "r-1");
    assert_eq!(field(published[0], "metrics"), &metrics);
    assert_eq!(published[1].correlation_id.as_deref(), Some("corr-ws-get"));
    app.stop().await;
}
