//! Builds the whole application from the settings: log, state store, publisher, consumers, HTTP server.
//! Tests build it on port 0 in a temp dir and stop it through the shutdown future.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use brain_events::{Catalog, ValidationMode};
use eventstream::{default_consumer_name, ConsumerRuntime, EventStream, PublisherOptions, PublisherTasks, Subscription};
use tokio::net::TcpListener;

use crate::backend::{open_local_outbox, open_log, open_store};
use crate::config::Settings;
use crate::server::{self, AppState, ConsumerInfo};

/// How long shutdown waits for in-flight handlers and the outbox relay.
const GRACE: Duration = Duration::from_secs(10);

/// A built application, ready to run.
pub(crate) struct Application {
    listener: TcpListener,
    state: AppState,
    runtime: ConsumerRuntime,
    publisher: PublisherTasks,
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
        let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), default_consumer_name());
        let mut consumers = Vec::new();
        for sub in subscriptions {
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
            validation: ValidationMode::default(),
            consumers: Arc::new(consumers),
            data_dir: settings.data_dir.clone(),
        };
        Ok(Self { listener, state, runtime, publisher })
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
        let Self { listener, state, runtime, publisher } = self;
        let result = server::run(listener, state, shutdown).await.context("server failed");
        runtime.shutdown(GRACE).await;
        publisher.shutdown(GRACE).await;
        result
    }
}
