//! `brain demo` against a fresh `brain serve`: after a short run every dashboard page has data, read back
//! through the API (events of every module, open dead letters, completed and failed missions, credit
//! balances, robots, approvals, security alerts).

use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::Value;

use super::support::{Server, brain, run};

async fn get(http: &Client, server: &Server, key: &str, path: &str) -> (u16, Value) {
    let resp = http.get(server.url(path)).bearer_auth(key).send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Polls `path` until `ok` holds for its body (bounded), and returns it.
async fn until(http: &Client, server: &Server, key: &str, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(http, server, key, path).await;
        if status == 200 && ok(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{what}: {path} answered {status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn len(v: &Value, key: &str) -> usize {
    v[key].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_demo_leaves_data_on_every_dashboard_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--demo-failing-subscriber"]);
    let key = server.admin_key().expect("a fresh server prints its admin key");
    assert!(server.startup.iter().any(|l| l.contains("DEMO AID")), "the demo aid says what it is: {:?}", server.startup);

    let mut cmd = brain(dir.path());
    cmd.args(["demo", "--url", &server.base, "--key", &key, "--seconds", "10", "--seed", "3", "--json"]);
    let out = tokio::task::spawn_blocking(move || run(&mut cmd)).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "brain demo failed: {stderr}");
    assert!(stderr.contains("actions"), "progress on stderr: {stderr}");
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("--json report ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(report["dashboard"], Value::String(format!("{}/#key={key}", server.base)));
    assert!(report["unexpected"].as_object().is_some_and(|m| m.keys().all(|k| !k.contains(": 5"))), "no 5xx: {report}");
    for kind in [
        "mission.created",
        "hardware.command_sent",
        "telemetry.metrics_sent",
        "credits.allocated",
        "credits.consumed",
        "dna.snapshot_created",
        "dna.mutation_applied",
        "ir.approval_created",
        "ir.approval_invalid",
        "policy.denied",
    ] {
        assert!(report["actions"][kind].as_u64().is_some_and(|n| n > 0), "the report counts {kind}: {report}");
    }
    let course = &report["actions"];
    assert!(
        course.get("course.generation_completed").is_some()
            || course.get("course.generation_skipped").is_some()
            || course.get("course.generation_blocked").is_some(),
        "course generation is played or reported as skipped: {report}"
    );

    let http = Client::new();
    // Events page: every module the demo drives has events.
    for ns in ["mission", "credits", "hardware", "telemetry", "dna", "ir", "policy"] {
        until(&http, &server, &key, &format!("/api/events?type={ns}.*&limit=1"), &format!("{ns}.* events"), |b| len(b, "events") > 0).await;
    }
    // Consumers & dead letters: the failing subscriber's open letters.
    let dlq = until(&http, &server, &key, "/api/dlq?status=open&limit=100", "open dead letters", |b| len(b, "dead_letters") > 0).await;
    assert!(dlq["dead_letters"].as_array().unwrap().iter().any(|d| d["subscriber"] == "demo_webhook"), "{dlq}");
    // Modules: missions completed and failed, balances, robots, approvals, alerts.
    let stats = until(&http, &server, &key, "/api/missions/stats/overview", "completed and failed missions", |b| {
        b["stats"]["by_status"]["COMPLETED"].as_u64().unwrap_or(0) > 0 && b["stats"]["by_status"]["FAILED"].as_u64().unwrap_or(0) > 0
    })
    .await;
    assert!(stats["stats"]["total"].as_u64().unwrap_or(0) >= 2, "{stats}");
    let accounts = until(&http, &server, &key, "/api/credits/accounts", "credit accounts", |b| b.to_string().contains("agent-")).await;
    assert!(accounts.to_string().contains("balance"), "{accounts}");
    for robot in ["go2-alpha", "go2-bravo", "go2-charlie"] {
        let (status, _) = get(&http, &server, &key, &format!("/api/hardware/robots/{robot}/state")).await;
        assert_eq!(status, 200, "robot {robot} has a state");
    }
    until(&http, &server, &key, "/api/telemetry/robots/go2-alpha/metrics", "telemetry of go2-alpha", |b| !b.is_null()).await;
    until(&http, &server, &key, "/api/ir/approvals/stats", "approvals issued", |b| b["total"].as_u64().unwrap_or(0) > 0).await;
    let alerts = until(&http, &server, &key, "/api/security/alerts", "a security alert", |b| len(b, "alerts") > 0).await;
    assert!(alerts.to_string().contains("ir_approval_invalid"), "the invalid tokens tripped the rule: {alerts}");
    let (_, denied) = get(&http, &server, &key, "/api/events?type=policy.denied&limit=1").await;
    assert_eq!(len(&denied, "events"), 1, "a policy deny: {denied}");
}
