//! `brain demo`: brings the dashboard alive. It starts a server (or drives the one at `--url` with
//! `--key`) and plays a realistic BRAiN workload for `--seconds`, entirely through the HTTP API and the
//! modules' routes, so every event it causes is a real one with its real consumers:
//!
//! - missions of every priority, some failing (the simulated executor's `simulate.always_fail`), some
//!   succeeding after a retry, charged to agents' credits;
//! - robot movement commands, and telemetry frames over each robot's WebSocket;
//! - credit allocations, charges and refunds; DNA snapshots and mutations, KARMA updates;
//! - IR approvals issued and consumed, and bursts of invalid tokens that trip security monitoring;
//! - policy evaluations, among them a guest trying to delete (denied);
//! - course generation, when the server has `/api/course-factory/generate` (else reported as skipped);
//! - a mission metrics aggregation at the end.
//!
//! The workload is drawn from a seeded generator (`--seed`): the same seed plays the same sequence of
//! actions (their timing, and so the count that fits into `--seconds`, depends on the machine). The first
//! round plays every kind once, so even a short run leaves data everywhere.
//!
//! Dead letters come from the **demo aid** `brain serve --demo-failing-subscriber`: a subscriber
//! `demo_webhook` that dead-letters every robot command (a webhook whose endpoint is gone). The server
//! `brain demo` starts runs it; a server given with `--url` has dead letters only when it was started with
//! that option. Never run it in production.
//!
//! At the end `brain demo` prints what it did (counts per kind; `--json` for scripts), what the server now
//! shows (missions completed and failed, open dead letters, security alerts), and the dashboard URL with
//! the key. A server it started itself keeps serving until Ctrl-C (`--exit` stops it at once).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use clap::Args;
use eventstream::{Handler, HandlerContext, HandlerError, Subscription};
use eventstream_core::{Event, TypePattern};
use futures::SinkExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::LogArgs;
use crate::config::Settings;

/// What `--demo-failing-subscriber` dead-letters when given no pattern: every robot command.
pub(crate) const DEFAULT_FAILING_PATTERN: &str = "hardware.command_sent";

/// The name of the demo's failing subscriber.
const FAILING_SUBSCRIBER: &str = "demo_webhook";

/// `brain demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where the server this demo starts keeps its data (and which backend it uses); ignored with `--url`.
    #[command(flatten)]
    pub(crate) log: LogArgs,
    /// Drive the server at this URL (`http://HOST:PORT`) instead of starting one.
    #[arg(long, env = "BRAIN_DEMO_URL", requires = "key")]
    pub(crate) url: Option<String>,
    /// A writer or admin API key of the server at `--url`.
    #[arg(long, env = "BRAIN_DEMO_KEY")]
    pub(crate) key: Option<String>,
    /// How long to play the workload.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) seconds: u64,
    /// Seed of the workload's generator: the same seed plays the same actions.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Port of the server this demo starts (default: the configured one, 8080).
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// Stop the server this demo started as soon as the workload is done (default: serve until Ctrl-C).
    #[arg(long)]
    pub(crate) exit: bool,
    /// Print the final report as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    pub(crate) json: bool,
}

/// The demo aid of `brain serve --demo-failing-subscriber PATTERN`: a subscriber that dead-letters every
/// event of `pattern`.
///
/// # Errors
/// An invalid pattern.
pub(crate) fn failing_subscriptions(pattern: Option<&str>) -> anyhow::Result<Vec<Subscription>> {
    let Some(pattern) = pattern else { return Ok(Vec::new()) };
    let pattern: TypePattern = pattern.parse().map_err(|e| anyhow::anyhow!("--demo-failing-subscriber: {e}"))?;
    let name = FAILING_SUBSCRIBER.parse().map_err(|e| anyhow::anyhow!("{FAILING_SUBSCRIBER}: {e}"))?;
    eprintln!(
        "brain serve: DEMO AID: subscriber {FAILING_SUBSCRIBER} dead-letters every {pattern} event \
         (--demo-failing-subscriber; never use this in production)"
    );
    Ok(vec![Subscription::new(name, vec![pattern], GoneWebhook)])
}

/// Forwards events to a webhook that no longer exists: every delivery fails permanently.
struct GoneWebhook;

#[async_trait]
impl Handler for GoneWebhook {
    async fn handle(&self, _ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        Err(HandlerError::permanent(format!(
            "demo webhook https://hooks.example.invalid/robots answered 410 Gone for {} {}",
            event.event_type, event.id
        )))
    }
}

/// Runs the demo.
///
/// # Errors
/// The server cannot be started or reached, or the key is refused.
pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    match (&args.url, &args.key) {
        (Some(url), Some(key)) => {
            let base = url.trim_end_matches('/').to_owned();
            let report = play(&base, key, &args).await?;
            print_report(&report, &base, key, args.json)?;
            Ok(())
        }
        (Some(_), None) => bail!("--url needs --key (a writer or admin key of that server)"),
        (None, _) => run_own_server(&args).await,
    }
}

/// Starts a server with the demo aid, plays the workload against it, then serves until Ctrl-C.
async fn run_own_server(args: &DemoArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args.log, None, args.port)?;
    let backends = crate::backend::open_backends(&settings).await?;
    let subscriptions = failing_subscriptions(Some(DEFAULT_FAILING_PATTERN))?;
    let app = brain_server::Application::build(settings.server(), backends, subscriptions).await?;
    let local = app.local_addr().context("cannot read the bound address")?;
    let key = match app.new_admin_key() {
        Some(k) => k.to_owned(),
        None => {
            let path = settings.data_dir.join(brain_server::keys::ADMIN_KEY_FILE);
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the admin key from {} (pass --url and --key instead)", path.display()))?
                .trim()
                .to_owned()
        }
    };
    let scheme = if settings.http.tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{local}");
    eprintln!("brain demo: server on {base}, data dir {}", settings.data_dir.display());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop_rx.await;
    }));
    let outcome = play(&base, &key, args).await;
    if let Ok(report) = &outcome {
        print_report(report, &base, &key, args.json)?;
        if !args.exit {
            eprintln!("brain demo: the server keeps running; press Ctrl-C to stop it");
            super::serve::shutdown_signal().await;
        }
    }
    let _ = stop_tx.send(());
    server.await.context("the server task failed")??;
    outcome.map(|_| ())
}

/// What the demo did and what the server shows afterwards.
#[derive(Debug, Default, serde::Serialize)]
struct Report {
    seed: u64,
    seconds: u64,
    /// Actions per kind, with their outcome (`mission.created`, `policy.denied`, ...).
    actions: BTreeMap<String, u64>,
    /// Requests answered with a status the demo did not expect.
    unexpected: BTreeMap<String, u64>,
    /// What the server shows at the end.
    server: Value,
}

impl Report {
    fn count(&mut self, kind: &str) {
        *self.actions.entry(kind.to_owned()).or_default() += 1;
    }
}

/// The kinds of action, with their weights in the random part of the workload.
const KINDS: &[(Kind, u32)] = &[
    (Kind::Mission, 30),
    (Kind::RobotCommand, 18),
    (Kind::Telemetry, 20),
    (Kind::Credits, 10),
    (Kind::Dna, 8),
    (Kind::Approval, 6),
    (Kind::InvalidTokens, 2),
    (Kind::Policy, 5),
    (Kind::Course, 1),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mission,
    RobotCommand,
    Telemetry,
    Credits,
    Dna,
    Approval,
    InvalidTokens,
    Policy,
    Course,
}

const AGENTS: [&str; 4] = ["agent-atlas", "agent-nova", "agent-orion", "agent-vega"];
const ROBOTS: [&str; 3] = ["go2-alpha", "go2-bravo", "go2-charlie"];
const PRIORITIES: [&str; 4] = ["LOW", "NORMAL", "HIGH", "CRITICAL"];
const MISSION_TYPES: [&str; 4] = ["agent.chat", "robot.patrol", "data.sync", "inspection.run"];

/// The HTTP side of the demo.
struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    /// One request; the status and the JSON body (`Null` when there is none).
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<(u16, Value)> {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.with_context(|| format!("cannot reach {}{path}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// The state the workload keeps between actions.
struct Workload {
    api: Api,
    rng: StdRng,
    report: Report,
    sockets: BTreeMap<&'static str, Socket>,
    tenant: Option<String>,
    course_route: Option<bool>,
    missions: u64,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn play(base: &str, key: &str, args: &DemoArgs) -> anyhow::Result<Report> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().context("cannot build the HTTP client")?;
    let api = Api { client, base: base.to_owned(), key: key.to_owned() };
    match api.call(Method::GET, "/api/missions/info", None).await? {
        (200, _) => {}
        (401, _) => bail!("{base} refused the key (401): pass a writer or admin key with --key"),
        (status, body) => bail!("{base}/api/missions/info answered {status}: {body}"),
    }
    let report = Report { seed: args.seed, seconds: args.seconds, ..Report::default() };
    let mut w = Workload {
        api,
        rng: StdRng::seed_from_u64(args.seed),
        report,
        sockets: BTreeMap::new(),
        tenant: None,
        course_route: None,
        missions: 0,
    };
    eprintln!("brain demo: playing a seeded BRAiN workload (seed {}) against {base} for {} s", args.seed, args.seconds);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    w.setup().await?;
    // The first round plays every kind once, so a short run leaves data everywhere.
    for (kind, _) in KINDS {
        w.act(*kind).await?;
    }
    let total: u32 = KINDS.iter().map(|(_, weight)| weight).sum();
    let mut last_progress = Instant::now();
    while Instant::now() < deadline {
        let mut pick = w.rng.random_range(0..total);
        let kind = KINDS
            .iter()
            .find(|(_, weight)| {
                if pick < *weight {
                    true
                } else {
                    pick -= weight;
                    false
                }
            })
            .map_or(Kind::Mission, |(k, _)| *k);
        w.act(kind).await?;
        if last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            let done: u64 = w.report.actions.values().sum();
            eprintln!("brain demo: {:>4} s  {done} actions ({} missions)", started.elapsed().as_secs(), w.missions);
        }
        // A little pacing, so the charts show a rate and not one burst.
        tokio::time::sleep(Duration::from_millis(w.rng.random_range(5..40))).await;
    }
    w.finish().await?;
    for (_, mut socket) in std::mem::take(&mut w.sockets) {
        let _ = socket.close(None).await;
    }
    Ok(w.report)
}

impl Workload {
    /// Accounts, DNA and telemetry connections the rest of the workload uses.
    async fn setup(&mut self) -> anyhow::Result<()> {
        for agent in AGENTS {
            let amount = f64::from(self.rng.random_range(500u32..2000));
            let body = json!({"amount": amount, "reason": "demo_grant"});
            self.expect("credits.allocated", Method::POST, &format!("/api/credits/agents/{agent}/allocate"), &body, &[200, 201]).await?;
            let dna = json!({
                "agent_id": agent,
                "dna": {"model": "brain-7b", "temperature": self.rng.random_range(1..10) as f64 / 10.0, "skills": ["navigation", "dialogue"]},
                "traits": {"curiosity": self.rng.random_range(1..10), "caution": self.rng.random_range(1..10)},
                "reason": "demo baseline",
            });
            self.expect("dna.snapshot_created", Method::POST, "/api/dna/snapshot", &dna, &[200, 201]).await?;
        }
        // The tenant of the key, for bodies that name it (course generation).
        let (_, page) = self.api.call(Method::GET, "/api/events?type=credits.*&limit=1", None).await?;
        self.tenant = page["events"][0]["tenant_id"].as_str().map(ToOwned::to_owned);
        for robot in ROBOTS {
            match self.connect(robot).await {
                Ok(s) => {
                    self.sockets.insert(robot, s);
                }
                Err(e) => {
                    eprintln!("brain demo: telemetry of {robot} skipped: {e:#}");
                    self.report.count("telemetry.skipped");
                }
            }
        }
        Ok(())
    }

    /// Opens a robot's telemetry WebSocket.
    async fn connect(&self, robot: &str) -> anyhow::Result<Socket> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let ws_base = self.api.base.replacen("http://", "ws://", 1).replacen("https://", "wss://", 1);
        let mut req = format!("{ws_base}/api/telemetry/ws/{robot}").into_client_request().context("telemetry URL")?;
        let auth = format!("Bearer {}", self.api.key).parse().context("the key is not a valid header value")?;
        req.headers_mut().insert("authorization", auth);
        let (socket, _) = tokio_tungstenite::connect_async(req).await.context("cannot open the telemetry WebSocket")?;
        Ok(socket)
    }

    /// Sends a request expecting one of `ok`; counts `kind` on success, an unexpected status otherwise.
    async fn expect(&mut self, kind: &str, method: Method, path: &str, body: &Value, ok: &[u16]) -> anyhow::Result<(u16, Value)> {
        let (status, resp) = self.api.call(method, path, Some(body)).await?;
        if ok.contains(&status) {
            self.report.count(kind);
        } else {
            *self.report.unexpected.entry(format!("{kind}: {status}")).or_default() += 1;
            if status >= 500 {
                eprintln!("brain demo: {path} answered {status}: {resp}");
            }
        }
        Ok((status, resp))
    }

    fn agent(&mut self) -> &'static str {
        AGENTS[self.rng.random_range(0..AGENTS.len())]
    }

    fn robot(&mut self) -> &'static str {
        ROBOTS[self.rng.random_range(0..ROBOTS.len())]
    }

    fn hex_hash(&mut self) -> String {
        (0..4).map(|_| format!("{:016x}", self.rng.random::<u64>())).collect()
    }

    async fn act(&mut self, kind: Kind) -> anyhow::Result<()> {
        match kind {
            Kind::Mission => self.mission().await,
            Kind::RobotCommand => self.robot_command().await,
            Kind::Telemetry => self.telemetry().await,
            Kind::Credits => self.credits().await,
            Kind::Dna => self.dna().await,
            Kind::Approval => self.approval().await,
            Kind::InvalidTokens => self.invalid_tokens().await,
            Kind::Policy => self.policy().await,
            Kind::Course => self.course().await,
        }
    }

    /// A mission of each priority in turn; one in eight always fails, one in eight fails once and
    /// succeeds on its retry.
    async fn mission(&mut self) -> anyhow::Result<()> {
        let priority = PRIORITIES[usize::try_from(self.missions % 4).unwrap_or(0)];
        let mission_type = MISSION_TYPES[self.rng.random_range(0..MISSION_TYPES.len())];
        let fate = self.rng.random_range(0..8);
        let mut simulate = json!({"duration_ms": self.rng.random_range(20..250)});
        // The very first mission fails for sure, so even a short run has a failed one.
        if fate == 0 || self.missions == 0 {
            simulate["always_fail"] = json!(true);
        } else if fate == 1 {
            simulate["fail_attempts"] = json!(1);
        }
        let agent = self.agent();
        let body = json!({
            "name": format!("{mission_type} #{}", self.missions + 1),
            "type": mission_type,
            "priority": priority,
            "description": "played by brain demo",
            "data": {"simulate": simulate, "zone": format!("zone-{}", self.rng.random_range(1..6))},
            "max_retries": 1,
            "agent_id": agent,
            "credit_cost": self.rng.random_range(1..10),
            "created_by": "brain-demo",
        });
        self.missions += 1;
        self.expect("mission.created", Method::POST, "/api/missions", &body, &[200, 201]).await.map(|_| ())
    }

    async fn robot_command(&mut self) -> anyhow::Result<()> {
        let robot = self.robot();
        let mut axis = |max: f64| (self.rng.random_range(-100i32..=100) as f64 / 100.0 * max * 100.0).round() / 100.0;
        let body = json!({"linear_x": axis(0.8), "linear_y": axis(0.3), "angular_z": axis(1.5)});
        self.expect("hardware.command_sent", Method::POST, &format!("/api/hardware/robots/{robot}/command"), &body, &[200, 201]).await?;
        if self.rng.random_range(0..4) == 0 {
            let (status, _) = self.api.call(Method::GET, &format!("/api/hardware/robots/{robot}/state"), None).await?;
            if status == 200 {
                self.report.count("hardware.state_queried");
            }
        }
        Ok(())
    }

    async fn telemetry(&mut self) -> anyhow::Result<()> {
        use tokio_tungstenite::tungstenite::Message;
        let robot = self.robot();
        let frame = json!({
            "cpu_usage": self.rng.random_range(5..95),
            "memory_usage": self.rng.random_range(20..90),
            "network_latency_ms": self.rng.random_range(3..120),
            "battery_percentage": self.rng.random_range(15..100),
        });
        let Some(socket) = self.sockets.get_mut(robot) else { return Ok(()) };
        let sent = socket.send(Message::Text(frame.to_string().into())).await;
        if sent.is_err() {
            // The server closed it (a restart, the connection lifetime): reconnect next time.
            self.sockets.remove(robot);
            if let Ok(s) = self.connect(robot).await {
                self.sockets.insert(robot, s);
            }
            return Ok(());
        }
        self.report.count("telemetry.metrics_sent");
        Ok(())
    }

    async fn credits(&mut self) -> anyhow::Result<()> {
        let agent = self.agent();
        let amount = f64::from(self.rng.random_range(1u32..40));
        let body = json!({"amount": amount, "reason": "compute_time"});
        // 409 when the balance does not cover it is a normal outcome of a busy agent.
        let (status, _) =
            self.expect("credits.consumed", Method::POST, &format!("/api/credits/agents/{agent}/consume"), &body, &[200, 201, 409]).await?;
        if status == 409 {
            let top_up = json!({"amount": 500, "reason": "demo_top_up"});
            self.expect("credits.allocated", Method::POST, &format!("/api/credits/agents/{agent}/allocate"), &top_up, &[200, 201]).await?;
        } else if self.rng.random_range(0..5) == 0 {
            let refund = json!({"amount": (amount / 2.0).max(1.0), "reason": "partial_refund"});
            self.expect("credits.refunded", Method::POST, &format!("/api/credits/agents/{agent}/refund"), &refund, &[200, 201]).await?;
        }
        Ok(())
    }

    async fn dna(&mut self) -> anyhow::Result<()> {
        let agent = self.agent();
        if self.rng.random_range(0..3) == 0 {
            let body = json!({"score": self.rng.random_range(0..100) as f64 / 100.0});
            self.expect("dna.karma_updated", Method::POST, &format!("/api/dna/agents/{agent}/karma"), &body, &[200, 201]).await?;
        } else {
            let body = json!({
                "mutation": {"temperature": self.rng.random_range(1..10) as f64 / 10.0},
                "traits_delta": {"curiosity": self.rng.random_range(-2..3)},
                "reason": "demo evolution step",
            });
            self.expect("dna.mutation_applied", Method::POST, &format!("/api/dna/agents/{agent}/mutate"), &body, &[200, 201]).await?;
        }
        Ok(())
    }

    /// An IR approval issued; most are consumed by their holder, some stay pending for the dashboard.
    async fn approval(&mut self) -> anyhow::Result<()> {
        let hash = self.hex_hash();
        let path = format!("/api/ir/approvals?ir_hash={hash}&ttl_seconds=3600&created_by=ops-lead");
        let (status, created) = self.expect("ir.approval_created", Method::POST, &path, &json!({}), &[200, 201]).await?;
        if !matches!(status, 200 | 201) || self.rng.random_range(0..3) == 0 {
            return Ok(());
        }
        let Some(token) = created["token"].as_str() else { return Ok(()) };
        let body = json!({"ir_hash": hash, "token": token});
        self.expect("ir.approval_consumed", Method::POST, "/api/ir/approvals/consume?consumed_by=robot-runner", &body, &[200]).await?;
        Ok(())
    }

    /// A burst of forged approval tokens: more than the security rule's threshold (5 per minute), so it
    /// raises an alert.
    async fn invalid_tokens(&mut self) -> anyhow::Result<()> {
        let hash = self.hex_hash();
        for _ in 0..6 {
            let forged: String = (0..43)
                .map(|_| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[self.rng.random_range(0..64)]))
                .collect();
            let body = json!({"ir_hash": hash, "token": forged});
            self.expect(
                "ir.approval_invalid",
                Method::POST,
                "/api/ir/approvals/consume?consumed_by=intruder",
                &body,
                &[200, 400, 403, 404],
            )
            .await?;
        }
        Ok(())
    }

    /// A guest trying to delete (denied: 403 `policy_denied`), or reading (allowed).
    async fn policy(&mut self) -> anyhow::Result<()> {
        let deny = !self.report.actions.contains_key("policy.denied") || self.rng.random_range(0..2) == 0;
        let (action, kind, ok): (&str, &str, &[u16]) =
            if deny { ("delete", "policy.denied", &[403]) } else { ("read_telemetry", "policy.allowed", &[200]) };
        let body = json!({
            "agent_id": format!("guest-{}", self.rng.random_range(1..20)),
            "agent_role": "guest",
            "action": action,
            "resource": "robot_fleet",
            "environment": {"site": "lab-berlin"},
        });
        self.expect(kind, Method::POST, "/api/policy/evaluate", &body, ok).await.map(|_| ())
    }

    /// Course generation, when the server has the route (a 404 skips it for the rest of the run).
    async fn course(&mut self) -> anyhow::Result<()> {
        if self.course_route == Some(false) {
            return Ok(());
        }
        let topic = ["Safe robot operation", "Data protection at work", "Budgeting for small firms"][self.rng.random_range(0..3)];
        let mut body = json!({
            "title": format!("{topic}: an introduction"),
            "description": format!("A practical course on {}, generated by brain demo to show the course pipeline end to end.", topic.to_lowercase()),
            "language": "en",
            "target_audiences": ["employees"],
            "full_lessons_count": 2,
            "dry_run": false,
        });
        if let Some(t) = &self.tenant {
            body["tenant_id"] = json!(t);
        }
        let (status, resp) = self.api.call(Method::POST, "/api/course-factory/generate", Some(&body)).await?;
        match status {
            404 if resp["code"] == json!("not_found") || resp.is_null() => {
                self.course_route = Some(false);
                eprintln!("brain demo: course generation skipped: the server has no /api/course-factory/generate");
                self.report.count("course.generation_skipped");
            }
            200 | 201 => {
                self.course_route = Some(true);
                self.report.count("course.generation_completed");
            }
            403 => self.report.count("course.generation_blocked"),
            other => *self.report.unexpected.entry(format!("course.generate: {other}")).or_default() += 1,
        }
        Ok(())
    }

    /// Lets the missions finish (bounded), aggregates their metrics, and reads what the server shows.
    async fn finish(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, stats) = self.api.call(Method::GET, "/api/missions/stats/overview", None).await?;
            let by_status = &stats["stats"]["by_status"];
            let busy = ["pending", "running", "PENDING", "RUNNING"].iter().filter_map(|k| by_status[*k].as_u64()).sum::<u64>();
            if busy == 0 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (status, _) = self.api.call(Method::POST, "/api/metrics/aggregate", Some(&json!({}))).await?;
        if (200..=202).contains(&status) {
            self.report.count("metrics.aggregation_requested");
        }
        let mut server = serde_json::Map::new();
        let (_, missions) = self.api.call(Method::GET, "/api/missions/stats/overview", None).await?;
        server.insert("missions".into(), missions["stats"]["by_status"].clone());
        let (_, dlq) = self.api.call(Method::GET, "/api/dlq?status=open&limit=1000", None).await?;
        let open = dlq["dead_letters"].as_array().map_or(0, Vec::len);
        server.insert("open_dead_letters".into(), json!(open));
        let (_, alerts) = self.api.call(Method::GET, "/api/security/alerts", None).await?;
        let alerts = alerts["alerts"].as_array().map_or(0, Vec::len);
        server.insert("security_alerts".into(), json!(alerts));
        let (_, consumers) = self.api.call(Method::GET, "/api/consumers", None).await?;
        let has_failing = consumers.to_string().contains(FAILING_SUBSCRIBER);
        server.insert("failing_subscriber".into(), json!(has_failing));
        self.report.server = Value::Object(server);
        Ok(())
    }
}

fn print_report(report: &Report, base: &str, key: &str, json: bool) -> anyhow::Result<()> {
    let dashboard = format!("{base}/#key={key}");
    if json {
        let mut v = serde_json::to_value(report)?;
        v["dashboard"] = json!(dashboard);
        println!("{v}");
        return Ok(());
    }
    println!("brain demo: done (seed {}, {} s)", report.seed, report.seconds);
    println!("  actions:");
    for (kind, n) in &report.actions {
        println!("    {kind:<32} {n:>6}");
    }
    if !report.unexpected.is_empty() {
        println!("  unexpected answers:");
        for (what, n) in &report.unexpected {
            println!("    {what:<32} {n:>6}");
        }
    }
    let s = &report.server;
    println!("  the server now shows:");
    println!("    missions                         {}", s["missions"]);
    println!("    open dead letters                {}", s["open_dead_letters"]);
    println!("    security alerts                  {}", s["security_alerts"]);
    if s["failing_subscriber"] == json!(false) {
        println!("    (no dead letters from the demo: start that server with `brain serve --demo-failing-subscriber`)");
    }
    println!("  dashboard: {dashboard}");
    Ok(())
}
