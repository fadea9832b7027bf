//! missions: the routes, the state machine, the worker pool, and the end-to-end run of 100 missions.

use std::collections::{BTreeMap, HashMap};

use brain_events::EventPayload;
use brain_events::mission::{MissionCreated, MissionLogAppended, MissionStatusChanged};
use brain_events::task::{TaskCancelled, TaskCreated, TaskStarted};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

/// The `task.*`/`mission.*` types of one mission, in log order.
fn sequence(events: &[eventstream_core::Event], id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.mission_id.as_deref() == Some(id))
        .filter(|e| matches!(e.event_type.namespace(), "task" | "mission"))
        .map(|e| e.event_type.as_str().to_owned())
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn mission_routes_follow_the_state_machine_and_emit_their_events() {
    let app = App::start(fast_config()).await;
    let corr = Some("corr-missions-1");
    let (status, m) = app
        .call(
            Method::POST,
            "/api/missions",
            TENANT,
            corr,
            Some(json!({"id": "m-1", "name": "Survey", "description": "north field", "priority": "HIGH", "data": {"k": 1}})),
        )
        .await;
    assert_eq!(status, 201, "{m}");
    assert_eq!(m["status"], "PENDING");
    assert_eq!(m["priority"], 30);
    let (status, again) = app.call(Method::POST, "/api/missions", TENANT, corr, Some(json!({"id": "m-1", "name": "dup"}))).await;
    assert_eq!((status, again["code"].as_str()), (409, Some("mission_exists")));

    let (status, got) = app.get("/api/missions/m-1").await;
    assert_eq!((status, got["name"].as_str()), (200, Some("Survey")));
    // Another tenant does not see it.
    let (status, _) = app.call(Method::GET, "/api/missions/m-1", "other", None, None).await;
    assert_eq!(status, 404);

    let (status, _) =
        app.call(Method::POST, "/api/missions/m-1/log", TENANT, corr, Some(json!({"message": "checking", "level": "warning"}))).await;
    assert_eq!(status, 202);
    let (status, r) = app.call(Method::POST, "/api/missions/m-1/status?mission_status=RUNNING", TENANT, corr, None).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("RUNNING")));
    let (status, r) = app.call(Method::POST, "/api/missions/m-1/status?mission_status=COMPLETED", TENANT, corr, None).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("COMPLETED")));
    let (status, r) = app.call(Method::POST, "/api/missions/m-1/status?mission_status=RUNNING", TENANT, corr, None).await;
    assert_eq!((status, r["code"].as_str()), (409, Some("illegal_transition")));
    let (status, r) = app.call(Method::POST, "/api/missions/m-1/cancel", TENANT, corr, None).await;
    assert_eq!((status, r["code"].as_str()), (409, Some("illegal_transition")));

    let (status, log) = app.get("/api/missions/m-1/log").await;
    assert_eq!(status, 200);
    let messages: Vec<&str> = log["log"].as_array().map(|a| a.iter().filter_map(|e| e["message"].as_str()).collect()).unwrap_or_default();
    assert_eq!(messages, ["Mission created", "checking", "Mission status changed", "Mission status changed"]);

    // The legacy queue: enqueue, preview, cancel.
    let (status, q) = app
        .call(
            Method::POST,
            "/api/missions/enqueue",
            TENANT,
            Some("corr-legacy"),
            Some(json!({"type": "agent.chat", "payload": {"message": "hi"}, "priority": 40, "created_by": "tester"})),
        )
        .await;
    assert_eq!((status, q["status"].as_str()), (200, Some("queued")));
    let legacy_id = q["mission_id"].as_str().unwrap_or_default().to_owned();
    let (_, queue) = app.get("/api/missions/queue?limit=5").await;
    assert_eq!(queue["length"], 1);
    assert_eq!(queue["items"][0]["id"].as_str(), Some(legacy_id.as_str()));
    assert_eq!(queue["items"][0]["score"], 40.0);
    let (status, c) = app.call(Method::POST, &format!("/api/missions/{legacy_id}/cancel"), TENANT, Some("corr-legacy"), None).await;
    assert_eq!((status, c["status"].as_str()), (200, Some("CANCELLED")));
    let (_, queue) = app.get("/api/missions/queue").await;
    assert_eq!(queue["length"], 0);

    let (_, stats) = app.get("/api/missions/stats/overview").await;
    assert_eq!(stats["stats"]["total"], 2);
    assert_eq!(stats["stats"]["by_status"]["COMPLETED"], 1);
    assert_eq!(stats["stats"]["by_status"]["CANCELLED"], 1);
    let (_, list) = app.get("/api/missions?status=completed").await;
    assert_eq!(list["missions"].as_array().map(Vec::len), Some(1));
    let (_, worker) = app.get("/api/missions/worker/status").await;
    assert_eq!(worker["running"], false);

    let events =
        app.wait_events("the cancel events", |ev| of_type(ev, TaskCancelled::TYPE).len() == 1 && sequence(ev, "m-1").len() == 10).await;
    assert_eq!(
        sequence(&events, "m-1"),
        strs(&[
            "mission.log_appended",
            "mission.created",
            "task.created",
            "mission.log_appended",
            "mission.log_appended",
            "mission.status_changed",
            "mission.started",
            "mission.log_appended",
            "mission.status_changed",
            "mission.completed",
        ])
    );
    let m1: Vec<_> = events.iter().filter(|e| e.mission_id.as_deref() == Some("m-1")).collect();
    for e in &m1 {
        assert_envelope(e, e.source.as_str(), TENANT, Some("corr-missions-1"));
        assert_eq!(e.actor_id.as_deref(), Some("test-key"));
    }
    let created = of_type(&events, MissionCreated::TYPE).into_iter().find(|e| field(e, "mission_id") == "m-1").expect("mission.created");
    assert_envelope(created, MissionCreated::SOURCE, TENANT, Some("corr-missions-1"));
    let p = MissionCreated::from_event(created).expect("decodes");
    assert_eq!(
        (p.name.as_str(), p.description.as_str(), p.status),
        ("Survey", "north field", brain_events::mission::MissionStatus::Pending)
    );
    let task_created = of_type(&events, TaskCreated::TYPE).into_iter().find(|e| field(e, "task_id") == "m-1").expect("task.created");
    assert_envelope(task_created, TaskCreated::SOURCE, TENANT, Some("corr-missions-1"));
    assert_eq!(field(task_created, "priority"), "HIGH");
    let changes: Vec<(Value, Value)> = of_type(&events, MissionStatusChanged::TYPE)
        .into_iter()
        .filter(|e| field(e, "mission_id") == "m-1")
        .map(|e| (field(e, "old_status").clone(), field(e, "new_status").clone()))
        .collect();
    assert_eq!(changes, vec![(json!("PENDING"), json!("RUNNING")), (json!("RUNNING"), json!("COMPLETED"))]);
    let warn = of_type(&events, MissionLogAppended::TYPE).into_iter().find(|e| field(e, "message") == "checking").expect("log event");
    assert_eq!(field(warn, "log_level"), "warning");
    assert!(field(warn, "appended_at").is_f64());
    let legacy = sequence(&events, &legacy_id);
    assert_eq!(
        legacy,
        strs(&[
            "mission.log_appended",
            "mission.created",
            "task.created",
            "mission.log_appended",
            "mission.status_changed",
            "mission.cancelled",
            "task.cancelled"
        ])
    );
    let tc =
        of_type(&events, TaskCreated::TYPE).into_iter().find(|e| field(e, "task_id") == legacy_id.as_str()).expect("legacy task.created");
    assert_eq!((field(tc, "created_by"), field(tc, "priority")), (&json!("tester"), &json!("CRITICAL")));
    assert_eq!(tc.correlation_id.as_deref(), Some("corr-legacy"));
    app.stop().await;
}

/// 100 missions of mixed priorities; some fail once, some always. They start in priority order, FIFO
/// within a priority; retries and final failures give exact event sequences; the supervisor's projection
/// and the metrics aggregation agree with the mission table.
#[tokio::test]
async fn one_hundred_missions_run_in_priority_order_with_retries_and_agreeing_statistics() {
    one_hundred_missions(App::start(fast_config()).await, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_missions_on_postgres() {
    let Some(app) = App::start_postgres(fast_config()).await else { return };
    // On PostgreSQL the workers claim at once (`FOR UPDATE SKIP LOCKED`), so claims made together may
    // commit, and log their `task.started`, in either order: at most `workers - 1` places apart.
    let slack = fast_config().mission_workers - 1;
    one_hundred_missions(app, slack).await;
}

/// `slack`: how far (in places) a first start may be from its place in priority order.
async fn one_hundred_missions(mut app: App, slack: usize) {
    let priorities = [10, 20, 30, 40];
    let mut expected: Vec<(i64, usize, String)> = Vec::new();
    let mut kind: HashMap<String, &str> = HashMap::new();
    for i in 0..100usize {
        let priority = priorities[(i * 7 + i / 3) % 4];
        let (data, max_retries, k) = match i % 10 {
            3 => (json!({"simulate": {"fail_attempts": 1}}), 3, "retry_once"),
            7 => (json!({"simulate": {"always_fail": true}}), 2, "always_fail"),
            _ => (json!({"n": i}), 3, "ok"),
        };
        let (status, body) = app
            .call(
                Method::POST,
                "/api/missions",
                TENANT,
                Some("corr-e2e"),
                Some(json!({"name": format!("m{i}"), "priority": priority, "data": data, "max_retries": max_retries})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().unwrap_or_default().to_owned();
        kind.insert(id.clone(), k);
        expected.push((priority, i, id));
    }
    app.start_background();
    let stats = app
        .wait_get("/api/missions/stats/overview", "all missions to finish", |b| {
            b["stats"]["by_status"]["COMPLETED"].as_u64().unwrap_or(0) + b["stats"]["by_status"]["FAILED"].as_u64().unwrap_or(0) == 100
        })
        .await;
    let by_status = stats["stats"]["by_status"].clone();
    assert_eq!(by_status["FAILED"], 10);
    assert_eq!(by_status["COMPLETED"], 90);

    let events = app
        .wait_events("every final event", |ev| of_type(ev, "mission.completed").len() == 90 && of_type(ev, "mission.failed").len() == 10)
        .await;

    // First attempts start in priority order, FIFO within a priority.
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let want: Vec<&str> = expected.iter().map(|(_, _, id)| id.as_str()).collect();
    let got: Vec<&str> = of_type(&events, TaskStarted::TYPE)
        .into_iter()
        .filter(|e| field(e, "retry_count") == 0)
        .filter_map(|e| field(e, "task_id").as_str())
        .collect();
    if slack == 0 {
        assert_eq!(got, want);
    } else {
        assert_eq!(got.len(), want.len(), "every mission starts once first");
        for (place, id) in got.iter().enumerate() {
            let expected = want.iter().position(|w| w == id).unwrap_or(usize::MAX);
            assert!(expected.abs_diff(place) <= slack, "{id} started at {place}, its place in priority order is {expected}");
        }
    }

    const CREATE: [&str; 3] = ["mission.log_appended", "mission.created", "task.created"];
    const START: [&str; 4] = ["task.started", "mission.log_appended", "mission.status_changed", "mission.started"];
    const SUCCESS: [&str; 4] = ["task.completed", "mission.log_appended", "mission.status_changed", "mission.completed"];
    const RETRY: [&str; 4] = ["task.failed", "mission.log_appended", "mission.status_changed", "task.retrying"];
    const FINAL: [&str; 4] = ["task.failed", "mission.log_appended", "mission.status_changed", "mission.failed"];
    for (id, k) in &kind {
        let parts: Vec<&[&str]> = match *k {
            "ok" => vec![&CREATE, &START, &SUCCESS],
            "retry_once" => vec![&CREATE, &START, &RETRY, &START, &SUCCESS],
            _ => vec![&CREATE, &START, &RETRY, &START, &RETRY, &START, &FINAL],
        };
        let want: Vec<String> = parts.concat().into_iter().map(str::to_owned).collect();
        assert_eq!(sequence(&events, id), want, "mission {id} ({k})");
        let mine: Vec<_> = events.iter().filter(|e| e.mission_id.as_deref() == Some(id.as_str())).collect();
        assert!(
            mine.iter()
                .all(|e| e.tenant_id.as_ref().map(|t| t.as_str()) == Some(TENANT) && e.correlation_id.as_deref() == Some("corr-e2e"))
        );
        if *k == "always_fail" {
            let failed: Vec<_> = mine.iter().filter(|e| e.event_type.as_str() == "task.failed").collect();
            let counts: Vec<(Value, Value)> =
                failed.iter().map(|e| (field(e, "retry_count").clone(), field(e, "will_retry").clone())).collect();
            assert_eq!(counts, vec![(json!(1), json!(true)), (json!(2), json!(true)), (json!(3), json!(false))]);
            assert!(failed.iter().all(|e| field(e, "error_type") == "SimulatedFailure" && field(e, "max_retries") == 2));
            let retrying: Vec<Value> =
                mine.iter().filter(|e| e.event_type.as_str() == "task.retrying").map(|e| field(e, "next_attempt").clone()).collect();
            assert_eq!(retrying, vec![json!(2), json!(3)]);
            let starts: Vec<Value> =
                mine.iter().filter(|e| e.event_type.as_str() == "task.started").map(|e| field(e, "retry_count").clone()).collect();
            assert_eq!(starts, vec![json!(0), json!(1), json!(2)]);
            let (_, m) = app.get(&format!("/api/missions/{id}")).await;
            assert_eq!((m["status"].as_str(), m["retry_count"].as_u64()), (Some("FAILED"), Some(3)));
        }
    }

    // The supervisor's projection agrees with the mission table.
    let sup = app
        .wait_get("/api/supervisor/status", "the supervisor projection", |b| b["completed_missions"] == 90 && b["failed_missions"] == 10)
        .await;
    assert_eq!(
        (sup["total_missions"].as_u64(), sup["running_missions"].as_u64(), sup["pending_missions"].as_u64()),
        (Some(100), Some(0), Some(0))
    );
    assert_eq!(sup["task_events"]["retrying"], 30);
    assert_eq!(sup["task_events"]["started"], 130);

    // So does the metrics aggregation of the mission events in the log.
    let (status, run) = app.call(Method::POST, "/api/metrics/aggregate", TENANT, Some("corr-metrics"), None).await;
    assert_eq!(status, 200, "{run}");
    let table: BTreeMap<String, u64> = by_status
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| (k.clone(), n))).collect())
        .unwrap_or_default();
    let agg: BTreeMap<String, u64> = serde_json::from_value(run["status_counts"].clone()).unwrap_or_default();
    assert_eq!(agg, table);
    let mission_events = events.iter().filter(|e| e.event_type.namespace() == "mission").count() as u64;
    assert!(run["entries_processed"].as_u64().unwrap_or(0) >= mission_events);
    app.stop().await;
}
