//! The web dashboard at `/`: the page and its assets without a key, `GET /api/stats` and the time series
//! (`GET /api/stats/series`, its SSE stream) behind the key, `?access_token=` on the SSE routes only, the
//! bulk dead-letter routes, and the key handling in headless Chromium (`scripts/test` installs it;
//! without it that test fails under `CI=true` and is skipped loudly otherwise). The pages driven by
//! clicks are in `dashboard_browser`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};

use eventstream_testkit::fixtures::eventually;

use crate::suite::helpers::{TestApp, failing_subscriber};

/// Where the Chromium test looks for the browser (Debian's `chromium` package).
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// An in-process server with its admin key, for the dashboard tests.
pub(crate) struct Dash {
    pub(crate) server: TestApp,
    pub(crate) client: Client,
    pub(crate) admin: String,
}

impl Dash {
    pub(crate) async fn start() -> Dash {
        let server = TestApp::start().await;
        let admin = server.admin.clone();
        Dash { server, client: Client::new(), admin }
    }

    pub(crate) async fn get(&self, path: &str, key: Option<&str>) -> (u16, String) {
        let mut r = self.client.get(self.server.url(path));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        let resp = r.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Publishes a `task.created` in correlation `flow`; returns its id.
    pub(crate) async fn publish(&self, task_id: &str, flow: &str) -> String {
        self.publish_json(json!({"type": "task.created", "correlation_id": flow,
            "payload": {"task_id": task_id, "mission_type": "agent.chat", "priority": "NORMAL"}}))
            .await
    }

    /// Publishes an event given as the body of `POST /api/events`; returns its id.
    pub(crate) async fn publish_json(&self, body: Value) -> String {
        let resp = self.client.post(self.server.url("/api/events")).bearer_auth(&self.admin).json(&body).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        let v: Value = resp.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn dashboard_page_is_served_without_a_key_and_stats_need_one() {
    let dash = Dash::start().await;
    let resp = dash.client.get(dash.server.url("/")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "{ct}");
    let csp = resp.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = resp.text().await.unwrap();
    for panel in ["panel-gauges", "panel-rates", "panel-consumers", "panel-dlq", "panel-events", "panel-catalog", "event-filters"] {
        assert!(html.contains(&format!("id=\"{panel}\"")), "the page has {panel}");
    }
    for field in ["name=\"type\"", "name=\"source\"", "name=\"correlation_id\"", "name=\"since\""] {
        assert!(html.contains(field), "the event filters have {field}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "no external assets");
    let (status, js) = dash.get("/dashboard/app.js", None).await;
    assert_eq!(status, 200);
    assert!(js.contains("EventSource") && js.contains("access_token"), "the script tails the stream");
    assert!(!js.contains("innerHTML"), "the script never renders data as HTML");
    let (status, css) = dash.get("/dashboard/style.css", None).await;
    assert_eq!(status, 200);
    assert!(css.contains(".panel"));

    let (status, _) = dash.get("/api/stats", None).await;
    assert_eq!(status, 401, "stats need a key");
    dash.publish("s1", "stats-flow").await;
    let (status, body) = dash.get("/api/stats", Some(&dash.admin)).await;
    assert_eq!(status, 200, "{body}");
    let stats: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["outbox"]["depth"], 0, "{stats}");
    assert!(stats["outbox"]["oldest_age_seconds"].is_number(), "{stats}");
    assert_eq!(stats["dead_letters"]["open"], 0, "{stats}");
    let subs = stats["subscribers"].as_array().unwrap();
    let index = subs.iter().find(|s| s["name"] == "event_index").expect("the event index subscriber is listed");
    assert!(index["lag"].is_u64() && index["pending"].is_u64(), "{index}");
    assert!(stats["backend"].is_string(), "{stats}");
}

#[tokio::test]
async fn access_token_authenticates_the_sse_stream_only() {
    let dash = Dash::start().await;
    let stream = |token: &str| dash.server.url(&format!("/api/events/stream?type=task.*&access_token={token}"));
    let resp = dash.client.get(stream(&dash.admin)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "a valid access_token opens the stream");
    let ct = resp.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    // The parameter is consumed by the middleware: the stream's filters still apply and events arrive.
    let mut resp = resp;
    let id = dash.publish("live", "sse-flow").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = String::new();
    while !buf.contains(&id) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, resp.chunk()).await.expect("the event arrives").unwrap().expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }

    let wrong = dash.client.get(stream("brk_wrong")).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401, "a wrong access_token is refused");
    let (status, _) = dash.get(&format!("/api/events?access_token={}", dash.admin), None).await;
    assert_eq!(status, 401, "other routes take the header only");
    let (status, _) = dash.get(&format!("/api/stats?access_token={}", dash.admin), None).await;
    assert_eq!(status, 401, "other routes take the header only");
}

/// Runs headless Chromium on `url` and returns what it printed (the DOM with `--dump-dom`).
pub(crate) async fn chromium(profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reader.join().unwrap()
}

#[tokio::test]
async fn stats_series_fill_from_traffic_and_need_an_admin_key() {
    let dash = Dash::start().await;
    for i in 0..4 {
        dash.publish(&format!("ser{i}"), "series-flow").await;
    }
    // Samples come every 250 ms in tests: the task module's rate shows up once the index counted them.
    let body = eventually("a sample with the task rate", Duration::from_secs(20), || async {
        let (status, body) = dash.get("/api/stats/series?window=15m", Some(&dash.admin)).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let total: f64 =
            v["samples"].as_array()?.iter().filter_map(|s| Some(s["rates"]["task"].as_f64()? * s["span_seconds"].as_f64()?)).sum();
        (total >= 3.5).then_some(v)
    })
    .await;
    assert_eq!(body["window"], "15m");
    assert_eq!(body["interval_seconds"], 0.25);
    let samples = body["samples"].as_array().unwrap();
    assert!(samples.windows(2).all(|w| w[0]["t"].as_i64() < w[1]["t"].as_i64()), "oldest first");
    let last = samples.last().unwrap();
    assert!(last["lag"]["event_index"].is_u64(), "{last}");
    assert_eq!(last["dead_letters_open"], 0, "{last}");
    assert_eq!(last["outbox_depth"], 0, "{last}");
    let (status, body) = dash.get("/api/stats/series?window=24h", Some(&dash.admin)).await;
    assert_eq!(status, 200, "{body}");
    let day: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(day["resolution_seconds"], 60.0);
    assert!(!day["samples"].as_array().unwrap().is_empty(), "the 24 h window shows the samples after the last full bucket");

    let (status, body) = dash.get("/api/stats/series?window=2h", Some(&dash.admin)).await;
    assert_eq!(status, 400, "{body}");
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((err["code"].as_str(), err["field"].as_str()), (Some("invalid_query"), Some("window")), "{err}");
    let (status, _) = dash.get("/api/stats/series?windw=1h", Some(&dash.admin)).await;
    assert_eq!(status, 400, "unknown parameters are refused");
    let reader = dash.server.key("default", "reader").await;
    let (status, _) = dash.get("/api/stats/series", Some(&reader)).await;
    assert_eq!(status, 403, "the series span every tenant");
    let (status, _) = dash.get("/api/stats/series", None).await;
    assert_eq!(status, 401);

    // The live stream sends new samples, with the key in the query as EventSource sends it.
    let mut resp = dash.client.get(dash.server.url(&format!("/api/stats/series/stream?access_token={}", dash.admin))).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = String::new();
    while !(buf.contains("event: sample") && buf.contains("\"lag\"")) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, resp.chunk()).await.expect("a sample arrives").unwrap().expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
    let stream = dash.client.get(dash.server.url(&format!("/api/stats/series/stream?access_token={reader}"))).send().await.unwrap();
    assert_eq!(stream.status().as_u16(), 403, "a reader gets no stream either");
}

#[tokio::test]
async fn dead_letters_are_retried_and_discarded_in_bulk() {
    let server = TestApp::start_with(vec![failing_subscriber("bulk_fails", "task.created")]).await;
    let admin = server.admin.clone();
    for i in 0..4 {
        server.publish_task(&admin, &format!("bulk-{i}"), json!({})).await;
    }
    let open = server
        .wait_for("/api/dlq?status=open&subscriber=bulk_fails", &admin, |v| v["dead_letters"].as_array().is_some_and(|a| a.len() == 4))
        .await;
    let ids: Vec<i64> = open["dead_letters"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect();

    let reader = server.key("default", "reader").await;
    let (status, _) = server.post("/api/dlq/retry", &reader, &json!({"ids": [ids[0]]})).await;
    assert_eq!(status, 403, "a reader cannot retry");
    for (body, field) in [
        (json!({"ids": []}), "ids"),
        (json!({"ids": [0]}), "ids[0]"),
        (json!({"ids": [ids[0], -3]}), "ids[1]"),
        (json!({"ids": (1..=501).collect::<Vec<i64>>()}), "ids"),
    ] {
        let (status, v) = server.post("/api/dlq/retry", &admin, &body).await;
        assert_eq!((status, v["code"].as_str()), (422, Some("validation_failed")), "{body}: {v}");
        assert_eq!(v["field"], field, "{v}");
    }
    let (status, v) = server.post("/api/dlq/discard", &admin, &json!({"ids": "1"})).await;
    assert!((400..500).contains(&status), "a wrong body is a 4xx: {status} {v}");

    // Retry two (one listed twice) and an unknown id: two retried, the unknown one reported, no 5xx.
    let (status, v) = server.post("/api/dlq/retry", &admin, &json!({"ids": [ids[0], ids[1], ids[0], 999_999]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!((v["done"].as_u64(), v["failed"].as_u64()), (Some(2), Some(1)), "{v}");
    assert_eq!(v["results"][2]["error"]["code"], "not_found", "{v}");
    // Discard the other two, and one already retried: that one is a conflict in its result.
    let (status, v) = server.post("/api/dlq/discard", &admin, &json!({"ids": [ids[2], ids[3], ids[0]]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!((v["done"].as_u64(), v["failed"].as_u64()), (Some(2), Some(1)), "{v}");
    assert_eq!(v["results"][2]["error"]["code"], "dead_letter_not_open", "{v}");
    for (id, want) in [(ids[0], "retried"), (ids[1], "retried"), (ids[2], "discarded"), (ids[3], "discarded")] {
        let (_, d) = server.get(&format!("/api/dlq/{id}"), &admin).await;
        assert_eq!(d["status"], want, "{d}");
    }
    // Another tenant's writer sees none of them: each is not found.
    let other = server.key("other", "writer").await;
    let (status, v) = server.post("/api/dlq/discard", &other, &json!({"ids": [ids[0]]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["results"][0]["error"]["code"], "not_found", "{v}");
}

#[tokio::test]
async fn api_answers_carry_no_store_and_nosniff() {
    let dash = Dash::start().await;
    let check = |what: &str, resp: &reqwest::Response| {
        let h = resp.headers();
        assert_eq!(h.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "{what}: Cache-Control");
        assert_eq!(h.get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"), "{what}: X-Content-Type-Options");
    };
    let ok = dash.client.get(dash.server.url("/api/events")).bearer_auth(&dash.admin).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    check("a listing", &ok);
    let module = dash.client.get(dash.server.url("/api/missions")).bearer_auth(&dash.admin).send().await.unwrap();
    assert_eq!(module.status().as_u16(), 200);
    check("a module route", &module);
    let unauthorized = dash.client.get(dash.server.url("/api/events")).send().await.unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
    check("a 401", &unauthorized);
    let missing = dash.client.get(dash.server.url("/api/no-such-route")).bearer_auth(&dash.admin).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    check("a 404", &missing);
    let page = dash.client.get(dash.server.url("/dashboard/core.js")).send().await.unwrap();
    assert_eq!(page.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-cache"), "assets keep their own policy");
    assert_eq!(page.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
}

#[tokio::test]
async fn the_dashboard_keeps_its_key_for_the_session_and_forgets_a_refused_one() {
    if !eventstream_testkit::require_tool("chromium", CHROMIUM) {
        return;
    }
    let dash = Dash::start().await;
    let form_shown = "id=\"key-form\" class=\"key-form\">";
    let profile = tempfile::tempdir().unwrap();
    let dom = chromium(profile.path(), &["--dump-dom"], &dash.server.url(&format!("/#key={}&live=off", dash.admin))).await;
    assert!(!dom.contains(form_shown), "the key from the fragment is used");
    // A new browser session on the same profile: a key kept in sessionStorage is gone, one in
    // localStorage (the old behaviour) would still be there.
    let dom = chromium(profile.path(), &["--dump-dom"], &dash.server.url("/#overview/live=off")).await;
    assert!(dom.contains(form_shown), "a new session asks for the key again:\n{dom:.2000}");

    // A refused key is dropped: the form is shown with the reason.
    let other = tempfile::tempdir().unwrap();
    let bad = format!("brk_{}", "0".repeat(64));
    let dom = chromium(other.path(), &["--dump-dom"], &dash.server.url(&format!("/#key={bad}&live=off"))).await;
    assert!(dom.contains(form_shown), "a refused key asks for another");
    assert!(dom.contains("The API key was refused"), "and says why");
}
