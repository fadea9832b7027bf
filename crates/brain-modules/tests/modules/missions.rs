//! missions: the routes, the state machine, the worker pool, the end-to-end run of 100 missions, and
//! leases: recovery of a lost worker's missions, renewal while an attempt runs, claims on PostgreSQL.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use brain_events::EventPayload;
use brain_events::mission::{MissionCreated, MissionLogAppended, MissionStatusChanged};
use brain_events::task::{TaskCancelled, TaskCreated, TaskStarted};
use brain_modules::missions::{MissionError, MissionService};
use eventstream_testkit::fixtures::eventually;
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
    one_hundred_missions(App::start(fast_config()).await, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_missions_on_postgres() {
    let Some(app) = App::start_postgres(fast_config()).await else { return };
    // On PostgreSQL the workers claim at once (`FOR UPDATE SKIP LOCKED`), so claims made together may
    // commit, and log their `task.started`, in either order; their claim times follow priority order.
    one_hundred_missions(app, Some(0.05)).await;
}

/// `tolerance`: `None`, first starts are logged in priority order; `Some(s)`, their `started_at` follow
/// priority order within `s` seconds (claims running at once commit in any order).
async fn one_hundred_missions(mut app: App, tolerance: Option<f64>) {
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
    match tolerance {
        None => assert_eq!(got, want),
        Some(tolerance) => {
            let mut sorted = got.clone();
            sorted.sort_unstable();
            let mut all = want.clone();
            all.sort_unstable();
            assert_eq!(sorted, all, "every mission starts once first");
            let started: HashMap<&str, f64> = of_type(&events, TaskStarted::TYPE)
                .into_iter()
                .filter(|e| field(e, "retry_count") == 0)
                .filter_map(|e| Some((field(e, "task_id").as_str()?, field(e, "started_at").as_f64()?)))
                .collect();
            let mut latest = f64::MIN;
            for id in &want {
                let at = started.get(id).copied().unwrap_or(f64::MAX);
                assert!(at >= latest - tolerance, "{id} was claimed at {at}, before a mission queued ahead of it ({latest})");
                latest = latest.max(at);
            }
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

/// A config whose mission leases expire after `lease`.
fn leased_config(lease: Duration) -> brain_modules::ModulesConfig {
    brain_modules::ModulesConfig { mission_lease: lease, ..fast_config() }
}

async fn mission_row(app: &App, id: &str) -> Value {
    let (status, m) = app.get(&format!("/api/missions/{id}")).await;
    assert_eq!(status, 200, "{m}");
    m
}

/// A worker claims two missions and dies (nobody renews its leases). After the leases expire the
/// recovery re-queues the first (the lost attempt counted, `reason` saying the worker was lost) and ends
/// the second, which has no retry left, `FAILED`. The dead worker's late report changes nothing; the
/// pool then runs the first mission to completion, once.
#[tokio::test]
async fn an_expired_lease_requeues_the_mission_and_counts_the_lost_attempt() {
    let mut app = App::start(leased_config(Duration::from_millis(300))).await;
    let (status, _) = app.post("/api/missions", json!({"id": "lost-1", "name": "retried", "priority": "HIGH"})).await;
    assert_eq!(status, 201);
    let (status, _) = app.post("/api/missions", json!({"id": "lost-2", "name": "no retry left", "max_retries": 0})).await;
    assert_eq!(status, 201);
    let missions = app.modules.missions().clone();
    let first = missions.claim_next().await.expect("claim").expect("a queued mission");
    let second = missions.claim_next().await.expect("claim").expect("a queued mission");
    assert_eq!((first.mission.id.as_str(), second.mission.id.as_str()), ("lost-1", "lost-2"));
    assert_eq!(first.lease.owner, missions.lease_owner());
    let m = mission_row(&app, "lost-1").await;
    assert_eq!((m["status"].as_str(), m["lease_owner"].as_str()), (Some("RUNNING"), Some(missions.lease_owner())));
    assert_eq!(missions.requeue_expired().await.expect("recover"), 0, "the leases have not expired yet");

    // The two leases were taken a moment apart, so they may expire in two different rounds.
    let recovered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    eventually("both leases expire", Duration::from_secs(10), || {
        let (missions, recovered) = (missions.clone(), recovered.clone());
        async move {
            let n = missions.requeue_expired().await.ok()?;
            (recovered.fetch_add(n, std::sync::atomic::Ordering::SeqCst) + n >= 2).then_some(())
        }
    })
    .await;
    assert_eq!(recovered.load(std::sync::atomic::Ordering::SeqCst), 2, "each lost attempt is recovered once");
    let m = mission_row(&app, "lost-1").await;
    assert_eq!((m["status"].as_str(), m["retry_count"].as_u64(), m.get("lease_owner")), (Some("PENDING"), Some(1), None));
    let m = mission_row(&app, "lost-2").await;
    assert_eq!((m["status"].as_str(), m["retry_count"].as_u64()), (Some("FAILED"), Some(1)));
    assert!(m["last_error"].as_str().is_some_and(|e| e.starts_with("worker lost")), "{m}");

    // The dead worker's report comes too late: its claim is gone.
    assert!(!missions.renew_lease(&first).await.expect("renew"));
    assert!(!missions.complete(&first, json!({"late": true}), 1.0).await.expect("complete"));
    assert!(!missions.fail(&second, "Late", "late", 1.0).await.expect("fail"));

    app.start_background();
    app.wait_get("/api/missions/lost-1", "the re-queued mission to complete", |m| m["status"] == "COMPLETED").await;
    let events =
        app.wait_events("the completion events", |ev| sequence(ev, "lost-1").last().is_some_and(|t| t == "mission.completed")).await;
    const CREATE: [&str; 3] = ["mission.log_appended", "mission.created", "task.created"];
    const START: [&str; 4] = ["task.started", "mission.log_appended", "mission.status_changed", "mission.started"];
    const LOST: [&str; 4] = ["task.failed", "mission.log_appended", "mission.status_changed", "task.retrying"];
    const SUCCESS: [&str; 4] = ["task.completed", "mission.log_appended", "mission.status_changed", "mission.completed"];
    const LOST_FINAL: [&str; 4] = ["task.failed", "mission.log_appended", "mission.status_changed", "mission.failed"];
    assert_eq!(sequence(&events, "lost-1"), [&CREATE[..], &START, &LOST, &START, &SUCCESS].concat());
    assert_eq!(sequence(&events, "lost-2"), [&CREATE[..], &START, &LOST_FINAL].concat());
    for (id, to) in [("lost-1", "PENDING"), ("lost-2", "FAILED")] {
        let change = of_type(&events, MissionStatusChanged::TYPE)
            .into_iter()
            .find(|e| field(e, "mission_id") == id && field(e, "old_status") == "RUNNING")
            .expect("the recovery's status change");
        assert_eq!(field(change, "new_status"), to);
        let reason = field(change, "reason").as_str().unwrap_or_default();
        assert!(reason.starts_with("worker lost") && reason.contains(missions.lease_owner()), "{reason}");
        let failed = of_type(&events, "task.failed").into_iter().find(|e| field(e, "task_id") == id).expect("task.failed");
        assert_eq!((field(failed, "error_type"), field(failed, "retry_count")), (&json!("WorkerLost"), &json!(1)));
    }
    let m = mission_row(&app, "lost-1").await;
    assert_eq!((m["retry_count"].as_u64(), m["result"]["attempt"].as_u64()), (Some(1), Some(2)));
    app.stop().await;
}

/// An attempt five times longer than the lease keeps its lease (renewed while it runs): it completes on
/// its first attempt and is never recovered.
#[tokio::test]
async fn a_running_attempt_renews_its_lease() {
    let mut app = App::start(leased_config(Duration::from_millis(200))).await;
    app.start_background();
    let (status, _) = app.post("/api/missions", json!({"id": "long-1", "name": "long", "data": {"simulate": {"duration_ms": 1000}}})).await;
    assert_eq!(status, 201);
    let m = app.wait_get("/api/missions/long-1", "the long mission to complete", |m| m["status"] == "COMPLETED").await;
    assert_eq!(m["retry_count"], 0, "{m}");
    let events = app.wait_events("the completion", |ev| !of_type(ev, "task.completed").is_empty()).await;
    assert_eq!(of_type(&events, TaskStarted::TYPE).len(), 1);
    assert!(of_type(&events, "task.failed").is_empty());
    assert_eq!(app.modules.missions().worker_state().recovered.load(std::sync::atomic::Ordering::SeqCst), 0);
    app.stop().await;
}

/// Two replicas (two services with their own consumer names) and eight workers claim 40 missions at once
/// on PostgreSQL: `FOR UPDATE SKIP LOCKED` gives every mission to exactly one of them, and no claim runs
/// into another (no `Concurrent` error, which a plain `SELECT` then `UPDATE` gives under contention).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_on_postgres_never_claim_the_same_mission() {
    let Some(app) = App::start_postgres(fast_config()).await else { return };
    for i in 0..40 {
        let (status, body) = app.post("/api/missions", json!({"id": format!("pg-{i:02}"), "name": "m"})).await;
        assert_eq!(status, 201, "{body}");
    }
    let replicas = [
        std::sync::Arc::new(MissionService::new(app.events.clone(), 3).with_lease("replica-a", Duration::from_secs(30))),
        std::sync::Arc::new(MissionService::new(app.events.clone(), 3).with_lease("replica-b", Duration::from_secs(30))),
    ];
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let service = replicas[w % 2].clone();
        workers.spawn(async move {
            let (mut claimed, mut collisions) = (Vec::new(), 0u32);
            loop {
                match service.claim_next().await {
                    Ok(Some(c)) => claimed.push((c.mission.id, c.lease.owner)),
                    Ok(None) => break,
                    Err(MissionError::Concurrent(_)) => collisions += 1,
                    Err(e) => panic!("claim failed: {e}"),
                }
            }
            (claimed, collisions)
        });
    }
    let (mut ids, mut owners, mut collisions) = (Vec::new(), BTreeMap::<String, String>::new(), 0);
    while let Some(done) = workers.join_next().await {
        let (claimed, c) = done.expect("worker task");
        collisions += c;
        for (id, owner) in claimed {
            ids.push(id.clone());
            owners.insert(id, owner);
        }
    }
    ids.sort();
    let want: Vec<String> = (0..40).map(|i| format!("pg-{i:02}")).collect();
    assert_eq!(ids, want, "every mission claimed exactly once");
    assert_eq!(collisions, 0, "claims never collide");
    for (id, owner) in &owners {
        let m = mission_row(&app, id).await;
        assert_eq!((m["status"].as_str(), m["lease_owner"].as_str()), (Some("RUNNING"), Some(owner.as_str())));
    }
    app.stop().await;
}

/// A state store from before leases: starting the modules on it adds the lease columns (and running
/// that twice changes nothing), and its missions run.
#[tokio::test]
async fn a_missions_table_from_before_leases_gets_the_lease_columns() {
    let mut app = App::start(fast_config()).await;
    let pool = app.events.store().pool().clone();
    let run = |sql: &'static str| {
        let pool = pool.clone();
        async move { eventstream::store::sqlx::query(sql).execute(&pool).await.map(|_| ()) }
    };
    // Back to the database as a version from before leases (and before migrations) left it: the table
    // without the lease columns, no record of the modules' migrations. `migrations.rs` starts from that
    // version's DDL itself.
    run("DROP TABLE brain_modules_migrations").await.expect("drop the migration record");
    run("DROP INDEX missions_leases").await.expect("drop index");
    for sql in [
        "ALTER TABLE missions DROP COLUMN lease_owner",
        "ALTER TABLE missions DROP COLUMN lease_until",
        "ALTER TABLE missions DROP COLUMN claim_id",
    ] {
        run(sql).await.expect("drop column");
    }
    assert!(run("SELECT lease_until FROM missions").await.is_err());
    for _ in 0..2 {
        brain_modules::Modules::init(app.events.clone(), app.log.clone(), app.modules.catalog().clone(), fast_config())
            .await
            .expect("init on the old table");
    }
    run("SELECT lease_owner, lease_until, claim_id FROM missions").await.expect("the lease columns exist");
    app.start_background();
    let (status, _) = app.post("/api/missions", json!({"id": "old-1", "name": "m"})).await;
    assert_eq!(status, 201);
    app.wait_get("/api/missions/old-1", "the mission to complete", |m| m["status"] == "COMPLETED").await;
    app.stop().await;
}
