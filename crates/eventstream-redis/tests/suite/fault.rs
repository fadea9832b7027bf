//! Fault test: a private `redis-server` with persistence is killed (SIGKILL) and restarted under a
//! `RedisLog` handle. Calls fail fast with `Unavailable` while it is down; afterwards the same handle
//! works again and the group resumes with nothing lost.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use eventstream_core::{ConsumerName, EventLog, GroupName, LogError, Position, StartFrom};
use eventstream_redis::RedisLog;
use eventstream_testkit::sample_events;

use super::helpers::poll;
use super::server::{PrivateRedis, redis_server_installed};

fn positions(ds: &[eventstream_core::Delivery]) -> Vec<Position> {
    ds.iter().map(|d| d.record.position.clone()).collect()
}

#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(r: Result<T, LogError>, started: Instant, what: &str) {
    let took = started.elapsed();
    assert!(matches!(r, Err(LogError::Unavailable { .. })), "{what} while the server is down must be Unavailable, got {r:?}");
    assert!(took < Duration::from_secs(6), "{what} while the server is down took {took:?}: it must fail fast, not hang");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_survives_a_server_kill_and_resumes_without_loss() {
    if !redis_server_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut server = PrivateRedis::start_ready(dir.path()).await;
    let port = server.port();
    let log = RedisLog::connect(server.fast_config("fault:")).await.unwrap_or_else(|e| panic!("connect: {e}"));
    let (g, c): (GroupName, ConsumerName) =
        ("worker".parse().unwrap_or_else(|e| panic!("{e}")), "replica-1".parse().unwrap_or_else(|e| panic!("{e}")));
    let waiter: GroupName = "waiter".parse().unwrap_or_else(|e| panic!("{e}"));

    log.ensure_group(&g, &StartFrom::Beginning).await.unwrap_or_else(|e| panic!("ensure_group: {e}"));
    let p = log.append(&sample_events(0..6)).await.unwrap_or_else(|e| panic!("append: {e}"));
    log.ensure_group(&waiter, &StartFrom::End).await.unwrap_or_else(|e| panic!("ensure_group: {e}"));
    let first = log.read_group(&g, &c, 3, Duration::ZERO).await.unwrap_or_else(|e| panic!("read_group: {e}"));
    assert_eq!(positions(&first), p[..3].to_vec());
    assert_eq!(log.ack(&g, &p[..1]).await.unwrap_or_else(|e| panic!("ack: {e}")), 1);
    // The `waiter` group is a reader blocked on the server when it dies.
    let waiter_group = log.read_group(&waiter, &c, 10, Duration::ZERO).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(waiter_group.is_empty());
    let blocked = {
        let (log, waiter, c) = (log.clone(), waiter.clone(), c.clone());
        tokio::spawn(async move {
            let t = Instant::now();
            (log.read_group(&waiter, &c, 10, Duration::from_secs(30)).await, t)
        })
    };
    let probe_url = server.url();
    poll("the reader is blocked on the server", Duration::from_secs(5), || {
        let url = probe_url.clone();
        async move {
            let client = ::redis::Client::open(url.as_str()).ok()?;
            let mut con = client.get_multiplexed_async_connection().await.ok()?;
            let info: String = ::redis::cmd("INFO").arg("clients").query_async(&mut con).await.ok()?;
            info.lines().any(|l| l.trim() == "blocked_clients:1").then_some(())
        }
    })
    .await;

    server.kill();

    let (r, t) = tokio::time::timeout(Duration::from_secs(10), blocked)
        .await
        .unwrap_or_else(|_| panic!("a blocked read must return when the server dies"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_unavailable(r, t, "a blocked read_group");
    let t = Instant::now();
    assert_unavailable(log.append(&sample_events(100..101)).await, t, "append");
    let t = Instant::now();
    assert_unavailable(log.read_group(&g, &c, 10, Duration::from_secs(5)).await, t, "a blocking read_group");
    let t = Instant::now();
    assert_unavailable(log.read_pending(&g, &c, 10).await, t, "read_pending");
    let t = Instant::now();
    assert_unavailable(log.group_info(&g).await, t, "group_info");
    let t = Instant::now();
    assert_unavailable(log.health().await, t, "health");

    // Same port, same directory: the server reloads its append-only file.
    let server = PrivateRedis::start(dir.path(), port);
    server.wait_ready().await;
    poll("the same RedisLog handle reconnects", Duration::from_secs(15), || {
        let log = log.clone();
        async move { log.health().await.ok() }
    })
    .await;

    let info = log.group_info(&g).await.unwrap_or_else(|e| panic!("group_info after restart: {e}"));
    assert_eq!(
        (info.pending, info.undelivered, info.last_delivered.as_ref()),
        (2, 3, Some(&p[2])),
        "the group's place survived the restart"
    );
    let pending = log.read_pending(&g, &c, 10).await.unwrap_or_else(|e| panic!("read_pending after restart: {e}"));
    assert_eq!(positions(&pending), p[1..3].to_vec(), "the unacknowledged deliveries are still pending");
    assert!(pending.iter().all(|d| d.delivery_count >= 2 && d.record.event.is_ok()));
    let rest = log.read_group(&g, &c, 10, Duration::from_millis(200)).await.unwrap_or_else(|e| panic!("read_group after restart: {e}"));
    assert_eq!(positions(&rest), p[3..].to_vec(), "the group continues where it stopped");
    let after = log.append(&sample_events(6..7)).await.unwrap_or_else(|e| panic!("append after restart: {e}"));
    let newest = log.read_group(&g, &c, 10, Duration::from_secs(2)).await.unwrap_or_else(|e| panic!("read_group: {e}"));
    assert_eq!(positions(&newest), after);

    let mut seen: BTreeSet<String> = BTreeSet::new();
    for d in first.iter().chain(&pending).chain(&rest).chain(&newest) {
        seen.insert(d.record.position.to_string());
    }
    let acked: Vec<Position> = seen.iter().map(|s| s.parse().unwrap_or_else(|e| panic!("{e}"))).collect();
    assert_eq!(acked.len(), 7, "every appended event was delivered: {seen:?}");
    assert_eq!(log.ack(&g, &acked).await.unwrap_or_else(|e| panic!("ack: {e}")), 6, "all but the one acked before the kill were pending");
    let info = log.group_info(&g).await.unwrap_or_else(|e| panic!("group_info: {e}"));
    assert_eq!(info.lag(), 0);
    drop(server);
}
