//! metrics: the aggregation job reads mission events from the log and reports its runs.

use brain_events::EventPayload;
use brain_events::metrics::{MetricsAggregationCompleted, MetricsAggregationStarted};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

#[tokio::test]
async fn aggregation_counts_mission_statuses_from_the_log_and_reports_its_runs() {
    let app = App::start(fast_config()).await;
    for (id, to) in [("a", Some("RUNNING")), ("b", None), ("c", Some("CANCELLED"))] {
        let (status, _) = app.post("/api/missions", json!({"id": id, "name": id})).await;
        assert_eq!(status, 201);
        if let Some(to) = to {
            let (status, _) = app.call(Method::POST, &format!("/api/missions/{id}/status?mission_status={to}"), TENANT, None, None).await;
            assert_eq!(status, 200);
        }
    }
    // Another tenant's mission is not counted in this tenant's run.
    app.call(Method::POST, "/api/missions", "other", None, Some(json!({"id": "x", "name": "x"}))).await;
    app.wait_events("the mission events", |ev| of_type(ev, "mission.cancelled").len() == 1 && of_type(ev, "mission.created").len() == 4)
        .await;

    let (status, run) = app.call(Method::POST, "/api/metrics/aggregate", TENANT, Some("corr-agg"), None).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["status_counts"], json!({"CANCELLED": 1, "PENDING": 1, "RUNNING": 1}));
    // 3 creates (log + created) + 2 status changes (log + changed + legacy type) = 12 mission events.
    assert_eq!(run["entries_processed"], 12);
    let (status, results) = app.get("/api/metrics/results").await;
    assert_eq!(status, 200);
    assert_eq!((results["total_missions"].as_u64(), results["last_run"]["entries_processed"].as_u64()), (Some(3), Some(12)));

    // A second run processes only what is new.
    let (_, again) = app.call(Method::POST, "/api/metrics/aggregate", TENANT, Some("corr-agg-2"), None).await;
    assert_eq!(again["entries_processed"], 0);

    let events = app.wait_events("metrics events", |ev| of_type(ev, MetricsAggregationCompleted::TYPE).len() == 2).await;
    let started = of_type(&events, MetricsAggregationStarted::TYPE)[0];
    assert_envelope(started, MetricsAggregationStarted::SOURCE, TENANT, Some("corr-agg"));
    assert_eq!(field(started, "job_id"), "aggregate_mission_metrics");
    assert!(field(started, "started_at").is_f64());
    let done = of_type(&events, MetricsAggregationCompleted::TYPE)[0];
    assert_envelope(done, MetricsAggregationCompleted::SOURCE, TENANT, Some("corr-agg"));
    assert_eq!((field(done, "job_id"), field(done, "entries_processed")), (&json!("aggregate_mission_metrics"), &json!(12)));
    assert!(field(done, "duration_ms").as_f64().unwrap_or(-1.0) >= 0.0);
    assert_eq!(field(done, "status_counts"), &json!({"CANCELLED": 1, "PENDING": 1, "RUNNING": 1}));
    app.stop().await;
}
