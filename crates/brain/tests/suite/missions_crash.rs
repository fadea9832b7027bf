//! Missions survive crashes of `brain serve` (issue 9, point 1): 400 missions are enqueued over HTTP in
//! three waves while the server is SIGKILLed twice mid-work and restarted on the same data dir (and,
//! in the PostgreSQL variant, the same database). Every accepted mission (201) ends `COMPLETED`, with
//! exactly one `task.created` and one `task.completed` in the event history; the missions a killed
//! server was running come back through an expired lease (`mission.status_changed` with a
//! `worker lost` reason).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use eventstream_testkit::fixtures::eventually;
use reqwest::Client;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::suite::support::{PgSchema, Server, history, pg_url};

/// Short attempts and a short lease, so a crash costs seconds.
const BRAIN_TOML: &str = "[modules]\nmission_workers = 4\nexecutor_duration_ms = 40\nmission_lease_secs = 2\n";

/// Missions per wave: before the first kill, racing it, racing the second.
const WAVES: [(usize, usize); 3] = [(0, 150), (150, 300), (300, 400)];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missions_survive_two_sigkills_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash_scenario(dir.path(), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missions_survive_two_sigkills_on_postgres() {
    let url = pg_url();
    if !eventstream_testkit::require_service("postgres", &url) {
        return;
    }
    let pg = PgSchema::create(&url, "brain_crash").await;
    let db = pg.url.clone();
    let dir = tempfile::tempdir().unwrap();
    crash_scenario(dir.path(), &["--database", &db]).await;
    pg.drop_schema().await;
}

/// Sends the creates of missions `from..to` at once; returns the ids answered 201.
fn spawn_wave(client: &Client, base: &str, key: &str, (from, to): (usize, usize)) -> tokio::task::JoinHandle<Vec<String>> {
    let (client, base, key) = (client.clone(), base.to_owned(), key.to_owned());
    tokio::spawn(async move {
        let mut requests = JoinSet::new();
        for i in from..to {
            let (client, url, key) = (client.clone(), format!("{base}/api/missions"), key.clone());
            requests.spawn(async move {
                let id = format!("crash-{i:03}");
                let sent = client.post(url).bearer_auth(key).json(&json!({"id": id, "name": format!("mission {i}")})).send().await;
                matches!(sent, Ok(r) if r.status() == 201).then_some(id)
            });
        }
        let mut accepted = Vec::new();
        while let Some(done) = requests.join_next().await {
            accepted.extend(done.unwrap());
        }
        accepted
    })
}

async fn get(client: &Client, server: &Server, key: &str, path: &str) -> Option<Value> {
    let resp = client.get(server.url(path)).bearer_auth(key).send().await.ok()?;
    if resp.status() != 200 {
        return None;
    }
    resp.json().await.ok()
}

async fn count(client: &Client, server: &Server, key: &str, status: &str) -> u64 {
    let stats = get(client, server, key, "/api/missions/stats/overview").await;
    stats.and_then(|s| s["stats"]["by_status"][status].as_u64()).unwrap_or(0)
}

/// Waits until the server has completed `done` missions and is running one, then SIGKILLs it.
async fn kill_mid_work(client: &Client, mut server: Server, key: &str, done: u64) {
    eventually(&format!("{done} missions completed and one running"), Duration::from_secs(60), || async {
        (count(client, &server, key, "COMPLETED").await >= done && count(client, &server, key, "RUNNING").await > 0).then_some(())
    })
    .await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

async fn crash_scenario(dir: &Path, extra: &[&str]) {
    std::fs::write(dir.join("brain.toml"), BRAIN_TOML).unwrap();
    let client = Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let first = Server::start(dir, extra);
    let key = first.admin_key().expect("the first start prints the admin key");
    let mut accepted: BTreeSet<String> = BTreeSet::new();

    // Wave 1 with the server up; the first kill once work is under way, racing wave 2.
    accepted.extend(spawn_wave(&client, &first.base, &key, WAVES[0]).await.unwrap());
    let wave = spawn_wave(&client, &first.base, &key, WAVES[1]);
    kill_mid_work(&client, first, &key, 20).await;
    accepted.extend(wave.await.unwrap());

    // Restart; once a lost worker's mission came back, kill again, racing wave 3.
    let second = Server::start(dir, extra);
    eventually("a lost worker's mission re-queued", Duration::from_secs(60), || async {
        let changes = history(&client, &second.url(""), &key, "mission.status_changed", "reason").await;
        changes.iter().any(|(reason, _)| reason.starts_with("worker lost")).then_some(())
    })
    .await;
    let wave = spawn_wave(&client, &second.base, &key, WAVES[2]);
    let before = count(&client, &second, &key, "COMPLETED").await;
    kill_mid_work(&client, second, &key, before + 10).await;
    accepted.extend(wave.await.unwrap());

    let last = Server::start(dir, extra);
    assert!(accepted.len() >= WAVES[0].1, "wave 1 ran against a live server: {} accepted", accepted.len());
    eventually("every mission completed", Duration::from_secs(180), || async {
        let list = get(&client, &last, &key, "/api/missions?limit=1000").await?;
        let missions = list["missions"].as_array()?;
        let done: BTreeSet<&str> = missions.iter().filter(|m| m["status"] == "COMPLETED").filter_map(|m| m["id"].as_str()).collect();
        // Also the missions whose create committed as the server died (no 201 reached the client).
        (done.len() == missions.len() && accepted.iter().all(|id| done.contains(id.as_str()))).then_some(())
    })
    .await;
    let list = get(&client, &last, &key, "/api/missions?limit=1000").await.unwrap();
    let all: Vec<String> = list["missions"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();

    // Exactly one task.created and one task.completed per mission, once the index has caught up.
    let (created, completed) = eventually("the event history to hold every completion", Duration::from_secs(60), || async {
        let completed = history(&client, &last.url(""), &key, "task.completed", "task_id").await;
        let created = history(&client, &last.url(""), &key, "task.created", "task_id").await;
        (completed.len() >= all.len() && created.len() >= all.len()).then_some((created, completed))
    })
    .await;
    for (t, events) in [("task.created", &created), ("task.completed", &completed)] {
        let mut per_mission: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (mission, id) in events.iter() {
            per_mission.entry(mission.as_str()).or_default().push(id.as_str());
        }
        for id in &all {
            assert_eq!(per_mission.get(id.as_str()).map(Vec::len), Some(1), "{t} of {id}: {:?}", per_mission.get(id.as_str()));
        }
        assert_eq!(per_mission.len(), all.len(), "{t} only for existing missions");
    }
    let lost = history(&client, &last.url(""), &key, "mission.status_changed", "reason").await;
    let lost = lost.iter().filter(|(reason, _)| reason.starts_with("worker lost")).count();
    assert!(lost >= 1, "a killed server's running missions came back through their leases");
    eprintln!("missions_crash: {} of 400 accepted, {} missions, {lost} recovered from lost workers", accepted.len(), all.len());
    drop(last);
}
