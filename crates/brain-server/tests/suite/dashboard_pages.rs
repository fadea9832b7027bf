//! The dashboard's Audit and Analytics pages: their assets, and the pages rendered by headless Chromium
//! (the DOM dumped after load; the fragment selects the page, the event and presses the verification
//! button, so the dump shows the result).

use std::time::Duration;

use eventstream_sql::StateStore;
use eventstream_sql::sqlx::{self, Row};
use eventstream_testkit::fixtures::eventually;
use serde_json::{Value, json};

use super::dashboard::{CHROMIUM, Dash, chromium};

/// The scripts `index.html` loads.
const SCRIPTS: [&str; 10] =
    ["core.js", "proof.js", "charts.js", "audit.js", "analytics.js", "overview.js", "events.js", "consumers.js", "modules.js", "app.js"];

impl Dash {
    /// Waits until the latest checkpoint's inclusion proof covers `event_id`; returns the proof.
    async fn proven(&self, event_id: &str) -> Value {
        eventually("the event covered by a checkpoint", Duration::from_secs(20), || async {
            let (status, body) = self.get(&format!("/api/audit/proof/inclusion?event_id={event_id}"), Some(&self.admin)).await;
            (status == 200).then(|| serde_json::from_str::<Value>(&body).unwrap())
        })
        .await
    }

    /// The dashboard's DOM after loading `fragment` (with the admin key and no live tail).
    async fn dump(&self, fragment: &str) -> String {
        let profile = tempfile::tempdir().unwrap();
        let sep = if fragment.contains('/') { "&" } else { "/" };
        let url = self.server.url(&format!("/#{fragment}{sep}key={}&live=off", self.admin));
        chromium(profile.path(), &["--dump-dom"], &url).await
    }
}

/// The text of the element with `id` in `dom` (up to its first closing tag), for messages and checks.
fn element<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in the page:\n{dom}"));
    let rest = &dom[at..];
    &rest[..rest.find("</div>").unwrap_or(rest.len())]
}

#[tokio::test]
async fn every_dashboard_script_is_served_and_none_renders_data_as_html() {
    let dash = Dash::start().await;
    let (_, html) = dash.get("/", None).await;
    for panel in ["panel-audit", "panel-analytics", "audit-filters", "audit-verify", "chart-rate-bars", "chart-outcomes"] {
        assert!(html.contains(&format!("id=\"{panel}\"")), "the page has {panel}");
    }
    for page in ["overview", "events", "consumers", "modules", "audit", "analytics", "catalog"] {
        assert!(html.contains(&format!("href=\"#{page}\"")), "the navigation links to {page}");
    }
    for script in SCRIPTS {
        assert!(html.contains(&format!("src=\"/dashboard/{script}\"")), "index.html loads {script}");
        let resp = dash.client.get(dash.server.url(&format!("/dashboard/{script}"))).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{script}");
        let ct = resp.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/javascript"), "{script}: {ct}");
        let js = resp.text().await.unwrap();
        assert!(!js.contains("innerHTML") && !js.contains("insertAdjacentHTML"), "{script} never renders data as HTML");
        assert!(js.lines().count() < 600, "{script} stays under 600 lines");
    }
    let (status, _) = dash.get("/dashboard/secret.js", None).await;
    assert_eq!(status, 404, "only the embedded assets are served");
}

#[tokio::test]
async fn headless_chromium_audit_page_lists_events_proves_inclusion_and_verifies() {
    if !eventstream_testkit::require_tool("chromium", CHROMIUM) {
        return;
    }
    let dash = Dash::start().await;
    let ids = [dash.publish("a1", "audit-1").await, dash.publish("a2", "audit-1").await, dash.publish("a3", "audit-1").await];
    let proof = dash.proven(&ids[2]).await;
    let proof_of_second = dash.proven(&ids[1]).await;
    let (index, size) = (proof_of_second["leaf_index"].as_u64().unwrap(), proof_of_second["tree_size"].as_u64().unwrap());
    assert!(size > proof["leaf_index"].as_u64().unwrap(), "the checkpoint covers all three events");

    let dom = dash.dump(&format!("audit/event={}&verify=1", ids[1])).await;
    for id in &ids {
        assert!(dom.contains(&format!("data-audit-event=\"{id}\"")), "the audit log lists {id}:\n{dom}");
    }
    let inclusion = element(&dom, "audit-inclusion");
    assert!(inclusion.contains("data-status=\"included\""), "the event is proven in the browser: {inclusion}");
    assert!(inclusion.contains(&format!("included ✓ at index {index} of {size}")), "{inclusion}");
    assert!(inclusion.contains("checkpoint signature ✓ (brain.local/audit)"), "the signature is checked: {inclusion}");
    assert!(element(&dom, "audit-envelope").contains(&ids[1]), "the proven envelope is shown");
    let verify = element(&dom, "audit-verify-result");
    assert!(verify.contains("data-intact=\"true\"") && verify.contains("intact ✓"), "the verification ran and is intact: {verify}");
    assert!(element(&dom, "audit-checkpoint").contains("brain.local/audit\n"), "the checkpoint is shown");
    assert!(element(&dom, "audit-key").contains("brain.local/audit+"), "the verifier key is shown");

    // An operator edits the stored bytes of that event: the browser's own check and the verification
    // both refuse it.
    let db = StateStore::connect(&eventstream_sql::sqlite_url(&dash.server.dir().join("state.db"))).await.unwrap();
    let row = sqlx::query("SELECT bytes FROM audit_log WHERE idx = $1").bind(index as i64).fetch_one(db.pool()).await.unwrap();
    let original: Vec<u8> = row.get("bytes");
    let text = String::from_utf8(original).unwrap();
    assert!(text.contains("\"a2\""), "{text}");
    let edited = text.replace("\"a2\"", "\"a9\"");
    sqlx::query("UPDATE audit_log SET bytes = $1 WHERE idx = $2")
        .bind(edited.into_bytes())
        .bind(index as i64)
        .execute(db.pool())
        .await
        .unwrap();
    let dom = dash.dump(&format!("audit/event={}&verify=full", ids[1])).await;
    let inclusion = element(&dom, "audit-inclusion");
    assert!(inclusion.contains("data-status=\"failed\""), "an edited leaf does not prove: {inclusion}");
    assert!(inclusion.contains("the recomputed root differs"), "{inclusion}");
    let verify = element(&dom, "audit-verify-result");
    assert!(verify.contains("data-intact=\"false\""), "{verify}");
    assert!(verify.contains(&format!("row {index} of tree global is altered")), "the verification names the row: {verify}");
}

#[tokio::test]
async fn headless_chromium_analytics_page_draws_charts_with_data() {
    if !eventstream_testkit::require_tool("chromium", CHROMIUM) {
        return;
    }
    let dash = Dash::start().await;
    for i in 0..3 {
        dash.publish(&format!("an{i}"), "analytics-1").await;
    }
    dash.publish_json(json!({"type": "task.failed", "payload": {"task_id": "an0", "mission_type": "agent.chat",
        "error": "boom", "error_type": "RuntimeError", "retry_count": 3, "max_retries": 3, "will_retry": false,
        "duration_ms": 12.5, "failed_at": 1_767_225_600.0}}))
        .await;
    eventually("the analytics module counted the events", Duration::from_secs(20), || async {
        let (_, body) = dash.get("/api/analytics/modules?window=1h", Some(&dash.admin)).await;
        let v: Value = serde_json::from_str(&body).ok()?;
        let task = v["modules"].as_array()?.iter().find(|m| m["module"] == "task")?.clone();
        (task["created"].as_u64()? >= 3 && task["failed"].as_u64()? >= 1).then_some(())
    })
    .await;

    let dom = dash.dump("analytics/window=1h").await;
    let bars = element(&dom, "chart-rate-bars");
    assert!(bars.contains("<svg") && bars.contains("data-chart=\"bars\""), "the rate chart is an SVG: {bars}");
    assert!(bars.contains("data-key=\"task\""), "it has a bar for the task module: {bars}");
    let outcomes = element(&dom, "chart-outcomes");
    let bar = |series: &str| {
        let at = outcomes
            .find(&format!("data-key=\"task\" data-series=\"{series}\" data-value=\""))
            .unwrap_or_else(|| panic!("no {series} bar: {outcomes}"));
        let rest = &outcomes[at..];
        let value = rest.split("data-value=\"").nth(1).unwrap();
        value[..value.find('"').unwrap()].parse::<u64>().unwrap()
    };
    assert!(bar("created") >= 3, "{outcomes}");
    assert!(bar("failed") >= 1, "{outcomes}");
    let lines = element(&dom, "chart-rate-line");
    assert!(
        lines.contains("data-chart=\"lines\"") && lines.contains("data-series=\"task\""),
        "the line chart has the task module: {lines}"
    );
    let row = dom.split("data-module=\"task\"").nth(1).expect("the modules table lists task");
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(" %</td>"), "with its failure ratio: {row}");
}
