//! `brain`: the BRAiN EventStream binary.
//!
//! Glue only: parse the command line, load and validate the configuration, install tracing, run the
//! command, map its error to one line on stderr and a non-zero exit code.

mod backend;
mod cli;
mod commands;
mod config;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // One TLS crypto provider for the process (Redis `rediss://` looks it up; sqlx, async-nats and the
    // listener choose theirs explicitly). Fails only when one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    init_tracing(cli.verbose);
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

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn,brain=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BRAIN_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
