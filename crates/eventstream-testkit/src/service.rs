//! DESIGN.md §10: tests against an external service, tool or browser run when it is there; with `CI=true`
//! a missing one fails the run, elsewhere the suite says loudly what it skipped.
//!
//! [`running_in_ci`] is the one reading of the `CI` flag. [`require_service`] checks a TCP service,
//! [`require_tool`](crate::require_tool) a binary, browser or Python module. Their `SKIPPED` banners go
//! straight to the process's stderr: libtest captures `eprintln!` of passing tests, which would hide them.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long to wait for a TCP connection to the service.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the tests run in CI: the environment variable `CI` is `true` or `1` (case-insensitive).
///
/// Under CI a test must not skip because something it needs is missing: it fails instead.
pub fn running_in_ci() -> bool {
    ci_flag(std::env::var("CI").ok().as_deref())
}

fn ci_flag(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}

/// What a test needs and why it is missing, for [`decide`].
pub(crate) struct Missing {
    /// What cannot run, e.g. `"redis tests"`.
    pub(crate) what: String,
    /// Why, e.g. `"127.0.0.1:6379 is unreachable (connection refused)"`.
    pub(crate) why: String,
    /// How to get it, e.g. `"Start redis there"`.
    pub(crate) fix: String,
}

/// `true` when nothing is missing; otherwise fails under CI (`ci`), or prints a `SKIPPED` banner to stderr
/// and returns `false`.
///
/// # Panics
/// When something is missing and `ci` is true.
#[track_caller]
pub(crate) fn decide(ci: bool, missing: Option<Missing>) -> bool {
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
    decide_to(ci, missing, &mut io::stderr().lock())
}

/// [`decide`], writing the banner to `out`.
#[track_caller]
fn decide_to(ci: bool, missing: Option<Missing>, out: &mut dyn Write) -> bool {
    let Some(Missing { what, why, fix }) = missing else { return true };
    if ci {
        panic!("{what} cannot run: {why}, and CI=true: a test must not be skipped in CI. {fix}.");
    }
    let rule = "*".repeat(80);
    let banner = format!("\n{rule}\nSKIPPED: {what}: {why}.\n{fix}; with CI=true this fails.\n{rule}\n\n");
    // One write, so parallel tests' banners do not interleave.
    let _ = out.write_all(banner.as_bytes());
    false
}

/// Whether the tests of `name` (e.g. `"redis"`) can run against the service at `url`
/// (`redis://127.0.0.1:6379`, `postgres://user@host/db`, `nats://127.0.0.1:4222`, or `host:port`).
///
/// Checks that a TCP connection to the URL's host and port opens. When it does not: under CI
/// ([`running_in_ci`]) this panics, failing the test; otherwise it writes a loud `SKIPPED: ...` banner to
/// stderr (visible in a normal `cargo test`) and returns `false`, and the caller returns early.
///
/// # Panics
/// When the service is unreachable and `CI=true`.
#[track_caller]
pub fn require_service(name: &str, url: &str) -> bool {
    let missing = probe(url).err().map(|e| Missing {
        what: format!("{name} tests"),
        why: format!("{url} is unreachable ({e})"),
        fix: format!("Start {name} there (or point the BRAIN_TEST_*_URL variable at it) to run them"),
    });
    decide(running_in_ci(), missing)
}

/// The default port of a URL scheme.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "redis" | "rediss" => Some(6379),
        "postgres" | "postgresql" => Some(5432),
        "nats" | "tls" => Some(4222),
        "mysql" => Some(3306),
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Splits `url` into host and port.
fn host_port(url: &str) -> io::Result<(String, u16)> {
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("cannot read host and port from {url:?}: {why}"));
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => (String::new(), url),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    // Several hosts (`nats://a:4222,b:4222`): probe the first.
    let authority = authority.split(',').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| invalid("unclosed `[`"))?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| invalid("bad port"))?,
        None => default_port(&scheme).ok_or_else(|| invalid("no port and no known default for the scheme"))?,
    };
    Ok((host, port))
}

fn probe(url: &str) -> io::Result<()> {
    let (host, port) = host_port(url)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} does not resolve"));
    for addr in (host.as_str(), port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_are_read_from_service_urls() {
        let cases = [
            ("redis://127.0.0.1:6379", ("127.0.0.1", 6379)),
            ("redis://:secret@localhost/0", ("localhost", 6379)),
            ("postgres://postgres@127.0.0.1:5432/test", ("127.0.0.1", 5432)),
            ("postgresql://h/db?sslmode=disable", ("h", 5432)),
            ("nats://127.0.0.1", ("127.0.0.1", 4222)),
            ("nats://a:1,b:2", ("a", 1)),
            ("redis://[::1]:7000", ("::1", 7000)),
            ("127.0.0.1:9", ("127.0.0.1", 9)),
        ];
        for (url, (h, p)) in cases {
            let got = host_port(url).map_err(|e| e.to_string());
            assert_eq!(got, Ok((h.to_owned(), p)), "{url}");
        }
        for bad in ["redis://", "unknown://host", "127.0.0.1", "redis://h:port"] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_reachable_service_is_required_and_an_unreachable_one_is_skipped_outside_ci() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}"));
        assert!(require_service("local", &format!("tcp://{addr}")), "a listening port is reachable");
        drop(listener);
        if !running_in_ci() {
            assert!(!require_service("local", &format!("tcp://{addr}")), "a closed port is skipped outside CI");
        }
    }

    #[test]
    fn ci_is_true_or_1_in_any_case() {
        for on in ["true", "TRUE", "True", "1", " true "] {
            assert!(ci_flag(Some(on)), "{on:?}");
        }
        for off in [None, Some(""), Some("0"), Some("false"), Some("yes")] {
            assert!(!ci_flag(off), "{off:?}");
        }
    }

    fn missing() -> Option<Missing> {
        Some(Missing { what: "thing tests".into(), why: "it is gone".into(), fix: "Bring it back".into() })
    }

    #[test]
    fn something_missing_is_skipped_loudly_outside_ci_and_nothing_missing_runs() {
        let mut out = Vec::new();
        assert!(!decide_to(false, missing(), &mut out));
        let banner = String::from_utf8_lossy(&out);
        assert!(banner.contains("SKIPPED: thing tests: it is gone.\nBring it back; with CI=true this fails."), "{banner}");
        for ci in [false, true] {
            let mut out = Vec::new();
            assert!(decide_to(ci, None, &mut out));
            assert!(out.is_empty(), "nothing is printed when nothing is missing");
        }
    }

    #[test]
    #[should_panic(expected = "thing tests cannot run: it is gone, and CI=true")]
    fn something_missing_fails_in_ci() {
        decide_to(true, missing(), &mut Vec::new());
    }
}
