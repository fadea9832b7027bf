//! `[telemetry]`: where spans go. Off by default; with `otlp_endpoint` set (or `BRAIN_OTLP_ENDPOINT`),
//! `brain serve` exports its spans (each request's, each handler's) over OTLP/HTTP with protobuf.
//!
//! ```toml
//! [telemetry]
//! otlp_endpoint = "http://127.0.0.1:4318"   # a collector; `/v1/traces` is added when the URL has no path
//! service_name = "brain"                     # the `service.name` of the exported spans
//! ```
//!
//! The W3C trace context travels through requests and events whether or not spans are exported.

use anyhow::bail;
use serde::Deserialize;

/// The `[telemetry]` table of `brain.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileTelemetry {
    otlp_endpoint: Option<String>,
    service_name: Option<String>,
}

/// The checked `[telemetry]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TelemetrySettings {
    /// The OTLP/HTTP traces URL (with its `/v1/traces` path), or `None`: no export.
    pub(crate) otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub(crate) service_name: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self { otlp_endpoint: None, service_name: "brain".into() }
    }
}

/// `BRAIN_OTLP_ENDPOINT`, else the file's `otlp_endpoint`; `BRAIN_SERVICE_NAME`, else `service_name`.
///
/// # Errors
/// An endpoint that is not an `http://` or `https://` URL, an empty service name.
pub(crate) fn resolve(file: FileTelemetry) -> anyhow::Result<TelemetrySettings> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let endpoint = env("BRAIN_OTLP_ENDPOINT").or(file.otlp_endpoint).map(|e| e.trim().to_owned());
    let otlp_endpoint = match endpoint {
        None => None,
        Some(e) => Some(traces_url(&e)?),
    };
    let service_name = env("BRAIN_SERVICE_NAME").or(file.service_name).unwrap_or_else(|| "brain".into());
    if service_name.trim().is_empty() || service_name.len() > 256 {
        bail!("telemetry.service_name must be 1 to 256 characters");
    }
    Ok(TelemetrySettings { otlp_endpoint, service_name })
}

/// The traces URL of an OTLP/HTTP endpoint: as given when it has a path, else with `/v1/traces`.
fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let Some(rest) = endpoint.strip_prefix("http://").or_else(|| endpoint.strip_prefix("https://")) else {
        bail!("invalid telemetry.otlp_endpoint (BRAIN_OTLP_ENDPOINT) {endpoint:?}: expected http://HOST:PORT (OTLP over HTTP)");
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        bail!("invalid telemetry.otlp_endpoint (BRAIN_OTLP_ENDPOINT) {endpoint:?}: no host");
    }
    if path.is_empty() { Ok(format!("{}/v1/traces", endpoint.trim_end_matches('/'))) } else { Ok(endpoint.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_get_the_traces_path_when_they_have_none() {
        assert_eq!(traces_url("http://127.0.0.1:4318").ok().as_deref(), Some("http://127.0.0.1:4318/v1/traces"));
        assert_eq!(traces_url("http://127.0.0.1:4318/").ok().as_deref(), Some("http://127.0.0.1:4318/v1/traces"));
        assert_eq!(traces_url("https://c.example.com/otlp/v1/traces").ok().as_deref(), Some("https://c.example.com/otlp/v1/traces"));
        assert!(traces_url("127.0.0.1:4317").is_err());
        assert!(traces_url("grpc://x").is_err());
        assert!(traces_url("http:///v1/traces").is_err());
    }
}
