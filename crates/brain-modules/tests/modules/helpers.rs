//! The test harness: one app per test, with its own temp dir, port, log and state store.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use brain_http::{Principal, Role};
use brain_modules::{Modules, ModulesConfig};
use eventstream::store::{StateStore, sqlite_url};
use eventstream::{ConsumerRuntime, EventStream, PublisherOptions, PublisherTasks, default_consumer_name};
use eventstream_core::{Event, EventLog, StartFrom};
use eventstream_embedded::{EmbeddedLog, EmbeddedOptions};
use reqwest::Method;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The tenant tests use unless they say otherwise.
pub const TENANT: &str = "acme";

/// The test auth layer: a principal from `x-test-tenant` (default `acme`) and `x-test-role` (default
/// `writer`); `x-test-anonymous` leaves it out (the server's middleware would have answered 401). Long-lived
/// routes get a stream policy without key re-checks, capped like the server (1 MiB messages, one hour).
async fn test_auth(mut req: Request, next: Next) -> Response {
    let h = req.headers();
    if h.get("x-test-anonymous").is_none() {
        let tenant = h.get("x-test-tenant").and_then(|v| v.to_str().ok()).unwrap_or(TENANT).to_owned();
        let role = h.get("x-test-role").and_then(|v| v.to_str().ok()).and_then(|r| r.parse::<Role>().ok()).unwrap_or(Role::Writer);
        if let Ok(tenant) = tenant.parse() {
            req.extensions_mut().insert(Principal { tenant, role, key_id: "test-key".into() });
            req.extensions_mut().insert(brain_http::live::StreamPolicy::unchecked(brain_http::live::StreamLimits {
                max_lifetime: brain_http::live::DEFAULT_MAX_LIFETIME,
                recheck_every: brain_http::live::DEFAULT_RECHECK_EVERY,
                max_message_bytes: 1 << 20,
            }));
        }
    }
    next.run(req).await
}

/// One running app.
pub struct App {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub ws_base: String,
    pub client: reqwest::Client,
    pub log: Arc<dyn EventLog>,
    pub events: EventStream,
    pub modules: Modules,
    shutdown: CancellationToken,
    publisher: Option<PublisherTasks>,
    runtime: Option<ConsumerRuntime>,
    server: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    /// The PostgreSQL schema to drop at `stop` (URL, schema).
    pg_schema: Option<(String, String)>,
}

/// A state store for one test without the modules' tables yet: a SQLite file in its own temp dir, or a
/// fresh PostgreSQL schema (dropped when the app started on it stops).
pub struct BareStore {
    pub store: StateStore,
    dir: tempfile::TempDir,
    /// (URL, schema) on PostgreSQL.
    pg_schema: Option<(String, String)>,
    url: String,
}

impl BareStore {
    pub async fn sqlite() -> BareStore {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = sqlite_url(&dir.path().join("state.db"));
        let store = StateStore::connect(&url).await.expect("open store");
        BareStore { store, dir, pg_schema: None, url }
    }

    /// `None` when PostgreSQL is unreachable (a loud skip; a failure under `CI=true`).
    pub async fn postgres() -> Option<BareStore> {
        let url = std::env::var("BRAIN_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        if !eventstream_testkit::require_service("postgres", &url) {
            return None;
        }
        let schema = format!("mod_{}", uuid::Uuid::new_v4().simple());
        let store = StateStore::connect_with(&url, eventstream::store::StoreOptions::default().schema(schema.clone()))
            .await
            .expect("open postgres store");
        Some(BareStore { store, dir: tempfile::tempdir().expect("temp dir"), pg_schema: Some((url.clone(), schema)), url })
    }

    /// Another connection pool on the same database, as a second replica would open.
    pub async fn reconnect(&self) -> StateStore {
        let options = match &self.pg_schema {
            Some((_, schema)) => eventstream::store::StoreOptions::default().schema(schema.clone()),
            None => eventstream::store::StoreOptions::default(),
        };
        StateStore::connect_with(&self.url, options).await.expect("reconnect")
    }

    /// Starts the app on this store (applying the modules' migrations).
    pub async fn start(self, config: ModulesConfig) -> App {
        let mut app = App::start_with(config, self.dir, self.store).await;
        app.pg_schema = self.pg_schema;
        app
    }
}

/// A config with short intervals for tests.
pub fn fast_config() -> ModulesConfig {
    ModulesConfig {
        mission_workers: 4,
        worker_poll_interval: Duration::from_millis(50),
        executor_duration: Duration::from_millis(2),
        heartbeat_check_interval: Duration::from_millis(50),
        ..ModulesConfig::default()
    }
}

impl App {
    /// Starts the app: log, store, publisher, modules, consumer runtime, server. Background tasks (worker
    /// pool, timers) start with [`App::start_background`].
    pub async fn start(config: ModulesConfig) -> App {
        BareStore::sqlite().await.start(config).await
    }

    /// The app on PostgreSQL (a fresh schema in `BRAIN_TEST_DATABASE_URL` or the local `test` database),
    /// or `None` when PostgreSQL is unreachable (a loud skip; a failure under `CI=true`).
    pub async fn start_postgres(config: ModulesConfig) -> Option<App> {
        Some(BareStore::postgres().await?.start(config).await)
    }

    async fn start_with(config: ModulesConfig, dir: tempfile::TempDir, store: StateStore) -> App {
        let log: Arc<dyn EventLog> =
            Arc::new(EmbeddedLog::open(dir.path().join("log"), EmbeddedOptions::default()).await.expect("open log"));
        let options = PublisherOptions { relay_poll: Duration::from_millis(50), ..PublisherOptions::default() };
        let (events, publisher) = EventStream::start(log.clone(), store.clone(), None, options);
        let catalog = Arc::new(brain_events::Catalog::new());
        let modules = Modules::init(events.clone(), log.clone(), catalog.clone(), config).await.expect("init modules");
        assert!(Arc::ptr_eq(modules.catalog(), &catalog), "the modules use the catalog they were given");
        let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), default_consumer_name());
        for sub in modules.subscriptions() {
            runtime.spawn(sub);
        }
        let router = modules.router().layer(axum::middleware::from_fn(test_auth));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        App {
            dir,
            base: format!("http://{addr}"),
            ws_base: format!("ws://{addr}"),
            client: reqwest::Client::new(),
            log,
            events,
            modules,
            shutdown: CancellationToken::new(),
            publisher: Some(publisher),
            runtime: Some(runtime),
            server,
            background: Vec::new(),
            pg_schema: None,
        }
    }

    /// Starts the worker pool, the heartbeat check and the metrics timer.
    pub fn start_background(&mut self) {
        self.background = self.modules.spawn_background(self.shutdown.clone());
    }

    /// Sends a request as `tenant` with correlation id `corr`; returns the status and the JSON body
    /// (`Value::Null` when there is none).
    pub async fn call(&self, method: Method, path: &str, tenant: &str, corr: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).header("x-test-tenant", tenant);
        if let Some(c) = corr {
            req = req.header("x-correlation-id", c);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, TENANT, None, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, TENANT, None, Some(body)).await
    }

    /// Every event in the log, in order.
    pub async fn all_events(&self) -> Vec<Event> {
        let mut out = Vec::new();
        let mut from = StartFrom::Beginning;
        loop {
            let page = self.log.read(&from, 1000, Duration::ZERO).await.expect("read log");
            let Some(last) = page.last() else { break };
            from = StartFrom::After(last.position.clone());
            let n = page.len();
            out.extend(page.into_iter().filter_map(|r| r.event.ok()));
            if n < 1000 {
                break;
            }
        }
        out
    }

    /// Polls the log until `done` holds (at most 30 s); returns the events.
    pub async fn wait_events(&self, what: &str, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let events = self.all_events().await;
            if done(&events) {
                return events;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; log has {} events", events.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls `GET path` until `done` holds on the body (at most 30 s).
    pub async fn wait_get(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self.get(path).await;
            if status == 200 && done(&body) {
                return body;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: last {status} {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops everything.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        for t in self.background.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        if let Some(r) = self.runtime.take() {
            r.shutdown(Duration::from_secs(5)).await;
        }
        if let Some(p) = self.publisher.take() {
            p.shutdown(Duration::from_secs(5)).await;
        }
        self.server.abort();
        if let Some((url, schema)) = self.pg_schema.take()
            && let Ok(store) = StateStore::connect(&url).await
        {
            let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            let _ = eventstream::store::sqlx::query(eventstream::store::sqlx::AssertSqlSafe(drop)).execute(store.pool()).await;
        }
    }
}

/// Events of type `t`.
pub fn of_type<'a>(events: &'a [Event], t: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| e.event_type.as_str() == t).collect()
}

/// The payload field `k` of `e`.
pub fn field<'a>(e: &'a Event, k: &str) -> &'a Value {
    e.payload.get(k).unwrap_or(&Value::Null)
}

/// Asserts an event's envelope: source, tenant, correlation id.
pub fn assert_envelope(e: &Event, source: &str, tenant: &str, corr: Option<&str>) {
    assert_eq!(e.source.as_str(), source, "source of {}", e.event_type);
    assert_eq!(e.tenant_id.as_ref().map(|t| t.as_str()), Some(tenant), "tenant of {}", e.event_type);
    if let Some(c) = corr {
        assert_eq!(e.correlation_id.as_deref(), Some(c), "correlation id of {}", e.event_type);
    }
    assert!(e.target.is_none(), "target of {}", e.event_type);
}
