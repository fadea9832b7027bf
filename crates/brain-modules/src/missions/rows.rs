//! The missions module's rows: the column list of `missions` and the conversion of a row into a
//! [`Mission`]. The tables (`missions`, `mission_logs`) are created by the crate's migrations
//! (`migrations/0001_module_tables.sql`; the lease columns `lease_owner`, `lease_until` (epoch ms) and
//! `claim_id`, set while a worker holds the mission and `NULL` otherwise, by `0002_mission_leases.sql`).

use brain_events::mission::MissionStatus;
use eventstream::store::sqlx::{self, Row, any::AnyRow};
use eventstream::store::{StoreError, Tx};
use eventstream_core::TenantId;
use serde_json::Value;

use super::error::MissionError;
use super::model::{Mission, Priority};
use super::service::MissionService;
use crate::sql::db;
use crate::web::{Origin, ms_to_secs};

/// `SELECT <every mission column> FROM missions <rest>`.
macro_rules! select_missions {
    ($rest:literal) => {
        concat!(
            "SELECT tenant, id, name, mission_type, description, data, priority, status, queued, queue_seq, retry_count, \
             max_retries, created_by, agent_id, credit_cost, correlation_id, last_error, result, created_at, updated_at, \
             lease_owner, lease_until, claim_id FROM missions ",
            $rest
        )
    };
}
pub(crate) use select_missions;

impl MissionService {
    /// The mission `id` of `tenant`, read inside `tx`.
    pub(super) async fn load(&self, tx: &mut Tx, tenant: &str, id: &str) -> Result<Option<Mission>, MissionError> {
        let row = sqlx::query(select_missions!("WHERE tenant = $1 AND id = $2"))
            .bind(tenant.to_owned())
            .bind(id.to_owned())
            .fetch_optional(tx.conn())
            .await
            .map_err(db("reading a mission"))?;
        Ok(row.as_ref().map(mission_from_row).transpose()?)
    }
}

/// The origin of the worker's events for `m` of `tenant`: its tenant and the creating request's
/// correlation id.
pub(super) fn origin_of(tenant: &str, m: &Mission) -> Result<Origin, StoreError> {
    let tenant: TenantId = tenant.parse().map_err(|e: eventstream_core::InvalidId| StoreError::Corrupt {
        table: "missions",
        row_id: -1,
        column: "tenant",
        reason: e.to_string(),
    })?;
    Ok(Origin::background(tenant, m.correlation_id.clone()))
}

fn corrupt(column: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { table: "missions", row_id: -1, column, reason: reason.into() }
}

/// The claim id of a row (`NULL` unless a worker holds it).
pub(super) fn claim_id_of(r: &AnyRow) -> Result<Option<String>, StoreError> {
    r.try_get("claim_id").map_err(|e| StoreError::sqlx("reading a mission row", e))
}

/// A row of [`select_missions!`] as a [`Mission`].
pub(super) fn mission_from_row(r: &AnyRow) -> Result<Mission, StoreError> {
    let get = |e| StoreError::sqlx("reading a mission row", e);
    let data: String = r.try_get("data").map_err(get)?;
    let data = match serde_json::from_str(&data) {
        Ok(Value::Object(m)) => m,
        _ => return Err(corrupt("data", "is not a JSON object")),
    };
    let priority: i64 = r.try_get("priority").map_err(get)?;
    let status: String = r.try_get("status").map_err(get)?;
    let result: Option<String> = r.try_get("result").map_err(get)?;
    let retry_count: i64 = r.try_get("retry_count").map_err(get)?;
    let max_retries: i64 = r.try_get("max_retries").map_err(get)?;
    let queued: i64 = r.try_get("queued").map_err(get)?;
    let created_at: i64 = r.try_get("created_at").map_err(get)?;
    let updated_at: i64 = r.try_get("updated_at").map_err(get)?;
    let lease_until: Option<i64> = r.try_get("lease_until").map_err(get)?;
    Ok(Mission {
        id: r.try_get("id").map_err(get)?,
        name: r.try_get("name").map_err(get)?,
        mission_type: r.try_get("mission_type").map_err(get)?,
        description: r.try_get("description").map_err(get)?,
        data,
        priority: Priority::from_value(priority).ok_or_else(|| corrupt("priority", format!("{priority} is not a priority")))?,
        status: status.parse::<MissionStatus>().map_err(|_| corrupt("status", format!("{status:?} is not a status")))?,
        retry_count: u32::try_from(retry_count).map_err(|_| corrupt("retry_count", "out of range"))?,
        max_retries: u32::try_from(max_retries).map_err(|_| corrupt("max_retries", "out of range"))?,
        queued: queued != 0,
        created_by: r.try_get("created_by").map_err(get)?,
        agent_id: r.try_get("agent_id").map_err(get)?,
        credit_cost: r.try_get("credit_cost").map_err(get)?,
        last_error: r.try_get("last_error").map_err(get)?,
        result: result.and_then(|t| serde_json::from_str(&t).ok()),
        created_at: ms_to_secs(created_at),
        updated_at: ms_to_secs(updated_at),
        lease_owner: r.try_get("lease_owner").map_err(get)?,
        lease_until: lease_until.map(ms_to_secs),
        correlation_id: r.try_get("correlation_id").map_err(get)?,
        queue_seq: r.try_get("queue_seq").map_err(get)?,
    })
}
