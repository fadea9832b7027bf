//! A private `nats-server` (JetStream in a temp dir, its own port) is killed while a log is open: calls
//! fail with `Unavailable` within a bounded time instead of hanging; after a restart on the same storage
//! the same handle works again and nothing acknowledged is lost. When the binary is missing the test
//! fails under `CI=true` and is skipped loudly otherwise (`eventstream_testkit::require_tool`).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eventstream_core::{EventLog, LogError, StartFrom};
use eventstream_nats::{NatsConfig, NatsLog};
use eventstream_testkit::fixtures::{Must, consumer, delivered_positions, group, read_all, sample_events};

/// The server binary.
const NATS_SERVER: &str = "/usr/sbin/nats-server";
/// The log's operation timeout in this test.
const TIMEOUT: Duration = Duration::from_secs(1);
/// How long publishes and acks are retried: a single server that is down has no other member to fail
/// over to, so a short window keeps the outage report fast.
const FAILOVER: Duration = Duration::from_secs(2);
/// How long a call may take to report an outage: the log's longest non-blocking bound plus slack.
const FAIL_FAST: Duration = Duration::from_secs(9);

/// A `nats-server -js` child killed on drop.
struct Server {
    child: Option<Child>,
    port: u16,
}

impl Server {
    fn start(dir: &Path, port: u16) -> Self {
        let child = Command::new(NATS_SERVER)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {NATS_SERVER}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {port} within 10s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child: Some(child), port }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    l.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}")).port()
}

/// Runs `call`, asserting it fails with a transient error within [`FAIL_FAST`].
async fn fails_fast<T: std::fmt::Debug>(what: &str, call: impl std::future::Future<Output = Result<T, LogError>>) {
    let t = Instant::now();
    let r = tokio::time::timeout(FAIL_FAST * 2, call).await.unwrap_or_else(|_| panic!("{what} hung while NATS was down"));
    let took = t.elapsed();
    match r {
        Err(e) => assert!(e.is_transient(), "{what} while NATS is down must be Unavailable, got {e:?}"),
        Ok(v) => panic!("{what} while NATS is down must fail, got {v:?}"),
    }
    assert!(took < FAIL_FAST, "{what} took {took:?} to report the outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_gives_unavailable_then_recovers_without_loss() {
    if !eventstream_testkit::require_tool("nats-server", NATS_SERVER) {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let port = free_port();
    let mut server = Server::start(dir.path(), port);
    let mut config = NatsConfig::new(format!("nats://127.0.0.1:{}", server.port), "fault");
    config.timeout = TIMEOUT;
    config.failover = FAILOVER;
    let log = NatsLog::connect(config.clone()).await.must("open on the private server");

    let before = log.append(&sample_events(0..5)).await.must("append before the outage");
    let (g, c) = (group("survivor"), consumer("c1"));
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");
    let first = log.read_group(&g, &c, 2, Duration::ZERO).await.must("read_group before the outage");
    assert_eq!(delivered_positions(&first), before[..2].to_vec());
    log.ack(&g, &before[..1]).await.must("ack before the outage");

    server.kill();
    let during = sample_events(5..8);
    fails_fast("append", log.append(&during)).await;
    fails_fast("head", log.head()).await;
    fails_fast("read_group", log.read_group(&g, &c, 10, Duration::ZERO)).await;
    fails_fast("read", log.read(&StartFrom::Beginning, 10, Duration::from_millis(200))).await;
    fails_fast("health", log.health()).await;
    assert!(NatsLog::connect(config.clone()).await.is_err_and(|e| e.is_transient()), "opening a log while NATS is down is Unavailable");

    let _server = Server::start(dir.path(), port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while log.health().await.is_err() {
        assert!(Instant::now() < deadline, "the log did not recover within 30s of the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The failed append is retried as is: dedup on event id keeps it from being stored twice even if the
    // client flushed part of it after reconnecting.
    let mut retried = None;
    while retried.is_none() {
        match log.append(&during).await {
            Ok(p) => retried = Some(p),
            Err(e) if e.is_transient() && Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("retrying the append after the restart: {e}"),
        }
    }
    let records = read_all(&log).await;
    assert_eq!(records.len(), 8, "the events before the outage and the retried batch, each once");
    let info = log.group_info(&g).await.must("group_info after the restart");
    assert_eq!((info.pending, info.undelivered), (1, 6), "the group's pending entry and position survive the restart");
    let pending = log.read_pending(&g, &c, 10).await.must("read_pending after the restart");
    assert_eq!(delivered_positions(&pending), vec![before[1].clone()]);
    let rest = log.read_group(&g, &c, 100, Duration::ZERO).await.must("read_group after the restart");
    assert_eq!(rest.len(), 6, "the group continues where it stopped");
    let reopened = NatsLog::connect(config).await.must("reopen after the restart");
    assert_eq!(reopened.head().await.must("head"), records.last().map(|r| r.position.clone()));
}
