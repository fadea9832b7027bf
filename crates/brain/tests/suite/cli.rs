//! The CLI as a user meets it: publish, events, tail, serve, errors.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::support::{Server, brain, ok_stdout, run};

#[test]
fn publish_then_events_shows_every_envelope_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok_stdout(brain(dir.path()).args([
        "publish",
        "--validation",
        "off",
        "--type",
        "task.created",
        "--source",
        "missions_service",
        "--payload",
        r#"{"task_id":"t1","priority":20}"#,
        "--tenant",
        "acme",
        "--target",
        "agent_7",
        "--mission-id",
        "m1",
        "--task-id",
        "t1",
        "--correlation-id",
        "c1",
        "--causation-id",
        "p1",
        "--actor",
        "u1",
        "--severity",
        "warning",
        "--json",
    ]));
    let receipt: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let id = receipt["id"].as_str().unwrap().to_owned();
    assert_eq!(receipt["position"], "1");

    let out = ok_stdout(brain(dir.path()).args(["events", "--json"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let e: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(e["id"], id.as_str());
    assert_eq!(e["type"], "task.created");
    assert_eq!(e["source"], "missions_service");
    assert_eq!(e["target"], "agent_7");
    assert_eq!(e["payload"], serde_json::json!({"task_id": "t1", "priority": 20}));
    assert_eq!(e["mission_id"], "m1");
    assert_eq!(e["task_id"], "t1");
    assert_eq!(e["correlation_id"], "c1");
    assert_eq!(e["causation_id"], "p1");
    assert_eq!(e["tenant_id"], "acme");
    assert_eq!(e["actor_id"], "u1");
    assert_eq!(e["severity"], "WARNING");
    assert_eq!(e["meta"]["schema_version"], 1);
    assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));

    // Human output names every field too.
    let human = ok_stdout(brain(dir.path()).args(["events"]));
    for needle in [
        id.as_str(),
        "task.created",
        "missions_service",
        "target=agent_7",
        "tenant=acme",
        "severity=WARNING",
        "mission=m1",
        "task=t1",
        "correlation=c1",
        "causation=p1",
        "actor=u1",
        "\"priority\":20",
        "schema_version",
    ] {
        assert!(human.contains(needle), "{needle} missing in:\n{human}");
    }
}

#[test]
fn events_filters_by_type_tenant_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    for (t, tenant) in [("task.created", "a"), ("task.failed", "b"), ("mission.created", "a"), ("task.created", "a")] {
        ok_stdout(brain(dir.path()).args(["publish", "--validation", "off", "--type", t, "--source", "s", "--tenant", tenant]));
    }
    let types = |args: &[&str]| -> Vec<String> {
        let out = ok_stdout(brain(dir.path()).args(["events", "--json"]).args(args));
        out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(types(&["--type", "task.*"]), ["task.created", "task.failed", "task.created"]);
    assert_eq!(types(&["--tenant", "a"]), ["task.created", "mission.created", "task.created"]);
    assert_eq!(types(&["--limit", "2"]), ["mission.created", "task.created"], "the newest, oldest first");
    assert_eq!(types(&["--since", "1h", "--limit", "1"]), ["task.created"], "from the time, oldest first");
    assert!(types(&["--since", "2099-01-01"]).is_empty());
}

#[test]
fn tail_shows_an_event_published_from_another_process_within_100ms() {
    let dir = tempfile::tempdir().unwrap();
    // The log must exist before tail opens it at `now`.
    ok_stdout(brain(dir.path()).args(["publish", "--validation", "off", "--type", "system.health", "--source", "warmup"]));
    let mut tail = brain(dir.path())
        .args(["tail", "--json", "--type", "task.*"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(tail.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("tailing"), "{first}");
    let (tx, rx) = mpsc::channel();
    let stdout = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let mut latencies = Vec::new();
    for i in 0..5 {
        // A non-matching event first: the filter must hold it back.
        ok_stdout(brain(dir.path()).args(["publish", "--validation", "off", "--type", "mission.created", "--source", "s"]));
        let out = ok_stdout(brain(dir.path()).args([
            "publish",
            "--validation",
            "off",
            "--type",
            "task.created",
            "--source",
            "s",
            "--payload",
            &format!(r#"{{"i":{i}}}"#),
            "--json",
        ]));
        let published = Instant::now();
        let id = serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["id"].as_str().unwrap().to_owned();
        let (seen, line) = rx.recv_timeout(Duration::from_secs(5)).expect("tail printed the event");
        let e: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(e["id"], id.as_str());
        assert_eq!(e["type"], "task.created");
        latencies.push(seen.saturating_duration_since(published));
    }
    let _ = tail.kill();
    let _ = tail.wait();
    latencies.sort();
    eprintln!("tail latency after the publisher exited: {latencies:?}");
    // The median, so one scheduling hiccup on a shared 2-core machine does not decide the test.
    assert!(latencies[2] < Duration::from_millis(100), "tail took {latencies:?}");
}

#[test]
fn serve_answers_health_and_ready_and_accepts_concurrent_cli_publishers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let health: serde_json::Value = reqwest::get(server.url("/health")).await.unwrap().json().await.unwrap();
        assert_eq!(health["status"], "ok");
        let ready = reqwest::get(server.url("/ready")).await.unwrap();
        assert_eq!(ready.status(), 200);
        let body: serde_json::Value = ready.json().await.unwrap();
        assert!(body.get("backend").is_none(), "readiness shows no backend details without a key: {body}");
        assert_eq!(body["status"], "ready");
    });
    // The CLI writes to the same data dir while the server runs.
    ok_stdout(brain(dir.path()).args(["publish", "--validation", "off", "--type", "task.created", "--source", "cli"]));
    let out = ok_stdout(brain(dir.path()).args(["events", "--json"]));
    assert!(out.contains("\"source\":\"cli\""), "{out}");
}

#[test]
fn errors_are_one_line_with_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["publish", "--type", "Task.Created", "--source", "s"], "--type"),
        (&["publish", "--type", "task.created", "--source", "s", "--payload", "{oops"], "--payload"),
        (&["publish", "--type", "task.created", "--source", "s", "--tenant", "a b"], "--tenant"),
        (&["publish", "--type", "task.created", "--source", "s", "--severity", "loud"], "--severity"),
        (&["events", "--since", "someday"], "--since"),
        (&["events", "--limit", "0"], "--limit"),
        (&["tail", "--from", "not a position"], "--from"),
        (&["events", "--backend", "kafka"], "unknown backend"),
        (&["events", "--backend", "redis"], "--redis-url"),
        (&["replay", "nobody", "--from", "start"], "unknown subscriber"),
        (&["dlq", "show", "abc"], "invalid dead letter id"),
        (&["dlq", "retry", "999"], "not found"),
    ];
    for (args, needle) in cases {
        let out = run(brain(dir.path()).args(*args));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: one line expected, got:\n{stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(needle), "{args:?}: {stderr}");
    }
    // A bad config file is named.
    std::fs::write(dir.path().join("brain.toml"), "data_dir = 3\n").unwrap();
    let out = run(brain(dir.path()).args(["events"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("brain.toml"));
}

#[test]
fn unreachable_redis_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(brain(dir.path()).args(["events", "--backend", "redis", "--redis-url", "redis://127.0.0.1:1"]));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot reach Redis at redis://127.0.0.1:1"), "{stderr}");
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn consumers_dlq_and_replay_commands_work_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let _server = Server::start_with_env(dir.path(), &[], &[("BRAIN_TEST_FAILING_SUBSCRIBER", "failer:task.*")]);
    for i in 0..3 {
        ok_stdout(brain(dir.path()).args([
            "publish",
            "--validation",
            "off",
            "--type",
            "task.failed",
            "--source",
            "cli",
            "--payload",
            &format!(r#"{{"i":{i}}}"#),
        ]));
    }
    // An invalid mission.created (empty payload, published with `--validation off`): the modules'
    // subscribers dead-letter it too.
    ok_stdout(brain(dir.path()).args(["publish", "--validation", "off", "--type", "mission.created", "--source", "cli"]));
    wait_for("3 dead letters", || {
        json_lines(&ok_stdout(brain(dir.path()).args(["dlq", "list", "--json", "--subscriber", "failer"]))).len() == 3
    });

    // consumers: the failing subscriber with its dead letters, and the event index, both caught up.
    wait_for("no lag", || {
        let rows: Vec<serde_json::Value> = serde_json::from_str(&ok_stdout(brain(dir.path()).args(["consumers", "--json"]))).unwrap();
        rows.iter().all(|r| r["lag"] == 0) && rows.len() >= 2
    });
    let rows: Vec<serde_json::Value> = serde_json::from_str(&ok_stdout(brain(dir.path()).args(["consumers", "--json"]))).unwrap();
    let failer = rows.iter().find(|r| r["name"] == "failer").expect("failer listed");
    assert_eq!(failer["dead_letters_open"], 3);
    assert_eq!(failer["in_flight"], 0);
    assert_eq!(failer["position"], "4");
    let table = ok_stdout(brain(dir.path()).args(["consumers"]));
    assert!(table.contains("failer") && table.contains("dead letters"), "{table}");

    // show, retry (fails again: a new open letter, the old one retried), discard.
    let letters = json_lines(&ok_stdout(brain(dir.path()).args(["dlq", "list", "--json", "--subscriber", "failer"])));
    let id = letters[0]["id"].as_i64().unwrap().to_string();
    let shown = ok_stdout(brain(dir.path()).args(["dlq", "show", &id]));
    assert!(shown.contains("fails permanently") && shown.contains("task.failed") && shown.contains("\"payload\""), "{shown}");
    let out = ok_stdout(brain(dir.path()).args(["dlq", "retry", &id]));
    assert!(out.contains("re-delivered"), "{out}");
    let again = run(brain(dir.path()).args(["dlq", "retry", &id]));
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("retried"), "a letter is retried once");
    wait_for("the retried event failed again", || {
        let all = json_lines(&ok_stdout(brain(dir.path()).args(["dlq", "list", "--json", "--status", "all", "--subscriber", "failer"])));
        all.len() == 4 && all.iter().filter(|d| d["status"] == "open").count() == 3
    });
    let open = json_lines(&ok_stdout(brain(dir.path()).args(["dlq", "list", "--json", "--subscriber", "failer"])));
    let other = open.iter().map(|d| d["id"].as_i64().unwrap()).find(|i| i.to_string() != id).unwrap().to_string();
    assert!(ok_stdout(brain(dir.path()).args(["dlq", "discard", &other])).contains("discarded"));
    assert_eq!(json_lines(&ok_stdout(brain(dir.path()).args(["dlq", "list", "--json", "--subscriber", "failer"]))).len(), 2);
    let invalid = json_lines(&ok_stdout(brain(dir.path()).args(["dlq", "list", "--json", "--type", "mission.created"])));
    assert!(
        !invalid.is_empty() && invalid.iter().all(|d| d["subscriber"] != "failer"),
        "the modules reject the invalid payload: {invalid:?}"
    );
    assert_eq!(json_lines(&ok_stdout(brain(dir.path()).args(["dlq", "list", "--json", "--status", "discarded"]))).len(), 1);

    // replay without and with --reprocess.
    let out = ok_stdout(brain(dir.path()).args(["replay", "event_index", "--from", "start", "--json"]));
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["inbox_rows_removed"], 0);
    let out = ok_stdout(brain(dir.path()).args(["replay", "event_index", "--from", "start", "--reprocess", "--json"]));
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["events_in_range"], 5, "4 published + 1 dead-letter retry");
    assert_eq!(r["inbox_rows_removed"], 4, "the retry re-sent an event id the index had already recorded");
    wait_for("index caught up again", || {
        let rows: Vec<serde_json::Value> = serde_json::from_str(&ok_stdout(brain(dir.path()).args(["consumers", "--json"]))).unwrap();
        rows.iter().find(|r| r["name"] == "event_index").is_some_and(|r| r["lag"] == 0)
    });
    let human = ok_stdout(brain(dir.path()).args(["replay", "failer", "--from", "1"]));
    assert!(human.contains("skipped by its inbox"), "{human}");
    // The grammar the HTTP API shares: end, an age, a date, RFC 3339.
    for from in ["end", "now", "15m", "2026-01-01", "2026-01-01T00:00:00Z", "beginning"] {
        let out = ok_stdout(brain(dir.path()).args(["replay", "failer", "--from", from, "--json"]));
        assert!(out.contains("\"subscriber\":\"failer\""), "--from {from}: {out}");
    }
    let out = run(brain(dir.path()).args(["replay", "failer", "--from", "whenever"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--from") && stderr.contains("an age such as 15m"), "{stderr}");
}

/// `brain publish` of `args`: (success, stdout, stderr).
fn publish(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = run(brain(dir).arg("publish").args(args));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn publish_validates_against_the_catalog_and_limits_like_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let invalid = ["--type", "mission.created", "--source", "cli"];
    // Strict by default: rejected, naming the rule and how to publish anyway; nothing appended.
    let (ok, _, stderr) = publish(dir.path(), &invalid);
    assert!(!ok, "an invalid mission.created is rejected");
    assert!(stderr.starts_with("error: ") && stderr.contains("validation strict") && stderr.contains("--validation"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    let (ok, _, stderr) = publish(dir.path(), &["--type", "nosuch.thing", "--source", "cli"]);
    assert!(!ok && stderr.contains("validation strict"), "unknown types are rejected in strict mode: {stderr}");
    // warn: published, with the warning on stderr; off: published silently.
    let (ok, _, stderr) = publish(dir.path(), &[&invalid[..], &["--validation", "warn"]].concat());
    assert!(ok && stderr.contains("warning: "), "{stderr}");
    let (ok, _, stderr) = publish(dir.path(), &[&invalid[..], &["--validation", "off"]].concat());
    assert!(ok && !stderr.contains("warning"), "{stderr}");
    let (ok, _, stderr) = publish(dir.path(), &[&invalid[..], &["--validation", "loose"]].concat());
    assert!(!ok && stderr.contains("--validation"), "{stderr}");
    // Limits apply whatever the mode: a string longer than 64 Ki characters in the payload.
    let big = serde_json::json!({"note": "x".repeat(64 * 1024 + 1)}).to_string();
    let (ok, _, stderr) = publish(dir.path(), &["--type", "system.health", "--source", "cli", "--validation", "off", "--payload", &big]);
    assert!(!ok && stderr.contains("--payload: /payload/note"), "{stderr}");
    // The configuration's `[api] validation` is the default.
    std::fs::write(dir.path().join("brain.toml"), "[api]\nvalidation = \"off\"\n").unwrap();
    let (ok, _, stderr) = publish(dir.path(), &invalid);
    assert!(ok, "validation off from brain.toml: {stderr}");
    let events = ok_stdout(brain(dir.path()).args(["events", "--json"]));
    assert_eq!(events.lines().count(), 3, "warn, off and the configured off were appended: {events}");
}

#[test]
fn stream_on_the_embedded_backend_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [&["events", "--stream", "other"][..], &["publish", "--type", "system.health", "--source", "s", "--stream", "other"]] {
        let out = run(brain(dir.path()).args(cmd));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("embedded backend") && stderr.contains("--data-dir"), "{cmd:?}: {stderr}");
    }
    let out = run(brain(dir.path()).args(["events"]).env("BRAIN_STREAM", "other"));
    assert!(!out.status.success(), "BRAIN_STREAM too");
}

#[test]
fn events_format_cloudevents_prints_one_structured_cloudevent_per_line() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..2 {
        let payload = serde_json::json!({"task_id": format!("ce{i}"), "mission_type": "m", "priority": "LOW"}).to_string();
        ok_stdout(brain(dir.path()).args([
            "publish",
            "--type",
            "task.created",
            "--source",
            "cli",
            "--actor",
            "Zoë",
            "--payload",
            &payload,
        ]));
    }
    let out = ok_stdout(brain(dir.path()).args(["events", "--format", "cloudevents"]));
    let events: Vec<cloudevents::Event> = out.lines().map(|l| serde_json::from_str(l).expect("the SDK reads each line")).collect();
    assert_eq!(events.len(), 2, "{out}");
    for (i, e) in events.iter().enumerate() {
        use cloudevents::AttributesReader;
        assert_eq!((e.ty(), e.source().as_str()), ("task.created", "/brain/cli"));
        assert_eq!(e.extension("actorid").map(ToString::to_string).as_deref(), Some("Zoë"));
        match e.data() {
            Some(cloudevents::Data::Json(v)) => assert_eq!(v["task_id"], format!("ce{i}")),
            other => panic!("{other:?}"),
        }
    }
    let out = run(brain(dir.path()).args(["events", "--format", "xml"]));
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--format"));
}

#[test]
fn catalog_command_lists_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let md = ok_stdout(brain(dir.path()).args(["catalog", "--markdown"]));
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/EVENTS.md")).unwrap();
    assert!(md == committed, "`brain catalog --markdown` must equal docs/EVENTS.md");
    let json: serde_json::Value = serde_json::from_str(&ok_stdout(brain(dir.path()).args(["catalog", "--json"]))).unwrap();
    // As many as `GET /api/catalog` lists (the server's test compares the route with the same catalog).
    assert_eq!(json.as_array().unwrap().len(), brain_events::Catalog::new().len());
    let table = ok_stdout(brain(dir.path()).arg("catalog"));
    assert!(table.contains("task.created"));
}

#[test]
fn completions_name_every_command_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    let bash = ok_stdout(brain(dir.path()).args(["completions", "bash"]));
    for cmd in ["serve", "publish", "events", "consumers", "dlq", "keys", "catalog", "audit", "demo", "completions", "man"] {
        assert!(bash.contains(cmd), "bash completion lacks {cmd}");
    }
    assert!(bash.contains("complete -F") && bash.contains("--json"), "a bash completion function with the flags");
    let zsh = ok_stdout(brain(dir.path()).args(["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef brain") && zsh.contains("'demo:"), "{}", &zsh[..zsh.len().min(200)]);
    let fish = ok_stdout(brain(dir.path()).args(["completions", "fish"]));
    assert!(fish.contains("complete -c brain") && fish.contains("demo"), "{}", &fish[..fish.len().min(200)]);
    let bad = run(brain(dir.path()).args(["completions", "tcsh"]));
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("possible values"), "an unknown shell is refused");
}

#[test]
fn man_prints_the_page_and_writes_one_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let page = ok_stdout(brain(dir.path()).arg("man"));
    assert!(page.contains(".TH brain 1") && page.contains(".SH NAME") && page.contains("serve"), "{}", &page[..page.len().min(300)]);
    let out = dir.path().join("man");
    let done = run(brain(dir.path()).args(["man", "--dir"]).arg(&out));
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    for name in ["brain.1", "brain-serve.1", "brain-demo.1", "brain-dlq.1", "brain-dlq-list.1", "brain-audit-verify.1"] {
        let text = std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH "), "{name} is a roff page");
    }
    let dlq_list = std::fs::read_to_string(out.join("brain-dlq-list.1")).unwrap();
    assert!(dlq_list.contains("json"), "the page documents the flags");
}

/// Whether `bytes` hold an ANSI escape sequence.
fn has_escape(bytes: &[u8]) -> bool {
    bytes.contains(&0x1b)
}

#[test]
fn no_color_removes_every_escape_code_even_when_colour_is_forced() {
    let dir = tempfile::tempdir().unwrap();
    // `CLICOLOR_FORCE` makes the help and the log lines coloured although stdout/stderr are pipes here, so
    // the test sees colour appear and then vanish with `NO_COLOR`.
    let forced = run(brain(dir.path()).args(["--help"]).env("CLICOLOR_FORCE", "1").env_remove("NO_COLOR"));
    assert!(has_escape(&forced.stdout), "CLICOLOR_FORCE colours the help");
    let plain = run(brain(dir.path()).args(["--help"]).env("CLICOLOR_FORCE", "1").env("NO_COLOR", "1"));
    assert!(plain.status.success() && !has_escape(&plain.stdout) && !has_escape(&plain.stderr), "NO_COLOR: plain help");

    // Log lines: `serve -vv` logs at debug level while it starts.
    for sub in ["a", "b"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    // An empty NO_COLOR counts as unset (no-color.org), whatever the environment of the test run holds.
    let coloured = Server::start_with_env(&dir.path().join("a"), &["-vv"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]);
    assert!(coloured.startup.iter().any(|l| has_escape(l.as_bytes())), "debug log lines, coloured when forced");
    drop(coloured);
    let plain = Server::start_with_env(&dir.path().join("b"), &["-vv"], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(plain.startup.len() > 2, "debug log lines: {:?}", plain.startup);
    assert!(plain.startup.iter().all(|l| !has_escape(l.as_bytes())), "NO_COLOR: {:?}", &plain.startup[..3]);
    let bad = run(brain(dir.path()).args(["events", "--limit", "zero"]).env("CLICOLOR_FORCE", "1").env("NO_COLOR", "1"));
    assert!(!bad.status.success() && !has_escape(&bad.stderr), "usage errors are plain too");
}

#[test]
fn every_listing_command_prints_json_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let _server = Server::start(dir.path(), &[]);
    for i in 0..2 {
        let payload = format!(r#"{{"task_id":"t-{i}","mission_type":"agent.chat","priority":"NORMAL"}}"#);
        ok_stdout(brain(dir.path()).args(["publish", "--type", "task.created", "--source", "cli", "--payload", &payload]));
    }
    wait_for("two audit rows", || json_lines(&ok_stdout(brain(dir.path()).args(["audit", "list", "--json"]))).len() >= 2);
    let whole = |args: &[&str]| -> serde_json::Value {
        let out = ok_stdout(brain(dir.path()).args(args));
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {out}"))
    };
    let lines = |args: &[&str]| -> Vec<serde_json::Value> {
        let out = ok_stdout(brain(dir.path()).args(args));
        out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: a line is not JSON ({e}): {l}"))).collect()
    };
    assert_eq!(lines(&["events", "--json"]).len(), 2);
    assert!(whole(&["consumers", "--json"]).as_array().is_some_and(|a| !a.is_empty()));
    assert!(lines(&["dlq", "list", "--json"]).iter().all(serde_json::Value::is_object));
    assert!(whole(&["keys", "list", "--json"]).as_array().is_some_and(|a| !a.is_empty()));
    assert!(whole(&["catalog", "--json"]).to_string().contains("task.created"));
    assert_eq!(lines(&["audit", "list", "--json"]).len(), 2);
    assert!(whole(&["audit", "verify", "--json"]).is_object());
}
