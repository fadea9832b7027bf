//! A subscriber: its name, what it wants, its handler, and how it runs.

use std::sync::Arc;
use std::time::Duration;

use eventstream_core::{Event, GroupName, StartFrom, TypePattern};

use crate::backoff::Backoff;
use crate::handler::Handler;

/// A named subscriber. Its name is its consumer group: replicas of one subscriber share the group and each
/// event is handled by one of them.
#[derive(Clone)]
pub struct Subscription {
    pub(crate) name: GroupName,
    pub(crate) patterns: Vec<TypePattern>,
    pub(crate) handler: Arc<dyn Handler>,
    pub(crate) options: SubscriptionOptions,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("name", &self.name).field("patterns", &self.patterns).field("options", &self.options).finish()
    }
}

/// How a subscriber runs. The defaults suit most modules.
#[derive(Debug, Clone)]
pub struct SubscriptionOptions {
    /// Handlers running at once (default 4). Above 1, events are handled out of order.
    pub concurrency: usize,
    /// Entries read per round trip (default 256).
    pub batch_size: usize,
    /// First deliveries handled in one state-store transaction (default 64): their inbox rows and the
    /// handlers' writes commit together, one commit per chunk. If a handler fails, the chunk rolls back and
    /// is handled again without the failing event, which goes on alone (retries, dead letter). Set 1 for
    /// one transaction per event.
    pub handler_batch: usize,
    /// Attempts for a transient failure before dead-lettering, the first try included (default 5).
    pub max_attempts: u32,
    /// Delay between transient retries (default 100 ms doubling to 5 s, with jitter).
    pub backoff: Backoff,
    /// Where a new group starts (default: the beginning of the log).
    pub start: StartFrom,
    /// A delivery pending this long in any consumer is taken over by a live replica (default 30 s). Keep it
    /// above the longest handler run plus `backoff.max`.
    pub claim_idle: Duration,
    /// How often to look for such deliveries (default 5 s).
    pub claim_interval: Duration,
    /// How long one read waits for new events (default 1 s); also bounds how long shutdown waits for the
    /// reader.
    pub read_block: Duration,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            batch_size: 256,
            handler_batch: 64,
            max_attempts: 5,
            backoff: Backoff::default(),
            start: StartFrom::Beginning,
            claim_idle: Duration::from_secs(30),
            claim_interval: Duration::from_secs(5),
            read_block: Duration::from_secs(1),
        }
    }
}

impl Subscription {
    /// A subscriber `name` running `handler` for events matching any of `patterns` (`task.*`,
    /// `mission.created`, `*`).
    pub fn new(name: GroupName, patterns: Vec<TypePattern>, handler: impl Handler) -> Self {
        Self { name, patterns, handler: Arc::new(handler), options: SubscriptionOptions::default() }
    }

    /// Replaces the options.
    #[must_use]
    pub fn with_options(mut self, options: SubscriptionOptions) -> Self {
        self.options = options;
        self
    }

    /// The subscriber's name.
    pub fn name(&self) -> &GroupName {
        &self.name
    }

    /// The type patterns.
    pub fn patterns(&self) -> &[TypePattern] {
        &self.patterns
    }

    /// Whether this subscriber wants the event.
    pub fn wants(&self, e: &Event) -> bool {
        self.patterns.iter().any(|p| p.matches(&e.event_type))
    }
}
