//! Per-request guards of the whole server: the `Host` check (421, against DNS rebinding), the request
//! timeout of non-streaming routes, the caps on open SSE streams (per key and in total) and the limit on
//! failed key checks per client address (429 `too_many_failures`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{ACCEPT, HOST, RETRY_AFTER, UPGRADE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use brain_http::{ApiError, Principal};
use futures::StreamExt as _;

use crate::listen::HttpSettings;
use crate::server::AppState;

/// Address buckets kept before full (forgiven) ones are dropped.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// The guards' settings and counters, shared by every request.
#[derive(Debug)]
pub(crate) struct Guards {
    /// Allowed host names (normalized); `None`: any.
    hosts: Option<Vec<String>>,
    request_timeout: Duration,
    streams: Arc<StreamLimits>,
    /// Failed key checks per client address.
    pub(crate) failures: FailureLimiter,
}

impl Guards {
    /// The guards of a server bound to `bind_host`.
    pub(crate) fn new(settings: &HttpSettings, bind_host: &str) -> Self {
        let hosts = match &settings.allowed_hosts {
            Some(list) if list.iter().any(|h| h.trim() == "*") => None,
            Some(list) => Some(list.iter().map(|h| normalize(h)).collect()),
            None => Some(["localhost", "127.0.0.1", "::1", bind_host].iter().map(|h| normalize(h)).collect()),
        };
        Self {
            hosts,
            request_timeout: settings.request_timeout,
            streams: Arc::new(StreamLimits {
                per_key: settings.max_streams_per_key,
                total: settings.max_streams,
                open: Mutex::new((0, HashMap::new())),
            }),
            failures: FailureLimiter::new(settings.auth_failures_per_minute),
        }
    }
}

/// A host name without port and IPv6 brackets, lowercase, without a trailing dot.
fn normalize(authority: &str) -> String {
    let a = authority.trim();
    let host = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if a.matches(':').count() == 1 {
        a.split(':').next().unwrap_or(a)
    } else {
        a
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Rejects requests whose `Host` (or HTTP/2 `:authority`) is not an allowed name: 421. `/health` and
/// `/ready` are exempt: they show nothing worth rebinding for, and load balancers' probes often send the
/// node's address as `Host`.
pub(crate) async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let probe = matches!(req.uri().path(), "/health" | "/ready");
    if let Some(allowed) = state.guards.hosts.as_ref().filter(|_| !probe) {
        let host = req
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| req.headers().get(HOST).and_then(|h| h.to_str().ok()).map(str::to_owned));
        if let Some(host) = host
            && !allowed.contains(&normalize(&host))
        {
            return ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "misdirected_request",
                "this server does not answer to that host name; see [server] allowed_hosts",
            )
            .with_field("Host")
            .into_response();
        }
    }
    next.run(req).await
}

/// Answers 503 `request_timeout` when a handler takes longer than the request timeout. SSE streams and
/// WebSocket upgrades are left alone (their handlers answer at once; the stream lives in the body).
pub(crate) async fn request_timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let streaming = req.headers().contains_key(UPGRADE)
        || req.uri().path() == "/api/events/stream"
        || req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"));
    if streaming {
        return next.run(req).await;
    }
    match tokio::time::timeout(state.guards.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "request_timeout", "the request took too long; retry later").into_response()
        }
    }
}

/// Open SSE streams, per key id and in total.
#[derive(Debug)]
struct StreamLimits {
    per_key: usize,
    total: usize,
    /// (total, per key id).
    open: Mutex<(usize, HashMap<String, usize>)>,
}

/// One open stream; dropping it frees the slot.
struct StreamPermit {
    limits: Arc<StreamLimits>,
    key_id: String,
}

impl StreamLimits {
    fn acquire(self: &Arc<Self>, key_id: &str) -> Option<StreamPermit> {
        let mut open = self.open.lock().ok()?;
        let (total, per_key) = &mut *open;
        let mine = per_key.entry(key_id.to_owned()).or_insert(0);
        if *total >= self.total || *mine >= self.per_key {
            if *mine == 0 {
                per_key.remove(key_id);
            }
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(StreamPermit { limits: self.clone(), key_id: key_id.to_owned() })
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        if let Ok(mut open) = self.limits.open.lock() {
            let (total, per_key) = &mut *open;
            *total = total.saturating_sub(1);
            if let Some(n) = per_key.get_mut(&self.key_id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per_key.remove(&self.key_id);
                }
            }
        }
    }
}

/// Caps open SSE streams: 429 `too_many_streams` beyond the per-key or the total cap. The slot is held
/// by the response body, so it is freed when the client goes away.
pub(crate) async fn limit_streams(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(principal) = req.extensions().get::<Principal>().cloned() else {
        return ApiError::unauthorized().into_response();
    };
    let Some(permit) = state.guards.streams.acquire(&principal.key_id) else {
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            "too many open event streams for this key (or in total); close one and retry",
        )
        .into_response();
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    };
    let response = next.run(req).await;
    if !response.status().is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().map(move |chunk| {
        let _held = &permit;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(body))
}

/// A token bucket of failed key checks per client address: `per_minute` failures, refilled evenly.
#[derive(Debug)]
pub(crate) struct FailureLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
    /// Failed key checks since start (`brain_auth_failures_total`).
    pub(crate) total: AtomicU64,
}

impl FailureLimiter {
    fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: Mutex::default(), total: AtomicU64::new(0) }
    }

    fn rate_per_sec(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    /// The tokens of `bucket` after refilling it until `now`.
    fn refill(&self, bucket: &mut (f64, Instant), now: Instant) {
        let cap = f64::from(self.per_minute);
        bucket.0 = (bucket.0 + now.duration_since(bucket.1).as_secs_f64() * self.rate_per_sec()).min(cap);
        bucket.1 = now;
    }

    /// `Some(retry after)` when `addr` has no failure left this minute.
    pub(crate) fn blocked(&self, addr: Option<SocketAddr>) -> Option<Duration> {
        let ip = addr?.ip();
        if self.per_minute == 0 {
            return None;
        }
        let mut buckets = self.buckets.lock().ok()?;
        let bucket = buckets.get_mut(&ip)?;
        self.refill(bucket, Instant::now());
        (bucket.0 < 1.0).then(|| Duration::from_secs_f64((1.0 - bucket.0) / self.rate_per_sec()))
    }

    /// Counts a failed key check from `addr`.
    pub(crate) fn record(&self, addr: Option<SocketAddr>) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let (Some(addr), true) = (addr, self.per_minute > 0) else { return };
        let Ok(mut buckets) = self.buckets.lock() else { return };
        let now = Instant::now();
        if buckets.len() >= MAX_TRACKED_ADDRESSES {
            let cap = f64::from(self.per_minute);
            buckets.retain(|_, b| {
                self.refill(b, now);
                b.0 < cap
            });
        }
        let bucket = buckets.entry(addr.ip()).or_insert((f64::from(self.per_minute), now));
        self.refill(bucket, now);
        bucket.0 -= 1.0;
        if bucket.0 < 1.0 && bucket.0 >= 0.0 {
            tracing::warn!(client = %addr.ip(), per_minute = self.per_minute, "too many failed API key checks: refusing this address for now");
        }
    }
}

/// 429 `too_many_failures` with `Retry-After`.
pub(crate) fn too_many_failures(retry_after: Duration) -> Response {
    let mut r =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_failures", "too many failed API key checks from this address; retry later")
            .into_response();
    let secs = retry_after.as_secs().max(1);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(RETRY_AFTER, v);
    }
    r
}

/// The client address of a request, when served by our listener.
pub(crate) fn client_addr(req: &Request) -> Option<SocketAddr> {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_normalized() {
        assert_eq!(normalize("LocalHost:8080"), "localhost");
        assert_eq!(normalize("[::1]:8080"), "::1");
        assert_eq!(normalize("::1"), "::1");
        assert_eq!(normalize("example.com."), "example.com");
        assert_eq!(normalize("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn failures_beyond_the_budget_block_only_that_address() {
        let limiter = FailureLimiter::new(3);
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap_or_else(|e| panic!("{e}"));
        let b: SocketAddr = "10.0.0.2:1000".parse().unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..3 {
            assert!(limiter.blocked(Some(a)).is_none());
            limiter.record(Some(a));
        }
        let wait = limiter.blocked(Some(a)).unwrap_or_else(|| panic!("a is blocked"));
        assert!(wait <= Duration::from_secs(20), "{wait:?}");
        assert!(limiter.blocked(Some(b)).is_none());
        assert!(limiter.blocked(None).is_none());
    }
}
