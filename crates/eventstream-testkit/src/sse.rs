//! A Server-Sent Events reader for the HTTP tests of the live tail (`GET /api/events/stream`).

use std::time::Duration;

use reqwest::Response;
use serde_json::Value;

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct Sse {
    /// Its `id:` (the resume position).
    pub id: String,
    /// Its `event:` name.
    pub event: String,
    /// Its `data:`, parsed as JSON.
    pub data: Value,
}

/// Reads Server-Sent Events from a streaming response.
#[derive(Debug)]
pub struct SseReader {
    resp: Response,
    buf: String,
}

impl SseReader {
    /// Wraps a 200 `text/event-stream` response (panics on anything else).
    pub fn new(resp: Response) -> Self {
        assert_eq!(resp.status().as_u16(), 200);
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        SseReader { resp, buf: String::new() }
    }

    /// The next event (comments and keep-alives skipped), or `None` after `timeout` or when the stream
    /// ended.
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
                    ev.data = serde_json::from_str(&data).expect("SSE data is JSON");
                    return Some(ev);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await.ok()?.expect("the stream fails")?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Whether the server ends the stream (cleanly) within `timeout`; events still arriving are skipped.
    pub async fn ends_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Err(_) => return false,
                Ok(chunk) => {
                    if chunk.expect("the stream ends cleanly").is_none() {
                        return true;
                    }
                }
            }
        }
    }
}
