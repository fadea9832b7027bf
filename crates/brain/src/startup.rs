//! Builds the whole application from the settings: log, state store, publisher, consumers, HTTP server.
//! Tests build it on port 0 in a temp dir and stop it through the shutdown future.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use brain_events::Catalog;
use eventstream::{ConsumerRuntime, EventStream, PublisherOptions, PublisherTasks, Subscription, default_consumer_name};
use tokio::net::TcpListener;

use crate::backend::{open_local_outbox, open_log, open_store};
use crate::config::Settings;
use crate::server::{self, AppState, ConsumerInfo};

/// How long shutdown waits for in-flight handlers and the outbox relay.
const GRACE: Duration = Duration::from_secs(10);

/// How often the retention jobs run.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(3600);

/// A built application, ready to run.
pub(crate) struct Application {
    listener: TcpListener,
    state: AppState,
    runtime: ConsumerRuntime,
    publisher: PublisherTasks,
    maintenance: tokio::task::JoinHandle<()>,
    new_admin_key: Option<String>,
    modules_router: axum::Router,
    module_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Opens everything and binds the listener. `subscriptions` are the subscribers this process runs.
    ///
    /// # Errors
    /// A backend cannot be opened, or the address cannot be bound.
    pub(crate) async fn build(settings: &Settings, subscriptions: Vec<Subscription>) -> anyhow::Result<Self> {
        let log = open_log(settings).await?;
        let store = open_store(settings).await?;
        let outbox = open_local_outbox(settings, &store).await?;
        let (events, publisher) = EventStream::start(log.clone(), store.clone(), outbox, PublisherOptions::default());
        let mut api = crate::api::ApiParts::open(&store, &settings.data_dir).await?;
        let audit = eventstream_system::audit::AuditLog::open(store.clone(), &eventstream_system::audit::AuditConfig::in_data_dir(&settings.data_dir))
            .await
            .context("cannot open the audit log")?;
        api.subscriptions.push(audit.subscription().context("audit subscriber")?);
        // One consumer name for the runtime and the mission leases (the owner of this replica's claims).
        let consumer_name = settings.consumer_name.clone().unwrap_or_else(default_consumer_name);
        let module_config = brain_modules::ModulesConfig { consumer_name: consumer_name.clone(), ..settings.modules.clone() };
        let modules =
            brain_modules::Modules::init(events.clone(), log.clone(), module_config).await.context("cannot start the modules")?;
        let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), consumer_name);
        let mut consumers = Vec::new();
        for sub in std::mem::take(&mut api.subscriptions).into_iter().chain(modules.subscriptions()).chain(subscriptions) {
            let name = sub.name().clone();
            let patterns = sub.patterns().to_vec();
            let stats = runtime.spawn(sub);
            consumers.push(ConsumerInfo { name, patterns, stats });
        }
        let addr = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let state = AppState {
            log,
            store,
            events,
            catalog: Arc::new(Catalog::new()),
            validation: settings.validation,
            consumers: Arc::new(consumers),
            keys: api.keys,
            index: api.index,
            metrics: api.metrics,
            audit,
        };
        let maintenance = tokio::spawn(maintenance(settings.clone(), state.store.clone(), runtime.shutdown_token()));
        let mut module_tasks = modules.spawn_background(runtime.shutdown_token());
        module_tasks.push(state.audit.spawn_checkpointer(runtime.shutdown_token()));
        Ok(Self {
            listener,
            state,
            runtime,
            publisher,
            maintenance,
            new_admin_key: api.new_admin_key,
            modules_router: modules.router(),
            module_tasks,
        })
    }

    /// The admin key created by this start (only the first start on a store), to print once.
    pub(crate) fn new_admin_key(&self) -> Option<&str> {
        self.new_admin_key.as_deref()
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (tests publish through it).
    #[allow(dead_code)]
    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops consumers (draining in-flight handlers) and the
    /// publisher (flushing the emit queue into the outbox).
    ///
    /// # Errors
    /// The server fails.
    pub(crate) async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state, runtime, publisher, maintenance, modules_router, module_tasks, .. } = self;
        let result = server::run(listener, state, modules_router, shutdown).await.context("server failed");
        maintenance.abort();
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

/// The retention jobs: inbox rows older than the dedup retention, and (Redis) stream trimming that never
/// removes an entry a consumer group still needs. Runs at start and then hourly.
async fn maintenance(settings: Settings, store: eventstream_sql::StateStore, stop: tokio_util::sync::CancellationToken) {
    let trimmer = match &settings.log {
        crate::config::LogSettings::Redis { url, stream } if settings.stream_max_len.is_some() || settings.stream_max_age.is_some() => {
            eventstream_redis::RedisLog::new(eventstream_redis::RedisConfig::new(url.clone()).with_stream(stream.clone())).ok()
        }
        _ => None,
    };
    let mut tick = tokio::time::interval(MAINTENANCE_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        match store.purge_processed_older_than(settings.dedup_retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "inbox retention: deleted old processed_events rows"),
            Err(e) => tracing::warn!(error = %e, "inbox retention failed"),
        }
        if let Err(e) = store.purge_retry_state_older_than(settings.dedup_retention).await {
            tracing::warn!(error = %e, "retry-state retention failed");
        }
        if let Some(log) = &trimmer {
            let policy = eventstream_redis::Retention { max_len: settings.stream_max_len, max_age: settings.stream_max_age, force: false };
            match log.trim(&policy).await {
                Ok(report) => tracing::info!(?report, "stream retention"),
                Err(e) => tracing::warn!(error = %e, "stream retention failed"),
            }
        }
    }
}
