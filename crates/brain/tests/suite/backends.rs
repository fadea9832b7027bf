//! `brain serve` and the CLI on the service backends: Redis Streams and NATS JetStream, each on its own
//! stream, removed at the end.

use std::time::Duration;

use eventstream_testkit::fixtures::eventually;

use super::support::{Server, brain, ok_stdout};

fn redis_url() -> String {
    std::env::var("BRAIN_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn nats_url() -> String {
    std::env::var("BRAIN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid_like()[..12])
}

fn uuid_like() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{:x}{:x}", t.as_nanos(), std::process::id())
}

/// Publishes over HTTP and with the CLI, reads both back with the CLI, and waits for the server's
/// subscribers to catch up, on the backend given by `args`.
async fn round_trip(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), args);
    let key = server.admin_key().unwrap();
    let http = reqwest::Client::new();
    let resp = http
        .post(server.url("/api/events"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"type": "system.health", "payload": {"status": "ok"}, "correlation_id": "backend-rt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    ok_stdout(
        brain(dir.path())
            .args(["publish", "--validation", "off", "--type", "task.created", "--source", "cli", "--correlation-id", "backend-rt"])
            .args(args),
    );
    let out = ok_stdout(brain(dir.path()).args(["events", "--json"]).args(args));
    let types: Vec<String> =
        out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, ["system.health", "task.created"], "{out}");
    eventually("event_index caught up", Duration::from_secs(20), || async {
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&ok_stdout(brain(dir.path()).args(["consumers", "--json"]).args(args))).unwrap();
        rows.iter().find(|r| r["name"] == "event_index").is_some_and(|r| r["lag"] == 0 && r["position"].is_string()).then_some(())
    })
    .await;
    let (status, body) = {
        let r = http.get(server.url("/api/events?correlation_id=backend-rt")).bearer_auth(&key).send().await.unwrap();
        (r.status(), r.json::<serde_json::Value>().await.unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(body["events"].as_array().map(Vec::len), Some(2), "{body}");
    let ready: serde_json::Value = http.get(server.url("/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_cli_on_redis() {
    let url = redis_url();
    if !eventstream_testkit::require_service("redis", &url) {
        return;
    }
    let stream = unique("brain-test:serve:");
    round_trip(&["--backend", "redis", "--redis-url", &url, "--stream", &stream]).await;
    let _ = std::process::Command::new("redis-cli").args(["-u", &url, "DEL", &stream]).output();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_cli_on_nats() {
    let url = nats_url();
    if !eventstream_testkit::require_service("nats", &url) {
        return;
    }
    let stream = unique("BRAIN_TEST_");
    round_trip(&["--backend", "nats", "--nats-url", &url, "--stream", &stream]).await;
    let log = eventstream_nats::NatsLog::connect(eventstream_nats::NatsConfig::new(url, stream)).await.unwrap();
    log.destroy().await.unwrap();
}
