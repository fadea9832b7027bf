//! Kill test: two replicas of one subscriber run as separate OS processes (this test binary re-executed
//! to run only [`child_replica`]), sharing the consumer group with distinct consumer names and one
//! PostgreSQL state store (a fresh schema), as replicas run in production. One is SIGKILLed while it holds
//! deliveries; the survivor reclaims them after `claim_idle`. Every event ends with exactly one effect:
//! none lost, none had a second effect.
//!
//! (Not SQLite: both replicas' handlers hold their write transaction while they wait, and SQLite's busy
//! handler polls with sleeps, so one process can hold the file's only write lock for nearly every turn and
//! the other gets almost none: the victim then never has the effects this test waits for.)

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use eventstream::{Backoff, ConsumerRuntime, Subscription};
use eventstream_core::{EventLog, GroupName, StartFrom, TypePattern};
use eventstream_redis::{RedisConfig, RedisLog};
use eventstream_sql::{StateStore, StoreOptions};
use eventstream_testkit::sample_events;

use super::effects::{RecordEffect, create_effects_table, dead_letter_count, effect_counts, effects};
use super::helpers::{Prefix, poll, raw, redis_available, redis_url};
use super::server::fast_options;

/// Set to `1` in a child process: [`child_replica`] then runs a replica instead of returning at once.
const CHILD: &str = "BRAIN_TEST_CHILD_REPLICA";
const CHILD_URL: &str = "BRAIN_TEST_CHILD_REDIS_URL";
const CHILD_KEY_PREFIX: &str = "BRAIN_TEST_CHILD_KEY_PREFIX";
const CHILD_DB: &str = "BRAIN_TEST_CHILD_DB";
const CHILD_SCHEMA: &str = "BRAIN_TEST_CHILD_SCHEMA";
const CHILD_CONSUMER: &str = "BRAIN_TEST_CHILD_CONSUMER";

/// The subscriber both replicas run.
const GROUP: &str = "kill-effects";
/// Events appended.
const EVENTS: u64 = 200;
/// Time each handler call spends before its insert, so deliveries are in flight when the kill comes (long
/// enough that the window is not missed on a loaded machine: the 200 events take about a second).
const HANDLER_DELAY: Duration = Duration::from_millis(30);

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set for a child replica"))
}

/// One replica, when started by [`two_replicas_one_killed_mid_batch_lose_nothing_and_repeat_nothing`];
/// otherwise it returns at once. It runs until its stdin is closed (the parent closes it to stop the
/// replica, and the OS closes it when the parent dies, so no replica outlives its test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_replica() {
    if std::env::var(CHILD).as_deref() != Ok("1") {
        return;
    }
    let consumer = env(CHILD_CONSUMER);
    let config = RedisConfig::new(env(CHILD_URL)).with_key_prefix(env(CHILD_KEY_PREFIX));
    let log: Arc<dyn EventLog> = Arc::new(RedisLog::connect(config).await.unwrap_or_else(|e| panic!("connect: {e}")));
    let store = StateStore::connect_with(&env(CHILD_DB), StoreOptions::default().schema(env(CHILD_SCHEMA)))
        .await
        .unwrap_or_else(|e| panic!("state store: {e}"));
    let backoff = Backoff { initial: Duration::from_millis(50), max: Duration::from_millis(500) };
    let options = fast_options(8, backoff, Duration::from_secs(1), Duration::from_millis(200));
    let group: GroupName = GROUP.parse().unwrap_or_else(|e| panic!("{e}"));
    let mut runtime = ConsumerRuntime::new(log, store, consumer.parse().unwrap_or_else(|e| panic!("{e}")));
    runtime
        .spawn(Subscription::new(group, vec![TypePattern::all()], RecordEffect { consumer, delay: HANDLER_DELAY }).with_options(options));
    let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await;
    runtime.shutdown(Duration::from_secs(5)).await;
}

/// A replica process; SIGKILLed when dropped.
struct Replica {
    child: Child,
    stdin: Option<ChildStdin>,
    name: String,
    output: std::path::PathBuf,
}

impl Replica {
    fn start(dir: &Path, prefix: &Prefix, db: &(String, String), name: &str) -> Self {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
        let output = dir.join(format!("{name}.out"));
        let out = std::fs::File::create(&output).unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(exe)
            .args(["--exact", "suite::kill::child_replica", "--nocapture", "--test-threads", "1"])
            .env(CHILD, "1")
            .env(CHILD_URL, redis_url())
            .env(CHILD_KEY_PREFIX, prefix.config("kill").key_prefix)
            .env(CHILD_DB, &db.0)
            .env(CHILD_SCHEMA, &db.1)
            .env(CHILD_CONSUMER, name)
            .stdin(Stdio::piped())
            .stdout(out.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting replica {name}: {e}"));
        let stdin = child.stdin.take();
        Self { child, stdin, name: name.to_owned(), output }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes stdin (a graceful stop) and waits, bounded, for a successful exit.
    async fn stop(mut self) {
        drop(self.stdin.take());
        let status = poll(&format!("replica {} exits after its stdin is closed", self.name), Duration::from_secs(15), || {
            let r = self.child.try_wait();
            async move { r.ok().flatten() }
        })
        .await;
        assert!(status.success(), "replica {} failed ({status}):\n{}", self.name, self.output());
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            self.kill();
        }
    }
}

/// Pending entries of `consumer` in the group (their stream ids).
async fn pending_of(con: &mut ::redis::aio::MultiplexedConnection, key: &str, consumer: &str) -> Vec<String> {
    let rows: Vec<(String, String, u64, u64)> = ::redis::cmd("XPENDING")
        .arg(key)
        .arg(GROUP)
        .arg("-")
        .arg("+")
        .arg(1000)
        .arg(consumer)
        .query_async(con)
        .await
        .unwrap_or_else(|e| panic!("XPENDING: {e}"));
    rows.into_iter().map(|(id, ..)| id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_killed_mid_batch_lose_nothing_and_repeat_nothing() {
    if !redis_available() {
        return;
    }
    let Some((store, db)) = postgres_store().await else { return };
    let prefix = Prefix::new("kill");
    let log = prefix.log("kill");
    let key = prefix.config("kill").stream_key();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    create_effects_table(&store).await;
    let group: GroupName = GROUP.parse().unwrap_or_else(|e| panic!("{e}"));
    log.ensure_group(&group, &StartFrom::Beginning).await.unwrap_or_else(|e| panic!("ensure_group: {e}"));

    let (victim_name, survivor_name) = ("replica-victim", "replica-survivor");
    let mut victim = Replica::start(dir.path(), &prefix, &db, victim_name);
    let survivor = Replica::start(dir.path(), &prefix, &db, survivor_name);
    // Both replicas are reading (a consumer appears in the group with its first read) before any event
    // exists, so the victim gets its share.
    let mut con = raw(&redis_url()).await;
    poll("both replicas are reading from the group", Duration::from_secs(30), || {
        let (mut con, key) = (con.clone(), key.clone());
        async move {
            let rows: Vec<::redis::Value> = ::redis::cmd("XINFO").arg("CONSUMERS").arg(&key).arg(GROUP).query_async(&mut con).await.ok()?;
            (rows.len() == 2).then_some(())
        }
    })
    .await;

    let events = sample_events(0..EVENTS);
    let ids: HashSet<String> = events.iter().map(|e| e.id.to_string()).collect();
    log.append(&events).await.unwrap_or_else(|e| panic!("append: {e}"));

    // Kill the victim once it has done some work and while it holds deliveries.
    poll("the victim has had effects and holds deliveries", Duration::from_secs(30), || {
        let (store, mut con, key) = (store.clone(), con.clone(), key.clone());
        async move {
            let by_victim = effects(&store).await.iter().filter(|(_, _, c)| c == victim_name).count();
            (by_victim >= 10 && !pending_of(&mut con, &key, victim_name).await.is_empty()).then_some(())
        }
    })
    .await;
    victim.kill();
    let orphaned = pending_of(&mut con, &key, victim_name).await;
    let (done_at_kill, _) = effect_counts(&store).await;
    assert!(!orphaned.is_empty(), "the victim died holding deliveries");

    poll("the survivor has reclaimed the victim's deliveries and processed everything", Duration::from_secs(60), || {
        let (store, log, group) = (store.clone(), log.clone(), group.clone());
        async move {
            let (_, distinct) = effect_counts(&store).await;
            let info = log.group_info(&group).await.ok()?;
            (distinct == EVENTS && info.lag() == 0).then_some(())
        }
    })
    .await;
    survivor.stop().await;

    let (count, distinct) = effect_counts(&store).await;
    let all = effects(&store).await;
    let by_position: HashMap<&str, Vec<&str>> = all.iter().fold(HashMap::new(), |mut m, (_, p, c)| {
        m.entry(p.as_str()).or_default().push(c.as_str());
        m
    });
    let reclaimed: Vec<&String> =
        orphaned.iter().filter(|p| by_position.get(p.as_str()).is_some_and(|cs| cs == &[survivor_name])).collect();
    let by_victim = all.iter().filter(|(_, _, c)| c == victim_name).count();
    println!(
        "kill test: {EVENTS} events; victim had {by_victim} effects, was killed holding {} deliveries ({done_at_kill} effects in total then); \
         the survivor reclaimed and processed {} of them",
        orphaned.len(),
        reclaimed.len()
    );
    assert_eq!((count, distinct), (EVENTS, EVENTS), "every event has exactly one effect (rows, distinct ids)");
    assert_eq!(all.iter().map(|(id, _, _)| id.clone()).collect::<HashSet<_>>(), ids, "the effects are those of the appended events");
    for p in &orphaned {
        assert_eq!(by_position.get(p.as_str()).map(Vec::len), Some(1), "the victim's delivery {p} has exactly one effect");
    }
    assert!(!reclaimed.is_empty(), "the survivor processed deliveries the victim held when it died: {orphaned:?} -> {by_position:?}");
    let info = log.group_info(&group).await.unwrap_or_else(|e| panic!("group_info: {e}"));
    assert_eq!((info.pending, info.undelivered), (0, 0), "nothing pending or undelivered: {info:?}");
    assert_eq!(dead_letter_count(&store).await, 0, "nothing was dead-lettered");
    drop_schema(&db).await;
}

/// A PostgreSQL store in a fresh schema, with the `(url, schema)` the replicas connect with; `None` when
/// PostgreSQL is not running (skipped loudly; a failure under CI=true).
async fn postgres_store() -> Option<(StateStore, (String, String))> {
    let url = std::env::var("BRAIN_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if !eventstream_testkit::require_service("postgres", &url) {
        return None;
    }
    let schema = format!("kill_{}", uuid::Uuid::new_v4().simple());
    let store =
        StateStore::connect_with(&url, StoreOptions::default().schema(schema.clone())).await.unwrap_or_else(|e| panic!("state store: {e}"));
    Some((store, (url, schema)))
}

async fn drop_schema((url, schema): &(String, String)) {
    let store = StateStore::connect(url).await.unwrap_or_else(|e| panic!("state store: {e}"));
    eventstream_sql::sqlx::query(eventstream_sql::sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("dropping {schema}: {e}"));
}
