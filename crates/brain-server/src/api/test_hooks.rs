//! **Test-only** hooks, read from the environment at startup. Compiled only with the cargo feature
//! `test-hooks`, which only this crate's integration tests enable (a dev-dependency of the package on
//! itself); a binary built without it ignores the variables below.
//!
//! `BRAIN_TEST_FAILING_SUBSCRIBER=NAME:PATTERN[,NAME:PATTERN...]` runs, for each pair, a subscriber that
//! fails every event matching `PATTERN` permanently, so integration tests can produce dead letters
//! through the real runtime. Never set it in production: every matching event is dead-lettered.
//!
//! `BRAIN_TEST_COUNTING_SUBSCRIBER=NAME:PATTERN[,NAME:PATTERN...]` runs, for each pair, a subscriber whose
//! effect is one row per handled event in `test_hook_effects` (subscriber, event id, position, replica),
//! written in the handler's transaction with no unique key: a test that counts the rows sees every
//! effect that happened twice, which is how the replica tests show "effectively once" across processes.

use eventstream::{Handler, HandlerContext, HandlerError, Subscription, SubscriptionOptions};
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

/// The environment variable of the counting-subscriber hook.
pub(crate) const COUNTING_SUBSCRIBER_ENV: &str = "BRAIN_TEST_COUNTING_SUBSCRIBER";

/// The table of the counting subscribers' effects (created by its own migration set).
const EFFECTS_MIGRATIONS: eventstream_sql::MigrationSet = &[(
    1,
    "test hook: counting subscriber effects",
    "CREATE TABLE test_hook_effects (subscriber TEXT NOT NULL, event_id TEXT NOT NULL, position TEXT NOT NULL, replica TEXT NOT NULL)",
    "CREATE TABLE test_hook_effects (subscriber TEXT NOT NULL, event_id TEXT NOT NULL, position TEXT NOT NULL, replica TEXT NOT NULL)",
)];

/// The counting subscribers the hook asks for (none when the variable is unset); creates their table.
///
/// # Errors
/// The variable is malformed, or the table cannot be created.
pub(crate) async fn counting_subscribers(store: &eventstream_sql::StateStore, replica: &str) -> anyhow::Result<Vec<Subscription>> {
    let Ok(spec) = std::env::var(COUNTING_SUBSCRIBER_ENV) else { return Ok(Vec::new()) };
    store.migrate_set("brain_test_hook_migrations", EFFECTS_MIGRATIONS).await?;
    let mut subs = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, pattern) =
            item.split_once(':').ok_or_else(|| anyhow::anyhow!("{COUNTING_SUBSCRIBER_ENV}: expected NAME:PATTERN, got {item:?}"))?;
        let name: GroupName = name.parse().map_err(|e| anyhow::anyhow!("{COUNTING_SUBSCRIBER_ENV}: {e}"))?;
        let pattern: TypePattern = pattern.parse().map_err(|e| anyhow::anyhow!("{COUNTING_SUBSCRIBER_ENV}: {e}"))?;
        tracing::warn!(subscriber = %name, %pattern, "test hook: a counting subscriber is running");
        let options = SubscriptionOptions { concurrency: 8, batch_size: 256, ..SubscriptionOptions::default() };
        subs.push(Subscription::new(name, vec![pattern], Counts { replica: replica.to_owned() }).with_options(options));
    }
    Ok(subs)
}

/// Writes one effect row per event, in the inbox transaction.
struct Counts {
    replica: String,
}

#[eventstream_core::async_trait]
impl Handler for Counts {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        eventstream_sql::sqlx::query("INSERT INTO test_hook_effects (subscriber, event_id, position, replica) VALUES ($1, $2, $3, $4)")
            .bind(ctx.subscriber.as_str())
            .bind(event.id.as_str())
            .bind(ctx.position.as_str())
            .bind(self.replica.as_str())
            .execute(ctx.tx.conn())
            .await
            .map_err(HandlerError::transient)?;
        Ok(())
    }
}

/// Fails every event permanently.
struct AlwaysFails;

#[eventstream_core::async_trait]
impl Handler for AlwaysFails {
    async fn handle(&self, _ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        Err(HandlerError::permanent(format!("test hook: {} fails permanently", event.event_type)))
    }
}
