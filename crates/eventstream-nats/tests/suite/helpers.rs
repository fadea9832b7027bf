//! The shared fixtures: the server URL, a [`Factory`] that opens logs on their own streams and deletes
//! them afterwards, and [`run_then_clean`] which tears down even when the test panics.

use std::future::Future;
use std::sync::{Arc, Mutex};

use eventstream_core::EventLog;
use eventstream_nats::{NatsConfig, NatsLog};
use eventstream_testkit::{LogFactory, require_service};

/// The NATS server the tests use.
pub(crate) fn nats_url() -> String {
    std::env::var("BRAIN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// Whether the shared server is reachable (with `CI=true` an unreachable server fails the test).
pub(crate) fn nats_available() -> bool {
    require_service("nats", &nats_url())
}

/// Opens NATS logs under `es-<name>` and remembers them for deletion.
pub(crate) struct Factory {
    url: String,
    opened: Mutex<Vec<String>>,
}

impl Factory {
    pub(crate) fn new() -> Self {
        Self::at(nats_url())
    }

    pub(crate) fn at(url: String) -> Self {
        Self { url, opened: Mutex::new(Vec::new()) }
    }

    pub(crate) fn config(&self, name: &str) -> NatsConfig {
        NatsConfig::new(self.url.clone(), format!("es-{name}"))
    }

    pub(crate) async fn open_nats(&self, name: &str) -> NatsLog {
        let log = NatsLog::connect(self.config(name)).await.unwrap_or_else(|e| panic!("opening NATS log {name}: {e}"));
        let mut opened = self.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !opened.iter().any(|n| n == name) {
            opened.push(name.to_owned());
        }
        log
    }

    /// Deletes the streams of every log this factory opened.
    pub(crate) async fn clean(&self) {
        let names = std::mem::take(&mut *self.opened.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for name in names {
            match NatsLog::connect(self.config(&name)).await {
                Ok(log) => {
                    if let Err(e) = log.destroy().await {
                        eprintln!("could not delete the streams of {name}: {e}");
                    }
                }
                Err(e) => eprintln!("could not reopen {name} to delete it: {e}"),
            }
        }
    }
}

#[eventstream_core::async_trait]
impl LogFactory for Factory {
    async fn open(&self, name: &str) -> Arc<dyn EventLog> {
        Arc::new(self.open_nats(name).await)
    }
}

/// Runs `test` with a fresh factory on the shared server, deletes its streams, then re-raises a panic.
pub(crate) async fn run_then_clean<F, Fut>(test: F)
where
    F: FnOnce(Arc<Factory>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let factory = Arc::new(Factory::new());
    let outcome = tokio::spawn(test(factory.clone())).await;
    factory.clean().await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}
