//! A private `redis-server` for the fault tests: its own free port and directory, persistence on
//! (`appendonly yes`, `appendfsync always`), so it can be killed and restarted on the same port and data
//! and come back with every acknowledged write.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use eventstream::{Backoff, SubscriptionOptions};
use eventstream_core::StartFrom;
use eventstream_redis::RedisConfig;

use super::helpers::poll;

/// A `redis-server` child on its own port and directory; killed when dropped.
pub(crate) struct PrivateRedis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl PrivateRedis {
    /// Starts a server on `port` keeping its data in `dir` (does not wait for it; see
    /// [`PrivateRedis::wait_ready`]).
    pub(crate) fn start(dir: &Path, port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--protected-mode",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting redis-server: {e}"));
        Self { child: Some(child), port, dir: dir.to_path_buf() }
    }

    /// Starts a server on a free port keeping its data in `dir`, and waits until it answers.
    pub(crate) async fn start_ready(dir: &Path) -> Self {
        let server = Self::start(dir, free_port());
        server.wait_ready().await;
        server
    }

    /// The port the server listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// A config for this server with keys under `prefix` and short timeouts (500 ms connect, 2 s
    /// response and block margin, one reconnect retry), so calls fail fast while it is down.
    pub(crate) fn fast_config(&self, prefix: &str) -> RedisConfig {
        let mut config = RedisConfig::new(self.url()).with_key_prefix(prefix);
        config.connect_timeout = Duration::from_millis(500);
        config.response_timeout = Duration::from_secs(2);
        config.block_margin = Duration::from_secs(2);
        config.reconnect_retries = 1;
        config
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Polls (bounded) until the server answers `PING`.
    pub(crate) async fn wait_ready(&self) {
        let url = self.url();
        poll("the private redis-server answers PING", Duration::from_secs(15), || {
            let url = url.clone();
            async move {
                let client = ::redis::Client::open(url.as_str()).ok()?;
                let mut con = client.get_multiplexed_async_connection().await.ok()?;
                let pong: String = ::redis::cmd("PING").query_async(&mut con).await.ok()?;
                (pong == "PONG").then_some(())
            }
        })
        .await;
    }

    /// SIGKILLs the server and reaps it. With `appendfsync always` nothing it acknowledged is lost.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (it reloads its append-only file).
    pub(crate) fn restart(&mut self) {
        self.kill();
        *self = Self::start(&self.dir.clone(), self.port);
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether `redis-server` can be started here (fails under `CI=true` when it cannot; otherwise a
/// visible SKIPPED line, through the testkit's one rule for missing tools).
pub(crate) fn redis_server_installed() -> bool {
    eventstream_testkit::require_tool("redis-server", eventstream_testkit::ToolProbe::command("redis-server", ["--version"]))
}

/// A TCP port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or_else(|e| panic!("free port: {e}"))
}

/// Subscription options for the fault tests: 4 handlers from the beginning, `batch_size` per read,
/// `backoff` between retries, deliveries idle for `claim_idle` taken back, and both the claim interval
/// and the read block set to `tick` so recovery takes a few ticks instead of the defaults' seconds.
pub(crate) fn fast_options(batch_size: usize, backoff: Backoff, claim_idle: Duration, tick: Duration) -> SubscriptionOptions {
    SubscriptionOptions {
        concurrency: 4,
        batch_size,
        backoff,
        start: StartFrom::Beginning,
        claim_idle,
        claim_interval: tick,
        read_block: tick,
        ..SubscriptionOptions::default()
    }
}
