//! The tenant WebSocket `GET /api/ir/approvals/ws`: pushes a notification for each approval of the
//! key's tenant that is issued, consumed or found expired, and answers the text `ping` with
//! `{"type":"heartbeat","message":"pong"}` (the original's only behaviour: it never pushed).
//!
//! The first message is `{"type":"connected","tenant_id":...}`, sent once the socket listens, so a
//! client knows from then on it misses nothing. Notifications come from this replica's service: a
//! deployment of several replicas that needs every replica's changes follows the `ir.approval_*` events
//! (`/api/events/stream`) instead. A client too slow to keep up gets `{"type":"lagged","missed":n}`.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use brain_http::ApiError;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::api::same_tenant;
use super::model::TenantQuery;
use super::service::IrGovernanceService;
use crate::web::{Query, RequestContext};

pub(super) async fn upgrade(
    State(s): State<Arc<IrGovernanceService>>,
    ctx: RequestContext,
    Query(q): Query<TenantQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    same_tenant(&ctx, "tenant_id", q.tenant_id.as_deref())?;
    let upgrade = upgrade.map_err(|rej| ApiError::new(rej.status(), "websocket_upgrade_required", rej.body_text()))?;
    let tenant = ctx.origin().tenant().to_owned();
    // Subscribed before the upgrade answers, so nothing after the handshake is missed.
    let rx = s.subscribe();
    Ok(upgrade.on_upgrade(move |socket| serve(tenant, rx, socket)))
}

async fn serve(tenant: String, mut rx: tokio::sync::broadcast::Receiver<super::service::Notification>, mut socket: WebSocket) {
    let hello = json!({"type": "connected", "tenant_id": tenant}).to_string();
    if socket.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    loop {
        let out = tokio::select! {
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Text(t))) if t.trim() == "ping" => json!({"type": "heartbeat", "message": "pong"}),
                Some(Ok(Message::Text(_))) => json!({"type": "error", "code": "unknown_message", "message": "send `ping`"}),
                Some(Ok(_)) => continue,
            },
            n = rx.recv() => match n {
                Ok(n) if n.tenant == tenant => n.message,
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => json!({"type": "lagged", "missed": missed}),
                Err(RecvError::Closed) => return,
            },
        };
        if socket.send(Message::Text(out.to_string().into())).await.is_err() {
            return;
        }
    }
}
