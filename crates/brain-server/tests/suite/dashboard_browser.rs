//! The dashboard driven in a real Chromium through WebDriver (Debian's `chromedriver`, the `fantoccini`
//! client): charts with data points after traffic, page switches, the event filter, an event's page with
//! its chain and audit inclusion, a dead letter retried by a click (checked through the API).
//!
//! Each test starts one chromedriver on a free port and one headless browser session. Without
//! `chromedriver` or `chromium` a test fails under `CI=true` and is skipped loudly otherwise
//! (`scripts/test` installs both). A failing test writes a screenshot to
//! `target/dashboard-screenshots/<test>.png`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::dashboard::{CHROMIUM, Dash};
use super::helpers::TestApp;

/// Debian's WebDriver for Chromium (package `chromium-driver`).
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a condition in the page may take.
const WAIT: Duration = Duration::from_secs(20);

/// A chromedriver process, killed on drop.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A browser session on its own chromedriver.
struct Browser {
    client: Client,
    test: &'static str,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

/// `target/dashboard-screenshots` of the workspace.
fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard-screenshots")
}

/// Whether both tools are installed; `require_tool` says loudly what is missing (a panic under CI).
fn tools_present() -> bool {
    eventstream_testkit::require_tool("chromedriver", CHROMEDRIVER) && eventstream_testkit::require_tool("chromium", CHROMIUM)
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    async fn start(test: &'static str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Driver(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let profile = tempfile::tempdir().unwrap();
        let status = format!("http://127.0.0.1:{port}/status");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = http.get(&status).send().await
                && r.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == true)
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                format!("--user-data-dir={}", profile.path().display())]}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session in headless Chromium");
        Browser { client, test, _driver: driver, _profile: profile }
    }

    /// Runs `js` in the page (a function body; `arguments` are `args`) and returns its value.
    async fn js(&self, js: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        self.client.execute(js, args).await.with_context(|| format!("running {js}"))
    }

    /// Polls `js` (a function body returning a value) until it returns something truthy; returns it.
    async fn until(&self, what: &str, js: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(js, args.clone()).await?;
            let truthy = !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what} (last value {v})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the element `css` (found again when the page replaced it between the lookup and the click).
    async fn click(&self, css: &str) -> anyhow::Result<()> {
        let mut tries = 0;
        loop {
            let el = self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await.with_context(|| format!("no {css}"))?;
            match el.click().await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_stale_element_reference() && tries < 5 => {
                    tries += 1;
                }
                Err(e) => return Err(e).with_context(|| format!("clicking {css}")),
            }
        }
    }

    /// Which page section is shown.
    async fn shown_page(&self) -> anyhow::Result<String> {
        let v = self.js("const s = [...document.querySelectorAll('[data-page]')].filter(s => !s.hidden); return s.map(s => s.dataset.page).join(',');", vec![]).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// With `BRAIN_DASHBOARD_SCREENSHOTS=1`, writes a screenshot of the page as it is now to
    /// `target/dashboard-screenshots/<test>-<name>.png` (to look at the pages a test went through).
    async fn snap(&self, name: &str) -> anyhow::Result<()> {
        if std::env::var("BRAIN_DASHBOARD_SCREENSHOTS").as_deref() != Ok("1") {
            return Ok(());
        }
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("{}-{name}.png", self.test)), self.client.screenshot().await?)?;
        Ok(())
    }

    /// Ends the session; on `Err` writes a screenshot under `target/dashboard-screenshots/` and panics.
    async fn finish(self, result: anyhow::Result<()>) {
        if let Err(e) = &result {
            let dir = screenshot_dir();
            let shot = match self.client.screenshot().await {
                Ok(png) => std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(dir.join(format!("{}.png", self.test)), png))
                    .map(|()| format!("screenshot: {}", dir.join(format!("{}.png", self.test)).display()))
                    .unwrap_or_else(|e| format!("no screenshot: {e}")),
                Err(e) => format!("no screenshot: {e}"),
            };
            let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let _ = self.client.clone().close().await;
            panic!("{e:#}\nat {url}\n{shot}");
        }
        let _ = self.client.clone().close().await;
    }
}

/// A subscriber that fails each event permanently the first time it sees it and handles it on a retry,
/// so that a retried dead letter stays retried.
struct FailsOnce(std::sync::Mutex<std::collections::HashSet<String>>);

#[eventstream_core::async_trait]
impl eventstream::Handler for FailsOnce {
    async fn handle(
        &self,
        _ctx: &mut eventstream::HandlerContext<'_>,
        event: &eventstream_core::Event,
    ) -> Result<(), eventstream::HandlerError> {
        let first = self.0.lock().expect("seen ids").insert(event.id.to_string());
        if first {
            Err(eventstream::HandlerError::permanent(format!("inventory lookup failed: connection reset by peer (event {})", event.id)))
        } else {
            Ok(())
        }
    }
}

/// The URL of the dashboard at `fragment`, with the admin key in the fragment.
fn page_url(dash: &Dash, fragment: &str) -> String {
    let sep = if fragment.contains('/') || fragment.contains('?') { "&" } else { "/" };
    dash.server.url(&format!("/#{fragment}{sep}key={}", dash.admin))
}

/// Publishes `task.created` for `task` in correlation `flow`, caused by `cause`.
async fn task(dash: &Dash, task: &str, flow: &str, cause: Option<&str>) -> String {
    dash.publish_json(json!({"type": "task.created", "correlation_id": flow, "causation_id": cause,
        "payload": {"task_id": task, "mission_type": "agent.chat", "priority": "NORMAL"}}))
        .await
}

#[tokio::test]
async fn chromium_draws_charts_switches_pages_filters_events_and_opens_a_chain() {
    if !tools_present() {
        return;
    }
    let dash = Dash::start().await;
    // Traffic: a chain of three caused events, a credit allocation and a robot command (other modules).
    let root = task(&dash, "web-1", "flow-web", None).await;
    let child = task(&dash, "web-2", "flow-web", Some(&root)).await;
    let grandchild = task(&dash, "web-3", "flow-web", Some(&child)).await;
    let (status, body) = dash.server.post("/api/credits/agents/agent-web/allocate", &dash.admin, &json!({"amount": 25.0})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = dash
        .server
        .post("/api/hardware/robots/robot-web/command", &dash.admin, &json!({"linear_x": 0.5, "linear_y": 0.0, "angular_z": 0.1}))
        .await;
    assert!(status < 300, "{status} {body}");

    let b = Browser::start("charts_pages_filter_chain").await;
    let result = async {
        b.client.goto(&page_url(&dash, "overview/window=15m")).await?;
        // The charts over time: the task module's rate, the index's lag and the dead-letter line, with
        // points from the server's sampler, and more arriving live over SSE.
        let points = b
            .until(
                "a rate line for the task module with points",
                "const g = document.querySelector('#chart-series-rates svg[data-chart=lines] g[data-series=task]'); \
                 return g && Number(g.dataset.points) >= 2 ? Number(g.dataset.points) : null;",
                vec![],
            )
            .await?;
        b.until("a lag line for the event index", "return !!document.querySelector('#chart-series-lag g[data-series=event_index]');", vec![]).await?;
        b.until("the dead-letter line", "return !!document.querySelector('#chart-series-dlq g[data-series=open]');", vec![]).await?;
        b.until("the outbox line", "return !!document.querySelector('#chart-series-outbox g[data-series=depth]');", vec![]).await?;
        b.until(
            "new samples over SSE",
            "const g = document.querySelector('#chart-series-rates g[data-series=task]'); return g && Number(g.dataset.points) > arguments[0];",
            vec![points],
        )
        .await?;
        b.snap("overview").await?;
        // The 24 h switch reloads the window.
        b.click("#series-window button[data-window='24h']").await?;
        b.until("the 24 h button active", "return document.querySelector('#series-window button.active').dataset.window === '24h';", vec![]).await?;
        b.until("the 24 h window drawn", "return !!document.querySelector('#chart-series-rates g[data-series=task]');", vec![]).await?;

        // Page switches through the navigation.
        for (link, page, marker) in [
            ("consumers", "consumers", "tr[data-consumer=event_index]"),
            ("modules", "modules", "tr[data-agent=agent-web]"),
            ("modules", "modules", "tr[data-robot=robot-web]"),
            ("audit", "audit", "#audit-body tr[data-audit-event]"),
            ("catalog", "catalog", "tr[data-catalog-type='task.created']"),
            ("analytics", "analytics", "#analytics-modules-body tr[data-module=task]"),
            // The Analytics page's line chart is the server's series, so it has the task line at once.
            ("analytics", "analytics", "#chart-rate-line g[data-series=task]"),
            ("events", "events", "#events-body tr[data-event-id]"),
        ] {
            b.click(&format!(".top nav a[href='#{link}']")).await?;
            b.until(&format!("the {page} page"), "return document.querySelector(arguments[0]) && !document.querySelector(arguments[0]).closest('[data-page]').hidden;", vec![json!(marker)])
                .await?;
            let shown = b.shown_page().await?;
            if shown != page {
                bail!("after the {link} link the page shown is {shown}");
            }
            b.snap(page).await?;
        }

        // Filter the events by type: only the task events stay, the hardware and credit ones go.
        let input = b.client.find(Locator::Css("#event-filters input[name=type]")).await?;
        input.clear().await?;
        input.send_keys("task.*").await?;
        b.click("#event-filters button[type=submit]").await?;
        let types = b
            .until(
                "the filtered list",
                "if (!location.hash.includes('type=task.*')) return null; \
                 const t = [...document.querySelectorAll('#events-body tr[data-event-id] td:nth-child(2)')].map(td => td.textContent); \
                 return t.length >= 3 && t.every(x => x.startsWith('task.')) ? t : null;",
                vec![],
            )
            .await?;
        if types.as_array().map_or(0, Vec::len) != 3 {
            bail!("three task events expected, the list shows {types}");
        }

        // Open the middle event: its page shows the envelope, the chain of three with two causation links,
        // and the audit inclusion proven in the browser.
        b.click(&format!("#events-body tr[data-event-id='{child}']")).await?;
        b.until("the event page", "return location.hash.startsWith('#event/') && document.getElementById('event-title').textContent === arguments[0];", vec![json!(child)])
            .await?;
        b.until(
            "the chain of three",
            "const ids = [...document.querySelectorAll('#event-chain li[data-event-id]')].map(li => li.dataset.eventId); \
             return ids.length === 3 && arguments.length === 3 && ids.includes(arguments[0]) && ids.includes(arguments[1]) && ids.includes(arguments[2]);",
            vec![json!(root), json!(child), json!(grandchild)],
        )
        .await?;
        b.until("two causation links on the timeline", "return document.querySelectorAll('#event-timeline line.cause-link').length === 2;", vec![]).await?;
        let payload = b.js("return document.getElementById('event-payload').textContent;", vec![]).await?;
        if !payload.as_str().unwrap_or_default().contains("web-2") {
            bail!("the payload is shown: {payload}");
        }
        b.until("the audit inclusion", "const s = document.getElementById('event-inclusion'); return s && s.dataset.status === 'included';", vec![]).await?;
        b.snap("event").await?;
        // A click on the chain opens the cause.
        b.click(&format!("#event-chain li[data-event-id='{root}']")).await?;
        b.until("the root event's page", "return document.getElementById('event-title').textContent === arguments[0];", vec![json!(root)]).await?;
        Ok::<(), anyhow::Error>(())
    }
    .await;
    b.finish(result).await;
}

#[tokio::test]
async fn chromium_retries_dead_letters_by_clicking() {
    if !tools_present() {
        return;
    }
    let failing = eventstream::Subscription::new(
        "web_inventory".parse().unwrap(),
        vec!["task.created".parse().unwrap()],
        FailsOnce(std::sync::Mutex::default()),
    );
    let server = TestApp::start_with(vec![failing]).await;
    let admin = server.admin.clone();
    let dash = Dash { server, client: reqwest::Client::new(), admin };
    for i in 0..3 {
        task(&dash, &format!("dl-{i}"), "flow-dl", None).await;
    }
    let open = dash
        .server
        .wait_for("/api/dlq?status=open&subscriber=web_inventory", &dash.admin, |v| {
            v["dead_letters"].as_array().is_some_and(|a| a.len() == 3)
        })
        .await;
    let ids: Vec<i64> = open["dead_letters"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect();
    let open_ids = || async {
        let (_, v) = dash.server.get("/api/dlq?status=open&subscriber=web_inventory", &dash.admin).await;
        v["dead_letters"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect::<Vec<_>>()
    };

    let b = Browser::start("retry_dead_letters").await;
    let result = async {
        b.client.goto(&page_url(&dash, "consumers")).await?;
        let row = |id: i64| format!("#dlq-body tr[data-dead-letter='{id}']");
        b.until("the open dead letters", "return document.querySelectorAll('#dlq-body tr[data-dead-letter]').length === 3;", vec![]).await?;
        // The error chain of the first one.
        b.click(&row(ids[0])).await?;
        let chain = b
            .until("the error chain", "const l = [...document.querySelectorAll('#dlq-error-chain li')].map(li => li.textContent); return l.length >= 2 ? l : null;", vec![])
            .await?;
        if !chain.to_string().contains("connection reset by peer") {
            bail!("the chain shows the handler's error: {chain}");
        }
        b.snap("dead-letters").await?;
        // Retry one by its button: it leaves the open list, in the page and in the API.
        b.click(&format!("{} button.dlq-retry", row(ids[0]))).await?;
        b.until("the retried row gone", "return !document.querySelector(arguments[0]);", vec![json!(row(ids[0]))]).await?;
        let still = open_ids().await;
        if still.contains(&ids[0]) || still.len() != 2 {
            bail!("dead letter {} is still open through the API: {still:?}", ids[0]);
        }
        // Tick the two others and retry them at once.
        b.click(&format!("{} input.dlq-select", row(ids[1]))).await?;
        b.click(&format!("{} input.dlq-select", row(ids[2]))).await?;
        b.until("the bulk button enabled", "return !document.getElementById('dlq-retry-selected').disabled;", vec![]).await?;
        b.click("#dlq-retry-selected").await?;
        b.until("no open dead letters", "return document.querySelectorAll('#dlq-body tr[data-dead-letter]').length === 0;", vec![]).await?;
        let result = b.js("return document.getElementById('dlq-result').textContent;", vec![]).await?;
        if !result.as_str().unwrap_or_default().starts_with("2 dead letter(s) retried") {
            bail!("the page reports the bulk retry: {result}");
        }
        Ok::<(), anyhow::Error>(())
    }
    .await;
    b.finish(result).await;
    assert!(open_ids().await.is_empty(), "no dead letter of the subscriber is open");
    for id in ids {
        let (_, v) = dash.server.get(&format!("/api/dlq/{id}"), &dash.admin).await;
        assert_eq!(v["status"], "retried", "{v}");
    }
    // The retried events were handled: the subscriber has nothing pending and no new dead letters.
    let consumers = dash
        .server
        .wait_for("/api/consumers", &dash.admin, |v| {
            v["consumers"].as_array().is_some_and(|c| c.iter().any(|c| c["name"] == "web_inventory" && c["lag"] == 0))
        })
        .await;
    assert!(consumers["consumers"].is_array());
}
