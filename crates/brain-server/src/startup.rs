//! Builds the whole application from checked settings and opened backends: publisher, consumers (system
//! and module subscribers), maintenance, HTTP listener. Tests build it on port 0 in a temp dir and stop it
//! through the shutdown future.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use brain_events::Catalog;
use eventstream::maintenance::{RetentionPolicy, StreamTrimmer};
use eventstream::{ConsumerRuntime, EventStream, PublisherOptions, PublisherTasks, Subscription, default_consumer_name};
use eventstream_core::EventLog;
use eventstream_sql::StateStore;
use tokio::net::TcpListener;

use crate::listen::HttpSettings;
use crate::server::{self, AppState, ConsumerInfo};

/// How long shutdown waits for in-flight handlers and the outbox relay.
const GRACE: Duration = Duration::from_secs(10);

/// Everything the server needs to know besides its backends: checked values (the `brain` binary builds
/// them from `brain.toml`, the environment and flags).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Listen host.
    pub host: String,
    /// Listen port (0 picks a free one; [`Application::local_addr`] tells which).
    pub port: u16,
    /// Data directory: the first admin key file, and whatever else a subsystem keeps on local disk.
    pub data_dir: PathBuf,
    /// How API-published payloads are checked against the catalog.
    pub validation: brain_events::ValidationMode,
    /// The modules' settings.
    pub modules: brain_modules::ModulesConfig,
    /// This replica's consumer name in every group; `None`: `<host>-<pid>-<random>`.
    pub consumer_name: Option<eventstream_core::ConsumerName>,
    /// Inbox retention and how often it runs.
    pub retention: RetentionPolicy,
    /// The audit log's key file, origin and checkpoint cadence; `None`: the defaults in `data_dir`
    /// (`AuditConfig::in_data_dir`).
    pub audit: Option<eventstream_system::audit::AuditConfig>,
    /// SSE streams and WebSockets end this long after they opened (clients reconnect; SSE resumes with
    /// `Last-Event-ID`), besides ending within seconds when their key is revoked.
    pub stream_max_lifetime: Duration,
    /// Listener limits, timeouts, allowed hosts and TLS ([`HttpSettings::default`]: the documented defaults).
    pub http: HttpSettings,
}

/// The opened backends the server runs on. Only the binary knows which backend is which.
#[derive(Debug, Clone)]
pub struct Backends {
    /// The event log.
    pub log: Arc<dyn EventLog>,
    /// The state store: inbox, dead letters, outbox, module data, keys.
    pub store: StateStore,
    /// The local outbox of `emit` when the state store is not local (PostgreSQL); `None` uses the store.
    pub local_outbox: Option<StateStore>,
    /// Trims the stream by the configured limits, when the backend can and limits are set.
    pub trimmer: Option<Arc<dyn StreamTrimmer>>,
    /// A small second pool on the state store's database for API-key lookups, so that authentication
    /// keeps working while the main pool is saturated; `None` uses the main pool.
    pub auth_store: Option<StateStore>,
}

/// A built application, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    runtime: ConsumerRuntime,
    publisher: PublisherTasks,
    maintenance: tokio::task::JoinHandle<()>,
    new_admin_key: Option<String>,
    modules_router: axum::Router,
    module_tasks: Vec<tokio::task::JoinHandle<()>>,
    http: HttpSettings,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Application {
    /// Prepares everything on the opened backends and binds the listener. `subscriptions` are extra
    /// subscribers this process runs besides the system and module ones.
    ///
    /// # Errors
    /// A table cannot be prepared, a module cannot start, or the address cannot be bound.
    pub async fn build(settings: ServerSettings, backends: Backends, subscriptions: Vec<Subscription>) -> anyhow::Result<Self> {
        let Backends { log, store, local_outbox, trimmer, auth_store } = backends;
        let (events, publisher) = EventStream::start(log.clone(), store.clone(), local_outbox, PublisherOptions::default());
        let mut api = crate::api::ApiParts::open(&store, &settings.data_dir).await?;
        if let Some(auth_store) = auth_store {
            api.keys = api.keys.with_lookup_store(auth_store);
        }
        let audit_config =
            settings.audit.clone().unwrap_or_else(|| eventstream_system::audit::AuditConfig::in_data_dir(&settings.data_dir));
        let audit = eventstream_system::audit::AuditLog::open(store.clone(), &audit_config).await.context("cannot open the audit log")?;
        api.subscriptions.push(audit.subscription().context("audit subscriber")?);
        // One consumer name for the runtime and the mission leases (the owner of this replica's claims).
        let consumer_name = settings.consumer_name.clone().unwrap_or_else(default_consumer_name);
        let replica = consumer_name.to_string();
        #[cfg(feature = "test-hooks")]
        api.subscriptions.extend(crate::api::test_hooks::counting_subscribers(&store, &replica).await?);
        let module_config = brain_modules::ModulesConfig { consumer_name: consumer_name.clone(), ..settings.modules.clone() };
        // One catalog for the process: the modules' projections and the API's validation share it.
        let catalog = Arc::new(Catalog::new());
        let modules = brain_modules::Modules::init(events.clone(), log.clone(), catalog.clone(), module_config)
            .await
            .context("cannot start the modules")?;
        let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), consumer_name);
        let mut consumers = Vec::new();
        for sub in std::mem::take(&mut api.subscriptions).into_iter().chain(modules.subscriptions()).chain(subscriptions) {
            let name = sub.name().clone();
            let patterns = sub.patterns().to_vec();
            let stats = runtime.spawn(sub);
            consumers.push(ConsumerInfo { name, patterns, stats });
        }
        let tls = settings.http.tls.as_ref().map(crate::listen::tls_acceptor).transpose()?;
        let addr = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let stream_limits = brain_http::live::StreamLimits {
            max_lifetime: settings.stream_max_lifetime,
            recheck_every: brain_http::live::DEFAULT_RECHECK_EVERY,
            max_message_bytes: crate::api::BODY_LIMIT,
        };
        let bound = listener.local_addr().context("cannot read the bound address")?;
        if settings.http.allowed_hosts.is_none() && bound.ip().is_unspecified() {
            tracing::warn!(
                %bound,
                "listening on every address, but only localhost, 127.0.0.1, [::1] and {} are answered (421 otherwise): \
                 name this server's host names in [server] allowed_hosts",
                settings.host
            );
        }
        if tls.is_none() && !bound.ip().is_loopback() {
            tracing::warn!(
                %bound,
                "listening beyond loopback WITHOUT TLS: API keys and events cross the network in clear; set \
                 [server] tls_cert and tls_key, or put a TLS-terminating proxy in front"
            );
        }
        let state = AppState {
            log,
            store,
            events,
            catalog,
            validation: settings.validation,
            consumers: Arc::new(consumers),
            keys: api.keys.clone(),
            index: api.index,
            metrics: api.metrics,
            audit,
            verify_lock: Arc::default(),
            live_keys: crate::api::live_keys::LiveKeys::new(api.keys, stream_limits),
            guards: Arc::new(crate::api::guard::Guards::new(&settings.http, &settings.host)),
            series: crate::dashboard::series::StatsSeries::new(crate::dashboard::series::DEFAULT_EVERY),
            replica: Arc::from(replica.as_str()),
        };
        // Periodic jobs run under leases in the state store: of several replicas, one runs each per interval.
        let maintenance = eventstream::maintenance::spawn(
            state.store.clone(),
            trimmer,
            settings.retention.clone(),
            runtime.shutdown_token(),
            Some(&replica),
        );
        let mut module_tasks = modules.spawn_background(runtime.shutdown_token());
        let audit_lease = eventstream::maintenance::job_lease(
            state.store.clone(),
            eventstream_system::audit::AUDIT_CHECKPOINT_JOB,
            &replica,
            audit_config.checkpoint_interval,
        );
        module_tasks.push(state.audit.spawn_checkpointer_leased(runtime.shutdown_token(), Some(audit_lease)));
        module_tasks.push(crate::replicas::spawn_heartbeat(
            state.store.clone(),
            replica,
            state.consumers.clone(),
            runtime.shutdown_token(),
        ));
        Ok(Self {
            listener,
            state,
            runtime,
            publisher,
            maintenance,
            new_admin_key: api.new_admin_key,
            modules_router: modules.router(),
            module_tasks,
            http: settings.http,
            tls,
        })
    }

    /// The admin key created by this start (only the first start on a store), to print once.
    pub fn new_admin_key(&self) -> Option<&str> {
        self.new_admin_key.as_deref()
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Samples the dashboard's time series (`GET /api/stats/series`) every `every` instead of every 5 s
    /// (tests use a short interval to see points quickly). Call before [`Application::run_until_stopped`].
    pub fn sample_stats_every(&mut self, every: Duration) {
        self.state.series = crate::dashboard::series::StatsSeries::new(every);
    }

    /// The publishing handle of this application (tests and embeddings publish through it).
    pub fn events(&self) -> &EventStream {
        &self.state.events
    }

    /// Serves until `shutdown` resolves, then stops consumers (draining in-flight handlers) and the
    /// publisher (flushing the emit queue into the outbox).
    ///
    /// # Errors
    /// The server fails.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state, runtime, publisher, maintenance, modules_router, module_tasks, http, tls, .. } = self;
        let sampler = state.series.clone().spawn(state.clone(), runtime.shutdown_token());
        let result = server::run(listener, state, modules_router, &http, tls, shutdown).await.context("server failed");
        maintenance.abort();
        sampler.abort();
        let stop = runtime.shutdown_token();
        runtime.shutdown(GRACE).await;
        stop.cancel();
        for t in module_tasks {
            let _ = tokio::time::timeout(GRACE, t).await;
        }
        publisher.shutdown(GRACE).await;
        result
    }
}
