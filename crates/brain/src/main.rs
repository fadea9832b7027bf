//! `brain`: the BRAiN EventStream binary.
//!
//! Glue only: parse the command line, run the command (which loads and validates the configuration and
//! installs tracing, [`telemetry`]), map its error to one line on stderr and a non-zero exit code.

mod backend;
mod cli;
mod commands;
mod config;
mod output;
mod telemetry;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    let matches = cli::Cli::command().color(telemetry::clap_colour()).get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // One TLS crypto provider for the process (Redis `rediss://` looks it up; sqlx, async-nats and the
    // listener choose theirs explicitly). Fails only when one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line: the error and its causes, outermost first, with any password a quoted URL
            // carries (ours or a driver's message) masked.
            eprintln!("error: {}", eventstream_core::redact::redact_text(&eventstream_core::error::chain(e.as_ref())));
            ExitCode::FAILURE
        }
    }
}
