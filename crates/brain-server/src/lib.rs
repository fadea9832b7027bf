//! The BRAiN EventStream server as a library: everything `brain serve` runs, so that tests (and any other
//! embedding) can start the whole application in-process on port 0.
//!
//! ```no_run
//! # async fn demo(settings: brain_server::ServerSettings, backends: brain_server::Backends) -> anyhow::Result<()> {
//! let app = brain_server::Application::build(settings, backends, Vec::new()).await?;
//! println!("listening on {}", app.local_addr()?);
//! app.run_until_stopped(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! What it owns: startup ([`Application`]: publisher, consumer runtime with the system and module
//! subscribers, maintenance, listener; `replicas.rs` this replica's heartbeat in the replica registry), the HTTP server (`server.rs`: health, readiness, the router; `listen.rs`: the listener with its timeouts, connection
//! cap and TLS), the
//! event API under `/api` (`api/`), the dashboard at `/` (`dashboard/`), the API-key store ([`keys`]), the
//! one ingest path every published event takes ([`ingest`]: limits, envelope rules, catalog validation) and
//! the time/position grammar shared with the CLI ([`time_arg`]). What it does not own: choosing and
//! opening a backend and reading configuration — the `brain` binary does that and hands over
//! [`ServerSettings`] and opened [`Backends`].

mod api;
mod dashboard;
pub mod keys;
mod listen;
mod replicas;
mod server;
mod startup;
pub mod time_arg;

pub use api::ingest;
pub use listen::{HttpSettings, TlsFiles};
pub use startup::{Application, Backends, ServerSettings};
