//! The telemetry routes: `GET /api/telemetry/info`, the WebSocket `/api/telemetry/ws/{robot_id}` and
//! `GET /api/telemetry/robots/{robot_id}/metrics`.
//!
//! The WebSocket writes (a connection row, events, metrics) and replaces the robot's live socket, so it
//! needs a writer key: a reader gets 403 before any upgrade. Messages are capped at the server's body
//! limit (close 1009 beyond), and the socket closes when its key is revoked (1008) or at the maximum
//! connection lifetime (1001: reconnect), as every long-lived connection does ([`brain_http::live`]).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use brain_events::telemetry::RobotMetrics;
use brain_http::live::{StreamPolicy, oversize_close};
use brain_http::{ApiError, Path};
use serde_json::{Value, json};

use super::service::{TelemetryService, check_metrics};
use crate::web::{Origin, RequestContext, check_id, store_error};

/// The telemetry router.
pub(crate) fn router(service: Arc<TelemetryService>) -> Router {
    Router::new()
        .route("/api/telemetry/info", get(info))
        .route("/api/telemetry/ws/{robot_id}", get(ws))
        .route("/api/telemetry/robots/{robot_id}/metrics", get(metrics))
        .with_state(service)
}

async fn info(State(s): State<Arc<TelemetryService>>, ctx: RequestContext) -> Response {
    axum::Json(json!({
        "name": "Fleet Telemetry System",
        "version": "1.0.0",
        "features": ["Real-time metrics", "WebSocket streaming", "Historical data"],
        "active_connections": s.active_connections(ctx.origin().tenant()),
    }))
    .into_response()
}

async fn metrics(State(s): State<Arc<TelemetryService>>, ctx: RequestContext, Path(robot_id): Path<String>) -> Result<Response, ApiError> {
    check_id("robot_id", &robot_id)?;
    match s.latest_metrics(&ctx.origin(), &robot_id).await.map_err(|e| store_error(&e))? {
        Some(m) => Ok(axum::Json(json!({
            "robot_id": robot_id,
            "cpu_usage": m.cpu_usage,
            "memory_usage": m.memory_usage,
            "network_latency_ms": m.network_latency_ms,
            "battery_percentage": m.battery_percentage,
        }))
        .into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "robot_not_found", format!("robot `{robot_id}` has not reported metrics"))
            .with_field("robot_id")),
    }
}

async fn ws(
    State(s): State<Arc<TelemetryService>>,
    ctx: RequestContext,
    policy: StreamPolicy,
    Path(robot_id): Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("robot_id", &robot_id)?;
    let upgrade = upgrade.map_err(|rej| ApiError::new(rej.status(), "websocket_upgrade_required", rej.body_text()))?;
    let origin = ctx.origin();
    Ok(policy.websocket(upgrade).on_upgrade(move |socket| serve(s, origin, policy, robot_id, socket)))
}

async fn serve(s: Arc<TelemetryService>, origin: Origin, policy: StreamPolicy, robot_id: String, mut socket: WebSocket) {
    let connection_id = format!("ws_{robot_id}_{}_{}", crate::web::now_ms() / 1000, &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut replaced = match s.open(&origin, &robot_id, &connection_id).await {
        Ok(rx) => rx,
        Err(e) => {
            tracing::warn!(error = %eventstream_core::error::Chain(&e), "cannot open a telemetry connection");
            let _ = socket.send(Message::Close(Some(CloseFrame { code: 1011, reason: "state store unavailable".into() }))).await;
            return;
        }
    };
    let started = Instant::now();
    let shutdown = s.shutdown_token();
    let ended = policy.ended();
    tokio::pin!(ended);
    let reason = loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                None => break "connection_lost",
                Some(Err(e)) => match oversize_close(&e) {
                    Some(frame) => {
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        break "message_too_big";
                    }
                    None => break "error",
                },
                Some(Ok(Message::Close(_))) => break "client_disconnect",
                Some(Ok(Message::Text(text))) => {
                    let reply = handle_text(&s, &origin, &robot_id, text.as_str()).await;
                    if socket.send(Message::Text(reply.into())).await.is_err() {
                        break "error";
                    }
                }
                Some(Ok(_)) => {}
            },
            _ = &mut replaced => {
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1000, reason: "replaced by a newer connection".into() }))).await;
                break "replaced";
            }
            end = &mut ended => {
                let _ = socket.send(Message::Close(Some(end.close_frame()))).await;
                break end.as_str();
            }
            () = shutdown.cancelled() => {
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server shutdown".into() }))).await;
                break "server_shutdown";
            }
        }
    };
    s.close(&origin, &robot_id, &connection_id, reason, started.elapsed().as_secs_f64()).await;
}

/// A metrics object is stored and published (reply `{"type":"metrics_ack",...}`), an invalid one is
/// refused (`{"type":"error","code":"invalid_metrics",...}`), anything else gets
/// `{"type":"error","code":"invalid_frame",...}`, never a copy of the input.
async fn handle_text(s: &TelemetryService, origin: &Origin, robot_id: &str, text: &str) -> String {
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(text) else {
        return json!({"type": "error", "code": "invalid_frame", "message": "expected a JSON metrics object"}).to_string();
    };
    let metrics = match serde_json::from_value::<RobotMetrics>(Value::Object(obj)) {
        Ok(m) => m,
        Err(e) => return json!({"type": "error", "code": "invalid_metrics", "message": e.to_string()}).to_string(),
    };
    if let Err(message) = check_metrics(&metrics) {
        return json!({"type": "error", "code": "invalid_metrics", "message": message}).to_string();
    }
    match s.publish_metrics(origin, robot_id, metrics).await {
        Ok(at) => json!({"type": "metrics_ack", "published_at": at}).to_string(),
        Err(e) => {
            tracing::warn!(error = %eventstream_core::error::Chain(&e), "cannot store robot metrics");
            json!({"type": "error", "code": "unavailable", "message": "the state store is unavailable; retry"}).to_string()
        }
    }
}
