//! DESIGN.md §10: tests against an external service run when it is reachable; with `CI=true` an
//! unreachable service fails the run, elsewhere the suite says loudly what it skipped.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long to wait for a TCP connection to the service.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the tests of `name` (e.g. `"redis"`) can run against the service at `url`
/// (`redis://127.0.0.1:6379`, `postgres://user@host/db`, `nats://127.0.0.1:4222`, or `host:port`).
///
/// Checks that a TCP connection to the URL's host and port opens. When it does not: with the environment
/// variable `CI` set to `true` (or `1`) this panics, failing the test; otherwise it prints a loud
/// `SKIPPED: ...` line to stderr and returns `false`, and the caller returns early.
///
/// # Panics
/// When the service is unreachable and `CI=true`.
pub fn require_service(name: &str, url: &str) -> bool {
    match probe(url) {
        Ok(()) => true,
        Err(e) if running_in_ci() => {
            panic!("{name} at {url} is unreachable ({e}) and CI=true: tests against real services must not be skipped in CI")
        }
        Err(e) => {
            eprintln!("\n********************************************************************************");
            eprintln!("SKIPPED: {name} tests: {url} is unreachable ({e}).");
            eprintln!("Start {name} there (or point the BRAIN_TEST_*_URL variable at it) to run them; with CI=true this fails.");
            eprintln!("********************************************************************************\n");
            false
        }
    }
}

fn running_in_ci() -> bool {
    std::env::var("CI").map(|v| v.eq_ignore_ascii_case("true") || v == "1").unwrap_or(false)
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
}
