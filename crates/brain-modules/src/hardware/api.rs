//! The hardware routes: `GET /api/hardware/info`, `POST /api/hardware/robots/{robot_id}/command`,
//! `GET /api/hardware/robots/{robot_id}/state`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use brain_events::hardware::MovementCommand;
use brain_http::{ApiError, Json, Path};
use serde::Deserialize;
use serde_json::json;

use super::service::{HardwareService, VERSION};
use crate::web::{RequestContext, check_id, store_error};

/// The body of a movement command: all three axes are required.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandRequest {
    linear_x: f64,
    linear_y: f64,
    angular_z: f64,
}

/// The hardware router.
pub(crate) fn router(service: Arc<HardwareService>) -> Router {
    Router::new()
        .route("/api/hardware/info", get(info))
        .route("/api/hardware/robots/{robot_id}/command", post(command))
        .route("/api/hardware/robots/{robot_id}/state", get(state))
        .with_state(service)
}

async fn info(State(s): State<Arc<HardwareService>>, ctx: RequestContext) -> Response {
    s.info(&ctx.origin()).await;
    axum::Json(json!({
        "name": "Hardware Abstraction Layer",
        "version": VERSION,
        "supported_platforms": ["unitree_go1", "unitree_go2", "unitree_b2"],
        "features": ["Motor control", "IMU reading", "Battery monitoring"],
    }))
    .into_response()
}

fn bounded(field: &str, v: f64, limit: f64) -> Result<(), ApiError> {
    if v.is_finite() && (-limit..=limit).contains(&v) {
        Ok(())
    } else {
        Err(ApiError::invalid(field, format!("`{field}` must be between {} and {limit}, got {v}", -limit)))
    }
}

async fn command(
    State(s): State<Arc<HardwareService>>,
    ctx: RequestContext,
    Path(robot_id): Path<String>,
    Json(req): Json<CommandRequest>,
) -> Result<Response, ApiError> {
    ctx.require_writer()?;
    check_id("robot_id", &robot_id)?;
    bounded("linear_x", req.linear_x, 1.0)?;
    bounded("linear_y", req.linear_y, 1.0)?;
    bounded("angular_z", req.angular_z, 2.0)?;
    let cmd = MovementCommand { linear_x: req.linear_x, linear_y: req.linear_y, angular_z: req.angular_z };
    let st = s.command(&ctx.origin(), &robot_id, cmd).await.map_err(|e| store_error(&e))?;
    Ok((StatusCode::OK, axum::Json(json!({"robot_id": robot_id, "status": "command_sent", "command": cmd, "state": st}))).into_response())
}

async fn state(State(s): State<Arc<HardwareService>>, ctx: RequestContext, Path(robot_id): Path<String>) -> Result<Response, ApiError> {
    check_id("robot_id", &robot_id)?;
    match s.state(&ctx.origin(), &robot_id).await.map_err(|e| store_error(&e))? {
        Some(st) => Ok(axum::Json(st).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "robot_not_found", format!("robot `{robot_id}` has never received a command"))
            .with_field("robot_id")),
    }
}
