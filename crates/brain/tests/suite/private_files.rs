//! What the binary leaves on disk and prints: the data dir is its owner's only (0700, files 0600, an
//! open one is tightened at start), and no password of a connection URL reaches an error message.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::suite::support::{Server, brain, run};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every file directly in `dir` with its mode.
fn file_modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.metadata().unwrap().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), mode(&e.path())))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn serve_creates_the_data_dir_0700_and_every_file_0600() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let key = server.admin_key().expect("the first start prints the admin key");
    // A publish writes both databases (and their write-ahead logs).
    let resp = reqwest::Client::new()
        .post(server.url("/api/events"))
        .bearer_auth(&key)
        .json(
            &serde_json::json!({"type": "task.created", "payload": {"task_id": "t1", "mission_type": "agent.chat", "priority": "NORMAL"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let data = dir.path().join("brain-data");
    assert_eq!(mode(&data), 0o700, "the data dir");
    let files = file_modes(&data);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["events.db", "events.db-wal", "state.db", "state.db-wal", "admin.key", "audit.key"] {
        assert!(names.contains(&want), "{want} is in the data dir: {names:?}");
    }
    for (name, m) in &files {
        assert_eq!(*m, 0o600, "{name} is 0{m:o}");
    }
}

#[tokio::test]
async fn serve_tightens_a_data_dir_open_to_others_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("brain-data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    // An empty file is a valid SQLite database: a state store from a build that left it 0644.
    std::fs::write(data.join("state.db"), b"").unwrap();
    std::fs::set_permissions(data.join("state.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Server::start(dir.path(), &[]);
    assert_eq!(mode(&data), 0o700, "the data dir is tightened");
    for (name, m) in file_modes(&data) {
        assert_eq!(m, 0o600, "{name} is 0{m:o}");
    }
    let said = server.startup.join("\n");
    assert!(said.contains("set to 0700") && said.contains("state.db"), "the start says what it changed:\n{said}");
}

#[test]
fn passwords_in_backend_urls_never_reach_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["events", "--backend", "redis", "--redis-url", "redis://admin:S3cretPass@127.0.0.1:1"], "redis://admin:***@127.0.0.1:1"),
        (&["events", "--backend", "redis", "--redis-url", "redis://:S3cretPass@127.0.0.1:1/0"], "redis://:***@127.0.0.1:1"),
        (&["events", "--backend", "nats", "--nats-url", "nats://u:S3cretPass@127.0.0.1:1"], "nats://u:***@127.0.0.1:1"),
        (&["keys", "list", "--database", "postgres://brain:S3cretPass@127.0.0.1:1/db"], "postgres://brain:***@127.0.0.1:1/db"),
        (&["keys", "list", "--database", "postgres://127.0.0.1:1/db?sslmode=disable&password=S3cretPass"], "password=***"),
        (&["events", "--backend", "redis", "--redis-url", "http://u:S3cretPass@h"], "invalid Redis URL"),
        (&["keys", "list", "--database", "mysql://u:S3cretPass@h/db"], "invalid database URL"),
    ];
    for (args, shown) in cases {
        let out = run(brain(dir.path()).args(*args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!stderr.contains("S3cretPass"), "{args:?} printed the password:\n{stderr}");
        assert!(stderr.contains(shown), "{args:?}: the error still names the URL ({shown}):\n{stderr}");
    }
}
