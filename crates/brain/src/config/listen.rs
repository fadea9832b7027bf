//! The listener keys of `[server]`: allowed `Host` names, timeouts, connection and stream caps, the
//! failed-key budget and TLS, over [`HttpSettings::default`], then `BRAIN_ALLOWED_HOSTS`,
//! `BRAIN_TLS_CERT` and `BRAIN_TLS_KEY`, checked.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use brain_server::{HttpSettings, TlsFiles};

use super::FileServer;

/// `[server]`'s listener keys over the defaults, then the environment.
///
/// # Errors
/// A value out of range, an empty host name, or only one of the TLS files.
pub(super) fn resolve(file: &FileServer) -> anyhow::Result<HttpSettings> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut http = HttpSettings::default();
    let hosts = match env("BRAIN_ALLOWED_HOSTS") {
        Some(v) => Some(v.split(',').map(|h| h.trim().to_owned()).collect::<Vec<_>>()),
        None => file.allowed_hosts.clone(),
    };
    if let Some(hosts) = &hosts
        && (hosts.is_empty() || hosts.iter().any(|h| h.trim().is_empty() || h.contains(['/', ' '])))
    {
        bail!("server.allowed_hosts (BRAIN_ALLOWED_HOSTS) must list host names such as \"brain.example.com\", or \"*\"; got {hosts:?}");
    }
    http.allowed_hosts = hosts;
    let secs = |value: Option<u64>, name: &str, max: u64, default: Duration| -> anyhow::Result<Duration> {
        match value {
            None => Ok(default),
            Some(s) if (1..=max).contains(&s) => Ok(Duration::from_secs(s)),
            Some(_) => bail!("server.{name} must be between 1 and {max}"),
        }
    };
    http.header_read_timeout = secs(file.header_read_timeout_secs, "header_read_timeout_secs", 300, http.header_read_timeout)?;
    // SSE streams send a keep-alive every 15 s: a shorter idle timeout would cut quiet streams.
    if file.idle_timeout_secs.is_some_and(|s| s < 20) {
        bail!("server.idle_timeout_secs must be between 20 and 3600 (SSE keep-alives come every 15 s)");
    }
    http.idle_timeout = secs(file.idle_timeout_secs, "idle_timeout_secs", 3600, http.idle_timeout)?;
    http.request_timeout = secs(file.request_timeout_secs, "request_timeout_secs", 3600, http.request_timeout)?;
    let count = |value: Option<usize>, name: &str, default: usize| -> anyhow::Result<usize> {
        match value {
            None => Ok(default),
            Some(n) if (1..=1_000_000).contains(&n) => Ok(n),
            Some(_) => bail!("server.{name} must be between 1 and 1000000"),
        }
    };
    http.max_connections = count(file.max_connections, "max_connections", http.max_connections)?;
    http.max_streams_per_key = count(file.max_streams_per_key, "max_streams_per_key", http.max_streams_per_key)?;
    http.max_streams = count(file.max_streams, "max_streams", http.max_streams)?;
    if let Some(n) = file.auth_failures_per_minute {
        http.auth_failures_per_minute = n;
    }
    let cert = env("BRAIN_TLS_CERT").map(PathBuf::from).or_else(|| file.tls_cert.clone());
    let key = env("BRAIN_TLS_KEY").map(PathBuf::from).or_else(|| file.tls_key.clone());
    http.tls = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => bail!("server.tls_cert and server.tls_key (BRAIN_TLS_CERT, BRAIN_TLS_KEY) go together: set both or neither"),
    };
    Ok(http)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(toml_text: &str) -> anyhow::Result<HttpSettings> {
        let file: super::super::FileConfig = toml::from_str(toml_text)?;
        resolve(&file.server)
    }

    #[test]
    fn the_listener_keys_are_read_and_checked() {
        if ["BRAIN_ALLOWED_HOSTS", "BRAIN_TLS_CERT", "BRAIN_TLS_KEY"].iter().any(|v| std::env::var_os(v).is_some()) {
            return; // the environment overrides the file; this test reads the file alone
        }
        let d = of("").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.allowed_hosts, None);
        assert_eq!(
            (d.header_read_timeout, d.idle_timeout, d.request_timeout),
            (Duration::from_secs(10), Duration::from_secs(60), Duration::from_secs(30))
        );
        assert_eq!((d.max_connections, d.max_streams_per_key, d.max_streams, d.auth_failures_per_minute), (1024, 8, 1000, 20));
        assert_eq!(d.tls, None);
        let set = of("[server]\nallowed_hosts = [\"brain.example.com\", \"10.0.0.5\"]\nheader_read_timeout_secs = 5\n\
                      idle_timeout_secs = 20\nrequest_timeout_secs = 7\nmax_connections = 50\nmax_streams_per_key = 2\n\
                      max_streams = 9\nauth_failures_per_minute = 0\ntls_cert = \"/tls/c.pem\"\ntls_key = \"/tls/k.pem\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.allowed_hosts, Some(vec!["brain.example.com".to_owned(), "10.0.0.5".to_owned()]));
        assert_eq!(
            (set.header_read_timeout, set.idle_timeout, set.request_timeout),
            (Duration::from_secs(5), Duration::from_secs(20), Duration::from_secs(7))
        );
        assert_eq!((set.max_connections, set.max_streams_per_key, set.max_streams, set.auth_failures_per_minute), (50, 2, 9, 0));
        assert_eq!(set.tls, Some(TlsFiles { cert: "/tls/c.pem".into(), key: "/tls/k.pem".into() }));
        for (bad, says) in [
            ("[server]\nallowed_host = []\n", "unknown field"),
            ("[server]\nallowed_hosts = []\n", "allowed_hosts"),
            ("[server]\nallowed_hosts = [\"\"]\n", "allowed_hosts"),
            ("[server]\nheader_read_timeout_secs = 0\n", "header_read_timeout_secs"),
            ("[server]\nidle_timeout_secs = 0\n", "idle_timeout_secs"),
            ("[server]\nidle_timeout_secs = 19\n", "idle_timeout_secs"),
            ("[server]\nrequest_timeout_secs = 0\n", "request_timeout_secs"),
            ("[server]\nmax_connections = 0\n", "max_connections"),
            ("[server]\nmax_streams_per_key = 0\n", "max_streams_per_key"),
            ("[server]\nmax_streams = 0\n", "max_streams"),
            ("[server]\ntls_cert = \"/c.pem\"\n", "tls_key"),
        ] {
            let err = of(bad).err().map(|e| format!("{e:#}")).unwrap_or_default();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }
}
