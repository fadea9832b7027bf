//! supervisor: health, mission status overview and agents, each query reported as a `supervisor.*` event.
//!
//! It owns the tables `supervisor_missions` (each mission's last known status), `supervisor_task_counts`
//! and `supervisor_agents`, kept by a projection ([`handlers::SupervisorProjection`]) that subscribes to
//! `mission.*`, `task.*` and `agent.*` events. It never calls the missions module (the original called
//! `get_stats()` of missions-v2 directly, §4.1). An agent whose last heartbeat is older than the
//! configured timeout is shown offline; a background check also marks it offline in the table and
//! publishes `agent.offline` (reason `heartbeat_timeout`) so other subscribers learn it too.

mod api;
pub(crate) mod handlers;
mod service;

pub(crate) use api::router;
pub use service::{AgentView, SupervisorService, SupervisorStatus};
