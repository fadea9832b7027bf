//! One module per command; `run` dispatches.

pub(crate) mod audit;
mod bench;
pub(crate) mod catalog;
mod consumers;
pub(crate) mod demo;
mod dlq;
mod events;
pub(crate) mod keys;
mod publish;
mod replay;
mod serve;
mod shell;
mod tail;

use crate::cli::{Cli, Command};

/// Runs the parsed command.
///
/// # Errors
/// Whatever the command fails with; `main` prints it as one line.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    let verbose = cli.verbose;
    if let Command::Serve(a) = cli.command {
        // `serve` installs tracing itself, once its configuration (`[telemetry]`) is read.
        return serve::run(a, verbose).await;
    }
    // The demo's own server would log every dead letter it causes on purpose; its report says it all.
    let quiet = matches!(cli.command, Command::Demo(_));
    let telemetry = crate::telemetry::init(verbose, quiet, &crate::config::telemetry::TelemetrySettings::default())?;
    let result = run_client(cli.command).await;
    telemetry.shutdown();
    result
}

/// Runs every command but `serve`.
async fn run_client(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(a) => serve::run(a, 0).await,
        Command::Publish(a) => publish::run(a).await,
        Command::Tail(a) => tail::run(a).await,
        Command::Events(a) => events::run(a).await,
        Command::Bench(a) => bench::run(a).await,
        Command::Consumers(a) => consumers::run(a).await,
        Command::Replay(a) => replay::run(a).await,
        Command::Dlq(a) => dlq::run(a).await,
        Command::Keys(a) => keys::run(a).await,
        Command::Catalog(a) => catalog::run(&a),
        Command::Audit(a) => audit::run(a).await,
        Command::Demo(a) => demo::run(a).await,
        Command::Completions(a) => shell::completions(&a),
        Command::Man(a) => shell::man(&a),
    }
}

/// Parses a `--type` pattern with a clear error.
pub(crate) fn parse_pattern(p: Option<&str>) -> anyhow::Result<eventstream_core::TypePattern> {
    match p {
        None => Ok(eventstream_core::TypePattern::all()),
        Some(p) => p.parse().map_err(|e| anyhow::anyhow!("--type: {e}")),
    }
}
