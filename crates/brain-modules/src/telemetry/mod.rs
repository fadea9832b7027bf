//! telemetry: robot telemetry over a WebSocket, `/api/telemetry/ws/{robot_id}`, and the robots' latest
//! metrics.
//!
//! It owns `telemetry_connections` (every connection with its close reason and duration) and
//! `telemetry_metrics` (each robot's latest metrics). A connection writes `telemetry.connection_established`
//! when it opens and `telemetry.connection_closed` with the **real** reason and duration when it ends:
//! `client_disconnect` (close frame), `connection_lost` (the stream ended without one), `replaced` (a newer
//! connection for the same robot took over), `server_shutdown`, `key_revoked`, `max_lifetime`,
//! `message_too_big` (over the server's body limit: close 1009), `error`. Closing an old connection never
//! removes a newer one for the same robot (the original did, §15.13). A text frame holding a metrics object
//! (`cpu_usage`, `memory_usage`, `network_latency_ms`, `battery_percentage`) is stored and published as
//! `telemetry.metrics_published` and acknowledged; other text gets `{"type":"error","code":"invalid_frame"}`
//! (the original echoed it back, a second copy of any input). Only writer keys may connect.

mod api;
mod service;

pub(crate) use api::router;
pub use service::TelemetryService;
