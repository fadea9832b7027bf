//! Proofs as they leave the server (inclusion, consistency; JSON with base64 hashes), their offline
//! verification with nothing but the verifier key, and browsing the log.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use eventstream_core::{TenantId, TypePattern};
use eventstream_sql::sqlx::{self, AssertSqlSafe, Row};
use eventstream_sql::{StateStore, StoreError};
use serde::{Deserialize, Serialize};

use super::error::AuditError;
use super::merkle::{self, Hash, leaf_hash};
use super::note::{Checkpoint, NoteVerifier};
use super::store::{self, to_hash, tree_name};

/// An inclusion proof: the leaf's exact bytes, its index, the audit path, and the signed checkpoint of the
/// tree size it is proven against. JSON: `{"leaf_index","tree_size","leaf","hashes","checkpoint"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The leaf's index in its tree.
    pub leaf_index: u64,
    /// The tree size proven against.
    pub tree_size: u64,
    /// Base64 of the exact leaf bytes (the canonical JSON envelope).
    pub leaf: String,
    /// Base64 of the audit path hashes.
    pub hashes: Vec<String>,
    /// The signed checkpoint note of size `tree_size`.
    pub checkpoint: String,
}

/// A consistency proof between two sizes of one tree. JSON: `{"from","to","hashes"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// Base64 of the proof hashes.
    pub hashes: Vec<String>,
}

fn decode_hashes(hashes: &[String]) -> Result<Vec<Hash>, AuditError> {
    hashes
        .iter()
        .map(|h| {
            let v = B64.decode(h).map_err(|_| AuditError::BadRequest(format!("proof hash {h:?} is not base64")))?;
            v.try_into().map_err(|_| AuditError::BadRequest(format!("proof hash {h:?} is not 32 bytes")))
        })
        .collect()
}

fn encode_hashes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

impl InclusionProof {
    /// Checks the proof offline: the checkpoint is signed by `key`, its size is the proof's, and the leaf
    /// bytes hash up to its root. Returns the checkpoint and the leaf bytes.
    ///
    /// # Errors
    /// [`AuditError::Note`] for a bad signature or checkpoint, [`AuditError::BadRequest`] for a malformed
    /// proof, [`AuditError::Proof`] when the path does not lead to the signed root.
    pub fn verify(&self, key: &NoteVerifier) -> Result<(Checkpoint, Vec<u8>), AuditError> {
        let cp = Checkpoint::open(&self.checkpoint, key)?;
        if cp.size != self.tree_size {
            return Err(AuditError::BadRequest(format!("the checkpoint is of size {}, the proof of size {}", cp.size, self.tree_size)));
        }
        let leaf = B64.decode(&self.leaf).map_err(|_| AuditError::BadRequest("leaf is not base64".into()))?;
        merkle::verify_inclusion(self.leaf_index, self.tree_size, &leaf_hash(&leaf), &decode_hashes(&self.hashes)?, &cp.root)?;
        Ok((cp, leaf))
    }
}

impl ConsistencyProof {
    /// Checks that the tree with `from_root` at `self.from` is a prefix of the tree with `to_root`.
    ///
    /// # Errors
    /// [`AuditError::BadRequest`] for a malformed hash, [`AuditError::Proof`] when it does not verify.
    pub fn verify(&self, from_root: &Hash, to_root: &Hash) -> Result<(), AuditError> {
        merkle::verify_consistency(self.from, self.to, from_root, to_root, &decode_hashes(&self.hashes)?)?;
        Ok(())
    }
}

/// The inclusion proof of event `event_id` in the global tree, or in `tenant`'s tree, against the signed
/// checkpoint of `tree_size` (default: the latest).
pub(crate) async fn inclusion(
    store: &StateStore,
    event_id: &str,
    tree_size: Option<u64>,
    tenant: Option<&TenantId>,
) -> Result<InclusionProof, AuditError> {
    let unknown = || AuditError::UnknownEvent { event_id: event_id.to_owned(), tenant: tenant.map(|t| t.as_str().to_owned()) };
    // Ids are unique per tenant: a tenant's proof is of its own event; the global tree's (no tenant given)
    // is of the first event with this id.
    let row = match tenant {
        Some(t) => {
            sqlx::query("SELECT idx, tenant, tenant_idx, bytes FROM audit_log WHERE event_id = $1 AND tenant = $2")
                .bind(event_id)
                .bind(t.as_str())
                .fetch_optional(store.pool())
                .await
        }
        None => {
            sqlx::query("SELECT idx, tenant, tenant_idx, bytes FROM audit_log WHERE event_id = $1 ORDER BY idx LIMIT 1")
                .bind(event_id)
                .fetch_optional(store.pool())
                .await
        }
    }
    .map_err(|e| StoreError::sqlx("reading the audit log", e))?
    .ok_or_else(unknown)?;
    let get = |e| AuditError::Store(StoreError::sqlx("reading the audit log", e));
    let row_tenant: Option<String> = row.try_get("tenant").map_err(get)?;
    let index: i64 = match tenant {
        None => row.try_get("idx").map_err(get)?,
        Some(t) if row_tenant.as_deref() == Some(t.as_str()) => {
            row.try_get::<Option<i64>, _>("tenant_idx").map_err(get)?.ok_or_else(unknown)?
        }
        Some(_) => return Err(unknown()),
    };
    let bytes: Option<Vec<u8>> = row.try_get("bytes").map_err(get)?;
    let bytes = bytes.ok_or_else(|| AuditError::Pruned { event_id: event_id.to_owned() })?;
    let tree = tree_name(tenant);
    let cp = store::checkpoint(store, &tree, tree_size).await?.ok_or_else(|| {
        AuditError::NoCheckpoint(match tree_size {
            Some(n) => format!("of size {n} for tree {tree}"),
            None => format!("for tree {tree} yet"),
        })
    })?;
    let index = index as u64;
    if index >= cp.size {
        return Err(AuditError::NoCheckpoint(format!("covers leaf {index} of tree {tree} yet (latest size {})", cp.size)));
    }
    let leaves = store::leaf_hashes(store, tenant, cp.size).await?;
    let hashes = merkle::inclusion_proof(&leaves, index)?;
    Ok(InclusionProof {
        leaf_index: index,
        tree_size: cp.size,
        leaf: B64.encode(bytes),
        hashes: encode_hashes(&hashes),
        checkpoint: cp.note,
    })
}

/// The consistency proof of a tree between sizes `from` and `to`.
pub(crate) async fn consistency(store: &StateStore, from: u64, to: u64, tenant: Option<&TenantId>) -> Result<ConsistencyProof, AuditError> {
    if from > to {
        return Err(AuditError::BadRequest(format!("from ({from}) must not be above to ({to})")));
    }
    let size = store::tree_size(store, &tree_name(tenant)).await?;
    if to > size {
        return Err(AuditError::BadRequest(format!("to ({to}) is above the tree size ({size})")));
    }
    let leaves = store::leaf_hashes(store, tenant, to).await?;
    Ok(ConsistencyProof { from, to, hashes: encode_hashes(&merkle::consistency_proof(&leaves, from)?) })
}

/// Filters for browsing the log; every condition that is set must hold.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Event type pattern (`task.*`, `mission.created`).
    pub event_type: Option<TypePattern>,
    /// Only this tenant's rows.
    pub tenant: Option<TenantId>,
    /// Envelope timestamp at or after.
    pub since: Option<DateTime<Utc>>,
    /// Envelope timestamp strictly before.
    pub until: Option<DateTime<Utc>>,
}

/// One row of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Global index (also the browsing cursor).
    pub index: u64,
    /// The tenant, if any.
    pub tenant: Option<String>,
    /// Index in the tenant's tree.
    pub tenant_index: Option<u64>,
    /// The event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The envelope timestamp.
    pub timestamp: DateTime<Utc>,
    /// Base64 of the leaf hash.
    pub leaf_hash: String,
    /// Whether the payload bytes were pruned.
    pub pruned: bool,
    /// The stored envelope (absent once pruned).
    pub event: Option<serde_json::Value>,
}

/// Up to `limit` rows matching `filter` with index above `after`, oldest first.
pub(crate) async fn list(store: &StateStore, filter: &AuditFilter, after: Option<u64>, limit: u32) -> Result<Vec<AuditEntry>, AuditError> {
    let mut sql =
        String::from("SELECT idx, tenant, tenant_idx, event_id, event_type, event_time, bytes, leaf_hash FROM audit_log WHERE 1 = 1");
    let mut texts: Vec<(usize, String)> = Vec::new();
    let mut ints: Vec<(usize, i64)> = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if let Some(p) = filter.event_type.as_ref().filter(|p| p.as_str() != "*") {
        let i = next();
        match p.prefix() {
            Some(prefix) => {
                sql.push_str(&format!(" AND event_type LIKE ${i} ESCAPE '!'"));
                texts.push((i, format!("{}%", prefix.replace('_', "!_"))));
            }
            None => {
                sql.push_str(&format!(" AND event_type = ${i}"));
                texts.push((i, p.as_str().to_owned()));
            }
        }
    }
    if let Some(t) = &filter.tenant {
        let i = next();
        sql.push_str(&format!(" AND tenant = ${i}"));
        texts.push((i, t.as_str().to_owned()));
    }
    for (cond, v) in [
        (" AND event_time >= ", filter.since.map(|t| t.timestamp_millis())),
        (" AND event_time < ", filter.until.map(|t| t.timestamp_millis())),
        (" AND idx > ", after.map(|a| a as i64)),
    ] {
        if let Some(v) = v {
            let i = next();
            sql.push_str(&format!("{cond}${i}"));
            ints.push((i, v));
        }
    }
    let i = next();
    sql.push_str(&format!(" ORDER BY idx LIMIT ${i}"));
    ints.push((i, i64::from(limit)));
    let mut binds: Vec<(usize, Result<String, i64>)> =
        texts.into_iter().map(|(i, s)| (i, Ok(s))).chain(ints.into_iter().map(|(i, v)| (i, Err(v)))).collect();
    binds.sort_by_key(|(i, _)| *i);
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for (_, b) in binds {
        q = match b {
            Ok(s) => q.bind(s),
            Err(v) => q.bind(v),
        };
    }
    let rows = q.fetch_all(store.pool()).await.map_err(|e| StoreError::sqlx("browsing the audit log", e))?;
    let get = |e| AuditError::Store(StoreError::sqlx("browsing the audit log", e));
    rows.iter()
        .map(|r| {
            let bytes: Option<Vec<u8>> = r.try_get("bytes").map_err(get)?;
            let ms: i64 = r.try_get("event_time").map_err(get)?;
            let leaf: Vec<u8> = r.try_get("leaf_hash").map_err(get)?;
            Ok(AuditEntry {
                index: r.try_get::<i64, _>("idx").map_err(get)? as u64,
                tenant: r.try_get("tenant").map_err(get)?,
                tenant_index: r.try_get::<Option<i64>, _>("tenant_idx").map_err(get)?.map(|v| v as u64),
                event_id: r.try_get("event_id").map_err(get)?,
                event_type: r.try_get("event_type").map_err(get)?,
                timestamp: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                leaf_hash: B64.encode(to_hash(&leaf, "leaf hash")?),
                pruned: bytes.is_none(),
                event: bytes.and_then(|b| serde_json::from_slice(&b).ok()),
            })
        })
        .collect()
}
