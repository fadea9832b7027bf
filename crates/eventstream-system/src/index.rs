//! The event index: every event of the log as a row of the `events` table in the state store, so the
//! history API filters (type, tenant, correlation, ...) in SQL and pages with a cursor.
//!
//! A system subscriber (`event_index`, patterns `*`) inserts each event inside its inbox transaction, so a
//! row exists exactly once per (tenant, event id) however often the log redelivers it. Event ids are
//! unique per tenant only: two tenants may use the same id, and each gets its own row (`tenant_id` is `''`
//! for a tenantless event, since SQL's UNIQUE treats NULLs as distinct). Events published through
//! the HTTP API are also inserted right after the append (read-your-writes); the subscriber then finds the
//! row and leaves it.
//!
//! # Order: `seq` is commit-ordered
//! Readers page by `seq` (`GET /api/events` cursors, the SSE tail), so a row must never become visible
//! with a `seq` below one a reader has already passed. An identity column does not give that on
//! PostgreSQL: its value is taken at INSERT and becomes visible at COMMIT, so a long chunk transaction
//! of the subscriber (or another replica's) commits rows *behind* a reader that already moved past them.
//! Instead every writer takes `seq` from the one-row counter `event_index_seq` with
//! `UPDATE ... SET v = v + 1 ... RETURNING v` inside its inserting transaction. The row lock serialises
//! the writers until COMMIT (PostgreSQL releases it only after the commit is visible; SQLite writers are
//! serialised by `BEGIN IMMEDIATE`), and a rolled-back transaction gives its numbers back. So when a
//! reader sees `seq = s`, every lower `seq` is committed or never existed: a cursor never skips. The
//! index order is thereby the order in which events were indexed (commit order), not the log's order.
//!
//! Columns: `seq`, `position`, `id` (unique with `tenant_id`), `event_type`, `source`, `tenant_id`, `correlation_id`,
//! `mission_id`, `task_id`, `actor_id`, `target`, `event_time` (the envelope timestamp, ms), `indexed_at`
//! (ms), `body` (canonical JSON). (`event_type`/`event_time` rather than `type`/`timestamp`: keywords.)
//! Tables created by earlier versions (with `seq` as an identity column) keep working: `seq` is always
//! given explicitly, and the counter starts at their largest `seq`.
//!
//! Live readers (SSE) wait on [`EventIndex::changes`], which is bumped after every insert.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use eventstream::{Handler, HandlerContext, HandlerError, Subscription, SubscriptionOptions};
use eventstream_core::{Event, GroupName, Position, Source, StartFrom, TenantId, TypePattern};
use eventstream_sql::sqlx::{self, AnyConnection, AssertSqlSafe, Row};
use eventstream_sql::{StateStore, StoreError};
use tokio::sync::watch;

/// The name of the index subscriber (its consumer group).
pub const INDEX_SUBSCRIBER: &str = "event_index";

/// Filters of a history query; every condition that is set must hold.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Any of these type patterns (empty = all types).
    pub types: Vec<TypePattern>,
    /// Exact source.
    pub source: Option<Source>,
    /// Only this tenant's events (always set for non-admin callers).
    pub tenant: Option<TenantId>,
    /// Exact correlation id.
    pub correlation_id: Option<String>,
    /// Exact mission id.
    pub mission_id: Option<String>,
    /// Exact task id.
    pub task_id: Option<String>,
    /// Exact actor id.
    pub actor_id: Option<String>,
    /// Exact target (agent).
    pub target: Option<String>,
    /// Envelope timestamp at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Envelope timestamp strictly before this instant.
    pub until: Option<DateTime<Utc>>,
}

/// One indexed event.
#[derive(Debug, Clone)]
pub struct IndexedEvent {
    /// Its row number (the cursor).
    pub seq: i64,
    /// Its log position.
    pub position: String,
    /// The canonical JSON envelope.
    pub body: String,
}

/// A bound value of a dynamically built query.
enum Bind {
    Text(String),
    Int(i64),
}

/// The table recording which of the index's migrations ran.
pub const MIGRATIONS_TABLE: &str = "_event_index_migrations";

/// The index's versioned migrations (version, description, SQLite, PostgreSQL), oldest first. Version 1
/// is written with `IF NOT EXISTS` so stores whose tables an earlier version created ad hoc adopt it.
const MIGRATIONS: &[(i64, &str, &str, &str)] =
    &[(1, "events index", EVENTS_V1, EVENTS_V1), (2, "events unique per (tenant, id)", EVENTS_V2, EVENTS_V2)];

/// The `events` table, its indexes and the commit-ordered counter (the same SQL on both databases).
const EVENTS_V1: &str = "CREATE TABLE IF NOT EXISTS events (
                seq            BIGINT NOT NULL PRIMARY KEY,
                position       TEXT NOT NULL,
                id             TEXT NOT NULL UNIQUE,
                event_type     TEXT NOT NULL,
                source         TEXT NOT NULL,
                tenant_id      TEXT,
                correlation_id TEXT,
                mission_id     TEXT,
                task_id        TEXT,
                actor_id       TEXT,
                target         TEXT,
                event_time     BIGINT NOT NULL,
                indexed_at     BIGINT NOT NULL,
                body           TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS idx_events_type ON events (event_type, seq);
            CREATE INDEX IF NOT EXISTS idx_events_tenant ON events (tenant_id, seq);
            CREATE INDEX IF NOT EXISTS idx_events_correlation ON events (correlation_id);
            CREATE INDEX IF NOT EXISTS idx_events_mission ON events (mission_id);
            CREATE INDEX IF NOT EXISTS idx_events_task ON events (task_id);
            CREATE INDEX IF NOT EXISTS idx_events_time ON events (event_time);
            CREATE INDEX IF NOT EXISTS idx_events_position ON events (position);
            CREATE TABLE IF NOT EXISTS event_index_seq (name TEXT PRIMARY KEY, v BIGINT NOT NULL);
            INSERT INTO event_index_seq (name, v) SELECT 'events', COALESCE(MAX(seq), 0) FROM events WHERE 1 = 1
                ON CONFLICT (name) DO NOTHING";

/// Version 2: ids are unique per tenant. The table is rebuilt (SQLite cannot drop the column constraint
/// `UNIQUE` of `id`) with `UNIQUE (tenant_id, id)`, `tenant_id` NOT NULL (`''` for a tenantless event;
/// existing NULLs become `''`), the same `seq`s, indexes and counter. The same SQL on both databases.
const EVENTS_V2: &str = "CREATE TABLE events_v2 (
                seq            BIGINT NOT NULL PRIMARY KEY,
                position       TEXT NOT NULL,
                id             TEXT NOT NULL,
                event_type     TEXT NOT NULL,
                source         TEXT NOT NULL,
                tenant_id      TEXT NOT NULL DEFAULT '',
                correlation_id TEXT,
                mission_id     TEXT,
                task_id        TEXT,
                actor_id       TEXT,
                target         TEXT,
                event_time     BIGINT NOT NULL,
                indexed_at     BIGINT NOT NULL,
                body           TEXT NOT NULL,
                CONSTRAINT uq_events_tenant_id UNIQUE (tenant_id, id)
            );
            INSERT INTO events_v2 (seq, position, id, event_type, source, tenant_id, correlation_id, mission_id, task_id,
                actor_id, target, event_time, indexed_at, body)
                SELECT seq, position, id, event_type, source, COALESCE(tenant_id, ''), correlation_id, mission_id, task_id,
                    actor_id, target, event_time, indexed_at, body
                FROM events;
            DROP TABLE events;
            ALTER TABLE events_v2 RENAME TO events;
            CREATE INDEX idx_events_id ON events (id);
            CREATE INDEX idx_events_type ON events (event_type, seq);
            CREATE INDEX idx_events_tenant ON events (tenant_id, seq);
            CREATE INDEX idx_events_correlation ON events (correlation_id);
            CREATE INDEX idx_events_mission ON events (mission_id);
            CREATE INDEX idx_events_task ON events (task_id);
            CREATE INDEX idx_events_time ON events (event_time);
            CREATE INDEX idx_events_position ON events (position)";

/// The `tenant_id` column's value: the tenant, or `''` for a tenantless event.
fn tenant_column(tenant: Option<&TenantId>) -> &str {
    tenant.map_or("", TenantId::as_str)
}

/// The index: its table, live-change signal and per-type counters.
#[derive(Debug)]
pub struct EventIndex {
    store: StateStore,
    changed: watch::Sender<u64>,
    /// Events the index saw, by type (the `published` metric).
    seen_by_type: Mutex<BTreeMap<String, u64>>,
}

impl EventIndex {
    /// Applies the index's migrations (the `events` table, its indexes, the counter).
    ///
    /// # Errors
    /// The state store fails.
    pub async fn open(store: StateStore) -> Result<Arc<Self>, StoreError> {
        store.migrate_set(MIGRATIONS_TABLE, MIGRATIONS).await?;
        let (changed, _) = watch::channel(0);
        Ok(Arc::new(Self { store, changed, seen_by_type: Mutex::new(BTreeMap::new()) }))
    }

    /// The subscriber that fills the index from the log.
    pub fn subscription(self: &Arc<Self>) -> Result<Subscription, eventstream_core::InvalidId> {
        let name: GroupName = INDEX_SUBSCRIBER.parse()?;
        let options =
            SubscriptionOptions { concurrency: 1, batch_size: 256, start: StartFrom::Beginning, ..SubscriptionOptions::default() };
        Ok(Subscription::new(name, vec![TypePattern::all()], IndexHandler { index: self.clone() }).with_options(options))
    }

    /// Inserts an event just published through the API (its row then exists before the subscriber gets
    /// to it), and wakes live readers.
    ///
    /// # Errors
    /// The state store fails (the subscriber still indexes the event later).
    pub async fn insert_published(&self, position: &Position, event: &Event) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        insert(tx.conn(), position, event).await?;
        tx.commit().await?;
        self.bump();
        Ok(())
    }

    /// A receiver that changes after every insert.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Events seen by the index subscriber in this process, by type.
    pub fn seen_by_type(&self) -> BTreeMap<String, u64> {
        self.seen_by_type.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Up to `limit` events matching `filter` with `seq > after`, oldest first.
    ///
    /// # Errors
    /// The state store fails.
    pub async fn page(&self, filter: &EventFilter, after: Option<i64>, limit: u32) -> Result<Vec<IndexedEvent>, StoreError> {
        let mut sql = String::from("SELECT seq, position, body FROM events WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        // Only fixed SQL and `$n` placeholders go into the text; every value is bound.
        let push = |sql: &mut String, binds: &mut Vec<Bind>, cond: &str, value: Bind| {
            binds.push(value);
            sql.push_str(&cond.replace("$?", &format!("${}", binds.len())));
        };
        if !filter.types.is_empty() && !filter.types.iter().any(|p| p.as_str() == "*") {
            sql.push_str(" AND (");
            for (i, p) in filter.types.iter().enumerate() {
                if i > 0 {
                    sql.push_str(" OR ");
                }
                match p.prefix() {
                    // Types hold only [a-z0-9_.]: `_` is the one LIKE wildcard to escape.
                    Some(prefix) => {
                        push(&mut sql, &mut binds, "event_type LIKE $? ESCAPE '!'", Bind::Text(format!("{}%", prefix.replace('_', "!_"))))
                    }
                    None => push(&mut sql, &mut binds, "event_type = $?", Bind::Text(p.as_str().to_owned())),
                }
            }
            sql.push(')');
        }
        let text_filters = [
            ("source", filter.source.as_ref().map(|s| s.as_str().to_owned())),
            ("tenant_id", filter.tenant.as_ref().map(|t| t.as_str().to_owned())),
            ("correlation_id", filter.correlation_id.clone()),
            ("mission_id", filter.mission_id.clone()),
            ("task_id", filter.task_id.clone()),
            ("actor_id", filter.actor_id.clone()),
            ("target", filter.target.clone()),
        ];
        for (column, value) in text_filters {
            if let Some(v) = value {
                push(&mut sql, &mut binds, &format!(" AND {column} = $?"), Bind::Text(v));
            }
        }
        if let Some(t) = filter.since {
            push(&mut sql, &mut binds, " AND event_time >= $?", Bind::Int(t.timestamp_millis()));
        }
        if let Some(t) = filter.until {
            push(&mut sql, &mut binds, " AND event_time < $?", Bind::Int(t.timestamp_millis()));
        }
        if let Some(after) = after {
            push(&mut sql, &mut binds, " AND seq > $?", Bind::Int(after));
        }
        push(&mut sql, &mut binds, " ORDER BY seq LIMIT $?", Bind::Int(i64::from(limit)));

        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(n) => q.bind(n),
            };
        }
        let rows = q.fetch_all(self.store.pool()).await.map_err(|e| StoreError::sqlx("querying the event index", e))?;
        rows.iter().map(read_row).collect()
    }

    /// The event with `id` of `tenant`, if indexed. Without a tenant (an admin's view across tenants),
    /// the first indexed event with that id, whichever its tenant (ids are unique per tenant only).
    ///
    /// # Errors
    /// The state store fails.
    pub async fn get(&self, id: &str, tenant: Option<&TenantId>) -> Result<Option<IndexedEvent>, StoreError> {
        let row = match tenant {
            None => {
                sqlx::query("SELECT seq, position, body FROM events WHERE id = $1 ORDER BY seq LIMIT 1")
                    .bind(id)
                    .fetch_optional(self.store.pool())
                    .await
            }
            Some(t) => {
                sqlx::query("SELECT seq, position, body FROM events WHERE id = $1 AND tenant_id = $2")
                    .bind(id)
                    .bind(t.as_str())
                    .fetch_optional(self.store.pool())
                    .await
            }
        }
        .map_err(|e| StoreError::sqlx("reading the event index", e))?;
        row.as_ref().map(read_row).transpose()
    }

    /// The `seq` of the event indexed at `position`.
    ///
    /// # Errors
    /// The state store fails.
    pub async fn seq_of_position(&self, position: &Position) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MIN(seq) AS seq FROM events WHERE position = $1")
            .bind(position.as_str())
            .fetch_one(self.store.pool())
            .await
            .map_err(|e| StoreError::sqlx("reading the event index", e))?;
        row.try_get::<Option<i64>, _>("seq").map_err(|e| corrupt("seq", &e))
    }

    /// The newest `seq` (0 when empty).
    ///
    /// # Errors
    /// The state store fails.
    pub async fn head(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT MAX(seq) AS seq FROM events")
            .fetch_one(self.store.pool())
            .await
            .map_err(|e| StoreError::sqlx("reading the event index", e))?;
        let seq = row.try_get::<Option<i64>, _>("seq").map_err(|e| corrupt("seq", &e))?;
        Ok(seq.unwrap_or(0))
    }
}

fn corrupt(column: &'static str, e: &sqlx::Error) -> StoreError {
    StoreError::Corrupt { table: "events", row_id: -1, column, reason: e.to_string() }
}

fn read_row(row: &sqlx::any::AnyRow) -> Result<IndexedEvent, StoreError> {
    Ok(IndexedEvent {
        seq: row.try_get("seq").map_err(|e| corrupt("seq", &e))?,
        position: row.try_get("position").map_err(|e| corrupt("position", &e))?,
        body: row.try_get("body").map_err(|e| corrupt("body", &e))?,
    })
}

/// Inserts one event inside the caller's transaction, with the next commit-ordered `seq` (see the
/// module doc); an already indexed (tenant, id) is left as it is.
async fn insert(conn: &mut AnyConnection, position: &Position, event: &Event) -> Result<(), StoreError> {
    let tenant = tenant_column(event.tenant_id.as_ref());
    let indexed = sqlx::query("SELECT 1 AS one FROM events WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(event.id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| StoreError::sqlx("reading the event index", e))?;
    if indexed.is_some() {
        return Ok(());
    }
    // Locks the counter row until this transaction ends: the writers' seqs become visible in order.
    let row = sqlx::query("UPDATE event_index_seq SET v = v + 1 WHERE name = 'events' RETURNING v")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| StoreError::sqlx("taking the next event index seq", e))?;
    let seq: i64 = row.try_get("v").map_err(|e| corrupt("seq", &e))?;
    // A concurrent insert of the same (tenant, id) (it committed after the check) wins; the seq is then a gap.
    sqlx::query(
        "INSERT INTO events (seq, position, id, event_type, source, tenant_id, correlation_id, mission_id, task_id, \
         actor_id, target, event_time, indexed_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (tenant_id, id) DO NOTHING",
    )
    .bind(seq)
    .bind(position.as_str())
    .bind(event.id.as_str())
    .bind(event.event_type.as_str())
    .bind(event.source.as_str())
    .bind(tenant)
    .bind(event.correlation_id.as_deref())
    .bind(event.mission_id.as_deref())
    .bind(event.task_id.as_deref())
    .bind(event.actor_id.as_deref())
    .bind(event.target.as_deref())
    .bind(event.timestamp.timestamp_millis())
    .bind(Utc::now().timestamp_millis())
    .bind(event.to_json_string())
    .execute(conn)
    .await
    .map_err(|e| StoreError::sqlx("indexing an event", e))?;
    Ok(())
}

/// The index subscriber's handler.
struct IndexHandler {
    index: Arc<EventIndex>,
}

#[eventstream_core::async_trait]
impl Handler for IndexHandler {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        insert(ctx.tx.conn(), ctx.position, event).await?;
        if let Ok(mut m) = self.index.seen_by_type.lock() {
            *m.entry(event.event_type.as_str().to_owned()).or_insert(0) += 1;
        }
        // The row commits right after this returns; live readers re-poll briefly after a wake-up.
        self.index.bump();
        Ok(())
    }
}
