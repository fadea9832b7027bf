//! The course chain A through the binary (issue 12): one `POST /api/course-factory/generate` (not a dry
//! run, deploying to staging) leads to exactly one `course.generation.completed`, one
//! `distribution.created`, one `course.deployed.staging` and one `distribution.updated`, and the
//! distribution then shows its `staging_url`; the same when `brain serve` is SIGKILLed right after the
//! POST returned and restarted on the same data dir (and, in one variant, the same PostgreSQL). A replay of
//! both subscribers with `--reprocess` then changes nothing and emits nothing new.

use std::path::Path;
use std::time::Duration;

use eventstream_testkit::fixtures::eventually;
use reqwest::Client;
use serde_json::{Value, json};

use crate::suite::support::{PgSchema, Server, brain, ok_stdout, pg_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_generation_gives_one_distribution_one_deploy_and_one_update_then_replay_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    chain(dir.path(), &[], false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_completes_once_when_the_server_is_killed_right_after_the_post() {
    let dir = tempfile::tempdir().unwrap();
    chain(dir.path(), &[], true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_completes_once_across_a_kill_on_postgres() {
    let url = pg_url();
    if !eventstream_testkit::require_service("postgres", &url) {
        return;
    }
    let pg = PgSchema::create(&url, "brain_course_chain").await;
    let db = pg.url.clone();
    let dir = tempfile::tempdir().unwrap();
    chain(dir.path(), &["--database", &db], true).await;
    pg.drop_schema().await;
}

async fn get(client: &Client, server: &Server, key: &str, path: &str) -> Value {
    let resp = client.get(server.url(path)).bearer_auth(key).send().await.unwrap();
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.unwrap()
}

/// Every event of type `t` in the history (all pages; `*` for every type).
async fn history(client: &Client, server: &Server, key: &str, t: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = if t == "*" { "/api/events?limit=1000".to_owned() } else { format!("/api/events?type={t}&limit=1000") };
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = get(client, server, key, &path).await;
        out.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// Waits until every subscriber has caught up with the log.
async fn settled(client: &Client, server: &Server, key: &str) {
    eventually("every subscriber caught up", Duration::from_secs(60), || async {
        let resp = client.get(server.url("/api/consumers")).bearer_auth(key).send().await.ok()?;
        let body: Value = resp.json().await.ok()?;
        let rows = body.as_array().or_else(|| body["consumers"].as_array())?.clone();
        rows.iter().all(|r| r["lag"] == 0).then_some(())
    })
    .await;
}

/// The chain's events for `course_id`: (completed, distribution created, deployed, distribution updated).
async fn chain_events(client: &Client, server: &Server, key: &str, course_id: &str) -> (Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>) {
    let of_course = |events: Vec<Value>| events.into_iter().filter(|e| e["payload"]["course_id"] == course_id).collect::<Vec<_>>();
    let completed = of_course(history(client, server, key, "course.generation.completed").await);
    let created = of_course(history(client, server, key, "distribution.created").await);
    let deployed = of_course(history(client, server, key, "course.deployed.staging").await);
    let ids: Vec<&Value> = created.iter().map(|e| &e["payload"]["distribution_id"]).collect();
    let updated = history(client, server, key, "distribution.updated")
        .await
        .into_iter()
        .filter(|e| ids.contains(&&e["payload"]["distribution_id"]))
        .collect();
    (completed, created, deployed, updated)
}

async fn chain(dir: &Path, extra: &[&str], kill: bool) {
    let client = Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let mut server = Server::start(dir, extra);
    let admin = server.admin_key().expect("the first start prints the admin key");
    let writer = ok_stdout(brain(dir).args(["keys", "create", "--tenant", "acme", "--role", "writer"]).args(extra)).trim().to_owned();

    let request = json!({
        "tenant_id": "acme",
        "title": "Finanzen verstehen für Einsteiger",
        "description": "Ein praktischer Kurs über Budget, Sparen und Vorsorge für alle, die neu anfangen.",
        "language": "de",
        "target_audiences": ["private_individuals", "career_starters"],
        "full_lessons_count": 2,
        "generate_quiz": true,
        "generate_landing_page": true,
        "deploy_to_staging": true,
        "staging_domain": "staging.example.com",
        "dry_run": false
    });
    let resp = client.post(server.url("/api/course-factory/generate")).bearer_auth(&writer).json(&request).send().await.unwrap();
    let status = resp.status();
    let result: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "generate: {status} {result}");
    assert_eq!(result["success"], true, "{result}");
    let course_id = result["course_id"].as_str().expect("a course id").to_owned();

    if kill {
        // Right after the POST returned: the relay and both subscribers may not have run yet.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        drop(server);
        server = Server::start(dir, extra);
    }

    let dist_id = eventually("the distribution shows its staging url", Duration::from_secs(60), || async {
        let (_, created, _, updated) = chain_events(&client, &server, &admin, &course_id).await;
        let id = created.first()?["payload"]["distribution_id"].as_str()?.to_owned();
        (!updated.is_empty()).then_some(id)
    })
    .await;
    settled(&client, &server, &admin).await;
    let (completed, created, deployed, updated) = chain_events(&client, &server, &admin, &course_id).await;
    assert_eq!(completed.len(), 1, "one course.generation.completed: {completed:?}");
    assert_eq!(created.len(), 1, "one distribution.created: {created:?}");
    assert_eq!(deployed.len(), 1, "one course.deployed.staging: {deployed:?}");
    assert_eq!(updated.len(), 1, "one distribution.updated: {updated:?}");
    // Each hop is caused by the one before it.
    assert_eq!(created[0]["causation_id"], completed[0]["id"], "{created:?}");
    assert_eq!(deployed[0]["causation_id"], created[0]["id"], "{deployed:?}");
    assert_eq!(updated[0]["causation_id"], deployed[0]["id"], "{updated:?}");
    for e in [&completed[0], &created[0], &deployed[0], &updated[0]] {
        assert_eq!(e["tenant_id"], "acme", "{e}");
    }
    let fields: Vec<&str> = updated[0]["payload"]["updated_fields"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(fields, ["staging_url", "staging_deployed_at"]);

    let distribution = get(&client, &server, &writer, &format!("/api/courses/distribution/{dist_id}")).await;
    let staging_url = distribution["staging_url"].as_str().expect("the distribution shows its staging url").to_owned();
    assert_eq!(Some(staging_url.as_str()), deployed[0]["payload"]["staging_url"].as_str());
    assert!(staging_url.contains("staging.example.com"), "{staging_url}");
    let course = get(&client, &server, &writer, &format!("/api/course-factory/courses/{course_id}")).await;
    assert_eq!(course["staging_url"].as_str(), Some(staging_url.as_str()), "{course}");

    if kill {
        return;
    }
    // Replaying both subscribers from the start, inbox rows removed: the business guards hold.
    let total_before = history(&client, &server, &admin, "*").await.len();
    for subscriber in ["course_distribution", "course_factory"] {
        let out = ok_stdout(brain(dir).args(["replay", subscriber, "--from", "start", "--reprocess", "--json"]).args(extra));
        let report: Value = serde_json::from_str(out.trim()).unwrap();
        assert!(report["inbox_rows_removed"].as_u64().unwrap() >= 1, "{subscriber} had handled the chain: {report}");
    }
    settled(&client, &server, &admin).await;
    let (completed, created, deployed, updated) = chain_events(&client, &server, &admin, &course_id).await;
    assert_eq!((completed.len(), created.len(), deployed.len(), updated.len()), (1, 1, 1, 1), "a replay emits nothing new");
    assert_eq!(history(&client, &server, &admin, "*").await.len(), total_before, "no new event of any type");
    let again = get(&client, &server, &writer, &format!("/api/courses/distribution/{dist_id}")).await;
    assert_eq!(again, distribution, "a replay changes nothing");
}
