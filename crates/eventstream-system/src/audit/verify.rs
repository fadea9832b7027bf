//! `verify`: recomputes the trees from the stored rows and checks them against every signed checkpoint
//! and the last trusted state (a small file outside the database), naming the first bad row.
//!
//! One pass in index order. Per row: the index follows the previous one (else `missing`), the bytes hash
//! to the stored leaf hash (else `altered`), the chain hash binds the row to its predecessor (else the row
//! was `inserted`, `reordered` or `altered`, told apart by looking ahead for the row that fits), the
//! tenant index follows the tenant's previous one. At each checkpoint size the recomputed root must equal
//! the signed root (a bad signature or a mismatching note is a `forked checkpoint`); a root that differs
//! although every row passed means rows were rewritten with recomputed hashes, reported as `altered` at
//! the start of that checkpoint's interval (the row after the tree's last matching checkpoint). At the end, fewer
//! rows than any signed or trusted size is `truncated`. Incremental runs start from the trusted state;
//! any finding there escalates to a full run, which names the first bad row.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use eventstream_sql::StateStore;
use eventstream_sql::sqlx::{self, Row};
use serde::{Deserialize, Serialize};

use super::error::AuditError;
use super::merkle::{Frontier, Hash, leaf_hash};
use super::note::{Checkpoint, NoteVerifier};
use super::store::{self, GLOBAL_TREE, chain_hash, to_hash, tree_origin};

/// Rows read per query.
const PAGE: i64 = 20_000;
/// Rows looked ahead to locate a row that does not chain.
const LOOKAHEAD: i64 = 100_000;

/// What kind of damage a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingClass {
    /// A row's content differs from what was appended.
    Altered,
    /// A row is gone from the middle.
    Missing,
    /// A row was added that the writer never appended.
    Inserted,
    /// Two rows changed places.
    Reordered,
    /// Rows are gone from the end.
    Truncated,
    /// A stored checkpoint is not a valid signed checkpoint of this tree.
    ForkedCheckpoint,
}

impl FindingClass {
    /// The class as the CLI prints it (`forked checkpoint`).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingClass::Altered => "altered",
            FindingClass::Missing => "missing",
            FindingClass::Inserted => "inserted",
            FindingClass::Reordered => "reordered",
            FindingClass::Truncated => "truncated",
            FindingClass::ForkedCheckpoint => "forked checkpoint",
        }
    }
}

/// The first bad row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Its class.
    pub class: FindingClass,
    /// The tree (`global` or `tenant/<id>`).
    pub tree: String,
    /// The row: its global index (for checkpoints: the checkpoint's tree size).
    pub index: u64,
    /// For `reordered`: the row it changed places with.
    pub other: Option<u64>,
    /// What was seen, for people.
    pub detail: String,
}

/// What a verification found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Whether every row was rehashed (else: from the trusted state on).
    pub full: bool,
    /// Whether an incremental run found damage and a full run followed.
    pub escalated: bool,
    /// Rows checked.
    pub rows_checked: u64,
    /// Rows in the global tree.
    pub tree_size: u64,
    /// Checkpoints checked.
    pub checkpoints_checked: u64,
    /// Rows whose payload bytes were pruned.
    pub pruned_rows: u64,
    /// The trusted global size after this run.
    pub trusted_size: u64,
    /// The first bad row; `None` when intact.
    pub finding: Option<Finding>,
}

/// The trusted state kept between runs: the trees at the last verified checkpoint size.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TrustedState {
    size: u64,
    root: String,
    frontier: String,
    last_leaf: String,
    tenants: BTreeMap<String, TrustedTree>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TrustedTree {
    size: u64,
    frontier: String,
}

fn b64_hash(s: &str) -> Option<Hash> {
    B64.decode(s).ok()?.try_into().ok()
}

fn load_state(path: &Path) -> Result<Option<TrustedState>, AuditError> {
    match std::fs::read(path) {
        Ok(b) => Ok(serde_json::from_slice(&b).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AuditError::StateFile { path: path.display().to_string(), source }),
    }
}

fn save_state(path: &Path, s: &TrustedState) -> Result<(), AuditError> {
    let io = |source| AuditError::StateFile { path: path.display().to_string(), source };
    let tmp = path.with_extension("tmp");
    let body = serde_json::to_vec_pretty(s).map_err(|e| io(std::io::Error::other(e)))?;
    // Owner only (0600 on Unix): the trusted state decides what a later verification accepts.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    std::io::Write::write_all(&mut opts.open(&tmp).map_err(io)?, &body).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// A checked checkpoint: its root, or why it is refused.
type CheckedCp = Result<Hash, String>;

fn check_checkpoints(rows: Vec<store::CheckpointRow>, key: &NoteVerifier, origin: &str) -> HashMap<String, BTreeMap<u64, CheckedCp>> {
    let mut out: HashMap<String, BTreeMap<u64, CheckedCp>> = HashMap::new();
    for r in rows {
        let checked = match Checkpoint::open(&r.note, key) {
            Err(e) => Err(format!("the note does not verify: {e}")),
            Ok(cp) if cp.origin != tree_origin(origin, &r.tree) => Err(format!("the note is for origin {:?}", cp.origin)),
            Ok(cp) if cp.size != r.size => Err(format!("the note is of size {}, stored as size {}", cp.size, r.size)),
            Ok(cp) if cp.root.as_slice() != r.root.as_slice() => Err("the stored root differs from the signed one".to_owned()),
            Ok(cp) => Ok(cp.root),
        };
        out.entry(r.tree).or_default().insert(r.size, checked);
    }
    out
}

struct Row_ {
    idx: u64,
    tenant: Option<String>,
    tenant_idx: Option<i64>,
    bytes: Option<Vec<u8>>,
    leaf: Vec<u8>,
    chain: Vec<u8>,
    pruned: bool,
}

async fn fetch(store: &StateStore, from: u64, limit: i64) -> Result<Vec<Row_>, AuditError> {
    if let Some(file) = store.sqlite_file() {
        // SQLite: a read-only connection of its own, off the async threads. Decoding a million rows through
        // the pool's generic row type costs several times the hashing it feeds.
        let file = file.to_owned();
        return tokio::task::spawn_blocking(move || fetch_sqlite(&file, from, limit))
            .await
            .map_err(|e| AuditError::Corrupt(format!("the row reader stopped: {e}")))?;
    }
    let rows = sqlx::query(
        "SELECT idx, tenant, tenant_idx, bytes, leaf_hash, chain, pruned_at FROM audit_log WHERE idx >= $1 ORDER BY idx LIMIT $2",
    )
    .bind(from as i64)
    .bind(limit)
    .fetch_all(store.pool())
    .await
    .map_err(|e| eventstream_sql::StoreError::sqlx("reading the audit log", e))?;
    let get = |e| AuditError::Store(eventstream_sql::StoreError::sqlx("reading the audit log", e));
    rows.iter()
        .map(|r| {
            Ok(Row_ {
                idx: r.try_get::<i64, _>("idx").map_err(get)? as u64,
                tenant: r.try_get("tenant").map_err(get)?,
                tenant_idx: r.try_get("tenant_idx").map_err(get)?,
                bytes: r.try_get("bytes").map_err(get)?,
                leaf: r.try_get("leaf_hash").map_err(get)?,
                chain: r.try_get("chain").map_err(get)?,
                pruned: r.try_get::<Option<i64>, _>("pruned_at").map_err(get)?.is_some(),
            })
        })
        .collect()
}

/// [`fetch`] on a SQLite file, with its own read-only connection.
fn fetch_sqlite(file: &Path, from: u64, limit: i64) -> Result<Vec<Row_>, AuditError> {
    use rusqlite::types::ValueRef;
    let err = |e: rusqlite::Error| AuditError::Corrupt(format!("reading the audit log from {}: {e}", file.display()));
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(file, flags).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(15)).map_err(err)?;
    let mut stmt = conn
        .prepare("SELECT idx, tenant, tenant_idx, bytes, leaf_hash, chain, pruned_at FROM audit_log WHERE idx >= ?1 ORDER BY idx LIMIT ?2")
        .map_err(err)?;
    let bytes_of = |v: ValueRef<'_>| match v {
        ValueRef::Null => None,
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        ValueRef::Integer(_) | ValueRef::Real(_) => Some(Vec::new()),
    };
    let rows = stmt
        .query_map(rusqlite::params![from as i64, limit], |r| {
            Ok(Row_ {
                idx: r.get::<_, i64>(0)? as u64,
                tenant: r.get(1)?,
                tenant_idx: r.get(2)?,
                bytes: bytes_of(r.get_ref(3)?),
                leaf: bytes_of(r.get_ref(4)?).unwrap_or_default(),
                chain: bytes_of(r.get_ref(5)?).unwrap_or_default(),
                pruned: !matches!(r.get_ref(6)?, ValueRef::Null),
            })
        })
        .map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

fn finding(class: FindingClass, tree: &str, index: u64, other: Option<u64>, detail: impl Into<String>) -> Finding {
    Finding { class, tree: tree.to_owned(), index, other, detail: detail.into() }
}

/// Tells apart why row `at` does not chain to its predecessor (`prev` = the leaf before it).
async fn diagnose(store: &StateStore, prev: &Hash, at: u64, signed: u64) -> Result<Finding, AuditError> {
    let rows = fetch(store, at, LOOKAHEAD).await?;
    let hashes: Vec<(u64, Hash, Vec<u8>)> =
        rows.iter().filter_map(|r| to_hash(&r.leaf, "leaf").ok().map(|h| (r.idx, h, r.chain.clone()))).collect();
    let Some((_, cur_leaf, cur_chain)) = hashes.first() else {
        return Ok(finding(FindingClass::Altered, GLOBAL_TREE, at, None, "the row does not chain to its predecessor"));
    };
    for (r, (idx, leaf, chain)) in hashes.iter().enumerate().skip(1) {
        if chain_hash(prev, leaf).as_slice() == chain.as_slice() {
            if r == 1 && chain_hash(leaf, cur_leaf).as_slice() != cur_chain.as_slice() {
                return Ok(finding(
                    FindingClass::Inserted,
                    GLOBAL_TREE,
                    at,
                    None,
                    format!("row {at} was never appended: row {idx} follows row {}", at.saturating_sub(1)),
                ));
            }
            return Ok(finding(FindingClass::Reordered, GLOBAL_TREE, at, Some(*idx), format!("rows {at} and {idx} changed places")));
        }
    }
    if at >= signed {
        return Ok(finding(
            FindingClass::Inserted,
            GLOBAL_TREE,
            at,
            None,
            format!("row {at} after the signed size {signed} does not chain to its predecessor"),
        ));
    }
    Ok(finding(
        FindingClass::Altered,
        GLOBAL_TREE,
        at,
        None,
        "the row does not chain to its predecessor (its leaf hash or chain was changed)",
    ))
}

/// Runs a verification (see the module doc). `state_path` is the trusted-state file.
pub(crate) async fn verify(
    store: &StateStore,
    key: &NoteVerifier,
    origin: &str,
    state_path: &Path,
    full: bool,
) -> Result<VerifyReport, AuditError> {
    let state = load_state(state_path)?;
    if !full && let Some(s) = &state {
        let (report, next) = run(store, key, origin, state.as_ref(), Some(s)).await?;
        if report.finding.is_none() {
            save_report_state(state_path, next.as_ref())?;
            return Ok(report);
        }
        let (mut again, next) = run(store, key, origin, state.as_ref(), None).await?;
        again.escalated = true;
        if again.finding.is_none() {
            // The rows are intact from the start, yet the incremental run disagreed with the trusted
            // state (a restored backup, a replaced database): keep that finding.
            again.finding = report.finding;
        } else {
            drop(next);
        }
        return Ok(again);
    }
    let (report, next) = run(store, key, origin, state.as_ref(), None).await?;
    if report.finding.is_none() {
        save_report_state(state_path, next.as_ref())?;
    }
    Ok(report)
}

fn save_report_state(path: &Path, s: Option<&TrustedState>) -> Result<(), AuditError> {
    match s {
        Some(s) => save_state(path, s),
        None => Ok(()),
    }
}

/// Walks the rows, from `start` (incremental) or from 0, checking against `trusted`.
async fn run(
    store: &StateStore,
    key: &NoteVerifier,
    origin: &str,
    trusted: Option<&TrustedState>,
    start: Option<&TrustedState>,
) -> Result<(VerifyReport, Option<TrustedState>), AuditError> {
    let rows = match start {
        // Incremental: checkpoints inside the trusted trees were checked by the run that trusted them;
        // reading and verifying them again would cost O(checkpoints), not O(new rows).
        Some(s) => {
            let mut trusted: BTreeMap<String, u64> = s.tenants.iter().map(|(t, tt)| (format!("tenant/{t}"), tt.size)).collect();
            trusted.insert(GLOBAL_TREE.to_owned(), s.size);
            store::checkpoints_after(store, &trusted).await?
        }
        None => store::all_checkpoints(store).await?,
    };
    let mut cps = check_checkpoints(rows, key, origin);
    // The trusted state is one more checkpoint of each tree.
    if let Some(t) = trusted
        && let Some(root) = b64_hash(&t.root)
    {
        cps.entry(GLOBAL_TREE.to_owned()).or_default().entry(t.size).or_insert(Ok(root));
    }
    let checkpoints_checked = cps.values().map(|m| m.len() as u64).sum();
    let empty = BTreeMap::new();
    let global_cps = cps.get(GLOBAL_TREE).unwrap_or(&empty);
    let signed = global_cps.keys().next_back().copied().unwrap_or(0).max(trusted.map_or(0, |t| t.size));
    let claimed = store::tree_size(store, GLOBAL_TREE).await?;
    let snapshot_at = global_cps.iter().rev().find(|(_, c)| c.is_ok()).map(|(s, _)| *s);

    let mut report = VerifyReport {
        full: start.is_none(),
        escalated: false,
        rows_checked: 0,
        tree_size: 0,
        checkpoints_checked,
        pruned_rows: 0,
        trusted_size: 0,
        finding: None,
    };
    let mut f = Frontier::new();
    let mut prev = [0u8; 32];
    let mut tenants: HashMap<String, Frontier> = HashMap::new();
    // Per tenant: the global index after the row of its last checkpoint that matched (where a rewritten
    // interval of its tree can start).
    let mut tenant_from: HashMap<String, u64> = HashMap::new();
    let start_row = start.map_or(0, |s| s.size);
    if let Some(s) = start {
        f = Frontier::from_bytes(s.size, &B64.decode(&s.frontier).unwrap_or_default())
            .ok_or_else(|| AuditError::Corrupt("trusted state frontier".into()))?;
        prev = b64_hash(&s.last_leaf).ok_or_else(|| AuditError::Corrupt("trusted state last leaf".into()))?;
        for (t, tree) in &s.tenants {
            let tf = Frontier::from_bytes(tree.size, &B64.decode(&tree.frontier).unwrap_or_default())
                .ok_or_else(|| AuditError::Corrupt("trusted tenant frontier".into()))?;
            tenants.insert(t.clone(), tf);
        }
    }
    let mut snapshot: Option<TrustedState> = None;
    let take_snapshot = |f: &Frontier, prev: &Hash, tenants: &HashMap<String, Frontier>| TrustedState {
        size: f.size(),
        root: B64.encode(f.root()),
        frontier: B64.encode(f.to_bytes()),
        last_leaf: B64.encode(prev),
        tenants: tenants.iter().map(|(t, tf)| (t.clone(), TrustedTree { size: tf.size(), frontier: B64.encode(tf.to_bytes()) })).collect(),
    };
    let done = |mut report: VerifyReport, f: Finding| {
        report.finding = Some(f);
        Ok((report, None))
    };

    if let Some(s) = start {
        // Cheap checks of the trusted prefix, each an index lookup: its last leaf is unchanged and no row
        // at or below its end is gone from the top. Changes inside the prefix (an altered or deleted row
        // before its last one) are left to `--full`, which rereads every row: counting the rows here
        // would read the whole index and cost O(history) on every run.
        let row = sqlx::query("SELECT COALESCE(MAX(idx), -1) AS hi FROM audit_log")
            .fetch_one(store.pool())
            .await
            .map_err(|e| eventstream_sql::StoreError::sqlx("reading the audit log", e))?;
        let hi: i64 = row.try_get("hi").map_err(|e| eventstream_sql::StoreError::sqlx("reading the audit log", e))?;
        let last = if s.size > 0 { fetch(store, s.size - 1, 1).await?.pop() } else { None };
        let last_ok = match &last {
            Some(r) => r.idx + 1 == s.size && r.leaf.as_slice() == prev.as_slice(),
            None => s.size == 0,
        };
        if (hi + 1) < s.size as i64 || !last_ok {
            return done(report, finding(FindingClass::Altered, GLOBAL_TREE, s.size.saturating_sub(1), None, "the trusted prefix changed"));
        }
    }

    // Pages are read one ahead: the next page's query runs while this one is hashed, so a full run costs
    // about the larger of reading and hashing, not their sum.
    let prefetch = |from: u64| {
        let store = store.clone();
        tokio::spawn(async move { fetch(&store, from, PAGE).await })
    };
    let mut next = prefetch(f.size());
    loop {
        let page = next.await.map_err(|e| AuditError::Corrupt(format!("the page reader stopped: {e}")))??;
        let Some(last) = page.last() else {
            break;
        };
        next = prefetch(last.idx + 1);
        for row in page {
            let e = f.size();
            if row.idx != e {
                return done(report, finding(FindingClass::Missing, GLOBAL_TREE, e, None, format!("rows {e}..{} are gone", row.idx)));
            }
            if row.idx >= claimed {
                return done(
                    report,
                    finding(FindingClass::Inserted, GLOBAL_TREE, e, None, format!("the writer appended {claimed} rows; row {e} is extra")),
                );
            }
            let Ok(leaf) = to_hash(&row.leaf, "leaf") else {
                return done(report, finding(FindingClass::Altered, GLOBAL_TREE, e, None, "the stored leaf hash is not 32 bytes"));
            };
            match &row.bytes {
                Some(b) if leaf_hash(b) != leaf => {
                    return done(
                        report,
                        finding(FindingClass::Altered, GLOBAL_TREE, e, None, "the stored bytes do not hash to the row's leaf hash"),
                    );
                }
                None if !row.pruned => {
                    return done(
                        report,
                        finding(FindingClass::Altered, GLOBAL_TREE, e, None, "the bytes are gone but the row was never pruned"),
                    );
                }
                None => report.pruned_rows += 1,
                Some(_) => {}
            }
            if chain_hash(&prev, &leaf).as_slice() != row.chain.as_slice() {
                let found = diagnose(store, &prev, e, signed).await?;
                return done(report, found);
            }
            f.push(leaf);
            prev = leaf;
            report.rows_checked += 1;
            match (&row.tenant, row.tenant_idx) {
                (Some(t), Some(ti)) => {
                    let tf = tenants.entry(t.clone()).or_default();
                    if ti != tf.size() as i64 {
                        return done(
                            report,
                            finding(
                                FindingClass::Altered,
                                GLOBAL_TREE,
                                e,
                                None,
                                format!("tenant index {ti} of tenant {t}, {} expected", tf.size()),
                            ),
                        );
                    }
                    tf.push(leaf);
                    let tree = format!("tenant/{t}");
                    if let Some(c) = cps.get(&tree).and_then(|m| m.get(&tf.size())) {
                        match c {
                            Err(why) => return done(report, finding(FindingClass::ForkedCheckpoint, &tree, tf.size(), None, why.clone())),
                            Ok(root) if *root != tf.root() => {
                                let from = tenant_from.get(t).copied().unwrap_or(start_row);
                                return done(
                                    report,
                                    finding(
                                        FindingClass::Altered,
                                        &tree,
                                        from,
                                        None,
                                        format!(
                                            "rows {from}..={e} were rewritten with their hashes: tenant tree {t} no longer matches its \
                                             checkpoint of size {}",
                                            tf.size()
                                        ),
                                    ),
                                );
                            }
                            Ok(_) => {
                                tenant_from.insert(t.clone(), e + 1);
                            }
                        }
                    }
                }
                (None, None) => {}
                _ => return done(report, finding(FindingClass::Altered, GLOBAL_TREE, e, None, "tenant and tenant index disagree")),
            }
            if let Some(c) = global_cps.get(&f.size()) {
                match c {
                    Err(why) => return done(report, finding(FindingClass::ForkedCheckpoint, GLOBAL_TREE, f.size(), None, why.clone())),
                    Ok(root) if *root != f.root() => {
                        let from = global_cps.range(..f.size()).filter(|(_, c)| c.is_ok()).map(|(s, _)| *s).next_back().unwrap_or(0);
                        return done(
                            report,
                            finding(
                                FindingClass::Altered,
                                GLOBAL_TREE,
                                from,
                                None,
                                format!(
                                    "rows {from}..{} were rewritten with their hashes: the tree no longer matches the checkpoint of size {}",
                                    f.size(),
                                    f.size()
                                ),
                            ),
                        );
                    }
                    Ok(_) => {}
                }
            }
            if Some(f.size()) == snapshot_at {
                snapshot = Some(take_snapshot(&f, &prev, &tenants));
            }
        }
    }
    let e = f.size();
    report.tree_size = e;
    // Checkpoints beyond the rows: a refused one is forked; a valid one means rows were cut off.
    let mut beyond: Vec<(String, u64, &CheckedCp, u64)> = Vec::new();
    for (tree, m) in &cps {
        let have = match tree.strip_prefix("tenant/") {
            Some(t) => tenants.get(t).map_or(0, Frontier::size),
            None => e,
        };
        for (size, c) in m.range(have + 1..) {
            beyond.push((tree.clone(), *size, c, have));
        }
    }
    beyond.sort_by_key(|(tree, size, c, _)| (c.is_ok(), tree != GLOBAL_TREE, *size));
    if let Some((tree, size, c, have)) = beyond.first() {
        let f = match c {
            Err(why) => finding(FindingClass::ForkedCheckpoint, tree, *size, None, why.clone()),
            Ok(_) => finding(
                FindingClass::Truncated,
                tree,
                *have,
                None,
                format!("a signed checkpoint of size {size}, but tree {tree} ends before it"),
            ),
        };
        return done(report, f);
    }
    if claimed > e {
        return done(
            report,
            finding(FindingClass::Truncated, GLOBAL_TREE, e, None, format!("the writer appended {claimed} rows, {e} are left")),
        );
    }
    report.trusted_size = snapshot.as_ref().map_or(start.map_or(0, |s| s.size), |s| s.size);
    Ok((report, snapshot.or_else(|| start.cloned())))
}
