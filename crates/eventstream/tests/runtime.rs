//! The one integration test binary of `eventstream`: the consumer runtime and the publisher against the
//! real embedded log and the real state stores (SQLite always, PostgreSQL when reachable).

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod suite;

/// Entry point of the crash test's child process: does nothing unless the parent set the env var.
#[test]
fn crash_child() {
    if let Ok(dir) = std::env::var(suite::crash::CHILD_ENV) {
        suite::crash::run_child(std::path::Path::new(&dir));
    }
}
