//! The audit tables in the state store: appending an event (inside the subscriber's inbox transaction),
//! writing signed checkpoints, reading rows, leaf hashes and checkpoints back.
//!
//! Appends are serialised per tree by the `audit_trees` row of the tree, locked by an `UPDATE` in the
//! append's transaction (PostgreSQL row lock; SQLite writers are serialised already), always global tree
//! first, so replicas sharing the subscriber never interleave indexes.

use std::collections::BTreeMap;

use eventstream_core::{Event, TenantId};
use eventstream_sql::sqlx::{self, AnyConnection, Row};
use eventstream_sql::{StateStore, StoreError, Tx};
use sha2::{Digest, Sha256};

use super::error::AuditError;
use super::merkle::{Frontier, Hash, leaf_hash};
use super::note::{Checkpoint, NoteSigner};

/// The table recording this crate's applied migrations.
pub(crate) const MIGRATIONS_TABLE: &str = "eventstream_system_migrations";

/// The audit schema versions.
pub(crate) const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "audit log: audit_log, audit_trees, audit_checkpoints, audit_prunes",
        include_str!("../../migrations/sqlite/0001_audit.sql"),
        include_str!("../../migrations/postgres/0001_audit.sql"),
    ),
    (
        2,
        "audit log: event ids unique per tenant",
        include_str!("../../migrations/sqlite/0002_audit_ids_per_tenant.sql"),
        include_str!("../../migrations/postgres/0002_audit_ids_per_tenant.sql"),
    ),
];

/// The name of the global tree.
pub const GLOBAL_TREE: &str = "global";

/// The tree name of `tenant`'s tree (`tenant/<id>`), or the global tree.
pub fn tree_name(tenant: Option<&TenantId>) -> String {
    tenant.map_or_else(|| GLOBAL_TREE.to_owned(), |t| format!("tenant/{t}"))
}

/// The checkpoint origin of `tree` under the log origin (`<origin>` or `<origin>/tenant/<id>`).
pub fn tree_origin(origin: &str, tree: &str) -> String {
    if tree == GLOBAL_TREE { origin.to_owned() } else { format!("{origin}/{tree}") }
}

/// `SHA-256(previous leaf hash || leaf hash)`: binds a row to its predecessor, so a verifier can name
/// the exact row that was moved or slipped in. Not part of the Merkle tree.
pub(crate) fn chain_hash(prev: &Hash, leaf: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(leaf);
    h.finalize().into()
}

fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::sqlx(context, e)
}

pub(crate) fn to_hash(v: &[u8], what: &str) -> Result<Hash, AuditError> {
    v.try_into().map_err(|_| AuditError::Corrupt(format!("{what} has {} bytes, not 32", v.len())))
}

/// A tree's writer state, locked in the current transaction.
struct TreeState {
    frontier: Frontier,
    last_leaf: Hash,
}

async fn lock_tree(conn: &mut AnyConnection, tree: &str) -> Result<TreeState, AuditError> {
    let lock = "UPDATE audit_trees SET size = size WHERE tree = $1 RETURNING size, frontier, last_leaf";
    let mut row = sqlx::query(lock).bind(tree).fetch_optional(&mut *conn).await.map_err(db("locking an audit tree"))?;
    if row.is_none() {
        sqlx::query("INSERT INTO audit_trees (tree, size, frontier, last_leaf) VALUES ($1, 0, $2, $3) ON CONFLICT (tree) DO NOTHING")
            .bind(tree)
            .bind(Vec::<u8>::new())
            .bind(vec![0u8; 32])
            .execute(&mut *conn)
            .await
            .map_err(db("creating an audit tree"))?;
        row = sqlx::query(lock).bind(tree).fetch_optional(&mut *conn).await.map_err(db("locking an audit tree"))?;
    }
    let row = row.ok_or_else(|| AuditError::Corrupt(format!("tree {tree} vanished while locked")))?;
    let size: i64 = row.try_get("size").map_err(db("reading an audit tree"))?;
    let bytes: Vec<u8> = row.try_get("frontier").map_err(db("reading an audit tree"))?;
    let last: Vec<u8> = row.try_get("last_leaf").map_err(db("reading an audit tree"))?;
    let frontier = Frontier::from_bytes(size as u64, &bytes).ok_or_else(|| AuditError::Corrupt(format!("frontier of tree {tree}")))?;
    Ok(TreeState { frontier, last_leaf: to_hash(&last, "last leaf")? })
}

async fn save_tree(conn: &mut AnyConnection, tree: &str, s: &TreeState) -> Result<(), AuditError> {
    sqlx::query("UPDATE audit_trees SET size = $2, frontier = $3, last_leaf = $4 WHERE tree = $1")
        .bind(tree)
        .bind(s.frontier.size() as i64)
        .bind(s.frontier.to_bytes())
        .bind(s.last_leaf.to_vec())
        .execute(&mut *conn)
        .await
        .map_err(db("advancing an audit tree"))?;
    Ok(())
}

/// The exact bytes the audit log stores and hashes for `event`: its canonical JSON envelope.
pub fn canonical_bytes(event: &Event) -> Vec<u8> {
    event.to_json_vec()
}

/// Appends `event` in `tx` unless its tenant's event with its id is already in the log (ids are unique per
/// tenant: another tenant's event with the same id is appended). Returns its global index when appended.
///
/// # Errors
/// The store fails or a tree row is corrupt.
pub async fn append(tx: &mut Tx, event: &Event) -> Result<Option<u64>, AuditError> {
    let conn = tx.conn();
    let seen = sqlx::query("SELECT 1 FROM audit_log WHERE event_id = $1 AND COALESCE(tenant, '') = $2")
        .bind(event.id.as_str())
        .bind(event.tenant_id.as_ref().map_or("", |t| t.as_str()))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("checking the audit log"))?;
    if seen.is_some() {
        return Ok(None);
    }
    let bytes = canonical_bytes(event);
    let leaf = leaf_hash(&bytes);
    let mut global = lock_tree(conn, GLOBAL_TREE).await?;
    let idx = global.frontier.size();
    let chain = chain_hash(&global.last_leaf, &leaf);
    global.frontier.push(leaf);
    global.last_leaf = leaf;
    let mut tenant_idx = None;
    if let Some(t) = &event.tenant_id {
        let tree = tree_name(Some(t));
        let mut ts = lock_tree(conn, &tree).await?;
        tenant_idx = Some(ts.frontier.size() as i64);
        ts.frontier.push(leaf);
        ts.last_leaf = leaf;
        save_tree(conn, &tree, &ts).await?;
    }
    sqlx::query(
        "INSERT INTO audit_log (idx, tenant, tenant_idx, event_id, event_type, event_time, appended_at, bytes, leaf_hash, chain) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(idx as i64)
    .bind(event.tenant_id.as_ref().map(|t| t.as_str().to_owned()))
    .bind(tenant_idx)
    .bind(event.id.as_str())
    .bind(event.event_type.as_str())
    .bind(event.timestamp.timestamp_millis())
    .bind(chrono::Utc::now().timestamp_millis())
    .bind(bytes)
    .bind(leaf.to_vec())
    .bind(chain.to_vec())
    .execute(&mut *conn)
    .await
    .map_err(db("appending to the audit log"))?;
    save_tree(conn, GLOBAL_TREE, &global).await?;
    Ok(Some(idx))
}

/// Rows per multi-row `INSERT` of [`append_batch`] (10 binds each, well under SQLite's bind limit).
const BATCH_ROWS: usize = 200;

/// Appends `events` in `tx` in one go: each tree is locked once and rows go in with multi-row `INSERT`s
/// (bulk loads, benchmarks). Unlike [`append`] it does not skip events already in the log: a duplicate id
/// fails the batch with a unique violation. Returns the global index of the first event.
///
/// # Errors
/// The store fails (a duplicate id included) or a tree row is corrupt.
pub async fn append_batch(tx: &mut Tx, events: &[Event]) -> Result<u64, AuditError> {
    let conn = tx.conn();
    let mut global = lock_tree(conn, GLOBAL_TREE).await?;
    let first = global.frontier.size();
    let mut tenants: std::collections::HashMap<String, TreeState> = std::collections::HashMap::new();
    let now = chrono::Utc::now().timestamp_millis();
    for chunk in events.chunks(BATCH_ROWS) {
        let mut sql = String::from(
            "INSERT INTO audit_log (idx, tenant, tenant_idx, event_id, event_type, event_time, appended_at, bytes, leaf_hash, chain) VALUES ",
        );
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, event) in chunk.iter().enumerate() {
            let bytes = canonical_bytes(event);
            let leaf = leaf_hash(&bytes);
            let idx = global.frontier.size();
            let chain = chain_hash(&global.last_leaf, &leaf);
            global.frontier.push(leaf);
            global.last_leaf = leaf;
            let tenant_idx = match &event.tenant_id {
                Some(t) => {
                    let tree = tree_name(Some(t));
                    if !tenants.contains_key(&tree) {
                        let state = lock_tree(conn, &tree).await?;
                        tenants.insert(tree.clone(), state);
                    }
                    let ts = tenants.get_mut(&tree).ok_or_else(|| AuditError::Corrupt(format!("tree {tree} not locked")))?;
                    let ti = ts.frontier.size() as i64;
                    ts.frontier.push(leaf);
                    ts.last_leaf = leaf;
                    Some(ti)
                }
                None => None,
            };
            let b = i * 10;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10
            ));
            rows.push((idx, tenant_idx, bytes, leaf, chain));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (event, (idx, tenant_idx, bytes, leaf, chain)) in chunk.iter().zip(rows) {
            q = q
                .bind(idx as i64)
                .bind(event.tenant_id.as_ref().map(|t| t.as_str().to_owned()))
                .bind(tenant_idx)
                .bind(event.id.as_str().to_owned())
                .bind(event.event_type.as_str().to_owned())
                .bind(event.timestamp.timestamp_millis())
                .bind(now)
                .bind(bytes)
                .bind(leaf.to_vec())
                .bind(chain.to_vec());
        }
        q.execute(&mut *conn).await.map_err(db("appending a batch to the audit log"))?;
    }
    for (tree, ts) in &tenants {
        save_tree(conn, tree, ts).await?;
    }
    save_tree(conn, GLOBAL_TREE, &global).await?;
    Ok(first)
}

/// Signs and stores a checkpoint for every tree that grew since its last checkpoint. Returns them.
///
/// # Errors
/// The store fails or a tree row is corrupt.
pub async fn write_checkpoints(store: &StateStore, signer: &NoteSigner, origin: &str) -> Result<Vec<(String, Checkpoint)>, AuditError> {
    let rows = sqlx::query(
        "SELECT t.tree, t.size, t.frontier FROM audit_trees t \
         WHERE t.size > COALESCE((SELECT MAX(c.size) FROM audit_checkpoints c WHERE c.tree = t.tree), 0)",
    )
    .fetch_all(store.pool())
    .await
    .map_err(db("reading audit trees"))?;
    let mut out = Vec::new();
    for row in rows {
        let tree: String = row.try_get("tree").map_err(db("reading audit trees"))?;
        let size: i64 = row.try_get("size").map_err(db("reading audit trees"))?;
        let bytes: Vec<u8> = row.try_get("frontier").map_err(db("reading audit trees"))?;
        let frontier = Frontier::from_bytes(size as u64, &bytes).ok_or_else(|| AuditError::Corrupt(format!("frontier of tree {tree}")))?;
        let cp = Checkpoint { origin: tree_origin(origin, &tree), size: size as u64, root: frontier.root() };
        let note = cp.sign(signer)?;
        sqlx::query(
            "INSERT INTO audit_checkpoints (tree, size, root, note, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tree, size) DO NOTHING",
        )
        .bind(tree.clone())
        .bind(size)
        .bind(cp.root.to_vec())
        .bind(note)
        .bind(chrono::Utc::now().timestamp_millis())
        .execute(store.pool())
        .await
        .map_err(db("storing a checkpoint"))?;
        out.push((tree, cp));
    }
    Ok(out)
}

/// A stored checkpoint row.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointRow {
    pub(crate) tree: String,
    pub(crate) size: u64,
    pub(crate) root: Vec<u8>,
    pub(crate) note: String,
}

fn read_checkpoint(row: &sqlx::any::AnyRow) -> Result<CheckpointRow, AuditError> {
    let size: i64 = row.try_get("size").map_err(db("reading checkpoints"))?;
    Ok(CheckpointRow {
        tree: row.try_get("tree").map_err(db("reading checkpoints"))?,
        size: size as u64,
        root: row.try_get("root").map_err(db("reading checkpoints"))?,
        note: row.try_get("note").map_err(db("reading checkpoints"))?,
    })
}

/// Every checkpoint, by tree and size.
pub(crate) async fn all_checkpoints(store: &StateStore) -> Result<Vec<CheckpointRow>, AuditError> {
    let rows = sqlx::query("SELECT tree, size, root, note FROM audit_checkpoints ORDER BY tree, size")
        .fetch_all(store.pool())
        .await
        .map_err(db("reading checkpoints"))?;
    rows.iter().map(read_checkpoint).collect()
}

/// The checkpoints newer than a verifier's trusted sizes: of each tree in `trusted` (tree name -> size)
/// those larger than its size, and every checkpoint of the other trees. An incremental verify reads these
/// instead of [`all_checkpoints`], so its cost follows the new checkpoints, not the history.
pub(crate) async fn checkpoints_after(store: &StateStore, trusted: &BTreeMap<String, u64>) -> Result<Vec<CheckpointRow>, AuditError> {
    // One query with a clause per trusted tree; past a few dozen trees the planner gains nothing from
    // the clauses, so the rest are filtered here.
    const MAX_CLAUSES: usize = 32;
    let in_sql: Vec<(&String, &u64)> = trusted.iter().take(MAX_CLAUSES).collect();
    let mut sql = String::from("SELECT tree, size, root, note FROM audit_checkpoints WHERE ");
    let mut n = 0;
    let mut param = || {
        n += 1;
        format!("${n}")
    };
    let mut clauses: Vec<String> = in_sql.iter().map(|_| format!("(tree = {} AND size > {})", param(), param())).collect();
    if in_sql.is_empty() {
        clauses.push("1 = 1".to_owned());
    } else {
        let names: Vec<String> = in_sql.iter().map(|_| param()).collect();
        clauses.push(format!("tree NOT IN ({})", names.join(", ")));
    }
    sql.push_str(&clauses.join(" OR "));
    sql.push_str(" ORDER BY tree, size");
    // Only numbered placeholders are formatted into the text; the tree names and sizes are bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (tree, size) in &in_sql {
        q = q.bind(tree.as_str()).bind(**size as i64);
    }
    for (tree, _) in &in_sql {
        q = q.bind(tree.as_str());
    }
    let rows = q.fetch_all(store.pool()).await.map_err(db("reading checkpoints"))?;
    let mut out = rows.iter().map(read_checkpoint).collect::<Result<Vec<_>, _>>()?;
    out.retain(|c| trusted.get(&c.tree).is_none_or(|s| c.size > *s));
    Ok(out)
}

/// The checkpoint of `tree` at `size`, or its latest when `size` is `None`.
pub(crate) async fn checkpoint(store: &StateStore, tree: &str, size: Option<u64>) -> Result<Option<CheckpointRow>, AuditError> {
    let row = match size {
        Some(s) => {
            sqlx::query("SELECT tree, size, root, note FROM audit_checkpoints WHERE tree = $1 AND size = $2")
                .bind(tree)
                .bind(s as i64)
                .fetch_optional(store.pool())
                .await
        }
        None => {
            sqlx::query("SELECT tree, size, root, note FROM audit_checkpoints WHERE tree = $1 ORDER BY size DESC LIMIT 1")
                .bind(tree)
                .fetch_optional(store.pool())
                .await
        }
    }
    .map_err(db("reading checkpoints"))?;
    row.as_ref().map(read_checkpoint).transpose()
}

/// The writer's size of `tree` (0 when it has no rows).
pub(crate) async fn tree_size(store: &StateStore, tree: &str) -> Result<u64, AuditError> {
    let row = sqlx::query("SELECT size FROM audit_trees WHERE tree = $1")
        .bind(tree)
        .fetch_optional(store.pool())
        .await
        .map_err(db("reading audit trees"))?;
    let size: i64 = match row {
        Some(r) => r.try_get("size").map_err(db("reading audit trees"))?,
        None => 0,
    };
    Ok(size as u64)
}

/// The first `size` leaf hashes of `tree`, in tree order.
pub(crate) async fn leaf_hashes(store: &StateStore, tenant: Option<&TenantId>, size: u64) -> Result<Vec<Hash>, AuditError> {
    let rows = match tenant {
        None => sqlx::query("SELECT leaf_hash FROM audit_log WHERE idx < $1 ORDER BY idx").bind(size as i64).fetch_all(store.pool()).await,
        Some(t) => {
            sqlx::query("SELECT leaf_hash FROM audit_log WHERE tenant = $1 AND tenant_idx < $2 ORDER BY tenant_idx")
                .bind(t.as_str())
                .bind(size as i64)
                .fetch_all(store.pool())
                .await
        }
    }
    .map_err(db("reading leaf hashes"))?;
    let out = rows
        .iter()
        .map(|r| {
            r.try_get::<Vec<u8>, _>("leaf_hash")
                .map_err(|e| AuditError::Store(StoreError::sqlx("reading leaf hashes", e)))
                .and_then(|v| to_hash(&v, "leaf hash"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if out.len() as u64 != size {
        return Err(AuditError::Corrupt(format!("the tree has {} stored leaves, {size} expected", out.len())));
    }
    Ok(out)
}
