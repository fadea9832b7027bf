//! A running server with its admin key, keys per tenant and role, and small request helpers.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::suite::support::{Server, brain, ok_stdout};

/// The failing-subscriber test hook.
pub const FAILING_ENV: &str = "BRAIN_TEST_FAILING_SUBSCRIBER";

pub struct Api {
    pub server: Server,
    pub client: Client,
    pub admin: String,
    pub dir: tempfile::TempDir,
}

impl Api {
    /// A fresh server in its own temp dir.
    pub fn start() -> Api {
        Self::start_with_env(&[])
    }

    pub fn start_with_env(env: &[(&str, &str)]) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_with_env(dir.path(), &[], env);
        let admin = server.admin_key().expect("the first start prints the admin key");
        Api { server, client: Client::new(), admin, dir }
    }

    /// Creates a key with the CLI (against the same state store).
    pub fn key(&self, tenant: &str, role: &str) -> String {
        create_key(self.dir.path(), tenant, role)
    }

    pub fn req(&self, method: Method, path: &str, key: Option<&str>) -> RequestBuilder {
        let mut r = self.client.request(method, self.server.url(path));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        send(self.req(Method::GET, path, Some(key))).await
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        send(self.req(Method::POST, path, Some(key)).json(body)).await
    }

    /// Publishes a valid `task.created` (optionally for a tenant); returns the 201 body.
    pub async fn publish_task(&self, key: &str, task_id: &str, extra: Value) -> Value {
        let mut body = task_event(task_id);
        if let (Value::Object(b), Value::Object(x)) = (&mut body, extra) {
            b.extend(x);
        }
        let (status, v) = self.post("/api/events", key, &body).await;
        assert_eq!(status, 201, "{v}");
        v
    }

    /// Polls `GET path` until `done` holds, for at most 10 s.
    pub async fn wait_for(&self, path: &str, key: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, v) = self.get(path, key).await;
            if status == 200 && done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "condition not met for {path}: last answer {status} {v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn create_key(dir: &Path, tenant: &str, role: &str) -> String {
    let out = ok_stdout(brain(dir).args(["keys", "create", "--tenant", tenant, "--role", role]));
    let key = out.trim().to_owned();
    assert!(key.starts_with("brk_") && !key.contains('\n'), "keys create prints the key alone: {out:?}");
    key
}

pub async fn send(r: RequestBuilder) -> (u16, Value) {
    let resp: Response = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

/// A valid `task.created` envelope without id/timestamp/meta.
pub fn task_event(task_id: &str) -> Value {
    json!({"type": "task.created", "payload": {"task_id": task_id, "mission_type": "agent.chat", "priority": "NORMAL"}})
}

/// The ids of the events of a `GET /api/events` answer.
pub fn ids(v: &Value) -> Vec<String> {
    v["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: String,
    pub event: String,
    pub data: Value,
}

/// Reads Server-Sent Events from a streaming response.
pub struct SseReader {
    resp: Response,
    buf: String,
}

impl SseReader {
    pub fn new(resp: Response) -> Self {
        assert_eq!(resp.status().as_u16(), 200);
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        SseReader { resp, buf: String::new() }
    }

    /// The next event (comments and keep-alives skipped), or `None` after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = Sse { id: String::new(), event: String::new(), data: Value::Null };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        ev.id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        ev.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !data.is_empty() {
                    ev.data = serde_json::from_str(&data).unwrap();
                    return Some(ev);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await.ok()?.unwrap()?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
