//! The verifiable audit log: every event of every tenant, appended once to an append-only table in the
//! state store, with the exact bytes it hashes; an RFC 6962 Merkle tree over the rows (one global tree,
//! one per tenant); signed C2SP checkpoints; inclusion and consistency proofs; `verify` that names the
//! first bad row; and `prune` that drops old payload bytes but keeps every proof valid.
//!
//! What it proves, and against whom: someone who edits the database but does not hold the signing key
//! cannot change, drop, add or reorder a checkpointed row without `verify` (or a proof holder) noticing.
//! Someone who holds the key can rewrite history; a tenant or auditor who pinned an earlier checkpoint
//! still detects that with a consistency proof.
//!
//! # Layout
//! `merkle.rs` hashing and proofs, `note.rs` signed notes and checkpoints, `store.rs` the tables,
//! `subscriber.rs` the subscriber and checkpointer, `verify.rs` verification, `proofs.rs` proofs and
//! browsing, `error.rs` the error.

mod error;
pub mod merkle;
pub mod note;
mod proofs;
mod store;
mod subscriber;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use eventstream_core::TenantId;
use eventstream_sql::sqlx;
use eventstream_sql::{StateStore, StoreError};
use serde::Serialize;

pub use error::AuditError;
pub use note::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
pub use proofs::{AuditEntry, AuditFilter, ConsistencyProof, InclusionProof};
pub use store::{GLOBAL_TREE, append, append_batch, canonical_bytes, tree_name, tree_origin, write_checkpoints};
pub use subscriber::{AUDIT_CHECKPOINT_JOB, AUDIT_SUBSCRIBER, CHECKPOINT_EVERY, CHECKPOINT_INTERVAL};
pub use verify::{Finding, FindingClass, VerifyReport};

/// The default log origin (first line of every checkpoint; also the key name).
pub const DEFAULT_ORIGIN: &str = "brain.local/audit";

/// The key file name in the data directory.
pub const KEY_FILE: &str = "audit.key";

/// The trusted-state file name in the data directory (what `verify` trusted last).
pub const STATE_FILE: &str = "audit-verify.json";

/// Where the audit log keeps its key and its verifier state, what it calls itself, and how often it signs.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The log origin (default [`DEFAULT_ORIGIN`]): the first line of every checkpoint and the key's name.
    pub origin: String,
    /// The signing key file (default `<data dir>/audit.key`, created at first start with mode 0600 when
    /// missing; an existing file must hold a valid key named [`AuditConfig::origin`]).
    pub key_path: PathBuf,
    /// The trusted-state file of `verify` (default `<data dir>/audit-verify.json`).
    pub state_path: PathBuf,
    /// Appends after which the checkpointer signs without waiting for the interval (default
    /// [`CHECKPOINT_EVERY`]; at least 1).
    pub checkpoint_every: u64,
    /// The longest time between an append and its checkpoint (default [`CHECKPOINT_INTERVAL`]).
    pub checkpoint_interval: Duration,
}

impl AuditConfig {
    /// The defaults under `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            origin: DEFAULT_ORIGIN.to_owned(),
            key_path: data_dir.join(KEY_FILE),
            state_path: data_dir.join(STATE_FILE),
            checkpoint_every: CHECKPOINT_EVERY,
            checkpoint_interval: CHECKPOINT_INTERVAL,
        }
    }
}

/// What one prune did; publish it as an event (the log records its own retention).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Rows pruned before this instant.
    pub before: DateTime<Utc>,
    /// Rows whose bytes were removed.
    pub rows: u64,
    /// The first pruned global index.
    pub first_index: Option<u64>,
    /// The last pruned global index.
    pub last_index: Option<u64>,
}

/// The audit log handle: its store, key and origin. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: StateStore,
    signer: Arc<NoteSigner>,
    origin: Arc<str>,
    state_path: Arc<Path>,
    pending: Arc<subscriber::Pending>,
    checkpoint_interval: Duration,
}

impl AuditLog {
    /// Applies the audit migrations and loads (or creates) the signing key.
    ///
    /// # Errors
    /// [`AuditError::Store`] when the tables cannot be created, [`AuditError::Note`] when the key file
    /// cannot be read or written, holds no valid key or a key of another name than the origin, or the
    /// origin is not a valid key name.
    pub async fn open(store: StateStore, config: &AuditConfig) -> Result<Self, AuditError> {
        let signer = NoteSigner::load_or_create(&config.key_path, &config.origin)?;
        store.migrate_set(store::MIGRATIONS_TABLE, store::MIGRATIONS).await?;
        Ok(Self {
            store,
            signer: Arc::new(signer),
            origin: Arc::from(config.origin.as_str()),
            state_path: Arc::from(config.state_path.as_path()),
            pending: Arc::new(subscriber::Pending::new(config.checkpoint_every)),
            checkpoint_interval: config.checkpoint_interval,
        })
    }

    /// The state store.
    pub fn store(&self) -> &StateStore {
        &self.store
    }

    /// The log origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key (C2SP vkey via `Display`).
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// Appends `event` in `tx` as the subscriber does ([`append`]) and counts it for the checkpointer
    /// (which signs early after [`AuditConfig::checkpoint_every`] appends). Returns its global index when
    /// appended.
    ///
    /// # Errors
    /// The store fails or a tree row is corrupt.
    pub async fn append(&self, tx: &mut eventstream_sql::Tx, event: &eventstream_core::Event) -> Result<Option<u64>, AuditError> {
        let idx = store::append(tx, event).await?;
        if idx.is_some() {
            self.pending.note_append();
        }
        Ok(idx)
    }

    /// Signs a checkpoint for every tree that grew since its last one (the checkpointer calls this).
    ///
    /// # Errors
    /// The store fails.
    pub async fn checkpoint_now(&self) -> Result<Vec<(String, Checkpoint)>, AuditError> {
        write_checkpoints(&self.store, &self.signer, &self.origin).await
    }

    /// The latest signed checkpoint note of the global tree or of `tenant`'s tree.
    ///
    /// # Errors
    /// The store fails.
    pub async fn latest_checkpoint(&self, tenant: Option<&TenantId>) -> Result<Option<String>, AuditError> {
        Ok(store::checkpoint(&self.store, &tree_name(tenant), None).await?.map(|c| c.note))
    }

    /// The inclusion proof of `event_id` in the global tree (or `tenant`'s), against the signed
    /// checkpoint of `tree_size` (default: the latest).
    ///
    /// # Errors
    /// [`AuditError::UnknownEvent`], [`AuditError::NoCheckpoint`], [`AuditError::Pruned`], or the store.
    pub async fn inclusion_proof(
        &self,
        event_id: &str,
        tree_size: Option<u64>,
        tenant: Option<&TenantId>,
    ) -> Result<InclusionProof, AuditError> {
        proofs::inclusion(&self.store, event_id, tree_size, tenant).await
    }

    /// The consistency proof between sizes `from` and `to` of the global tree (or `tenant`'s).
    ///
    /// # Errors
    /// [`AuditError::BadRequest`] for `from > to` or `to` above the tree size, or the store.
    pub async fn consistency_proof(&self, from: u64, to: u64, tenant: Option<&TenantId>) -> Result<ConsistencyProof, AuditError> {
        proofs::consistency(&self.store, from, to, tenant).await
    }

    /// Up to `limit` rows matching `filter` after index `after`, oldest first.
    ///
    /// # Errors
    /// The store fails.
    pub async fn list(&self, filter: &AuditFilter, after: Option<u64>, limit: u32) -> Result<Vec<AuditEntry>, AuditError> {
        proofs::list(&self.store, filter, after, limit).await
    }

    /// Verifies the log: incrementally from the last trusted state, or `full`y from the first row (an
    /// incremental run that finds damage escalates to a full one). Updates the trusted state when intact.
    ///
    /// # Errors
    /// The store fails or the state file cannot be written; damage is a [`Finding`] in the report.
    pub async fn verify(&self, full: bool) -> Result<VerifyReport, AuditError> {
        verify::verify(&self.store, &self.verifier(), &self.origin, &self.state_path, full).await
    }

    /// Removes the payload bytes of rows with an envelope timestamp before `before` that a checkpoint
    /// already covers; their leaf hashes stay, so every proof and `verify` still pass. The caller
    /// publishes the report as an event.
    ///
    /// # Errors
    /// The store fails.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<PruneReport, AuditError> {
        let signed = store::checkpoint(&self.store, GLOBAL_TREE, None).await?.map_or(0, |c| c.size);
        let db = |e| AuditError::Store(StoreError::sqlx("pruning the audit log", e));
        let mut tx = self.store.begin().await?;
        let now = Utc::now().timestamp_millis();
        let range = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(idx) AS lo, MAX(idx) AS hi FROM audit_log WHERE event_time < $1 AND idx < $2 AND bytes IS NOT NULL",
        )
        .bind(before.timestamp_millis())
        .bind(signed as i64)
        .fetch_one(tx.conn())
        .await
        .map_err(db)?;
        use eventstream_sql::sqlx::Row;
        let rows: i64 = range.try_get("n").map_err(db)?;
        let lo: Option<i64> = range.try_get("lo").map_err(db)?;
        let hi: Option<i64> = range.try_get("hi").map_err(db)?;
        sqlx::query("UPDATE audit_log SET bytes = NULL, pruned_at = $3 WHERE event_time < $1 AND idx < $2 AND bytes IS NOT NULL")
            .bind(before.timestamp_millis())
            .bind(signed as i64)
            .bind(now)
            .execute(tx.conn())
            .await
            .map_err(db)?;
        sqlx::query("INSERT INTO audit_prunes (pruned_at, before, rows, first_idx, last_idx) VALUES ($1, $2, $3, $4, $5)")
            .bind(now)
            .bind(before.timestamp_millis())
            .bind(rows)
            .bind(lo)
            .bind(hi)
            .execute(tx.conn())
            .await
            .map_err(db)?;
        tx.commit().await?;
        Ok(PruneReport { before, rows: rows as u64, first_index: lo.map(|v| v as u64), last_index: hi.map(|v| v as u64) })
    }
}
