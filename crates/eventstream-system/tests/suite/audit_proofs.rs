//! Proofs from the stored log: every event's inclusion proof (global and tenant tree) verifies offline
//! with only the verifier key, consistency proofs between every pair of checkpoints verify, a tenant's
//! tree never contains another tenant's events, pruning keeps proofs and verify green, and appends are
//! idempotent by event id.

use chrono::Utc;
use eventstream_core::TenantId;
use eventstream_system::audit::{AuditError, AuditFilter, Checkpoint, InclusionProof, NoteVerifier};

use super::helpers::{Backend, TestAudit, mixed_events};

async fn proofs_verify_offline_and_tenant_trees_are_separate(backend: Backend) {
    let Some(t) = TestAudit::open(backend).await else { return };
    let events = mixed_events(37, Utc::now());
    for chunk in events.chunks(9) {
        t.append_all(chunk).await;
        t.log.checkpoint_now().await.unwrap();
    }
    // Appending again changes nothing.
    t.append_all(&events[..5]).await;
    let vkey: NoteVerifier = t.log.verifier().to_string().parse().unwrap();
    let global = Checkpoint::open(&t.log.latest_checkpoint(None).await.unwrap().unwrap(), &vkey).unwrap();
    assert_eq!(global.size, 37);
    for (i, e) in events.iter().enumerate() {
        let p = t.log.inclusion_proof(e.id.as_str(), None, None).await.unwrap();
        assert_eq!((p.leaf_index, p.tree_size), (i as u64, 37));
        // Through JSON, as a client gets it, then checked with nothing but the key.
        let p: InclusionProof = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        let (cp, leaf) = p.verify(&vkey).unwrap();
        assert_eq!(cp, global);
        assert_eq!(leaf, eventstream_system::audit::canonical_bytes(e));
        let mut bad = p.clone();
        bad.leaf_index = (bad.leaf_index + 1) % 37;
        assert!(bad.verify(&vkey).is_err(), "a proof for another index fails");
        // At an older checkpoint size.
        if i < 9 {
            let old = t.log.inclusion_proof(e.id.as_str(), Some(9), None).await.unwrap();
            assert_eq!(old.tree_size, 9);
            old.verify(&vkey).unwrap();
        }
        match &e.tenant_id {
            Some(tenant) => {
                let tp = t.log.inclusion_proof(e.id.as_str(), None, Some(tenant)).await.unwrap();
                let (cp, _) = tp.verify(&vkey).unwrap();
                assert_eq!(cp.origin, format!("{}/tenant/{tenant}", t.log.origin()));
                for other in ["acme", "globex", "initech"].map(|o| o.parse::<TenantId>().unwrap()) {
                    if other != *tenant {
                        let r = t.log.inclusion_proof(e.id.as_str(), None, Some(&other)).await;
                        assert!(matches!(r, Err(AuditError::UnknownEvent { .. })), "{tenant}'s event in {other}'s tree");
                    }
                }
            }
            None => assert!(t.log.inclusion_proof(e.id.as_str(), None, Some(&"acme".parse().unwrap())).await.is_err()),
        }
    }
    // A tenant's tree holds exactly its own events, in order.
    let acme: TenantId = "acme".parse().unwrap();
    let rows = t.log.list(&AuditFilter { tenant: Some(acme.clone()), ..AuditFilter::default() }, None, 1000).await.unwrap();
    let want: Vec<String> = events.iter().filter(|e| e.tenant_id.as_ref() == Some(&acme)).map(|e| e.id.to_string()).collect();
    assert_eq!(rows.iter().map(|r| r.event_id.clone()).collect::<Vec<_>>(), want);
    assert!(rows.iter().enumerate().all(|(i, r)| r.tenant_index == Some(i as u64)));
    let acme_cp = Checkpoint::open(&t.log.latest_checkpoint(Some(&acme)).await.unwrap().unwrap(), &vkey).unwrap();
    assert_eq!(acme_cp.size, want.len() as u64);

    // Consistency between every pair of global checkpoint sizes.
    let sizes = [9u64, 18, 27, 36, 37];
    for &m in &sizes {
        for &n in sizes.iter().filter(|&&n| n >= m) {
            let cm = t.log.inclusion_proof(events[0].id.as_str(), Some(m), None).await.unwrap();
            let cn = t.log.inclusion_proof(events[0].id.as_str(), Some(n), None).await.unwrap();
            let (rm, rn) = (cm.verify(&vkey).unwrap().0.root, cn.verify(&vkey).unwrap().0.root);
            let c = t.log.consistency_proof(m, n, None).await.unwrap();
            assert_eq!((c.from, c.to), (m, n));
            c.verify(&rm, &rn).unwrap();
            if m < n && m > 0 {
                assert!(c.verify(&rn, &rn).is_err());
            }
        }
    }
    assert!(matches!(t.log.consistency_proof(5, 3, None).await, Err(AuditError::BadRequest(_))));
    assert!(matches!(t.log.consistency_proof(1, 99, None).await, Err(AuditError::BadRequest(_))));
    assert!(matches!(t.log.inclusion_proof("nope", None, None).await, Err(AuditError::UnknownEvent { .. })));
    assert!(matches!(t.log.inclusion_proof(events[0].id.as_str(), Some(10), None).await, Err(AuditError::NoCheckpoint(_))));

    // Prune everything: proofs of pruned events are refused (their bytes are gone), verify stays green,
    // and consistency proofs still verify.
    assert_eq!(t.log.verify(true).await.unwrap().finding, None);
    let report = t.log.prune(Utc::now() + chrono::TimeDelta::days(1)).await.unwrap();
    assert_eq!(report.rows, 37);
    let v = t.log.verify(true).await.unwrap();
    assert_eq!((v.finding, v.pruned_rows), (None, 37));
    assert!(matches!(t.log.inclusion_proof(events[3].id.as_str(), None, None).await, Err(AuditError::Pruned { .. })));
    t.log
        .consistency_proof(9, 37, None)
        .await
        .unwrap()
        .verify(
            &{
                let p = t.log.list(&AuditFilter::default(), None, 1).await.unwrap();
                assert!(p[0].pruned && p[0].event.is_none());
                Checkpoint::open(&t.log.store_checkpoint_note(9).await, &vkey).unwrap().root
            },
            &global.root,
        )
        .unwrap();
}

trait NoteAt {
    async fn store_checkpoint_note(&self, size: i64) -> String;
}

impl NoteAt for eventstream_system::audit::AuditLog {
    async fn store_checkpoint_note(&self, size: i64) -> String {
        use eventstream_sql::sqlx::{self, Row};
        let row = sqlx::query("SELECT note FROM audit_checkpoints WHERE tree = 'global' AND size = $1")
            .bind(size)
            .fetch_one(self.store().pool())
            .await
            .unwrap();
        row.get("note")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_proofs_verify_offline_and_tenant_trees_are_separate() {
    proofs_verify_offline_and_tenant_trees_are_separate(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_proofs_verify_offline_and_tenant_trees_are_separate() {
    proofs_verify_offline_and_tenant_trees_are_separate(Backend::Postgres).await;
}

/// `append_batch` builds exactly the rows `append` builds: same roots, same tenant trees, verify intact.
async fn batch_append_equals_one_by_one(backend: Backend) {
    let (Some(a), Some(b)) = (TestAudit::open(backend).await, TestAudit::open(backend).await) else { return };
    let events = mixed_events(523, Utc::now());
    a.append_all(&events).await;
    let mut tx = b.store.begin().await.unwrap();
    assert_eq!(eventstream_system::audit::append_batch(&mut tx, &events[..300]).await.unwrap(), 0);
    assert_eq!(eventstream_system::audit::append_batch(&mut tx, &events[300..]).await.unwrap(), 300);
    tx.commit().await.unwrap();
    let (ca, cb) = (a.log.checkpoint_now().await.unwrap(), b.log.checkpoint_now().await.unwrap());
    let roots = |c: &[(String, Checkpoint)]| {
        let mut v: Vec<(String, u64, [u8; 32])> = c.iter().map(|(t, cp)| (t.clone(), cp.size, cp.root)).collect();
        v.sort();
        v
    };
    assert_eq!(roots(&ca), roots(&cb), "every tree has the same size and root");
    assert_eq!(ca.len(), 4, "the global tree and three tenant trees");
    let v = b.log.verify(true).await.unwrap();
    assert_eq!((v.finding, v.rows_checked), (None, 523));
    // A duplicate id fails the whole batch instead of being skipped.
    let mut tx = b.store.begin().await.unwrap();
    assert!(eventstream_system::audit::append_batch(&mut tx, &events[..1]).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_batch_append_equals_one_by_one() {
    batch_append_equals_one_by_one(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batch_append_equals_one_by_one() {
    batch_append_equals_one_by_one(Backend::Postgres).await;
}
