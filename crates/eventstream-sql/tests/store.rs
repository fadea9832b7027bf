//! The state store against real databases: every case runs on SQLite (own temp dir) and on PostgreSQL
//! (own schema). See `helpers` for where PostgreSQL is looked for and what happens when it is missing.

#![allow(clippy::unwrap_used)]

mod helpers;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use eventstream_core::{DecodeError, EventId};
use eventstream_sql::sqlx::{self, Row};
use eventstream_sql::{
    DEFAULT_PROCESSED_RETENTION, DeadLetterFilter, DeadLetterKind, DeadLetterStatus, EventKey, ForgetScope, MIGRATIONS_TABLE, MigrationSet,
    NewDeadLetter, ProcessedRecord, StateStore, StoreError, StoreKind, StoreOptions,
};
use helpers::{Backend, TestDb, event, group, pos, tenant, tenant_event};

/// Generates one `#[tokio::test]` per case and database, named `<file>::sqlite::<case>` and
/// `<file>::postgres::<case>`; each case is a function `async fn <case>(db: TestDb)` of the calling file.
macro_rules! on_both_databases {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(db) = crate::helpers::TestDb::open(crate::helpers::Backend::Sqlite, stringify!($case)).await {
                        super::$case(db).await;
                    }
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(db) = crate::helpers::TestDb::open(crate::helpers::Backend::Postgres, stringify!($case)).await {
                        super::$case(db).await;
                    }
                }
            )+
        }
    };
}

#[path = "store/connect.rs"]
mod connect;
#[path = "store/dead_letters.rs"]
mod dead_letters;
#[path = "store/dedup.rs"]
mod dedup;
#[path = "store/leases.rs"]
mod leases;
#[path = "store/migrations.rs"]
mod migrations;
#[path = "store/outbox.rs"]
mod outbox;
#[path = "store/retry.rs"]
mod retry;
#[path = "store/tenants.rs"]
mod tenants;

pub(crate) fn record(subscriber: &str, position: &str, e: &eventstream_core::Event) -> ProcessedRecord {
    ProcessedRecord::for_event(&group(subscriber), "brain:events:stream", &pos(position), e)
}

pub(crate) async fn mark(store: &StateStore, rec: &ProcessedRecord) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let fresh = tx.mark_processed(rec).await?;
    tx.commit().await?;
    Ok(fresh)
}

/// Compile-time check: every future of the public API can be spawned on a multi-threaded runtime.
#[allow(dead_code, clippy::let_underscore_future)]
fn public_futures_are_send(store: StateStore, mut tx: eventstream_sql::Tx) {
    fn send<T: Send>(_: T) {}
    let (g, id) = (group("g"), EventId::new());
    let e = [event("task.created")];
    let rec = record("g", "1", &e[0]);
    let dl = NewDeadLetter::for_event(&g, "s", &pos("1"), &e[0], DeadLetterKind::Permanent, "x", 1);
    send(StateStore::connect("sqlite::memory:"));
    send(store.begin());
    send(store.ping());
    send(store.is_processed(&g, None, &id));
    send(store.forget_processed(&g, ForgetScope::All));
    send(store.purge_processed_older_than(DEFAULT_PROCESSED_RETENTION));
    send(store.add_dead_letter(&dl));
    send(store.list_dead_letters(&DeadLetterFilter::default()));
    send(store.get_dead_letter(eventstream_sql::DeadLetterId(1)));
    send(store.mark_dead_letter_retried(eventstream_sql::DeadLetterId(1)));
    send(store.dead_letter_counts(None));
    send(store.outbox_insert_batch(&e));
    send(store.outbox_fetch(1));
    send(store.outbox_delete(&[]));
    send(store.outbox_record_failure(&[], "x"));
    send(store.outbox_stats());
    send(store.outbox_claim(1));
    send(eventstream_sql::Lease::new(store.clone(), "j", "h", Duration::from_secs(1)).try_acquire());
    send(store.replicas());
    send(store.record_retry_failure(&g, &EventKey::of(&e[0]), "x"));
    send(store.retry_state(&g, &EventKey::of(&e[0])));
    send(tx.mark_processed(&rec));
    send(tx.outbox_insert(&e));
    send(tx.add_dead_letter(&dl));
    send(tx.clear_retry_state(&g, &EventKey::of(&e[0])));
    send(tx.commit());
}
