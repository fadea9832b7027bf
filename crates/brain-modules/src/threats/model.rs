//! The threats module's data: threats, the create body, the statistics.

use std::collections::BTreeMap;

use brain_events::threat::{ThreatSeverity, ThreatStatus};
use brain_http::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::web::check_text;

/// Largest metadata object, as JSON text.
const MAX_METADATA: usize = 16 * 1024;

/// A threat (the original's JSON shape; times in epoch seconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threat {
    /// The id (a UUID).
    pub id: String,
    /// Its kind (`brute_force`, ...).
    #[serde(rename = "type")]
    pub threat_type: String,
    /// Where it was seen.
    pub source: String,
    /// How severe it is (never changes).
    pub severity: ThreatSeverity,
    /// Where it stands.
    pub status: ThreatStatus,
    /// A description.
    pub description: Option<String>,
    /// Extra facts.
    pub metadata: Map<String, Value>,
    /// When it was detected.
    pub created_at: f64,
    /// When it last changed.
    pub last_seen_at: f64,
}

/// The body of `POST /api/threats`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatCreate {
    /// Its kind.
    #[serde(rename = "type")]
    pub threat_type: String,
    /// Where it was seen.
    pub source: String,
    /// How severe it is.
    pub severity: ThreatSeverity,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// Extra facts.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

impl ThreatCreate {
    /// Checks the texts and sizes.
    ///
    /// # Errors
    /// 422 `validation_failed` naming the field.
    pub fn check(&self) -> Result<(), ApiError> {
        check_text("type", &self.threat_type, 100, true)?;
        check_text("source", &self.source, 200, true)?;
        if let Some(d) = &self.description {
            check_text("description", d, 2000, false)?;
        }
        if Value::Object(self.metadata.clone()).to_string().len() > MAX_METADATA {
            return Err(ApiError::invalid("metadata", format!("`metadata` must be at most {MAX_METADATA} bytes of JSON")));
        }
        Ok(())
    }
}

/// The query of `GET /api/threats`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this status.
    #[serde(default)]
    pub status: Option<String>,
    /// Only this severity.
    #[serde(default)]
    pub severity: Option<String>,
    /// Threats per page (1 to 1000, default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// The query of `POST /api/threats/{threat_id}/status`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    /// The new status (the original's query parameter).
    pub status: String,
}

/// Counts of the tenant's threats, from the rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreatStats {
    /// Threats.
    pub total: u64,
    /// By severity, every severity present (`LOW` .. `CRITICAL`).
    pub by_severity: BTreeMap<&'static str, u64>,
    /// By status, every status present (`OPEN` .. `ESCALATED`).
    pub by_status: BTreeMap<&'static str, u64>,
    /// The latest change (epoch seconds; 0 when there is no threat).
    pub last_updated: f64,
}
