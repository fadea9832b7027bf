//! The command line (clap derive). Every command that reads or writes events takes the same
//! [`LogArgs`], so `brain events --backend redis --redis-url URL` reads what `brain serve --backend redis`
//! writes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// BRAiN EventStream: the event backbone of the BRAiN backend.
#[derive(Debug, Parser)]
#[command(name = "brain", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug). `BRAIN_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where the events are: the backend and its options. Flags win over `BRAIN_*` environment variables,
/// which win over `brain.toml`, which wins over the defaults.
#[derive(Debug, Clone, Args)]
pub(crate) struct LogArgs {
    /// Configuration file (default: `./brain.toml` when it exists).
    #[arg(long, env = "BRAIN_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,

    /// Data directory of the embedded backend and the default SQLite state store.
    #[arg(long, env = "BRAIN_DATA_DIR", global = true)]
    pub(crate) data_dir: Option<PathBuf>,

    /// Event log backend: `embedded` (default, no services), `redis` or `nats`.
    #[arg(long, env = "BRAIN_BACKEND", global = true)]
    pub(crate) backend: Option<String>,

    /// Redis URL for `--backend redis`.
    #[arg(long, env = "BRAIN_REDIS_URL", global = true)]
    pub(crate) redis_url: Option<String>,

    /// NATS URL for `--backend nats`; a cluster: its servers comma-separated.
    #[arg(long, env = "BRAIN_NATS_URL", global = true)]
    pub(crate) nats_url: Option<String>,

    /// Replicas of the JetStream stream for `--backend nats` (default 1; 3 on a 3-node cluster).
    #[arg(long, env = "BRAIN_NATS_REPLICAS", global = true)]
    pub(crate) nats_replicas: Option<usize>,

    /// Stream name of the log: the Redis key (default `brain:events:stream`) or the JetStream stream
    /// (default `BRAIN_EVENTS`).
    #[arg(long, env = "BRAIN_STREAM", global = true)]
    pub(crate) stream: Option<String>,

    /// State store URL: `sqlite://PATH` or `postgres://...` (default: `sqlite://<data dir>/state.db`).
    #[arg(long, env = "BRAIN_DATABASE_URL", global = true)]
    pub(crate) database: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the server: HTTP API, consumers, dashboard.
    Serve(ServeArgs),
    /// Append one event to the log.
    Publish(PublishArgs),
    /// Print events as they arrive.
    Tail(TailArgs),
    /// Read event history.
    Events(EventsArgs),
    /// Measure append throughput and append-to-read latency against a raw baseline.
    Bench(BenchArgs),
    /// List subscribers: position, lag, in flight, dead letters.
    Consumers(ConsumersArgs),
    /// Move a subscriber back to a position or time so it runs again.
    Replay(ReplayArgs),
    /// Inspect, retry and discard dead letters.
    Dlq(DlqArgs),
    /// Manage API keys: create, list, revoke.
    Keys(crate::commands::keys::KeysArgs),
    /// Print the event catalog (table, `--json`, or `--markdown` for docs/EVENTS.md).
    Catalog(crate::commands::catalog::CatalogArgs),
    /// The verifiable audit log: verify, proofs, list, export, prune, key (exit 1 = not intact, 2 = could not check).
    Audit(crate::commands::audit::AuditArgs),
    /// Play a realistic, seeded BRAiN workload against a server (its own, or `--url`) for the dashboard.
    Demo(crate::commands::demo::DemoArgs),
    /// Print a shell completion script (`brain completions bash > /etc/bash_completion.d/brain`).
    Completions(CompletionsArgs),
    /// Write the man page: `brain.1` to stdout, or one page per command into `--dir`.
    Man(ManArgs),
}

/// `brain completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: CompletionShell,
}

/// The shells `brain completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CompletionShell {
    /// GNU bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// `brain man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write `brain.1` and `brain-<command>.1` for every command into this directory instead of
    /// printing `brain.1`.
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    /// Address to listen on.
    #[arg(long, env = "BRAIN_HOST")]
    pub(crate) host: Option<String>,
    /// Port to listen on (0 picks a free port; the address is printed).
    #[arg(long, env = "BRAIN_PORT")]
    pub(crate) port: Option<u16>,
    /// Demo aid, never for production: also run the subscriber `demo_webhook`, which dead-letters every
    /// event of this type pattern (default `hardware.command.*`), so the dead-letter views have data.
    /// `brain demo` turns it on for the server it starts.
    #[arg(long, env = "BRAIN_DEMO_FAILING_SUBSCRIBER", value_name = "PATTERN", num_args = 0..=1,
          default_missing_value = crate::commands::demo::DEFAULT_FAILING_PATTERN)]
    pub(crate) demo_failing_subscriber: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    /// Event type, e.g. `task.created`.
    #[arg(long = "type", short = 't')]
    pub(crate) event_type: String,
    /// Producing component, e.g. `missions_service`.
    #[arg(long, short = 's')]
    pub(crate) source: String,
    /// Payload: a JSON object.
    #[arg(long, short = 'p', default_value = "{}")]
    pub(crate) payload: String,
    /// Tenant id.
    #[arg(long)]
    pub(crate) tenant: Option<String>,
    /// Target agent (default: broadcast).
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// Mission id.
    #[arg(long)]
    pub(crate) mission_id: Option<String>,
    /// Task id.
    #[arg(long)]
    pub(crate) task_id: Option<String>,
    /// Correlation id.
    #[arg(long)]
    pub(crate) correlation_id: Option<String>,
    /// Causation id (the event that caused this one).
    #[arg(long)]
    pub(crate) causation_id: Option<String>,
    /// Actor id.
    #[arg(long)]
    pub(crate) actor: Option<String>,
    /// Severity: INFO, WARNING, ERROR or CRITICAL.
    #[arg(long)]
    pub(crate) severity: Option<String>,
    /// Event id (default: a new UUIDv7). Re-publishing with the same id is deduplicated by consumers.
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Catalog validation: `strict` (reject unknown types and invalid payloads), `warn` (publish, print
    /// what strict would reject) or `off`. Default: `[api] validation` of the configuration (`strict`).
    #[arg(long)]
    pub(crate) validation: Option<String>,
    /// Print the receipt as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    /// Where to start: `start`, `now` (default), or a position (events after it).
    #[arg(long, default_value = "now")]
    pub(crate) from: String,
    /// Only these types: exact (`task.created`), prefix (`task.*`) or `*`.
    #[arg(long = "type", short = 't')]
    pub(crate) type_pattern: Option<String>,
    /// One JSON envelope per line.
    #[arg(long)]
    pub(crate) json: bool,
    /// Stop after this many events.
    #[arg(long)]
    pub(crate) count: Option<usize>,
}

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    /// Only these types: exact (`task.created`), prefix (`task.*`) or `*`.
    #[arg(long = "type", short = 't')]
    pub(crate) type_pattern: Option<String>,
    /// Only events stored at or after this time: RFC 3339, `YYYY-MM-DD`, epoch seconds, or an age such as
    /// `15m`, `2h`, `7d`. Without it the newest events are shown.
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only events of this tenant.
    #[arg(long)]
    pub(crate) tenant: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: usize,
    /// One JSON envelope per line (the same as `--format json`).
    #[arg(long)]
    pub(crate) json: bool,
    /// Output: `text` (default), `json` (one envelope per line) or `cloudevents` (one structured
    /// CloudEvent per line).
    #[arg(long)]
    pub(crate) format: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct BenchArgs {
    /// `--backend redis --redis-url URL` benchmarks that Redis instead of the embedded log.
    #[command(flatten)]
    pub(crate) log: LogArgs,
    /// Events per measurement.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) events: usize,
    /// Concurrent publisher counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub(crate) publishers: Vec<usize>,
    /// Runs per configuration; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: usize,
    /// Durability of both our log and the baseline: `full` (fsync per commit) or `normal`.
    #[arg(long, default_value = "full")]
    pub(crate) durability: String,
    /// Directory for the benchmark's temporary stores (default: the system temp dir).
    #[arg(long)]
    pub(crate) dir: Option<std::path::PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Measure the consumer runtime instead: throughput with dedup on SQLite (and PostgreSQL with
    /// `--pg-url`) and handler-to-ack latency, against the same inserts done directly.
    #[arg(long)]
    pub(crate) consumers: bool,
    /// PostgreSQL for `--consumers` (a fresh schema is created and dropped).
    #[arg(long, env = "BRAIN_BENCH_PG_URL")]
    pub(crate) pg_url: Option<String>,
    /// Handler concurrency for `--consumers`.
    #[arg(long, default_value_t = 4)]
    pub(crate) concurrency: usize,
    /// Measure the audit log instead: hashing CPU per event (vs raw SHA-256), append-to-checkpoint p99,
    /// `verify --full` over `--audit-rows` rows and incremental verify of 10k new rows (SQLite).
    #[arg(long)]
    pub(crate) audit: bool,
    /// Rows for `--audit`'s full verify.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) audit_rows: usize,
    /// Events per call in the embedded log's batched measurement, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    pub(crate) batch_sizes: Vec<usize>,
    /// Measure `emit` instead: the caller's cost per call (p50/p99/p99.9), paced at 10,000/s and back to
    /// back, against a send on a bare channel.
    #[arg(long)]
    pub(crate) emit: bool,
    /// Measure the NATS backend instead: `append` vs raw `async-nats` JetStream publish at equal
    /// concurrency (`--nats-url`, default `BRAIN_TEST_NATS_URL` or nats://127.0.0.1:4222).
    #[arg(long)]
    pub(crate) nats: bool,
    /// Measure the NATS backend on a private 3-node JetStream cluster (R3) against a private single node
    /// (R1) instead, each with raw `async-nats` as its baseline: publish throughput at `--publishers` and
    /// end-to-end latency at `--nats-rate`. Starts its own `nats-server` processes on loopback ports.
    #[arg(long)]
    pub(crate) nats_cluster: bool,
    /// Events per second of `--nats-cluster`'s paced end-to-end latency run (at most 10 s of them).
    #[arg(long, default_value_t = 500)]
    pub(crate) nats_rate: u64,
    /// Measure how metrics and lag cost grow with history instead (an empty vs a long inbox and backlog).
    #[arg(long)]
    pub(crate) history: bool,
    /// Run the `brain serve` application in-process under steady load for this many events, sampling RSS
    /// and CPU from /proc/self (with `--all`: the soak's event count, default 1,000,000).
    #[arg(long, value_name = "EVENTS")]
    pub(crate) soak: Option<usize>,
    /// Run every scenario (embedded, batched, consumers on SQLite and PostgreSQL, Redis, emit, NATS,
    /// history, soak) and print the goals table; with `--json`, one document for `brain bench report`.
    /// Services default to the test URLs (`BRAIN_TEST_REDIS_URL`, `BRAIN_TEST_DATABASE_URL`,
    /// `BRAIN_TEST_NATS_URL`, else 127.0.0.1 on the standard ports); `--redis-url`, `--pg-url` and
    /// `--nats-url` override them.
    #[arg(long)]
    pub(crate) all: bool,
    /// `report`: turn a `--all --json` document into docs/BENCHMARKS.md and SVG plots.
    #[command(subcommand)]
    pub(crate) action: Option<BenchAction>,
}

/// What `brain bench` does besides measuring.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum BenchAction {
    /// Writes `<out>/BENCHMARKS.md` and SVG plots under `<out>/bench/` from a `brain bench --all --json`
    /// document.
    Report(BenchReportArgs),
}

/// Arguments of `brain bench report`.
#[derive(Debug, Clone, Args)]
pub(crate) struct BenchReportArgs {
    /// The JSON document written by `brain bench --all --json`.
    pub(crate) input: PathBuf,
    /// The docs directory: BENCHMARKS.md goes there, the plots into its `bench/` subdirectory.
    #[arg(long, default_value = "docs")]
    pub(crate) out: PathBuf,
    /// Also replace the goals table between `<!-- bench:goals:begin -->` and `<!-- bench:goals:end -->`
    /// in this file (the README).
    #[arg(long)]
    pub(crate) readme: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ConsumersArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    /// The subscriber (consumer group) to replay.
    pub(crate) subscriber: String,
    /// Where to restart: `start`, a position (events after it), or a time (RFC 3339, `YYYY-MM-DD`, epoch
    /// seconds, or an age such as `2h`).
    #[arg(long)]
    pub(crate) from: String,
    /// Also remove the subscriber's inbox rows for the range so every event is handled again (backfill).
    /// Without it, events the subscriber already processed are skipped.
    #[arg(long)]
    pub(crate) reprocess: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DlqArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    #[command(subcommand)]
    pub(crate) command: DlqCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DlqCommand {
    /// List dead letters, newest first.
    List {
        /// Only this subscriber's.
        #[arg(long)]
        subscriber: Option<String>,
        /// Only this event type.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// `open` (default), `retried`, `discarded` or `all`.
        #[arg(long, default_value = "open")]
        status: String,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON, one dead letter per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter with its event.
    Show {
        /// Its id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deliver it again to its subscriber.
    Retry {
        /// Its id.
        id: String,
    },
    /// Give up on it (kept, marked discarded).
    Discard {
        /// Its id.
        id: String,
    },
}
