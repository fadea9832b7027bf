//! Long-lived connections through real keys: a reader cannot open the telemetry WebSocket (H1), revoking a
//! key ends its open SSE stream and WebSockets within 5 s and every stream ends at the maximum lifetime,
//! SSE resuming with `Last-Event-ID` (H2), and WebSocket messages stop at the body limit with close 1009,
//! without echoing what they got (M5).

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::suite::helpers::{SseReader, TestApp};

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The server's body limit (`api::BODY_LIMIT`), which WebSocket messages share.
const BODY_LIMIT: usize = 1 << 20;

/// Opens the WebSocket at `path` with `key`: the socket, or the HTTP status the upgrade got instead.
async fn ws(api: &TestApp, path: &str, key: &str) -> Result<Ws, u16> {
    let mut req = format!("{}{path}", api.base.replacen("http://", "ws://", 1)).into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket connect: {e}"),
    }
}

/// The next text frame; `Err` with the close frame (or `None`) when the socket closes first.
async fn next_text(ws: &mut Ws) -> Result<String, Option<CloseFrame>> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
            Some(Ok(Message::Close(frame))) => return Err(frame),
            None => return Err(None),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("websocket error: {e}"),
        }
    }
}

/// The close code the server sends within `timeout` (text frames before it are skipped).
async fn close_code_within(ws: &mut Ws, timeout: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await.ok()? {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return None,
        }
    }
}

fn metrics_frame() -> Message {
    let m = json!({"cpu_usage": 12.5, "memory_usage": 40.0, "network_latency_ms": 5.0, "battery_percentage": 88.0});
    Message::Text(m.to_string().into())
}

fn count(v: &Value) -> usize {
    v["events"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_reader_key_gets_403_before_the_telemetry_websocket_upgrade() {
    let api = TestApp::start().await;
    let writer = api.key("acme", "writer").await;
    let reader = api.key("acme", "reader").await;
    let mut robot = ws(&api, "/api/telemetry/ws/robot-x", &writer).await.expect("a writer connects");
    api.wait_for("/api/events?type=telemetry.connection_established", &writer, |v| count(v) == 1).await;

    assert_eq!(ws(&api, "/api/telemetry/ws/robot-x", &reader).await.err(), Some(403), "a reader is refused before the upgrade");
    assert_eq!(ws(&api, "/api/telemetry/ws/robot-r1", &reader).await.err(), Some(403));

    // The writer's socket was not replaced: it still answers, and the reader left no trace.
    robot.send(metrics_frame()).await.unwrap();
    let ack: Value = serde_json::from_str(&next_text(&mut robot).await.expect("the writer's socket is open")).unwrap();
    assert_eq!(ack["type"], "metrics_ack");
    api.wait_for("/api/events?type=telemetry.metrics_published", &writer, |v| count(v) == 1).await;
    let (status, established) = api.get("/api/events?type=telemetry.connection_established", &writer).await;
    assert_eq!((status, count(&established)), (200, 1), "no connection of the reader: {established}");
    let (status, body) = api.get("/api/telemetry/robots/robot-r1/metrics", &writer).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("robot_not_found")), "the reader stored no metrics");
    // Readers keep the read-only tenant socket.
    assert!(ws(&api, "/api/ir/approvals/ws", &reader).await.is_ok());
}

#[tokio::test]
async fn revoking_a_key_ends_its_open_sse_stream_and_websockets_within_5s() {
    let api = TestApp::start().await;
    let key = api.key("acme", "writer").await;
    let other = api.key("acme", "writer").await;
    let resp = api.req(Method::GET, &format!("/api/events/stream?type=task.*&access_token={key}"), None).send().await.unwrap();
    let mut sse = SseReader::new(resp);
    let mut telemetry = ws(&api, "/api/telemetry/ws/robot-1", &key).await.expect("telemetry socket");
    let mut approvals = ws(&api, "/api/ir/approvals/ws", &key).await.expect("approvals socket");
    assert!(next_text(&mut approvals).await.expect("hello").contains("connected"));
    // Everything is live before the revocation.
    api.publish_task(&other, "before", json!({})).await;
    assert_eq!(sse.next(Duration::from_secs(10)).await.expect("an event").data["payload"]["task_id"], "before");
    telemetry.send(metrics_frame()).await.unwrap();
    assert!(next_text(&mut telemetry).await.expect("ack").contains("metrics_ack"));

    api.revoke(&key).await;
    let revoked = Instant::now();
    assert_eq!(api.get("/api/events?limit=1", &key).await.0, 401, "new requests are refused at once");
    assert!(sse.ends_within(Duration::from_secs(5)).await, "the SSE stream ends");
    assert_eq!(close_code_within(&mut telemetry, Duration::from_secs(5)).await, Some(1008), "telemetry closes with 1008");
    assert_eq!(close_code_within(&mut approvals, Duration::from_secs(5)).await, Some(1008), "approvals closes with 1008");
    assert!(revoked.elapsed() < Duration::from_secs(5), "all three ended within 5 s: {:?}", revoked.elapsed());
    // The other key's streams are untouched.
    let resp = api.req(Method::GET, "/api/events/stream", Some(&other)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn streams_end_at_the_max_lifetime_and_sse_resumes_with_last_event_id() {
    let api = TestApp::start_configured(Vec::new(), |s| s.stream_max_lifetime = Duration::from_secs(2)).await;
    let writer = api.key("acme", "writer").await;
    let resp = api.req(Method::GET, "/api/events/stream?type=task.*", Some(&writer)).send().await.unwrap();
    let opened = Instant::now();
    let mut sse = SseReader::new(resp);
    let mut telemetry = ws(&api, "/api/telemetry/ws/robot-1", &writer).await.expect("telemetry socket");
    let first = api.publish_task(&writer, "one", json!({})).await;
    let got = sse.next(Duration::from_secs(10)).await.expect("the first event");
    assert_eq!(got.id, first["position"].as_str().unwrap());

    assert!(sse.ends_within(Duration::from_secs(5)).await, "the stream ends at its lifetime");
    assert!(opened.elapsed() >= Duration::from_millis(1900), "not before: {:?}", opened.elapsed());
    assert_eq!(close_code_within(&mut telemetry, Duration::from_secs(5)).await, Some(1001), "the socket is told to reconnect");

    // Published while the client is away: the resumed stream delivers both, in order, and nothing twice.
    let second = api.publish_task(&writer, "two", json!({})).await;
    let third = api.publish_task(&writer, "three", json!({})).await;
    let resp = api
        .req(Method::GET, "/api/events/stream?type=task.*", Some(&writer))
        .header("last-event-id", got.id.as_str())
        .send()
        .await
        .unwrap();
    let mut resumed = SseReader::new(resp);
    for want in [&second, &third] {
        let ev = resumed.next(Duration::from_secs(10)).await.expect("a missed event");
        assert_eq!(ev.data["id"], want["id"]);
    }
}

#[tokio::test]
async fn websocket_messages_stop_at_the_body_limit_with_1009_and_are_never_echoed() {
    let api = TestApp::start().await;
    let writer = api.key("acme", "writer").await;
    let mut telemetry = ws(&api, "/api/telemetry/ws/robot-1", &writer).await.expect("telemetry socket");
    let input = "<script>not metrics</script>";
    telemetry.send(Message::Text(input.into())).await.unwrap();
    let reply = next_text(&mut telemetry).await.expect("a reply");
    assert!(!reply.contains("script"), "the input is not echoed: {reply}");
    assert_eq!(serde_json::from_str::<Value>(&reply).unwrap()["code"], "invalid_frame");
    // Up to the limit is accepted (answered); one byte more closes the socket with 1009.
    telemetry.send(Message::Text("x".repeat(BODY_LIMIT).into())).await.unwrap();
    assert!(next_text(&mut telemetry).await.expect("a reply").contains("invalid_frame"));
    telemetry.send(Message::Text("x".repeat(BODY_LIMIT + 1).into())).await.unwrap();
    assert_eq!(close_code_within(&mut telemetry, Duration::from_secs(5)).await, Some(1009));

    let mut approvals = ws(&api, "/api/ir/approvals/ws", &writer).await.expect("approvals socket");
    assert!(next_text(&mut approvals).await.expect("hello").contains("connected"));
    approvals.send(Message::Binary(vec![0u8; BODY_LIMIT + 1].into())).await.unwrap();
    assert_eq!(close_code_within(&mut approvals, Duration::from_secs(5)).await, Some(1009));
}
