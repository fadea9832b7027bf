//! A running `brain serve` with its admin key, keys per tenant and role made with the CLI, and small
//! request helpers.

use std::path::Path;
use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;

use crate::suite::support::{Server, brain, ok_stdout};

pub struct Api {
    pub server: Server,
    pub client: Client,
    pub admin: String,
    pub dir: tempfile::TempDir,
}

impl Api {
    /// A fresh server in its own temp dir.
    pub fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path(), &[]);
        let admin = server.admin_key().expect("the first start prints the admin key");
        Api { server, client: Client::new(), admin, dir }
    }

    /// Creates a key with the CLI (against the same state store).
    pub fn key(&self, tenant: &str, role: &str) -> String {
        create_key(self.dir.path(), tenant, role)
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        send(self.client.get(self.server.url(path)).bearer_auth(key)).await
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
