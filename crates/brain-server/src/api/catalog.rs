//! `GET /api/catalog`: every event type with its contract and JSON Schema (the same list as
//! `brain catalog --json`), plus the validation mode in force.

use axum::extract::State;
use brain_http::Principal;
use serde_json::{Value, json};

use crate::server::AppState;

/// `GET /api/catalog`. Any role may read it: it holds no tenant data.
pub(super) async fn list(State(state): State<AppState>, _principal: Principal) -> axum::Json<Value> {
    axum::Json(json!({
        "validation": state.validation,
        "count": state.catalog.len(),
        "namespaces": state.catalog.namespaces().collect::<Vec<_>>(),
        "types": &*state.catalog,
    }))
}
