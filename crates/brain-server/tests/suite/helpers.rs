//! Starts the application in-process on the embedded log and SQLite, on port 0, in its own temp dir; keys
//! of any tenant and role through the key store; small request helpers and an SSE reader.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_server::keys::KeyStore;
use brain_server::{Application, Backends, ServerSettings};
use eventstream::{Handler, HandlerContext, HandlerError, Subscription};
use eventstream_core::{Event, EventLog};
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};

/// A running application; dropping it stops the server.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    /// The first admin key, created at start.
    pub(crate) admin: String,
    /// HTTP client.
    pub(crate) client: Client,
    /// The event log the application runs on.
    pub(crate) log: Arc<dyn EventLog>,
    keys: KeyStore,
    store: eventstream_sql::StateStore,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    dir: tempfile::TempDir,
}

impl TestApp {
    /// Builds and starts the application.
    pub(crate) async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    /// Builds and starts the application with extra subscribers (e.g. [`failing_subscriber`]).
    pub(crate) async fn start_with(subscriptions: Vec<Subscription>) -> Self {
        Self::start_configured(subscriptions, |_| {}).await
    }

    /// Builds and starts the application with listener settings `http` (timeouts, caps, hosts, TLS).
    pub(crate) async fn start_http(subscriptions: Vec<Subscription>, http: brain_server::HttpSettings) -> Self {
        Self::start_configured(subscriptions, |s| s.http = http).await
    }

    /// Builds and starts the application with extra subscribers, after `configure` changed its settings.
    pub(crate) async fn start_configured(subscriptions: Vec<Subscription>, configure: impl FnOnce(&mut ServerSettings)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log: Arc<dyn EventLog> = Arc::new(
            eventstream_embedded::EmbeddedLog::open(dir.path().join("log"), eventstream_embedded::EmbeddedOptions::default())
                .await
                .expect("embedded log"),
        );
        Self::start_in(dir, log, subscriptions, configure).await
    }

    /// Builds and starts the application on `log` (e.g. a Redis log), with SQLite state in `dir`.
    pub(crate) async fn start_on(log: Arc<dyn EventLog>, subscriptions: Vec<Subscription>) -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"), log, subscriptions, |_| {}).await
    }

    async fn start_in(
        dir: tempfile::TempDir,
        log: Arc<dyn EventLog>,
        subscriptions: Vec<Subscription>,
        configure: impl FnOnce(&mut ServerSettings),
    ) -> Self {
        let store =
            eventstream_sql::StateStore::connect(&eventstream_sql::sqlite_url(&dir.path().join("state.db"))).await.expect("state store");
        let mut settings = ServerSettings {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: dir.path().join("brain-data"),
            validation: brain_events::ValidationMode::Strict,
            modules: brain_modules::ModulesConfig::default(),
            consumer_name: None,
            retention: eventstream::maintenance::RetentionPolicy::default(),
            audit: None,
            stream_max_lifetime: Duration::from_secs(3600),
            http: brain_server::HttpSettings::default(),
        };
        configure(&mut settings);
        std::fs::create_dir_all(&settings.data_dir).expect("data dir");
        let auth_options = eventstream_sql::StoreOptions::default().max_connections(2);
        let auth_store =
            eventstream_sql::StateStore::connect_with(&eventstream_sql::sqlite_url(&dir.path().join("state.db")), auth_options)
                .await
                .expect("key lookup pool");
        let backends = Backends { log: log.clone(), store: store.clone(), local_outbox: None, trimmer: None, auth_store: Some(auth_store) };
        let mut app = Application::build(settings, backends, subscriptions).await.expect("build the application");
        // The dashboard's time series get a point every 250 ms, so tests see charts fill quickly.
        app.sample_stats_every(Duration::from_millis(250));
        let admin = app.new_admin_key().expect("a first start creates an admin key").to_owned();
        let base = format!("http://{}", app.local_addr().expect("bound address"));
        let keys = KeyStore::open(store.clone()).await.expect("key store");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self { base, admin, client: Client::new(), log, keys, store, stop: Some(stop), task: Some(task), dir }
    }

    /// The temp dir of this application (its data dir is `brain-data` inside).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The application's state store (its SQLite file is `state.db` in [`TestApp::dir`]).
    pub(crate) fn store(&self) -> &eventstream_sql::StateStore {
        &self.store
    }

    /// The URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates a key of `tenant` with `role` (`reader`, `writer`, `admin`) in the application's key store.
    pub(crate) async fn key(&self, tenant: &str, role: &str) -> String {
        let tenant = tenant.parse().expect("a valid tenant");
        let role = role.parse().expect("a valid role");
        let (_, secret) = self.keys.create(&tenant, role).await.expect("create a key");
        secret
    }

    /// Revokes the key whose secret is `secret`, as `brain keys revoke` does (through the key table).
    pub(crate) async fn revoke(&self, secret: &str) {
        let principal = self.keys.authenticate(secret).await.expect("key table").expect("a live key");
        assert!(self.keys.revoke(&principal.key_id).await.expect("revoke"), "the key was live");
    }

    /// A request to `path`, with `key` as bearer token when given.
    pub(crate) fn req(&self, method: Method, path: &str, key: Option<&str>) -> RequestBuilder {
        let mut r = self.client.request(method, self.url(path));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r
    }

    /// `GET path` with `key`: status and JSON body (a string when the body is not JSON).
    pub(crate) async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        send(self.req(Method::GET, path, Some(key))).await
    }

    /// `POST path` with a JSON body and `key`.
    pub(crate) async fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        send(self.req(Method::POST, path, Some(key)).json(body)).await
    }

    /// Publishes a valid `task.created` (optionally for a tenant); returns the 201 body.
    pub(crate) async fn publish_task(&self, key: &str, task_id: &str, extra: Value) -> Value {
        let mut body = task_event(task_id);
        if let (Value::Object(b), Value::Object(x)) = (&mut body, extra) {
            b.extend(x);
        }
        let (status, v) = self.post("/api/events", key, &body).await;
        assert_eq!(status, 201, "{v}");
        v
    }

    /// Polls `GET path` until `done` holds, for at most 10 s.
    pub(crate) async fn wait_for(&self, path: &str, key: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, v) = self.get(path, key).await;
            if status == 200 && done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "condition not met for {path}: last answer {status} {v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server gracefully and waits for it.
    pub(crate) async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task").expect("server ran and stopped cleanly");
        }
    }
}

/// A subscriber `name` that fails every event matching `pattern` permanently, so that tests produce dead
/// letters through the real runtime.
pub(crate) fn failing_subscriber(name: &str, pattern: &str) -> Subscription {
    Subscription::new(name.parse().expect("subscriber name"), vec![pattern.parse().expect("type pattern")], AlwaysFails)
}

/// A subscriber `name` of `pattern` that records every event it handles (committed or not: it never
/// fails, so each record is one processed event).
pub(crate) fn recording_subscriber(name: &str, pattern: &str) -> (Subscription, Arc<std::sync::Mutex<Vec<Event>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sub =
        Subscription::new(name.parse().expect("subscriber name"), vec![pattern.parse().expect("type pattern")], Records(seen.clone()));
    (sub, seen)
}

/// Records every event.
struct Records(Arc<std::sync::Mutex<Vec<Event>>>);

#[eventstream_core::async_trait]
impl Handler for Records {
    async fn handle(&self, _ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        self.0.lock().expect("records").push(event.clone());
        Ok(())
    }
}

/// Fails every event permanently.
struct AlwaysFails;

#[eventstream_core::async_trait]
impl Handler for AlwaysFails {
    async fn handle(&self, _ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        Err(HandlerError::permanent(format!("test subscriber: {} fails permanently", event.event_type)))
    }
}

/// Sends a request: status and JSON body (a string when the body is not JSON).
pub(crate) async fn send(r: RequestBuilder) -> (u16, Value) {
    let resp: Response = r.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

/// A valid `task.created` envelope without id/timestamp/meta.
pub(crate) fn task_event(task_id: &str) -> Value {
    json!({"type": "task.created", "payload": {"task_id": task_id, "mission_type": "agent.chat", "priority": "NORMAL"}})
}

/// The ids of the events of a `GET /api/events` answer.
pub(crate) fn ids(v: &Value) -> Vec<String> {
    v["events"].as_array().expect("events").iter().map(|e| e["id"].as_str().expect("id").to_owned()).collect()
}

pub(crate) use eventstream_testkit::sse::SseReader;
