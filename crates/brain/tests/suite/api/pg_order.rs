//! On PostgreSQL the event index never lets a reader move past an event that commits later: with
//! concurrent publishers over HTTP (read-your-writes inserts) and with the CLI (indexed by the subscriber
//! in its chunk transactions), two SSE readers and a cursor walker each see every event exactly once,
//! in the order the finished index lists them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, Method};
use serde_json::{Value, json};

use super::helpers::{SseReader, send};
use crate::suite::support::{PgSchema, Server, brain, pg_url, run};

const HTTP_WRITERS: usize = 8;
const HTTP_EACH: usize = 40;
const CLI_WRITERS: usize = 3;
const CLI_EACH: usize = 25;
const TOTAL: usize = HTTP_WRITERS * HTTP_EACH + CLI_WRITERS * CLI_EACH;

/// Reads the SSE tail until `TOTAL` events arrived or nothing came for 30 s; returns the event ids.
async fn sse_reader(mut sse: SseReader) -> Vec<String> {
    let mut seen = Vec::new();
    while seen.len() < TOTAL {
        match sse.next(Duration::from_secs(30)).await {
            Some(ev) => seen.push(ev.data["id"].as_str().unwrap().to_owned()),
            None => break,
        }
    }
    seen
}

/// Pages `GET /api/events` with a small limit while events arrive. A partial page (no `next_cursor`) is
/// asked again from the same cursor: what it showed before must come back first, unchanged, or an event
/// committed "before" rows already seen, which a cursor would have skipped. Returns the ids in order and
/// the reorderings seen.
async fn cursor_walker(client: Client, base: String, key: String) -> (Vec<String>, Vec<String>) {
    let mut walked: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    let mut cursor: Option<String> = None;
    let mut since_cursor: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while walked.len() < TOTAL && Instant::now() < deadline {
        let url = match &cursor {
            Some(c) => format!("{base}/api/events?limit=25&cursor={c}"),
            None => format!("{base}/api/events?limit=25"),
        };
        let (status, page) = send(client.get(url).bearer_auth(&key)).await;
        assert_eq!(status, 200, "{page}");
        let ids: Vec<String> = page["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        let known = since_cursor.len().min(ids.len());
        if ids[..known] != since_cursor[..known] || ids.len() < since_cursor.len() {
            problems.push(format!("page after {cursor:?} changed: had {since_cursor:?}, now {ids:?}"));
        }
        for id in ids.iter().skip(since_cursor.len()) {
            walked.push(id.clone());
        }
        match page["next_cursor"].as_str() {
            Some(next) => {
                cursor = Some(next.to_owned());
                since_cursor.clear();
            }
            None => {
                since_cursor = ids;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    (walked, problems)
}

/// `brain publish` of one event; returns its receipt. Opening the embedded log can time out on its busy
/// lock while the server writes at full speed (nothing was appended then): that one case is retried.
fn cli_publish(dir: &std::path::Path, payload: &str) -> Value {
    for _ in 0..10 {
        let out = run(brain(dir).args(["publish", "--type", "task.created", "--source", "cli", "--json", "--payload", payload]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
        }
        assert!(stderr.contains("cannot open the embedded event log") && stderr.contains("locked"), "publish failed: {stderr}");
        eprintln!("retrying a CLI publish: {stderr}");
    }
    panic!("the CLI could not open the embedded log 10 times in a row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_history_and_sse_see_every_event_once_in_index_order_under_concurrent_writers() {
    let url = pg_url();
    if !eventstream_testkit::require_service("postgres", &url) {
        return;
    }
    let guard = PgSchema::create(&url, "brain_order").await;
    let db = guard.url.clone();

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--database", &db]);
    let admin = server.admin_key().unwrap();
    let client = Client::new();

    // Both tails are open (at the empty head) before the first event is published.
    let mut readers = Vec::new();
    for _ in 0..2 {
        let resp = client.request(Method::GET, server.url("/api/events/stream")).bearer_auth(&admin).send().await.unwrap();
        readers.push(tokio::spawn(sse_reader(SseReader::new(resp))));
    }
    let walker = tokio::spawn(cursor_walker(client.clone(), server.base.clone(), admin.clone()));

    let published = Arc::new(Mutex::new(HashSet::new()));
    let mut writers = Vec::new();
    for w in 0..HTTP_WRITERS {
        let (client, base, key, published) = (client.clone(), server.base.clone(), admin.clone(), published.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..HTTP_EACH {
                let body = json!({"type": "task.created",
                    "payload": {"task_id": format!("h{w}-{i}"), "mission_type": "order", "priority": "NORMAL"}});
                let (status, v) = send(client.post(format!("{base}/api/events")).bearer_auth(&key).json(&body)).await;
                assert_eq!(status, 201, "{v}");
                published.lock().unwrap().insert(v["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    for w in 0..CLI_WRITERS {
        let (path, published) = (dir.path().to_path_buf(), published.clone());
        writers.push(tokio::task::spawn_blocking(move || {
            for i in 0..CLI_EACH {
                let payload = json!({"task_id": format!("c{w}-{i}"), "mission_type": "order", "priority": "NORMAL"}).to_string();
                let v = cli_publish(&path, &payload);
                published.lock().unwrap().insert(v["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }

    // The finished index, walked with full pages after every writer is done.
    let mut index: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        index.clear();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => server.url(&format!("/api/events?limit=1000&cursor={c}")),
                None => server.url("/api/events?limit=1000"),
            };
            let (status, page) = send(client.get(url).bearer_auth(&admin)).await;
            assert_eq!(status, 200, "{page}");
            index.extend(page["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        if index.len() >= TOTAL || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let published = published.lock().unwrap().clone();
    assert_eq!(published.len(), TOTAL);
    assert_eq!(index.iter().cloned().collect::<HashSet<_>>(), published, "the index holds exactly the published events");
    assert_eq!(index.len(), TOTAL, "each event indexed once");

    let (walked, problems) = walker.await.unwrap();
    let mut tails = Vec::new();
    for r in readers {
        tails.push(r.await.unwrap());
    }
    let missed: Vec<usize> = tails.iter().map(|seen| index.iter().filter(|id| !seen.contains(id)).count()).collect();
    eprintln!("{TOTAL} events; SSE readers missed {missed:?}; cursor walker saw {} reorderings", problems.len());
    assert!(problems.is_empty(), "the cursor walker saw rows appear behind its cursor: {problems:?}");
    assert_eq!(walked, index, "the cursor walker saw every event once, in index order");
    for (n, seen) in tails.iter().enumerate() {
        assert_eq!(missed[n], 0, "SSE reader {n} missed {} of {TOTAL} events", missed[n]);
        assert_eq!(seen, &index, "SSE reader {n} saw every event once, in index order");
    }
    drop(server);
    guard.drop_schema().await;
}
