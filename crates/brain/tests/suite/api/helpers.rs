//! A running `brain serve` with its admin key, keys per tenant and role made with the CLI, and small
//! request helpers.

use std::path::Path;

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

pub use eventstream_testkit::sse::SseReader;
