//! Starts the application in-process on the embedded log and SQLite, on port 0, in its own temp dir.

use std::sync::Arc;

use brain_server::{Application, Backends, ServerSettings};
use eventstream_core::EventLog;

/// A running application; dropping it stops the server.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    /// The first admin key, created at start.
    pub(crate) admin_key: String,
    /// HTTP client.
    pub(crate) http: reqwest::Client,
    /// The application's state store (for setting up keys).
    store: eventstream_sql::StateStore,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Builds and starts the application.
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log: Arc<dyn EventLog> = Arc::new(
            eventstream_embedded::EmbeddedLog::open(dir.path().join("log"), eventstream_embedded::EmbeddedOptions::default())
                .await
                .expect("embedded log"),
        );
        let store =
            eventstream_sql::StateStore::connect(&eventstream_sql::sqlite_url(&dir.path().join("state.db"))).await.expect("state store");
        let settings = ServerSettings {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: dir.path().to_path_buf(),
            validation: brain_events::ValidationMode::Strict,
            modules: brain_modules::ModulesConfig::default(),
            consumer_name: None,
            retention: eventstream::maintenance::RetentionPolicy::default(),
        };
        let backends = Backends { log, store: store.clone(), local_outbox: None, trimmer: None };
        let app = Application::build(settings, backends, Vec::new()).await.expect("build the application");
        let admin_key = app.new_admin_key().expect("a first start creates an admin key").to_owned();
        let base = format!("http://{}", app.local_addr().expect("bound address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self { base, admin_key, http: reqwest::Client::new(), store, stop: Some(stop), task: Some(task), _dir: dir }
    }

    /// Creates an API key of `role` for `tenant`; returns its secret.
    pub(crate) async fn create_key(&self, tenant: &str, role: brain_http::Role) -> String {
        let keys = brain_server::keys::KeyStore::open(self.store.clone()).await.expect("key store");
        keys.create(&tenant.parse().expect("tenant id"), role).await.expect("create a key").1
    }

    /// The application's state store.
    pub(crate) fn store(&self) -> &eventstream_sql::StateStore {
        &self.store
    }

    /// `POST path` with a JSON body and `key`.
    pub(crate) async fn post_as(&self, key: &str, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.base)).bearer_auth(key).json(body).send().await.expect("request")
    }

    /// `GET path` with the admin key.
    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.admin_key).send().await.expect("request")
    }

    /// `POST path` with a JSON body and the admin key.
    pub(crate) async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.admin_key).json(body).send().await.expect("request")
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
