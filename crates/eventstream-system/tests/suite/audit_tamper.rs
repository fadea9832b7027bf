//! Random tamperings of the audit tables, as an operator with database access but without the signing
//! key would do them (edit a byte of the bytes or of a leaf hash, delete, insert, swap two rows, truncate
//! the tail, replace a checkpoint, rewrite a row and recompute its hashes): each must be found by
//! `verify` with the exact row (for a recomputed row: its checkpoint interval) and class. 1,000 per
//! backend (750 full, 250 incremental). The untouched tables, and the tables restored after every single
//! case, give no finding. Seeded, so a failure replays.

use chrono::Utc;
use eventstream_sql::StateStore;
use eventstream_sql::sqlx::{self, Row};
use eventstream_system::audit::merkle::leaf_hash;
use eventstream_system::audit::{Checkpoint, FindingClass, NoteSigner};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::helpers::{Backend, TestAudit, mixed_events};

const ROWS: u64 = 40;
/// Tamperings per backend checked by a full verify ...
const FULL_CASES: u32 = 750;
/// ... and by an incremental one (of rows and checkpoints newer than the trusted state): 1,000 in all.
const INCREMENTAL_CASES: u32 = 250;

#[derive(Clone)]
struct LogRow {
    idx: i64,
    tenant: Option<String>,
    tenant_idx: Option<i64>,
    event_id: String,
    event_type: String,
    event_time: i64,
    bytes: Option<Vec<u8>>,
    leaf: Vec<u8>,
    chain: Vec<u8>,
    pruned_at: Option<i64>,
}

#[derive(Clone)]
struct CpRow {
    tree: String,
    size: i64,
    root: Vec<u8>,
    note: String,
}

struct Snapshot {
    rows: Vec<LogRow>,
    cps: Vec<CpRow>,
}

async fn snapshot(store: &StateStore) -> Snapshot {
    let rows = sqlx::query("SELECT * FROM audit_log ORDER BY idx").fetch_all(store.pool()).await.unwrap();
    let rows = rows
        .iter()
        .map(|r| LogRow {
            idx: r.get("idx"),
            tenant: r.get("tenant"),
            tenant_idx: r.get("tenant_idx"),
            event_id: r.get("event_id"),
            event_type: r.get("event_type"),
            event_time: r.get("event_time"),
            bytes: r.get("bytes"),
            leaf: r.get("leaf_hash"),
            chain: r.get("chain"),
            pruned_at: r.get("pruned_at"),
        })
        .collect();
    let cps = sqlx::query("SELECT tree, size, root, note FROM audit_checkpoints").fetch_all(store.pool()).await.unwrap();
    let cps = cps.iter().map(|r| CpRow { tree: r.get("tree"), size: r.get("size"), root: r.get("root"), note: r.get("note") }).collect();
    Snapshot { rows, cps }
}

async fn insert_row(tx: &mut eventstream_sql::Tx, r: &LogRow) {
    sqlx::query(
        "INSERT INTO audit_log (idx, tenant, tenant_idx, event_id, event_type, event_time, appended_at, bytes, leaf_hash, chain, pruned_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10)",
    )
    .bind(r.idx)
    .bind(r.tenant.clone())
    .bind(r.tenant_idx)
    .bind(r.event_id.clone())
    .bind(r.event_type.clone())
    .bind(r.event_time)
    .bind(r.bytes.clone())
    .bind(r.leaf.clone())
    .bind(r.chain.clone())
    .bind(r.pruned_at)
    .execute(tx.conn())
    .await
    .unwrap();
}

/// Writes `s` back as the whole content of the log and checkpoint tables: one transaction, one
/// multi-row `INSERT` per table (fast enough to restore and re-verify after every case).
async fn restore(store: &StateStore, s: &Snapshot) {
    let mut tx = store.begin().await.unwrap();
    sqlx::query("DELETE FROM audit_log").execute(tx.conn()).await.unwrap();
    sqlx::query("DELETE FROM audit_checkpoints").execute(tx.conn()).await.unwrap();
    let values = |rows: usize, cols: usize| {
        (0..rows)
            .map(|r| format!("({})", (1..=cols).map(|c| format!("${}", r * cols + c)).collect::<Vec<_>>().join(", ")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = format!(
        "INSERT INTO audit_log (idx, tenant, tenant_idx, event_id, event_type, event_time, appended_at, bytes, leaf_hash, chain, pruned_at) \
         VALUES {}",
        values(s.rows.len(), 11)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for r in &s.rows {
        q = q
            .bind(r.idx)
            .bind(r.tenant.clone())
            .bind(r.tenant_idx)
            .bind(r.event_id.clone())
            .bind(r.event_type.clone())
            .bind(r.event_time)
            .bind(0i64)
            .bind(r.bytes.clone())
            .bind(r.leaf.clone())
            .bind(r.chain.clone())
            .bind(r.pruned_at);
    }
    q.execute(tx.conn()).await.unwrap();
    let sql = format!("INSERT INTO audit_checkpoints (tree, size, root, note, created_at) VALUES {}", values(s.cps.len(), 5));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for c in &s.cps {
        q = q.bind(c.tree.clone()).bind(c.size).bind(c.root.clone()).bind(c.note.clone()).bind(0i64);
    }
    q.execute(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
}

/// What a tampering must be reported as: class, tree, row, other row.
type Expect = (FindingClass, String, u64, Option<u64>);

fn flip(v: &mut [u8], rng: &mut StdRng) {
    let i = rng.random_range(0..v.len());
    v[i] ^= 1 << rng.random_range(0..8);
}

/// The chain hash the writer stores: `SHA-256(previous leaf hash || leaf hash)`.
fn chain(prev: &[u8], leaf: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::new().chain_update(prev).chain_update(leaf).finalize().to_vec()
}

/// What `verify` must report for row `k` rewritten with recomputed hashes: every per-row check passes, so
/// it is the first checkpoint the walk reaches after the row, global or of the row's tenant (the tenant's
/// is checked first on the same row), that no longer matches. The finding is `altered` and names that
/// checkpoint interval by its first possible row: the global index after the last checkpoint of the same
/// tree that still matched (0 when none did).
fn rehashed(s: &Snapshot, k: usize) -> Expect {
    let sizes = |tree: &str| {
        let mut v: Vec<u64> = s.cps.iter().filter(|c| c.tree == tree).map(|c| c.size as u64).collect();
        v.sort_unstable();
        v
    };
    let k64 = k as u64;
    let global = sizes("global");
    let hit = global.iter().copied().find(|&c| c > k64).expect("a checkpoint covers every tampered row");
    let from = global.iter().copied().rev().find(|&c| c <= k64).unwrap_or(0);
    // (the row at which verify notices, the finding)
    let mut first = (hit - 1, (FindingClass::Altered, "global".to_owned(), from, None));
    let row = &s.rows[k];
    if let (Some(t), Some(ti)) = (&row.tenant, row.tenant_idx) {
        let tree = format!("tenant/{t}");
        let ts = sizes(&tree);
        let global_idx =
            |i: u64| s.rows.iter().find(|r| r.tenant.as_deref() == Some(t.as_str()) && r.tenant_idx == Some(i as i64)).unwrap().idx as u64;
        let ti = ti as u64;
        if let Some(hit) = ts.iter().copied().find(|&c| c > ti) {
            let at = global_idx(hit - 1);
            if at <= first.0 {
                let from = ts.iter().copied().rev().find(|&c| c <= ti).map_or(0, |c| global_idx(c - 1) + 1);
                first = (at, (FindingClass::Altered, tree, from, None));
            }
        }
    }
    first.1
}

/// Applies one random tampering to the tables (currently equal to `s`) and says what verify must find.
async fn tamper(
    store: &StateStore,
    s: &Snapshot,
    lo: u64,
    cps: &[CpRow],
    rng: &mut StdRng,
    foreign: &NoteSigner,
) -> (Expect, &'static str) {
    let n = s.rows.len() as u64;
    let lo_i = lo as usize;
    let global = |class, row, other| (class, "global".to_owned(), row, other);
    let mut tx = store.begin().await.unwrap();
    let out = match rng.random_range(0..8) {
        0 => {
            let live: Vec<&LogRow> = s.rows[lo_i..].iter().filter(|r| r.bytes.is_some()).collect();
            let r = live[rng.random_range(0..live.len())];
            let mut bytes = r.bytes.clone().unwrap();
            flip(&mut bytes, rng);
            sqlx::query("UPDATE audit_log SET bytes = $1 WHERE idx = $2").bind(bytes).bind(r.idx).execute(tx.conn()).await.unwrap();
            (global(FindingClass::Altered, r.idx as u64, None), "edit a byte of the bytes")
        }
        1 => {
            let r = &s.rows[rng.random_range(lo_i..s.rows.len())];
            let mut leaf = r.leaf.clone();
            flip(&mut leaf, rng);
            sqlx::query("UPDATE audit_log SET leaf_hash = $1 WHERE idx = $2").bind(leaf).bind(r.idx).execute(tx.conn()).await.unwrap();
            (global(FindingClass::Altered, r.idx as u64, None), "edit a byte of a leaf hash")
        }
        2 => {
            let k = rng.random_range(lo..n);
            sqlx::query("DELETE FROM audit_log WHERE idx = $1").bind(k as i64).execute(tx.conn()).await.unwrap();
            let class = if k == n - 1 { FindingClass::Truncated } else { FindingClass::Missing };
            (global(class, k, None), "delete a row")
        }
        3 => {
            // A forged event slipped in at k: later rows move up one index.
            let k = rng.random_range(lo..=n);
            sqlx::query("UPDATE audit_log SET idx = -idx - 1 WHERE idx >= $1").bind(k as i64).execute(tx.conn()).await.unwrap();
            sqlx::query("UPDATE audit_log SET idx = -idx WHERE idx < 0").execute(tx.conn()).await.unwrap();
            let forged = super::helpers::event(999, None, Utc::now());
            let bytes = eventstream_system::audit::canonical_bytes(&forged);
            let mut chain = vec![0u8; 32];
            rng.fill(&mut chain[..]);
            let row = LogRow {
                idx: k as i64,
                tenant: None,
                tenant_idx: None,
                event_id: forged.id.to_string(),
                event_type: "task.created".into(),
                event_time: 0,
                leaf: leaf_hash(&bytes).to_vec(),
                bytes: Some(bytes),
                chain,
                pruned_at: None,
            };
            insert_row(&mut tx, &row).await;
            (global(FindingClass::Inserted, k, None), "insert a row")
        }
        4 => {
            let i = rng.random_range(lo..n - 1);
            let j = rng.random_range(i + 1..n);
            for (from, to) in [(i as i64, -1), (j as i64, i as i64), (-1, j as i64)] {
                sqlx::query("UPDATE audit_log SET idx = $2 WHERE idx = $1").bind(from).bind(to).execute(tx.conn()).await.unwrap();
            }
            (global(FindingClass::Reordered, i, Some(j)), "swap two rows")
        }
        5 => {
            let k = rng.random_range(lo..n);
            sqlx::query("DELETE FROM audit_log WHERE idx >= $1").bind(k as i64).execute(tx.conn()).await.unwrap();
            (global(FindingClass::Truncated, k, None), "truncate the tail")
        }
        6 => {
            // Rewrite a row and recompute every hash stored for it (its leaf hash, its chain hash and the
            // next row's chain hash), as someone without the signing key can.
            let r = &s.rows[rng.random_range(lo_i..s.rows.len())];
            let (bytes, leaf) = match &r.bytes {
                Some(b) => {
                    let mut b = b.clone();
                    flip(&mut b, rng);
                    let leaf = leaf_hash(&b);
                    (Some(b), leaf)
                }
                None => {
                    let mut leaf = [0u8; 32];
                    rng.fill(&mut leaf[..]);
                    (None, leaf)
                }
            };
            let k = r.idx as usize;
            let prev = if k == 0 { vec![0u8; 32] } else { s.rows[k - 1].leaf.clone() };
            sqlx::query("UPDATE audit_log SET bytes = $1, leaf_hash = $2, chain = $3 WHERE idx = $4")
                .bind(bytes)
                .bind(leaf.to_vec())
                .bind(chain(&prev, &leaf))
                .bind(r.idx)
                .execute(tx.conn())
                .await
                .unwrap();
            if let Some(next) = s.rows.get(k + 1) {
                sqlx::query("UPDATE audit_log SET chain = $1 WHERE idx = $2")
                    .bind(chain(&leaf, &next.leaf))
                    .bind(next.idx)
                    .execute(tx.conn())
                    .await
                    .unwrap();
            }
            (rehashed(s, k), "rewrite a row and recompute its hashes")
        }
        _ => {
            let c = &cps[rng.random_range(0..cps.len())];
            let (note, root, what) = match rng.random_range(0..4) {
                0 => {
                    let others: Vec<&CpRow> = s.cps.iter().filter(|o| o.note != c.note).collect();
                    (others[rng.random_range(0..others.len())].note.clone(), c.root.clone(), "replace a checkpoint by another signed one")
                }
                1 => {
                    let mut cp = Checkpoint::parse(c.note.split("\n\n").next().map(|t| format!("{t}\n")).unwrap().as_str()).unwrap();
                    flip(&mut cp.root, rng);
                    let signed = c.note.rsplit("\n\n").next().unwrap();
                    (format!("{}\n{signed}", cp.text()), cp.root.to_vec(), "rewrite a checkpoint's root, keeping the signature")
                }
                2 => {
                    let mut root = c.root.clone();
                    flip(&mut root, rng);
                    (c.note.clone(), root, "edit a checkpoint's root column")
                }
                _ => {
                    let cp = Checkpoint::parse(&format!("{}\n", c.note.split("\n\n").next().unwrap())).unwrap();
                    (cp.sign(foreign).unwrap(), c.root.clone(), "re-sign a checkpoint with another key")
                }
            };
            sqlx::query("UPDATE audit_checkpoints SET note = $1, root = $2 WHERE tree = $3 AND size = $4")
                .bind(note)
                .bind(root)
                .bind(c.tree.clone())
                .bind(c.size)
                .execute(tx.conn())
                .await
                .unwrap();
            ((FindingClass::ForkedCheckpoint, c.tree.clone(), c.size as u64, None), what)
        }
    };
    tx.commit().await.unwrap();
    out
}

/// Builds a log of [`ROWS`] rows over four trees with checkpoints at several sizes and a pruned prefix.
async fn build(t: &TestAudit) {
    let old = Utc::now() - chrono::TimeDelta::days(30);
    let events = mixed_events(ROWS, Utc::now());
    let mut first = mixed_events(5, old);
    for (i, e) in first.iter_mut().enumerate() {
        e.payload.insert("old".into(), i.into());
    }
    t.append_all(&first).await;
    t.log.checkpoint_now().await.unwrap();
    for chunk in events[..ROWS as usize - 5].chunks(12) {
        t.append_all(chunk).await;
        t.log.checkpoint_now().await.unwrap();
    }
    let pruned = t.log.prune(Utc::now() - chrono::TimeDelta::days(1)).await.unwrap();
    assert_eq!(pruned.rows, 5, "the old prefix is pruned");
    assert_eq!((pruned.first_index, pruned.last_index), (Some(0), Some(4)));
}

async fn tampering_is_found_with_row_and_class(backend: Backend, cases: u32, seed: u64, incremental: bool) {
    let Some(t) = TestAudit::open(backend).await else { return };
    build(&t).await;
    let clean = t.log.verify(true).await.unwrap();
    assert_eq!(clean.finding, None, "untouched tables");
    assert_eq!((clean.tree_size, clean.pruned_rows, clean.trusted_size), (ROWS, 5, ROWS));
    let (lo, cps) = if incremental {
        // The trusted state is at ROWS; new rows and checkpoints follow, and only they are tampered with.
        let before = snapshot(&t.store).await;
        for chunk in mixed_events(20, Utc::now()).chunks(7) {
            t.append_all(chunk).await;
            t.log.checkpoint_now().await.unwrap();
        }
        let after = snapshot(&t.store).await;
        let new: Vec<CpRow> =
            after.cps.iter().filter(|c| !before.cps.iter().any(|b| b.tree == c.tree && b.size == c.size)).cloned().collect();
        (ROWS, new)
    } else {
        (0, snapshot(&t.store).await.cps)
    };
    let s = snapshot(&t.store).await;
    let state = std::fs::read(&t.config.state_path).unwrap();
    let foreign = NoteSigner::generate(t.log.origin()).unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seen = std::collections::BTreeMap::<&str, u32>::new();
    for case in 0..cases {
        let (want, what) = tamper(&t.store, &s, lo, &cps, &mut rng, &foreign).await;
        *seen.entry(what).or_default() += 1;
        let report = t.log.verify(!incremental).await.unwrap();
        let got = report.finding.clone().unwrap_or_else(|| panic!("case {case} ({what}): not detected"));
        assert_eq!((got.class, got.tree.clone(), got.index, got.other), want, "case {case} ({what}): {got:?}");
        assert_eq!(report.escalated, incremental, "an incremental finding escalates to a full run");
        restore(&t.store, &s).await;
        // Restored, the tables are intact again: no false alarm, incrementally or in full.
        let again = t.log.verify(case % 2 == 0).await.unwrap();
        assert_eq!(again.finding, None, "false alarm after restoring case {case} ({what})");
        std::fs::write(&t.config.state_path, &state).unwrap();
    }
    println!("{backend:?} (incremental: {incremental}): {cases} tamperings detected: {seen:?}");
    assert_eq!(seen.len(), 11, "every kind of tampering ran: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_random_tampering_is_found_with_row_and_class() {
    tampering_is_found_with_row_and_class(Backend::Sqlite, FULL_CASES, 0x5eed_0001, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_random_tampering_is_found_with_row_and_class() {
    tampering_is_found_with_row_and_class(Backend::Postgres, FULL_CASES, 0x5eed_0002, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_incremental_verify_finds_tampering_of_new_rows() {
    tampering_is_found_with_row_and_class(Backend::Sqlite, INCREMENTAL_CASES, 0x5eed_0003, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_incremental_verify_finds_tampering_of_new_rows() {
    tampering_is_found_with_row_and_class(Backend::Postgres, INCREMENTAL_CASES, 0x5eed_0004, true).await;
}
