//! `brain serve`: the server on the configured backend.

use anyhow::Context;
use tokio::net::TcpListener;

use crate::backend::open_log;
use crate::cli::ServeArgs;
use crate::config::Settings;
use crate::server::{self, AppState};

pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args.log, args.host.as_deref(), args.port)?;
    let log = open_log(&settings).await?;
    let addr = format!("{}:{}", settings.host, settings.port);
    let listener = TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr().context("cannot read the bound address")?;
    eprintln!("brain serve: {} backend, data dir {}", log.backend(), settings.data_dir.display());
    eprintln!("listening on http://{local}");
    server::run(listener, AppState { log }, shutdown_signal()).await.context("server failed")?;
    eprintln!("brain serve: stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
