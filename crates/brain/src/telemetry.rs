//! Installs `tracing` for the process: log lines on stderr (filtered by `BRAIN_LOG` or `-v`, coloured only
//! on a terminal and never with `NO_COLOR` set), and the OpenTelemetry layer that gives the trace spans
//! (target [`eventstream::trace::TARGET`]: each request's and each handler's) their W3C trace context.
//!
//! The OpenTelemetry layer is always installed, so trace context flows from requests into events and from
//! events into handlers; spans leave the process only when `[telemetry] otlp_endpoint` is set, through a
//! batch exporter over OTLP/HTTP. [`Telemetry::shutdown`] flushes it.

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::telemetry::TelemetrySettings;

/// The installed tracer provider; flush it with [`Telemetry::shutdown`] before the process exits.
pub(crate) struct Telemetry {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl Telemetry {
    /// Exports the spans still buffered and stops the exporter.
    pub(crate) fn shutdown(self) {
        if self.exporting
            && let Err(e) = self.provider.shutdown()
        {
            eprintln!("brain: cannot flush the last spans to the OTLP endpoint: {e}");
        }
    }
}

/// Whether output may carry ANSI colours: never when `NO_COLOR` is set to anything non-empty
/// (<https://no-color.org>); otherwise on a terminal, or anywhere when `CLICOLOR_FORCE` is set (as clap
/// does for the help).
pub(crate) fn colour_enabled(stream_is_terminal: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    !set("NO_COLOR") && (stream_is_terminal || set("CLICOLOR_FORCE"))
}

/// The colour choice of clap's help and errors: [`colour_enabled`]'s `NO_COLOR` rule, else clap's own
/// detection.
pub(crate) fn clap_colour() -> clap::ColorChoice {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) { clap::ColorChoice::Never } else { clap::ColorChoice::Auto }
}

/// Installs the subscriber. `verbose` is the count of `-v` (`quiet`: without `-v` only errors, for
/// commands whose own output is the point, such as `brain demo`); `telemetry` says where spans go.
///
/// # Errors
/// The OTLP exporter cannot be built (an invalid endpoint).
pub(crate) fn init(verbose: u8, quiet: bool, telemetry: &TelemetrySettings) -> anyhow::Result<Telemetry> {
    use std::io::IsTerminal;
    let default = match verbose {
        0 if quiet => "error",
        0 => "warn,brain=info",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("BRAIN_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour_enabled(std::io::stderr().is_terminal()))
        .with_filter(filter);
    let resource = Resource::builder().with_service_name(telemetry.service_name.clone()).build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &telemetry.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig as _;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint.clone())
            .build()
            .with_context(|| format!("cannot build the OTLP exporter for {endpoint}"))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer("brain");
    let spans = Targets::new().with_target(eventstream::trace::TARGET, LevelFilter::INFO);
    let otel = tracing_opentelemetry::layer().with_tracer(tracer).with_filter(spans);
    // Fails only when a subscriber is installed already (never in the binary).
    let _ = tracing_subscriber::registry().with(fmt).with(otel).try_init();
    Ok(Telemetry { provider, exporting: telemetry.otlp_endpoint.is_some() })
}
