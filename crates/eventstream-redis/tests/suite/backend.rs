//! Behaviour specific to the Redis backend beyond the conformance suite: blocking reads on dedicated
//! connections, group naming, lag when Redis cannot tell it, error mapping.

use std::time::{Duration, Instant};

use eventstream_core::{ConsumerName, EventLog, GroupName, LogError, Position, StartFrom};
use eventstream_redis::{RedisConfig, RedisLog};
use eventstream_testkit::sample_events;

use super::helpers::{Prefix, raw, redis_available, redis_url};

fn group(s: &str) -> GroupName {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn consumer(s: &str) -> ConsumerName {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_block_longer_than_the_client_default_response_timeout_waits_it_out() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("long-block");
    let log = prefix.log("s");
    let g = group("g");
    log.ensure_group(&g, &StartFrom::End).await.unwrap_or_else(|e| panic!("ensure_group: {e}"));
    let t = Instant::now();
    // redis-rs 1.x would cut this off after 500 ms with a timeout error.
    let got = log
        .read_group(&g, &consumer("c"), 10, Duration::from_millis(1500))
        .await
        .unwrap_or_else(|e| panic!("a 1.5 s BLOCK must not time out: {e}"));
    assert!(got.is_empty());
    assert!(t.elapsed() >= Duration::from_millis(1400), "the read waited {:?}", t.elapsed());
    let t = Instant::now();
    let got = log
        .read(&StartFrom::End, 10, Duration::from_millis(1200))
        .await
        .unwrap_or_else(|e| panic!("a 1.2 s XREAD BLOCK must not time out: {e}"));
    assert!(got.is_empty());
    assert!(t.elapsed() >= Duration::from_millis(1100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_readers_do_not_stall_other_calls() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("no-stall");
    let log = prefix.log("s");
    let g = group("g");
    log.ensure_group(&g, &StartFrom::End).await.unwrap_or_else(|e| panic!("ensure_group: {e}"));
    // Four consumers block for a long time at once (more than share one connection), one entry each.
    let mut readers = Vec::new();
    for i in 0..4 {
        let (log, g) = (log.clone(), g.clone());
        readers.push(tokio::spawn(async move { log.read_group(&g, &consumer(&format!("c{i}")), 1, Duration::from_secs(20)).await }));
    }
    // Wait (bounded) until all four are blocked on the server.
    let mut con = raw(&redis_url()).await;
    super::helpers::poll("four readers are blocked", Duration::from_secs(5), || {
        let mut con = con.clone();
        async move {
            let info: String = ::redis::cmd("INFO").arg("clients").query_async(&mut con).await.ok()?;
            let blocked = info.lines().find_map(|l| l.strip_prefix("blocked_clients:")).and_then(|n| n.trim().parse::<u64>().ok())?;
            (blocked >= 4).then_some(())
        }
    })
    .await;
    let t = Instant::now();
    let p = log.append(&sample_events(0..4)).await.unwrap_or_else(|e| panic!("append while readers block: {e}"));
    log.head().await.unwrap_or_else(|e| panic!("head: {e}"));
    assert!(t.elapsed() < Duration::from_secs(2), "calls next to blocked readers took {:?}", t.elapsed());
    let mut delivered: Vec<Position> = Vec::new();
    for r in readers {
        let got = tokio::time::timeout(Duration::from_secs(5), r)
            .await
            .unwrap_or_else(|_| panic!("a reader did not wake"))
            .unwrap_or_else(|e| panic!("{e}"));
        delivered.extend(got.unwrap_or_else(|e| panic!("read_group: {e}")).into_iter().map(|d| d.record.position));
    }
    delivered.sort_by_key(|p| p.to_string());
    let mut want = p.clone();
    want.sort_by_key(|p| p.to_string());
    assert_eq!(delivered, want, "each entry reached exactly one of the blocked consumers");
    let _: () = ::redis::cmd("PING").query_async(&mut con).await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn groups_carry_the_configured_prefix_and_foreign_groups_are_not_listed() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("group-prefix");
    let log = RedisLog::new(prefix.config("s").with_group_prefix("group_")).unwrap_or_else(|e| panic!("{e}"));
    log.append(&sample_events(0..2)).await.unwrap_or_else(|e| panic!("append: {e}"));
    log.ensure_group(&group("audit"), &StartFrom::Beginning).await.unwrap_or_else(|e| panic!("ensure_group: {e}"));
    let mut con = raw(&redis_url()).await;
    let _: () = ::redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(log.stream())
        .arg("someone_else")
        .arg("0")
        .query_async(&mut con)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<Vec<::redis::Value>> =
        ::redis::cmd("XINFO").arg("GROUPS").arg(log.stream()).query_async(&mut con).await.unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = rows
        .iter()
        .filter_map(|r| match r.get(1) {
            Some(::redis::Value::BulkString(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect();
    assert!(names.contains(&"group_audit".to_owned()), "the original's naming `group_{{subscriber}}`: {names:?}");
    let listed: Vec<String> =
        log.groups().await.unwrap_or_else(|e| panic!("groups: {e}")).into_iter().map(|g| g.name.to_string()).collect();
    assert_eq!(listed, ["audit"], "only our groups, without the prefix");
    assert_eq!(log.redis_group_name(&group("audit")), "group_audit");
}

#[tokio::test]
async fn lag_is_counted_when_redis_cannot_report_it() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("nil-lag");
    let log = prefix.log("s");
    let p = log.append(&sample_events(0..6)).await.unwrap_or_else(|e| panic!("append: {e}"));
    // An entry deleted after the group's position makes Redis report the group's lag as nil.
    let mut con = raw(&redis_url()).await;
    let _: i64 = ::redis::cmd("XDEL").arg(log.stream()).arg(p[3].as_str()).query_async(&mut con).await.unwrap_or_else(|e| panic!("{e}"));
    let g = group("g");
    log.ensure_group(&g, &StartFrom::After(p[1].clone())).await.unwrap_or_else(|e| panic!("ensure_group: {e}"));
    let rows: Vec<Vec<::redis::Value>> =
        ::redis::cmd("XINFO").arg("GROUPS").arg(log.stream()).query_async(&mut con).await.unwrap_or_else(|e| panic!("{e}"));
    let lag = rows[0].iter().position(|v| matches!(v, ::redis::Value::BulkString(b) if b == b"lag")).map(|i| rows[0][i + 1].clone());
    assert_eq!(lag, Some(::redis::Value::Nil), "the setup must make Redis' lag nil");

    let info = log.group_info(&g).await.unwrap_or_else(|e| panic!("group_info: {e}"));
    assert_eq!((info.pending, info.undelivered, info.last_delivered.as_ref()), (0, 3, Some(&p[1])), "p2, p4, p5 are undelivered");
    let got = log.read_group(&g, &consumer("c"), 2, Duration::ZERO).await.unwrap_or_else(|e| panic!("read_group: {e}"));
    assert_eq!(got.iter().map(|d| d.record.position.clone()).collect::<Vec<_>>(), vec![p[2].clone(), p[4].clone()]);
    let info = log.group_info(&g).await.unwrap_or_else(|e| panic!("group_info: {e}"));
    assert_eq!((info.pending, info.undelivered, info.lag()), (2, 1, 3));
    // Moving back over pending entries must not count them twice.
    log.set_group_position(&g, &StartFrom::After(p[1].clone())).await.unwrap_or_else(|e| panic!("set_group_position: {e}"));
    let info = log.group_info(&g).await.unwrap_or_else(|e| panic!("group_info: {e}"));
    assert_eq!((info.pending, info.undelivered), (2, 1), "p2, p4 pending, p5 undelivered; got {info:?}");
}

#[tokio::test]
async fn bad_inputs_are_typed_errors() {
    if !redis_available() {
        return;
    }
    let prefix = Prefix::new("bad-inputs");
    let mut config = prefix.config("s");
    config.max_entry_bytes = 1024;
    let log = RedisLog::new(config).unwrap_or_else(|e| panic!("{e}"));
    let mut big = sample_events(0..1);
    big[0].payload.insert("blob".into(), "x".repeat(2048).into());
    assert!(matches!(log.append(&big).await, Err(LogError::Encode { .. })), "an entry over max_entry_bytes is an Encode error");
    assert_eq!(log.head().await.unwrap_or_else(|e| panic!("head: {e}")), None, "nothing of the rejected batch is stored");

    let g = group("g");
    log.ensure_group(&g, &StartFrom::Beginning).await.unwrap_or_else(|e| panic!("ensure_group: {e}"));
    let foreign: Position = "42".parse().unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(log.ack(&g, std::slice::from_ref(&foreign)).await, Err(LogError::InvalidPosition { .. })));
    assert!(matches!(log.read(&StartFrom::After(foreign.clone()), 1, Duration::ZERO).await, Err(LogError::InvalidPosition { .. })));
    assert!(matches!(log.set_group_position(&g, &StartFrom::After(foreign)).await, Err(LogError::InvalidPosition { .. })));
    assert!(matches!(log.ack(&group("nope"), &["1-0".parse().unwrap_or_else(|e| panic!("{e}"))]).await, Err(LogError::UnknownGroup(_))));

    // ensure_group ignores BUSYGROUP and nothing else: a key of the wrong type is an error.
    let other = prefix.log("wrongtype");
    let mut con = raw(&redis_url()).await;
    let _: () = ::redis::cmd("SET").arg(other.stream()).arg("not a stream").query_async(&mut con).await.unwrap_or_else(|e| panic!("{e}"));
    match other.ensure_group(&g, &StartFrom::Beginning).await {
        Err(LogError::Storage { .. }) => {}
        r => panic!("ensure_group on a non-stream key must fail, got {r:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_quickly() {
    // Nothing listens on a port we just bound and released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"));
    let mut config = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
    config.connect_timeout = Duration::from_millis(500);
    let t = Instant::now();
    assert!(matches!(RedisLog::connect(config.clone()).await, Err(LogError::Unavailable { .. })));
    let log = RedisLog::new(config).unwrap_or_else(|e| panic!("a lazy log is created while the server is down: {e}"));
    assert!(matches!(log.append(&sample_events(0..1)).await, Err(LogError::Unavailable { .. })));
    assert!(matches!(log.read_group(&group("g"), &consumer("c"), 1, Duration::from_secs(5)).await, Err(LogError::Unavailable { .. })));
    assert!(log.health().await.is_err_and(|e| e.is_transient()));
    assert!(t.elapsed() < Duration::from_secs(10), "failing calls took {:?}", t.elapsed());
}
