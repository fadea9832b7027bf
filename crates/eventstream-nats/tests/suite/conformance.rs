//! The `eventstream-testkit` conformance suite, one test per contract clause, against the shared NATS.

use super::helpers::{nats_available, run_then_clean};

/// Runs one conformance clause on its own streams, deleted afterwards, unless NATS is unreachable (a
/// loud skip; a failure under `CI=true`).
async fn run(clause: eventstream_testkit::Clause) {
    if !nats_available() {
        return;
    }
    run_then_clean(move |f| async move { clause(&*f).await }).await;
}

eventstream_testkit::conformance_tests!(run);
