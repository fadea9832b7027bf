//! The web dashboard at `/` and the gauges it shows, `GET /api/stats`.
//!
//! The page is one static document (HTML, CSS and vanilla JS split into a few scripts, embedded in the
//! binary with `include_str!`: no build step, no CDN) with pages chosen by the URL fragment: Overview
//! (gauges, rates by type, and SVG charts over 15 min / 1 h / 24 h of events/s by module, lag per
//! subscriber, open dead letters and outbox depth, from the server's sampler in [`series`], live over
//! SSE), Events (filters, server-side pages), an event's page (envelope, payload, correlation chain as a
//! timeline with causation links, audit inclusion checked in the browser), Consumers & dead letters
//! (retry or discard one or the ticked ones, the error chain), Modules (mission queue and workers,
//! pending approvals, credit balances, robots' last state), Audit (browse the audit log, the latest
//! checkpoint and verifier key, an event's inclusion proof checked in the browser with WebCrypto,
//! `POST /api/audit/verify`), Analytics (SVG charts of the analytics module's rates and outcomes) and
//! Catalog. Every list is read one server-side page at a time (`limit` + `cursor`), so the page stays
//! usable with millions of events. Serving it needs no key: it holds no data. The page asks for an
//! API key once (kept in the tab's `sessionStorage`, or in `localStorage` when the user ticks "Remember";
//! "Forget key" and any 401 remove it; or taken from the URL fragment `#key=KEY`, which never reaches
//! the server, after a confirmation when a different key is stored) and then calls the JSON API with `Authorization: Bearer KEY`, like any
//! client; it sees what that key may see. The live tails use `EventSource`, which cannot send headers, so
//! `GET /api/events/stream` and `GET /api/stats/series/stream` also accept `?access_token=KEY` (see
//! [`crate::api::auth`]).
//!
//! Fragment (for links and tests): `#<page>[/<options>]` or `#<page>?<options>` with options as URL
//! parameters; `key=KEY` stores the key and removes it from the address bar; `live=off` skips the live
//! tails (an open `EventSource` keeps headless Chromium's virtual time from advancing);
//! `#overview/window=15m|1h|24h`; `#events?type=task.*&source=..&correlation_id=..&since=1h`;
//! `#event/ID` opens that event's page (also the legacy `#events/event=ID` and `#key=KEY&event=ID`);
//! `#consumers?status=open|retried|discarded`; `#audit/event=ID` checks that event's inclusion and
//! `verify=1|full` runs a verification; `#analytics/window=1m|1h|24h` picks the window.
//!
//! The page renders every piece of event data with `textContent` / text nodes, never as HTML.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use brain_http::Principal;
use serde_json::{Value, json};

use crate::server::AppState;

pub(crate) mod series;

/// The page.
const INDEX_HTML: &str = include_str!("index.html");
/// The page's scripts and style sheet, served under `/dashboard/<name>`: `(name, content type, body)`.
/// `index.html` loads the scripts in this order (`core.js` first, `app.js`, which starts the page, last).
const ASSETS: &[(&str, &str, &str)] = &[
    ("core.js", JS, include_str!("core.js")),
    ("proof.js", JS, include_str!("proof.js")),
    ("charts.js", JS, include_str!("charts.js")),
    ("audit.js", JS, include_str!("audit.js")),
    ("analytics.js", JS, include_str!("analytics.js")),
    ("overview.js", JS, include_str!("overview.js")),
    ("events.js", JS, include_str!("events.js")),
    ("consumers.js", JS, include_str!("consumers.js")),
    ("modules.js", JS, include_str!("modules.js")),
    ("app.js", JS, include_str!("app.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("style.css")),
];
const JS: &str = "text/javascript; charset=utf-8";

/// Everything the page loads comes from this server; no inline script, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /`, the page's assets (no key), and `GET /api/stats`, `GET /api/stats/series` and
/// `GET /api/stats/series/stream` (behind the key middleware).
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let api = Router::new()
        .route("/api/stats", get(stats))
        .route("/api/stats/series", get(series::series))
        .route(
            "/api/stats/series/stream",
            get(series::stream).layer(middleware::from_fn_with_state(state.clone(), crate::api::guard::limit_streams)),
        )
        .route_layer(middleware::from_fn_with_state(state, crate::api::auth::require_key));
    Router::new().route("/", get(index)).route("/dashboard/{name}", get(dashboard_asset)).merge(api)
}

/// Serves an embedded asset with its content type; `no-cache` so a new binary's page is picked up.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache"), (X_CONTENT_TYPE_OPTIONS, "nosniff"), (CONTENT_SECURITY_POLICY, CSP)], body)
}

async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /dashboard/<name>`: one of [`ASSETS`], else 404.
async fn dashboard_asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => asset(content_type, body).into_response(),
        None => brain_http::ApiError::not_found("no such dashboard asset").into_response(),
    }
}

/// `GET /api/stats`: the dashboard's gauges as JSON (the numbers of `/metrics`, without parsing text).
///
/// ```json
/// {"backend": "embedded", "stream": "brain.events",
///  "dead_letters": {"open": 1, "retried": 0, "discarded": 0},
///  "outbox": {"depth": 0, "oldest_age_seconds": 0.0},
///  "subscribers": [{"name": "...", "lag": 0, "pending": 0, "dead_letters_open": 1}],
///  "events_seen_by_type": {"task.created": 3}}
/// ```
///
/// Dead-letter counts are scoped to the key's tenant (admins: every tenant). The outbox, the log's
/// consumer groups and the per-type counters span every tenant, so only admins get them (`null`
/// otherwise), as in `GET /api/consumers`. A part whose backend does not answer is `null` and logged: the
/// call itself does not fail, like a `/metrics` scrape.
async fn stats(State(state): State<AppState>, principal: Principal) -> Result<Json<Value>, brain_http::ApiError> {
    let tenant = principal.scope(None)?;
    let admin = principal.is_admin();
    let counts = match state.store.dead_letter_counts(tenant.as_ref()).await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "stats: cannot count dead letters");
            None
        }
    };
    let dead_letters = counts.as_ref().map(|c| {
        let sum = |f: fn(&eventstream_sql::DeadLetterCounts) -> u64| c.iter().map(f).sum::<u64>();
        json!({"open": sum(|c| c.open), "retried": sum(|c| c.retried), "discarded": sum(|c| c.discarded)})
    });
    let mut body = json!({
        "backend": state.log.backend(),
        "stream": state.log.stream(),
        "dead_letters": dead_letters,
        "outbox": null,
        "subscribers": null,
        "events_seen_by_type": null,
    });
    if !admin {
        return Ok(Json(body));
    }
    match state.events.outbox_stats().await {
        Ok((depth, oldest)) => {
            body["outbox"] = json!({"depth": depth, "oldest_age_seconds": oldest.map_or(0.0, |d| d.as_secs_f64())});
        }
        Err(e) => tracing::warn!(error = %e, "stats: cannot read the outbox"),
    }
    match state.log.groups().await {
        Ok(groups) => {
            let open_of = |name: &str| counts.as_ref().and_then(|c| c.iter().find(|c| c.subscriber.as_str() == name)).map_or(0, |c| c.open);
            let subs: Vec<Value> = groups
                .iter()
                .map(|g| json!({"name": g.name, "lag": g.lag(), "pending": g.pending, "dead_letters_open": open_of(g.name.as_str())}))
                .collect();
            body["subscribers"] = Value::Array(subs);
        }
        Err(e) => tracing::warn!(error = %e, "stats: cannot read the consumer groups"),
    }
    body["events_seen_by_type"] = json!(state.index.seen_by_type());
    Ok(Json(body))
}
