//! The `eventstream-testkit` conformance suite, one test per contract clause, against the shared Redis.

use super::helpers::{Factory, redis_available};

/// Runs one conformance clause on a fresh key prefix, unless Redis is unreachable (a loud skip; a
/// failure under `CI=true`).
async fn run(clause: eventstream_testkit::Clause) {
    if !redis_available() {
        return;
    }
    clause(&Factory::new()).await;
}

eventstream_testkit::conformance_tests!(run);
