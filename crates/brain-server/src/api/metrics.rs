//! `/metrics`: Prometheus text exposition, rendered by hand from the counters this process holds and a
//! few state-store aggregates (no global recorder).
//!
//! | metric | type | source |
//! |---|---|---|
//! | `brain_events_published_total{type}` | counter | events the index subscriber read from the log in this process (every producer) |
//! | `brain_api_events_published_total{type}` | counter | events published through this server's API |
//! | `brain_publish_latency_seconds` | histogram | API publish: append until durable |
//! | `brain_events_consumed{subscriber,type}` | gauge | inbox rows (events processed, within inbox retention) |
//! | `brain_events_failed{subscriber,type}` | gauge | dead letters by event type (every status) |
//! | `brain_subscriber_processed_total{subscriber}` and `_failures_total`, `_dead_lettered_total`, `_duplicates_total` | counter | subscribers running here |
//! | `brain_subscriber_in_flight{subscriber}` | gauge | subscribers running here |
//! | `brain_consumer_lag{subscriber}`, `brain_consumer_pending{subscriber}` | gauge | the log's consumer groups |
//! | `brain_outbox_depth`, `brain_outbox_oldest_age_seconds` | gauge | the publisher's outboxes |
//! | `brain_dead_letters{subscriber,status}` | gauge | the dead-letter table |
//! | `brain_auth_failures_total` | counter | requests with an unknown or revoked key |
//! | `brain_up{component}` | gauge | 1 when the log / state store answered this scrape |

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use brain_http::{ApiError, Principal, Role};

use crate::server::AppState;

/// Upper bounds of the publish latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Counters the API keeps.
#[derive(Debug, Default)]
pub(crate) struct ApiMetrics {
    published: Mutex<BTreeMap<String, u64>>,
    /// Per bucket (non-cumulative), plus the overflow bucket last.
    latency_buckets: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    latency_count: AtomicU64,
}

impl ApiMetrics {
    /// Records one API publish of `event_type` that took `took`.
    pub(crate) fn observe_publish(&self, event_type: &str, took: Duration) {
        if let Ok(mut m) = self.published.lock() {
            *m.entry(event_type.to_owned()).or_insert(0) += 1;
        }
        let secs = took.as_secs_f64();
        let i = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Escapes a label value.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `GET /metrics` (a `metrics` or `admin` key: the numbers span every tenant). Parts whose backend does
/// not answer are left out (and `brain_up` says so): a scrape never fails.
pub(crate) async fn render(State(state): State<AppState>, principal: Principal) -> Response {
    if !matches!(principal.role, Role::Metrics | Role::Admin) {
        return ApiError::forbidden("/metrics needs a metrics or admin key").into_response();
    }
    let mut out = String::new();

    header(
        &mut out,
        "brain_events_published_total",
        "counter",
        "Events appended to the log (by any producer), counted by this process's event index subscriber.",
    );
    for (t, n) in state.index.seen_by_type() {
        let _ = writeln!(out, "brain_events_published_total{{type=\"{}\"}} {n}", esc(&t));
    }
    header(&mut out, "brain_api_events_published_total", "counter", "Events published through this server's HTTP API.");
    let api_published = state.metrics.published.lock().map(|m| m.clone()).unwrap_or_default();
    for (t, n) in &api_published {
        let _ = writeln!(out, "brain_api_events_published_total{{type=\"{}\"}} {n}", esc(t));
    }

    header(&mut out, "brain_publish_latency_seconds", "histogram", "Time from an API publish call until the event is durable in the log.");
    let mut cumulative = 0u64;
    for (i, b) in BUCKETS.iter().enumerate() {
        cumulative += state.metrics.latency_buckets[i].load(Ordering::Relaxed);
        let _ = writeln!(out, "brain_publish_latency_seconds_bucket{{le=\"{b}\"}} {cumulative}");
    }
    cumulative += state.metrics.latency_buckets[BUCKETS.len()].load(Ordering::Relaxed);
    let _ = writeln!(out, "brain_publish_latency_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
    let sum = state.metrics.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(out, "brain_publish_latency_seconds_sum {sum}");
    let _ = writeln!(out, "brain_publish_latency_seconds_count {}", state.metrics.latency_count.load(Ordering::Relaxed));

    let store_up = match state.store.processed_counts_by_type().await {
        Ok(rows) => {
            header(
                &mut out,
                "brain_events_consumed",
                "gauge",
                "Events processed, by subscriber and type (counted as their inbox rows are written; retention does not lower it).",
            );
            for c in rows {
                let _ = writeln!(
                    out,
                    "brain_events_consumed{{subscriber=\"{}\",type=\"{}\"}} {}",
                    esc(&c.subscriber),
                    esc(&c.event_type),
                    c.count
                );
            }
            true
        }
        Err(e) => {
            tracing::warn!(error = %eventstream_core::error::chain(&e), "metrics: cannot count processed events");
            false
        }
    };
    if let Ok(rows) = state.store.dead_letter_counts_by_type().await {
        header(
            &mut out,
            "brain_events_failed",
            "gauge",
            "Events that failed for good (dead letters of every status), by subscriber and type.",
        );
        for c in rows {
            let _ =
                writeln!(out, "brain_events_failed{{subscriber=\"{}\",type=\"{}\"}} {}", esc(&c.subscriber), esc(&c.event_type), c.count);
        }
    }

    let subs: Vec<_> = state.consumers.iter().map(|c| (c.name.to_string(), c.stats.snapshot())).collect();
    for (name, kind, help, get) in [
        (
            "brain_subscriber_processed_total",
            "counter",
            "Events handled successfully by subscribers running here.",
            (|s: &eventstream::StatsSnapshot| s.processed) as fn(&eventstream::StatsSnapshot) -> u64,
        ),
        ("brain_subscriber_duplicates_total", "counter", "Deliveries skipped as duplicates by subscribers running here.", |s| s.duplicates),
        ("brain_subscriber_failures_total", "counter", "Handler failures (each attempt) of subscribers running here.", |s| s.failures),
        ("brain_subscriber_dead_lettered_total", "counter", "Events dead-lettered by subscribers running here.", |s| s.dead_lettered),
        ("brain_subscriber_in_flight", "gauge", "Deliveries being handled now by subscribers running here.", |s| s.in_flight),
    ] {
        header(&mut out, name, kind, help);
        for (sub, snap) in &subs {
            let _ = writeln!(out, "{name}{{subscriber=\"{}\"}} {}", esc(sub), get(snap));
        }
    }

    let log_up = match state.log.groups().await {
        Ok(groups) => {
            header(&mut out, "brain_consumer_lag", "gauge", "Events a subscriber has not acknowledged yet (pending + undelivered).");
            for g in &groups {
                let _ = writeln!(out, "brain_consumer_lag{{subscriber=\"{}\"}} {}", esc(g.name.as_str()), g.lag());
            }
            header(&mut out, "brain_consumer_pending", "gauge", "Events delivered to a subscriber and not acknowledged yet.");
            for g in &groups {
                let _ = writeln!(out, "brain_consumer_pending{{subscriber=\"{}\"}} {}", esc(g.name.as_str()), g.pending);
            }
            true
        }
        Err(e) => {
            tracing::warn!(error = %eventstream_core::error::Chain(&e), "metrics: cannot read consumer groups");
            false
        }
    };

    if let Ok((depth, oldest)) = state.events.outbox_stats().await {
        header(&mut out, "brain_outbox_depth", "gauge", "Events waiting in the outboxes for the log.");
        let _ = writeln!(out, "brain_outbox_depth {depth}");
        header(&mut out, "brain_outbox_oldest_age_seconds", "gauge", "Age of the oldest outbox row (0 when empty).");
        let _ = writeln!(out, "brain_outbox_oldest_age_seconds {}", oldest.map_or(0.0, |d| d.as_secs_f64()));
    }

    if let Ok(counts) = state.store.dead_letter_counts(None).await {
        header(&mut out, "brain_dead_letters", "gauge", "Dead letters by subscriber and status.");
        for c in &counts {
            for (status, n) in [("open", c.open), ("retried", c.retried), ("discarded", c.discarded)] {
                let _ = writeln!(out, "brain_dead_letters{{subscriber=\"{}\",status=\"{status}\"}} {n}", esc(c.subscriber.as_str()));
            }
        }
    }

    header(&mut out, "brain_auth_failures_total", "counter", "Requests with an unknown or revoked API key.");
    let _ = writeln!(out, "brain_auth_failures_total {}", state.guards.failures.total.load(Ordering::Relaxed));

    header(&mut out, "brain_up", "gauge", "1 when the component answered this scrape.");
    let _ = writeln!(out, "brain_up{{component=\"log\"}} {}", u8::from(log_up));
    let _ = writeln!(out, "brain_up{{component=\"state_store\"}} {}", u8::from(store_up));

    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
