//! One module per command; `run` dispatches.

pub(crate) mod audit;
mod bench;
pub(crate) mod catalog;
mod consumers;
mod dlq;
mod events;
pub(crate) mod keys;
mod publish;
mod replay;
mod serve;
mod tail;

use crate::cli::{Cli, Command};

/// Runs the parsed command.
///
/// # Errors
/// Whatever the command fails with; `main` prints it as one line.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => serve::run(a).await,
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
    }
}

/// Parses a `--type` pattern with a clear error.
pub(crate) fn parse_pattern(p: Option<&str>) -> anyhow::Result<eventstream_core::TypePattern> {
    match p {
        None => Ok(eventstream_core::TypePattern::all()),
        Some(p) => p.parse().map_err(|e| anyhow::anyhow!("--type: {e}")),
    }
}
