//! Runs the `brain` binary in a temp data dir: one-shot commands and a `brain serve` child on a free
//! port, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub fn brain_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_brain"))
}

/// A `brain` command with `--data-dir dir` and a clean environment for our variables.
pub fn brain(dir: &Path) -> Command {
    let mut c = Command::new(brain_bin());
    c.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("BRAIN_") && k != "BRAIN_LOG" {
            c.env_remove(k);
        }
    }
    c.env("BRAIN_DATA_DIR", dir.join("brain-data"));
    c
}

/// Runs a command and returns its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

/// Stdout as a string, asserting success.
pub fn ok_stdout(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(out.status.success(), "command failed: {}\nstderr: {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A running `brain serve`.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// Lines the server printed on stderr before it was ready.
    pub startup: Vec<String>,
    #[allow(dead_code)]
    pub stderr_rx: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `brain serve --port 0` with extra args and waits until it listens.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        Self::start_with_env(dir, extra, &[])
    }

    /// [`Server::start`] with extra environment variables (test hooks).
    pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = brain(dir);
        cmd.args(["serve", "--port", "0"]).args(extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut startup = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let done = line.strip_prefix("listening on ").map(str::to_owned);
                    startup.push(line);
                    if let Some(base) = done {
                        return Server { child, base, startup, stderr_rx: rx };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("brain serve did not start: {startup:?}");
                }
            }
        }
    }

    /// The admin key the first start printed (`admin key: KEY`), if this start printed one.
    pub fn admin_key(&self) -> Option<String> {
        self.startup.iter().find_map(|l| l.strip_prefix("admin key: ").map(|k| k.trim().to_owned()))
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PostgreSQL the tests use (`BRAIN_TEST_DATABASE_URL`, default the local `test` database).
pub fn pg_url() -> String {
    std::env::var("BRAIN_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh PostgreSQL schema for one test (created with the state store's own migrations), and the URL
/// `brain --database` uses to work inside it.
pub struct PgSchema {
    /// A store connected to the schema.
    pub store: eventstream_sql::StateStore,
    /// The schema's name.
    pub name: String,
    /// `url` with `search_path` set to the schema.
    pub url: String,
}

impl PgSchema {
    /// Creates `<prefix>_<uuid>` on the database at `url`.
    pub async fn create(url: &str, prefix: &str) -> Self {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let store = eventstream_sql::StateStore::connect_with(url, eventstream_sql::StoreOptions::default().schema(&name)).await.unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}options=-csearch_path%3D{name}");
        Self { store, name, url }
    }

    /// Drops the schema, best effort: the sessions of killed servers may hold locks for a moment, so it
    /// retries with a growing pause (at most 20 attempts) and only reports when it gives up.
    pub async fn drop_schema(&self) {
        use eventstream_sql::sqlx;
        for attempt in 1..=20u64 {
            let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
            match sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(self.store.pool()).await {
                Ok(_) => return,
                Err(e) if attempt == 20 => eprintln!("could not drop test schema {}: {e}", self.name),
                Err(_) => tokio::time::sleep(Duration::from_millis(50 * attempt)).await,
            }
        }
    }
}

/// `GET {base}{path}` with `key`: the JSON body of a 200 answer, else `None`.
pub async fn get_json(client: &reqwest::Client, base: &str, key: &str, path: &str) -> Option<serde_json::Value> {
    let resp = client.get(format!("{base}{path}")).bearer_auth(key).send().await.ok()?;
    if resp.status() != 200 {
        return None;
    }
    resp.json().await.ok()
}

/// Every event of type `t` in the history of the server at `base` (`GET /api/events`, page by page), as
/// (payload `field`, event id) pairs.
pub async fn history(client: &reqwest::Client, base: &str, key: &str, t: &str, field: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/events?type={t}&limit=1000");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = get_json(client, base, key, &path).await.expect("GET /api/events");
        for e in page["events"].as_array().expect("an events array") {
            let id = e["id"].as_str().expect("an event id").to_owned();
            out.push((e["payload"][field].as_str().unwrap_or_default().to_owned(), id));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}
