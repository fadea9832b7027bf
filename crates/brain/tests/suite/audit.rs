//! The audit log through the binary: every path's events audited once, proofs from HTTP and from
//! `brain audit proof` checked offline with only the key, tampering the SQLite state db caught by
//! `brain audit verify --full` with the row and class, prune keeping verify green, tenant trees.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use eventstream_sql::StateStore;
use eventstream_sql::sqlx::{self, Row};
use eventstream_system::audit::{Checkpoint, ConsistencyProof, NoteVerifier};
use eventstream_testkit::fixtures::eventually;
use reqwest::Client;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::support::{Server, brain, ok_stdout, run};

const PATIENCE: Duration = Duration::from_secs(30);

async fn get(http: &Client, server: &Server, path: &str, key: &str) -> (u16, String) {
    let r = http.get(server.url(path)).bearer_auth(key).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn get_json(http: &Client, server: &Server, path: &str, key: &str) -> Value {
    let (status, body) = get(http, server, path, key).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn post_event(http: &Client, server: &Server, key: &str, task_id: &str) -> String {
    let body = json!({"type": "task.created", "payload": {"task_id": task_id, "mission_type": "agent.chat", "priority": "NORMAL"}});
    let r = http.post(server.url("/api/events")).bearer_auth(key).json(&body).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// Every audited row, oldest first (admin: every tenant).
async fn audit_rows(http: &Client, server: &Server, key: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let v = get_json(http, server, &format!("/api/audit?limit=1000{query}{cursor}"), key).await;
        out.extend(v["entries"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

/// The latest checkpoint of the caller's tree once it covers at least `size` leaves.
async fn checkpoint_at_least(http: &Client, server: &Server, key: &str, query: &str, size: u64, vkey: &NoteVerifier) -> Checkpoint {
    eventually("a checkpoint covers the events", PATIENCE, || async {
        let (status, note) = get(http, server, &format!("/api/audit/checkpoint{query}"), key).await;
        let cp = (status == 200).then(|| Checkpoint::open(&note, vkey).unwrap())?;
        (cp.size >= size).then_some(cp)
    })
    .await
}

fn ids_in_log(dir: &Path) -> Vec<String> {
    let out = ok_stdout(brain(dir).args(["events", "--json", "--limit", "100000", "--since", "2000-01-01"]));
    out.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned()).collect()
}

/// An RFC 6962 inclusion check written from the RFC (section 2.1.1), independent of our library: what
/// any third-party verifier does with the proof JSON.
fn rfc6962_included(index: u64, size: u64, leaf: &[u8], path: &[[u8; 32]], root: &[u8; 32]) -> bool {
    let h = |parts: &[&[u8]]| -> [u8; 32] { parts.iter().fold(Sha256::new(), |d, p| d.chain_update(p)).finalize().into() };
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = h(&[&[0u8], leaf]);
    for p in path {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = h(&[&[1u8], p, &r]);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = h(&[&[1u8], &r, p]);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && &r == root
}

fn verify_proof_cli(dir: &Path, proof: &str, key: &str) -> (i32, String) {
    let file = dir.join(format!("proof-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, proof).unwrap();
    let out = run(brain(dir).args(["audit", "verify-proof"]).arg(&file).args(["--key", key]));
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_is_audited_once_and_proofs_verify_with_only_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let admin = server.admin_key().unwrap();
    let writer = ok_stdout(brain(dir.path()).args(["keys", "create", "--tenant", "acme", "--role", "writer"])).trim().to_owned();
    let http = Client::new();

    // Four paths: POST /api/events, POST /api/cloudevents, `brain publish`, a module (a mission).
    let via_http = post_event(&http, &server, &writer, "audit-http").await;
    let ce = json!({"specversion": "1.0", "id": "audit-ce-1", "source": "/brain/audit_tests", "type": "task.created",
        "data": {"task_id": "audit-ce", "mission_type": "m", "priority": "HIGH"}});
    let r = http
        .post(server.url("/api/cloudevents"))
        .bearer_auth(&writer)
        .header("content-type", "application/cloudevents+json")
        .body(ce.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let via_cli = serde_json::from_str::<Value>(
        ok_stdout(brain(dir.path()).args([
            "publish",
            "--type",
            "system.health",
            "--source",
            "cli",
            "--payload",
            r#"{"status":"ok"}"#,
            "--json",
        ]))
        .trim(),
    )
    .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = http
        .post(server.url("/api/missions"))
        .bearer_auth(&writer)
        .json(&json!({"name": "audited", "description": "d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    // Every event in the log is in the audit log exactly once, and nothing else is.
    let rows = eventually("the audit log holds every logged event", PATIENCE, || async {
        let rows = audit_rows(&http, &server, &admin, "").await;
        let log = ids_in_log(dir.path());
        let mut audited: HashMap<String, usize> = HashMap::new();
        for r in &rows {
            *audited.entry(r["event_id"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        let types: Vec<&str> = rows.iter().filter_map(|r| r["event_type"].as_str()).collect();
        (log.iter().all(|id| audited.contains_key(id)) && types.contains(&"mission.completed") && audited.len() == log.len())
            .then_some(rows)
    })
    .await;
    let mut seen = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["index"], i as u64, "indexes are dense and ordered");
        assert!(seen.insert(r["event_id"].as_str().unwrap().to_owned(), ()).is_none(), "audited twice: {r}");
    }
    for id in [via_http.as_str(), "audit-ce-1", via_cli.as_str()] {
        assert!(seen.contains_key(id), "{id} not audited");
    }

    // The key alone verifies a proof fetched over HTTP and one printed by the CLI.
    let (status, vkey_text) = get(&http, &server, "/api/audit/key", &writer).await;
    assert_eq!(status, 200);
    let vkey_text = vkey_text.trim().to_owned();
    let vkey: NoteVerifier = vkey_text.parse().unwrap();
    let cp = checkpoint_at_least(&http, &server, &admin, "", rows.len() as u64, &vkey).await;
    let (status, http_proof) =
        get(&http, &server, &format!("/api/audit/proof/inclusion?event_id={via_http}&tree_size={}", cp.size), &admin).await;
    assert_eq!(status, 200, "{http_proof}");
    let (code, out) = verify_proof_cli(dir.path(), &http_proof, &vkey_text);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&via_http), "{out}");
    let cli_proof = ok_stdout(brain(dir.path()).args(["audit", "proof", &via_http, "--tree-size", &cp.size.to_string()]));
    assert_eq!(
        serde_json::from_str::<Value>(&cli_proof).unwrap(),
        serde_json::from_str::<Value>(&http_proof).unwrap(),
        "the CLI prints the HTTP route's JSON"
    );
    let key_file = dir.path().join("brain.vkey");
    std::fs::write(&key_file, format!("{vkey_text}\n")).unwrap();
    let (code, out) =
        verify_proof_cli(dir.path(), &ok_stdout(brain(dir.path()).args(["audit", "proof", &via_cli])), key_file.to_str().unwrap());
    assert_eq!(code, 0, "{out}");

    // An independent RFC 6962 check of the same proof agrees.
    let p: Value = serde_json::from_str(&http_proof).unwrap();
    let path: Vec<[u8; 32]> =
        p["hashes"].as_array().unwrap().iter().map(|h| B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap()).collect();
    let leaf = B64.decode(p["leaf"].as_str().unwrap()).unwrap();
    let (index, size) = (p["leaf_index"].as_u64().unwrap(), p["tree_size"].as_u64().unwrap());
    assert!(rfc6962_included(index, size, &leaf, &path, &cp.root));
    assert!(!rfc6962_included(index ^ 1, size, &leaf, &path, &cp.root));

    // Tampered proofs are refused with exit 1; an unreadable one is exit 2.
    let mut bad = p.clone();
    let mut leaf_bad = leaf.clone();
    leaf_bad[10] ^= 1;
    bad["leaf"] = json!(B64.encode(&leaf_bad));
    assert_eq!(verify_proof_cli(dir.path(), &bad.to_string(), &vkey_text).0, 1);
    let mut bad = p.clone();
    bad["checkpoint"] = json!(p["checkpoint"].as_str().unwrap().replacen(&size.to_string(), &(size + 1).to_string(), 1));
    assert_eq!(verify_proof_cli(dir.path(), &bad.to_string(), &vkey_text).0, 1, "a checkpoint whose text was edited");
    assert_eq!(verify_proof_cli(dir.path(), "not json", &vkey_text).0, 2);
    assert_eq!(verify_proof_cli(dir.path(), &http_proof, "not-a-key").0, 2);

    // A consistency proof between two checkpoints verifies.
    for i in 0..3 {
        post_event(&http, &server, &admin, &format!("later-{i}")).await;
    }
    let later = checkpoint_at_least(&http, &server, &admin, "", cp.size + 3, &vkey).await;
    let c: ConsistencyProof = serde_json::from_value(
        get_json(&http, &server, &format!("/api/audit/proof/consistency?from={}&to={}", cp.size, later.size), &admin).await,
    )
    .unwrap();
    c.verify(&cp.root, &later.root).unwrap();
    assert!(c.verify(&later.root, &cp.root).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_key_sees_only_its_own_tree() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let admin = server.admin_key().unwrap();
    let key = |t: &str| ok_stdout(brain(dir.path()).args(["keys", "create", "--tenant", t, "--role", "writer"])).trim().to_owned();
    let (acme, globex) = (key("acme"), key("globex"));
    let http = Client::new();
    let mut acme_ids = Vec::new();
    let mut globex_ids = Vec::new();
    for i in 0..4 {
        acme_ids.push(post_event(&http, &server, &acme, &format!("a{i}")).await);
        globex_ids.push(post_event(&http, &server, &globex, &format!("g{i}")).await);
    }
    let vkey: NoteVerifier = get(&http, &server, "/api/audit/key", &acme).await.1.parse().unwrap();
    checkpoint_at_least(&http, &server, &admin, "", 8, &vkey).await;
    let cp = checkpoint_at_least(&http, &server, &acme, "", 4, &vkey).await;
    assert_eq!((cp.size, cp.origin.as_str()), (4, "brain.local/audit/tenant/acme"), "acme's own tree, not the global one");

    assert_eq!(get(&http, &server, "/api/audit/checkpoint?tenant=globex", &acme).await.0, 403);
    assert_eq!(get(&http, &server, "/api/audit?tenant=globex", &acme).await.0, 403);
    assert_eq!(get(&http, &server, &format!("/api/audit/proof/inclusion?event_id={}&tenant=globex", globex_ids[0]), &acme).await.0, 403);
    assert_eq!(
        get(&http, &server, &format!("/api/audit/proof/inclusion?event_id={}", globex_ids[0]), &acme).await.0,
        404,
        "another tenant's event is unknown"
    );
    let globex_leaves: Vec<String> =
        audit_rows(&http, &server, &admin, "&tenant=globex").await.iter().map(|r| r["leaf_hash"].as_str().unwrap().to_owned()).collect();
    assert_eq!(globex_leaves.len(), 4);
    let rows = audit_rows(&http, &server, &acme, "").await;
    let listed: Vec<&str> = rows.iter().map(|r| r["event_id"].as_str().unwrap()).collect();
    assert_eq!(listed, acme_ids.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, id) in acme_ids.iter().enumerate() {
        let p = get_json(&http, &server, &format!("/api/audit/proof/inclusion?event_id={id}"), &acme).await;
        assert_eq!((p["leaf_index"].as_u64(), p["tree_size"].as_u64()), (Some(i as u64), Some(4)));
        for h in p["hashes"].as_array().unwrap() {
            assert!(!globex_leaves.contains(&h.as_str().unwrap().to_owned()), "acme's proof carries a globex leaf");
        }
        let (code, out) = verify_proof_cli(dir.path(), &p.to_string(), &vkey.to_string());
        assert_eq!(code, 0, "{out}");
    }
    // The consistency route stays in the tenant's tree: sizes of the global tree are out of range.
    assert_eq!(get(&http, &server, "/api/audit/proof/consistency?from=1&to=8", &acme).await.0, 400);
    let c: ConsistencyProof =
        serde_json::from_value(get_json(&http, &server, "/api/audit/proof/consistency?from=2&to=4", &acme).await).unwrap();
    assert_eq!(c.to, 4);
}

async fn verify_full(dir: &Path) -> (i32, Value) {
    let out = run(brain(dir).args(["audit", "verify", "--full", "--json"]));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap(),
        serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("{text} {}", String::from_utf8_lossy(&out.stderr))),
    )
}

/// Publishes `n` events through a server, waits until a checkpoint covers them all, stops the server.
async fn audited_db(dir: &Path, n: usize) -> (Vec<String>, Checkpoint) {
    let server = Server::start(dir, &[]);
    let admin = server.admin_key().unwrap();
    let http = Client::new();
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(post_event(&http, &server, &admin, &format!("t{i}")).await);
    }
    let vkey: NoteVerifier = get(&http, &server, "/api/audit/key", &admin).await.1.parse().unwrap();
    let cp = checkpoint_at_least(&http, &server, &admin, "", n as u64, &vkey).await;
    drop(server);
    (ids, cp)
}

async fn state_db(dir: &Path) -> StateStore {
    StateStore::connect(&eventstream_sql::sqlite_url(&dir.join("brain-data").join("state.db"))).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_the_sqlite_state_db_makes_verify_exit_1_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    audited_db(dir.path(), 12).await;
    let (code, report) = verify_full(dir.path()).await;
    assert_eq!((code, &report["finding"]), (0, &Value::Null), "an untouched db is intact: {report}");
    let db = state_db(dir.path()).await;

    // One byte of row 5's bytes.
    let row = sqlx::query("SELECT bytes FROM audit_log WHERE idx = 5").fetch_one(db.pool()).await.unwrap();
    let original: Vec<u8> = row.get("bytes");
    let mut edited = original.clone();
    let at = edited.iter().position(|b| *b == b'a').unwrap();
    edited[at] = b'b';
    sqlx::query("UPDATE audit_log SET bytes = $1 WHERE idx = 5").bind(edited).execute(db.pool()).await.unwrap();
    let (code, report) = verify_full(dir.path()).await;
    assert_eq!(code, 1, "{report}");
    assert_eq!((report["finding"]["class"].as_str(), report["finding"]["index"].as_u64()), (Some("altered"), Some(5)), "{report}");
    let human = run(brain(dir.path()).args(["audit", "verify", "--full"]));
    assert_eq!(human.status.code(), Some(1));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("row 5") && text.contains("altered"), "{text}");
    sqlx::query("UPDATE audit_log SET bytes = $1 WHERE idx = 5").bind(original).execute(db.pool()).await.unwrap();
    assert_eq!(verify_full(dir.path()).await.0, 0, "restored, intact again");

    // Row 7 deleted.
    let cols = "idx, tenant, tenant_idx, event_id, event_type, event_time, appended_at, bytes, leaf_hash, chain, pruned_at";
    let saved = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {cols} FROM audit_log WHERE idx = 7"))).fetch_one(db.pool()).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE idx = 7").execute(db.pool()).await.unwrap();
    let (code, report) = verify_full(dir.path()).await;
    assert_eq!(code, 1, "{report}");
    assert_eq!((report["finding"]["class"].as_str(), report["finding"]["index"].as_u64()), (Some("missing"), Some(7)), "{report}");
    sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO audit_log ({cols}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")))
        .bind(saved.get::<i64, _>("idx"))
        .bind(saved.get::<Option<String>, _>("tenant"))
        .bind(saved.get::<Option<i64>, _>("tenant_idx"))
        .bind(saved.get::<String, _>("event_id"))
        .bind(saved.get::<String, _>("event_type"))
        .bind(saved.get::<i64, _>("event_time"))
        .bind(saved.get::<i64, _>("appended_at"))
        .bind(saved.get::<Option<Vec<u8>>, _>("bytes"))
        .bind(saved.get::<Vec<u8>, _>("leaf_hash"))
        .bind(saved.get::<Vec<u8>, _>("chain"))
        .bind(saved.get::<Option<i64>, _>("pruned_at"))
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(verify_full(dir.path()).await.0, 0);

    // The tail cut off below the signed size.
    sqlx::query("DELETE FROM audit_log WHERE idx >= 10").execute(db.pool()).await.unwrap();
    let (code, report) = verify_full(dir.path()).await;
    assert_eq!((code, report["finding"]["class"].as_str()), (1, Some("truncated")), "{report}");

    // A check that cannot run is exit 2, not 1.
    let out = run(brain(dir.path()).args(["audit", "verify", "--full", "--database", "postgres://nobody@127.0.0.1:1/none"]));
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_verify_and_proofs_green_and_records_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, before) = audited_db(dir.path(), 6).await;
    let out = ok_stdout(brain(dir.path()).args(["audit", "prune", "--before", "2099-01-01"]));
    assert!(out.contains(&format!("pruned {} rows", before.size)), "every checkpointed row: {out}");
    let (code, report) = verify_full(dir.path()).await;
    assert_eq!((code, report["pruned_rows"].as_u64()), (0, Some(before.size)), "{report}");
    let out = run(brain(dir.path()).args(["audit", "proof", &ids[0]]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pruned"));
    let listed = ok_stdout(brain(dir.path()).args(["audit", "list", "--json"]));
    assert!(listed.lines().all(|l| serde_json::from_str::<Value>(l).unwrap()["pruned"] == true), "{listed}");

    // The prune event reaches the audit log when the server runs again; its proof and verify pass.
    let server = Server::start(dir.path(), &[]);
    let admin = ok_stdout(brain(dir.path()).args(["keys", "create", "--tenant", "default", "--role", "admin"])).trim().to_owned();
    let http = Client::new();
    let vkey_text = ok_stdout(brain(dir.path()).args(["audit", "key"])).trim().to_owned();
    let vkey: NoteVerifier = vkey_text.parse().unwrap();
    let rows = eventually("the prune event is audited", PATIENCE, || async {
        let rows = audit_rows(&http, &server, &admin, "&type=system.maintenance").await;
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert_eq!(rows[0]["event"]["payload"]["operation"], "audit_prune");
    assert_eq!(rows[0]["event"]["payload"]["rows"], before.size);
    let index = rows[0]["index"].as_u64().unwrap();
    let after = checkpoint_at_least(&http, &server, &admin, "", index + 1, &vkey).await;
    let proof = ok_stdout(brain(dir.path()).args(["audit", "proof", rows[0]["event_id"].as_str().unwrap()]));
    assert_eq!(verify_proof_cli(dir.path(), &proof, &vkey_text).0, 0);
    let c: ConsistencyProof = serde_json::from_value(
        get_json(&http, &server, &format!("/api/audit/proof/consistency?from={}&to={}", before.size, after.size), &admin).await,
    )
    .unwrap();
    c.verify(&before.root, &after.root).expect("pruned leaves still prove consistency");
    drop(server);
    assert_eq!(verify_full(dir.path()).await.0, 0);

    // The export skips pruned rows and writes one structured CloudEvent per line for the rest.
    let out = run(brain(dir.path()).args(["audit", "export", "--format", "cloudevents"]));
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let maintenance: Vec<&Value> = lines.iter().filter(|l| l["type"] == "system.maintenance").collect();
    assert_eq!(maintenance.len(), 1, "{lines:?}");
    assert_eq!((maintenance[0]["specversion"].as_str(), maintenance[0]["auditindex"].as_u64()), (Some("1.0"), Some(index)));
    assert!(lines.iter().all(|l| l["auditindex"].as_u64().unwrap() >= before.size), "pruned rows are not exported");
}

/// `[audit]` in `brain.toml` and `BRAIN_AUDIT_*`: a configured key file signs the checkpoints (the
/// served vkey is its key's), a configured origin is their first line, `brain audit` uses both, the
/// default key file is never created; a bad key file stops `serve` and `brain audit` with an error naming
/// the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_audit_key_file_and_origin_are_used() {
    const ORIGIN: &str = "example.com/brain/audit";
    let dir = tempfile::tempdir().unwrap();
    let signer = eventstream_system::audit::NoteSigner::generate(ORIGIN).unwrap();
    let key_file = dir.path().join("keys").join("signing.key");
    std::fs::create_dir_all(key_file.parent().unwrap()).unwrap();
    std::fs::write(&key_file, signer.private_text()).unwrap();
    // The key file from brain.toml (read from the working directory), the origin from the environment.
    std::fs::write(dir.path().join("brain.toml"), format!("[audit]\nkey_file = {:?}\ncheckpoint_interval_ms = 200\n", key_file)).unwrap();
    let env = [("BRAIN_AUDIT_ORIGIN", ORIGIN)];
    let server = Server::start_with_env(dir.path(), &[], &env);
    let admin = server.admin_key().unwrap();
    let http = Client::new();
    post_event(&http, &server, &admin, "configured").await;
    let (status, vkey_text) = get(&http, &server, "/api/audit/key", &admin).await;
    assert_eq!((status, vkey_text.trim()), (200, signer.verifier().to_string().as_str()), "the configured key signs");
    let vkey = signer.verifier();
    let cp = checkpoint_at_least(&http, &server, &admin, "", 1, &vkey).await;
    assert_eq!(cp.origin, ORIGIN);
    let (_, note) = get(&http, &server, "/api/audit/checkpoint", &admin).await;
    assert_eq!(note.lines().next(), Some(ORIGIN), "{note}");
    drop(server);
    assert!(!dir.path().join("brain-data").join("audit.key").exists(), "no key is generated into the data dir");

    let key_out = ok_stdout(brain(dir.path()).args(["audit", "key"]).env("BRAIN_AUDIT_ORIGIN", ORIGIN));
    assert_eq!(key_out.trim(), vkey.to_string());
    let out = run(brain(dir.path()).args(["audit", "verify", "--full"]).env("BRAIN_AUDIT_ORIGIN", ORIGIN));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    // Another origin than the key's name, or a file without a key: clear errors naming the file.
    let out = run(brain(dir.path()).args(["audit", "verify"]).env("BRAIN_AUDIT_ORIGIN", "other.example/log"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&key_file.display().to_string()) && err.contains("other.example/log"), "{err}");
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not a key\n").unwrap();
    let bad_text = bad.display().to_string();
    let out = run(brain(dir.path()).args(["serve", "--port", "0"]).env("BRAIN_AUDIT_KEY_FILE", &bad).env("BRAIN_AUDIT_ORIGIN", ORIGIN));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&bad_text) && err.contains("no valid signing key"), "{err}");
    // An invalid origin is refused before anything opens.
    let out = run(brain(dir.path()).args(["audit", "key"]).env("BRAIN_AUDIT_ORIGIN", "has space"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BRAIN_AUDIT_ORIGIN"), "{}", String::from_utf8_lossy(&out.stderr));
}
