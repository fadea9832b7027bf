//! `brain serve`: the server on the configured backend.

use anyhow::Context;

use crate::cli::ServeArgs;
use crate::config::Settings;
use brain_server::Application;

use crate::backend::open_backends;

pub(crate) async fn run(args: ServeArgs, verbose: u8) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args.log, args.host.as_deref(), args.port)?;
    let telemetry = crate::telemetry::init(verbose, false, &settings.telemetry)?;
    if let Some(endpoint) = &settings.telemetry.otlp_endpoint {
        eprintln!("brain serve: exporting spans to {endpoint}");
    }
    let result = serve(args, settings).await;
    telemetry.shutdown();
    result
}

async fn serve(args: ServeArgs, settings: Settings) -> anyhow::Result<()> {
    let subscriptions = super::demo::failing_subscriptions(args.demo_failing_subscriber.as_deref())?;
    let backends = open_backends(&settings).await?;
    let app = Application::build(settings.server(), backends, subscriptions).await?;
    let local = app.local_addr().context("cannot read the bound address")?;
    eprintln!("brain serve: data dir {}", settings.data_dir.display());
    if let Some(key) = app.new_admin_key() {
        eprintln!("admin key: {key}");
        eprintln!(
            "brain serve: the admin key is shown once; it is also in {}",
            settings.data_dir.join(brain_server::keys::ADMIN_KEY_FILE).display()
        );
    }
    let scheme = if settings.http.tls.is_some() { "https" } else { "http" };
    if settings.http.tls.is_none() && !local.ip().is_loopback() {
        eprintln!(
            "brain serve: WARNING: listening on {local} WITHOUT TLS: API keys and events cross the network in clear; \
             set [server] tls_cert and tls_key (BRAIN_TLS_CERT, BRAIN_TLS_KEY) or put a TLS-terminating proxy in front"
        );
    }
    eprintln!("listening on {scheme}://{local}");
    app.run_until_stopped(shutdown_signal()).await?;
    eprintln!("brain serve: stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
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
