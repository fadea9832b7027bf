//! The tenant WebSocket `GET /api/ir/approvals/ws`: pushes a notification for each approval of the
//! key's tenant that is issued, consumed or found expired, and answers the text `ping` with
//! `{"type":"heartbeat","message":"pong"}` (the original's only behaviour: it never pushed).
//!
//! The first message is `{"type":"connected","tenant_id":...}`, sent once the socket listens, so a
//! client knows from then on it misses nothing. Notifications come from this replica's service: a
//! deployment of several replicas that needs every replica's changes follows the `ir.approval_*` events
//! (`/api/events/stream`) instead. A client too slow to keep up gets `{"type":"lagged","missed":n}`.
//!
//! The socket only reads, so any key of the tenant may open it (readers included). Like every long-lived
//! connection ([`brain_http::live`]) it closes when its key is revoked (1008) or at the maximum connection
//! lifetime (1001: reconnect), and messages over the server's body limit close it with 1009.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use brain_http::ApiError;
use brain_http::live::{StreamPolicy, oversize_close};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::api::same_tenant;
use super::model::TenantQuery;
use super::service::IrGovernanceService;
use crate::web::{Query, RequestContext};

pub(super) async fn upgrade(
    State(s): State<Arc<IrGovernanceService>>,
    ctx: RequestContext,
    policy: StreamPolicy,
    Query(q): Query<TenantQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    same_tenant(&ctx, "tenant_id", q.tenant_id.as_deref())?;
    let upgrade = upgrade.map_err(|rej| ApiError::new(rej.status(), "websocket_upgrade_required", rej.body_text()))?;
    let tenant = ctx.origin().tenant().to_owned();
    // Subscribed before the upgrade answers, so nothing after the handshake is missed.
    let rx = s.subscribe();
    Ok(policy.websocket(upgrade).on_upgrade(move |socket| serve(tenant, rx, policy, socket)))
}

async fn serve(
    tenant: String,
    mut rx: tokio::sync::broadcast::Receiver<super::service::Notification>,
    policy: StreamPolicy,
    mut socket: WebSocket,
) {
    let hello = json!({"type": "connected", "tenant_id": tenant}).to_string();
    if socket.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    let ended = policy.ended();
    tokio::pin!(ended);
    // Each turn: a message to send, or the end (with the close frame to send, if any).
    loop {
        let next: Result<serde_json::Value, Option<CloseFrame>> = tokio::select! {
            end = &mut ended => Err(Some(end.close_frame())),
            msg = socket.recv() => match msg {
                Some(Err(e)) => Err(oversize_close(&e)),
                None | Some(Ok(Message::Close(_))) => Err(None),
                Some(Ok(Message::Text(t))) if t.trim() == "ping" => Ok(json!({"type": "heartbeat", "message": "pong"})),
                Some(Ok(Message::Text(_))) => Ok(json!({"type": "error", "code": "unknown_message", "message": "send `ping`"})),
                Some(Ok(_)) => continue,
            },
            n = rx.recv() => match n {
                Ok(n) if n.tenant == tenant => Ok(n.message),
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => Ok(json!({"type": "lagged", "missed": missed})),
                Err(RecvError::Closed) => Err(None),
            },
        };
        match next {
            Ok(out) => {
                if socket.send(Message::Text(out.to_string().into())).await.is_err() {
                    return;
                }
            }
            Err(close) => {
                if let Some(frame) = close {
                    let _ = socket.send(Message::Close(Some(frame))).await;
                }
                return;
            }
        }
    }
}
