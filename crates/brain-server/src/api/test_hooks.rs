//! **Test-only** hooks, read from the environment at startup. Compiled only with the cargo feature
//! `test-hooks`, which only this crate's integration tests enable (a dev-dependency of the package on
//! itself); a binary built without it ignores the variables below.
//!
//! `BRAIN_TEST_FAILING_SUBSCRIBER=NAME:PATTERN[,NAME:PATTERN...]` runs, for each pair, a subscriber that
//! fails every event matching `PATTERN` permanently, so integration tests can produce dead letters
//! through the real runtime. Never set it in production: every matching event is dead-lettered.

use eventstream::{Handler, HandlerContext, HandlerError, Subscription};
use eventstream_core::{Event, GroupName, TypePattern};

/// The environment variable of the failing-subscriber hook.
pub(crate) const FAILING_SUBSCRIBER_ENV: &str = "BRAIN_TEST_FAILING_SUBSCRIBER";

/// The subscribers the hook asks for (none when the variable is unset).
///
/// # Errors
/// The variable is set but not `NAME:PATTERN[,...]` with a valid name and pattern.
pub(crate) fn failing_subscribers() -> anyhow::Result<Vec<Subscription>> {
    let Ok(spec) = std::env::var(FAILING_SUBSCRIBER_ENV) else { return Ok(Vec::new()) };
    let mut subs = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, pattern) =
            item.split_once(':').ok_or_else(|| anyhow::anyhow!("{FAILING_SUBSCRIBER_ENV}: expected NAME:PATTERN, got {item:?}"))?;
        let name: GroupName = name.parse().map_err(|e| anyhow::anyhow!("{FAILING_SUBSCRIBER_ENV}: {e}"))?;
        let pattern: TypePattern = pattern.parse().map_err(|e| anyhow::anyhow!("{FAILING_SUBSCRIBER_ENV}: {e}"))?;
        tracing::warn!(subscriber = %name, %pattern, "test hook: a subscriber that fails every event permanently is running");
        subs.push(Subscription::new(name, vec![pattern], AlwaysFails));
    }
    Ok(subs)
}

/// Fails every event permanently.
struct AlwaysFails;

#[eventstream_core::async_trait]
impl Handler for AlwaysFails {
    async fn handle(&self, _ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        Err(HandlerError::permanent(format!("test hook: {} fails permanently", event.event_type)))
    }
}
