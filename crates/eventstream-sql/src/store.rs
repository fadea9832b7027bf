//! The state store handle: connecting to SQLite or PostgreSQL, migrating the schema, transactions.
//!
//! One [`sqlx::AnyPool`] serves both databases, so module and handler SQL is written once with `$1`
//! placeholders. What differs between the two lives here: connection set-up (SQLite file creation, WAL,
//! busy timeout; PostgreSQL schema and `search_path`), the migration files, and how a write transaction
//! starts (`BEGIN IMMEDIATE` on SQLite, so two writers queue on the busy timeout instead of one failing
//! when it upgrades its read lock).

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, AssertSqlSafe, Connection, SqlSafeStr, Transaction};

use crate::error::StoreError;

/// Which database a [`StateStore`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A SQLite file (the default, in the data directory) or an in-memory database.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

impl StoreKind {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }

    /// The kind a connection URL names.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] for any scheme other than `sqlite:`, `postgres:` or `postgresql:`.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(StoreKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreKind::Postgres)
        } else {
            Err(StoreError::InvalidUrl { reason: "the scheme must be sqlite:, postgres:// or postgresql://" })
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a SQLite connection waits for another writer before giving up with a (transient) busy error.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 15_000;

/// The name of the table recording applied migrations. Not sqlx's default, so that a module running its
/// own sqlx migrations in the same database does not mix version numbers with ours.
pub const MIGRATIONS_TABLE: &str = "eventstream_migrations";

/// A crate's versioned migrations for [`StateStore::migrate_set`]: (version, description, SQLite SQL,
/// PostgreSQL SQL), oldest first.
pub type MigrationSet = &'static [(i64, &'static str, &'static str, &'static str)];

/// The state store's schema versions, oldest first.
const MIGRATIONS: MigrationSet = &[
    (
        1,
        "state store: processed_events, dead_letters, outbox, retry_state",
        include_str!("../migrations/sqlite/0001_state_store.sql"),
        include_str!("../migrations/postgres/0001_state_store.sql"),
    ),
    (
        2,
        "inbox keyed by (subscriber, tenant, event id)",
        include_str!("../migrations/sqlite/0002_inbox_per_tenant.sql"),
        include_str!("../migrations/postgres/0002_inbox_per_tenant.sql"),
    ),
    (
        3,
        "one open dead letter per (subscriber, tenant, event id)",
        include_str!("../migrations/sqlite/0003_dead_letters_per_tenant.sql"),
        include_str!("../migrations/postgres/0003_dead_letters_per_tenant.sql"),
    ),
    (
        4,
        "retry state per (subscriber, tenant, event id)",
        include_str!("../migrations/sqlite/0004_retry_state_per_tenant.sql"),
        include_str!("../migrations/postgres/0004_retry_state_per_tenant.sql"),
    ),
    (
        5,
        "leases and the replica registry",
        include_str!("../migrations/sqlite/0005_leases_and_replicas.sql"),
        include_str!("../migrations/postgres/0005_leases_and_replicas.sql"),
    ),
    (
        6,
        "leaner inbox indexes; processed counts kept per subscriber and type",
        include_str!("../migrations/sqlite/0006_lean_inbox_and_counts.sql"),
        include_str!("../migrations/postgres/0006_lean_inbox_and_counts.sql"),
    ),
];

/// Options for [`StateStore::connect_with`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    schema: Option<String>,
    max_connections: Option<u32>,
    acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { schema: None, max_connections: None, acquire_timeout: Duration::from_secs(30) }
    }
}

impl StoreOptions {
    /// PostgreSQL only: keep every table in this schema (created if missing; it becomes the only entry of
    /// the connections' `search_path`). Used for per-test isolation and for several deployments sharing
    /// one database. The name must be 1 to 63 characters of `[a-z0-9_]` starting with a letter or `_`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The pool size. Defaults: 8 for a SQLite file, 1 for in-memory SQLite (each connection would
    /// otherwise see its own empty database), 10 for PostgreSQL.
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n.max(1));
        self
    }

    /// How long a call waits for a free pooled connection before failing with a transient error
    /// (default 30 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
}

/// The state store: inbox (dedup), dead letters, outbox and retry state on SQLite or PostgreSQL.
///
/// A cheap handle: clones share one connection pool. Every method that writes more than one row does so
/// in one transaction. Handler code that needs its writes to commit together with the dedup row takes a
/// [`Tx`] from [`StateStore::begin`].
#[derive(Clone)]
pub struct StateStore {
    pool: AnyPool,
    kind: StoreKind,
    schema: Option<Arc<str>>,
    sqlite_file: Option<Arc<Path>>,
}

impl fmt::Debug for StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStore").field("kind", &self.kind).field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl StateStore {
    /// Connects to `url` and applies any pending migrations.
    ///
    /// - `sqlite://path/to/state.db` (or `sqlite:path`): the file and its directory are created if
    ///   missing; the database runs in WAL mode with a busy timeout. `sqlite::memory:` gives a private
    ///   in-memory database on a single connection.
    /// - `postgres://user@host:port/db` (or `postgresql://`): any options the driver accepts.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`] for an unknown scheme, [`StoreError::Unavailable`] when the database
    /// cannot be reached, [`StoreError::Io`] when the SQLite directory cannot be created,
    /// [`StoreError::Migrate`] when the schema cannot be brought up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    /// [`StateStore::connect`] with options (PostgreSQL schema, pool size, acquire timeout).
    ///
    /// # Errors
    /// As [`StateStore::connect`]; also [`StoreError::InvalidSchema`] for a bad schema name and
    /// [`StoreError::InvalidUrl`] when a schema is asked of SQLite.
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let store = match StoreKind::from_url(url)? {
            StoreKind::Sqlite => Self::open_sqlite(url, &options).await?,
            StoreKind::Postgres => Self::open_postgres(url, &options).await?,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn open_sqlite(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        if options.schema.is_some() {
            return Err(StoreError::InvalidUrl { reason: "a schema can only be chosen on PostgreSQL" });
        }
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        let (db, params) = rest.split_once('?').unwrap_or((rest, ""));
        if db.is_empty() {
            return Err(StoreError::InvalidUrl { reason: "a SQLite URL needs a file path or :memory:" });
        }
        let memory = db == ":memory:" || params.split('&').any(|p| p == "mode=memory");
        let has_mode = params.split('&').any(|p| p.starts_with("mode="));
        let params = match (has_mode, params.is_empty()) {
            (true, _) => params.to_owned(),
            (false, true) => "mode=rwc".to_owned(),
            (false, false) => format!("{params}&mode=rwc"),
        };
        // `sqlite:<path>` rather than `sqlite://<path>`: the URL parser would read a relative path's first
        // segment as a host name.
        let url = format!("sqlite:{db}?{params}");

        let mut sqlite_file = None;
        if !memory {
            let path = percent_decode(db);
            sqlite_file = Some(Arc::from(Path::new(&path)));
            if let Some(dir) = Path::new(&path).parent().filter(|d| !d.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(dir).await.map_err(StoreError::Io)?;
            }
            // SQLite creates a file with the umask's mode (0644 usually) and its `-wal`/`-shm` files with
            // the database file's mode: creating it 0600 first keeps all three private.
            if params.split('&').any(|p| p == "mode=rwc") {
                eventstream_core::fs::create_private_file(Path::new(&path)).map_err(StoreError::Io)?;
            }
            switch_to_wal(&url).await?;
        }

        // No ping before each acquire: a local file does not go away, and the ping was one more hand-off to
        // the connection's worker thread per transaction.
        let mut pool = sqlx::any::AnyPoolOptions::new().acquire_timeout(options.acquire_timeout).test_before_acquire(false).after_connect(
            |conn, _meta| {
                Box::pin(async move {
                    let pragmas = format!(
                        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON"
                    );
                    sqlx::raw_sql(AssertSqlSafe(pragmas)).execute(conn).await?;
                    Ok(())
                })
            },
        );
        pool = if memory {
            // The database lives as long as its one connection: keep it open.
            pool.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None)
        } else {
            pool.max_connections(options.max_connections.unwrap_or(8))
        };
        let pool = pool.connect(&url).await.map_err(|e| StoreError::sqlx("opening the SQLite database", e))?;
        // No in-process write turn: it starved other processes on the same file (a second replica, a CLI
        // command while the server is busy), whose busy handler sleeps while this process hands the lock
        // from one transaction to the next (the Redis kill test of two replicas on one SQLite file).
        Ok(Self { pool, kind: StoreKind::Sqlite, schema: None, sqlite_file })
    }

    async fn open_postgres(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let schema: Option<Arc<str>> = match &options.schema {
            None => None,
            Some(name) => {
                check_schema_name(name)?;
                Some(Arc::from(name.as_str()))
            }
        };
        // One plain connection first: it fails fast with the driver's own error when the server is down
        // (a pool would retry until its acquire timeout), and creates the schema.
        let mut conn = AnyConnection::connect(url).await.map_err(|e| StoreError::sqlx("connecting to PostgreSQL", e))?;
        if let Some(schema) = &schema {
            // The name was checked to be a plain identifier, so quoting it is enough.
            let ddl = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
            match sqlx::raw_sql(AssertSqlSafe(ddl)).execute(&mut conn).await {
                Ok(_) => {}
                // Two processes creating the schema at once: the loser's IF NOT EXISTS check raced the
                // winner's insert into the catalog. The schema exists, which is all we need.
                Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("23505" | "42P06")) => {}
                Err(e) => return Err(StoreError::sqlx("creating the PostgreSQL schema", e)),
            }
        }
        conn.close().await.map_err(|e| StoreError::sqlx("connecting to PostgreSQL", e))?;
        let set_path = schema.as_ref().map(|s| Arc::<str>::from(format!("SET search_path TO \"{s}\"")));
        // No ping before each acquire (one round trip per transaction saved): a connection the server
        // dropped fails its first statement instead, which callers already treat as transient
        // ([`StoreError::is_transient`]); sqlx also tests each connection as it is released to the pool.
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(options.max_connections.unwrap_or(10))
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                let set_path = set_path.clone();
                Box::pin(async move {
                    if let Some(sql) = set_path {
                        sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_lazy(url)
            .map_err(|e| StoreError::sqlx("connecting to PostgreSQL", e))?;
        Ok(Self { pool, kind: StoreKind::Postgres, schema, sqlite_file: None })
    }

    /// Applies the state store's own migrations: one set like any other, through [`StateStore::migrate_set`].
    async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_set(MIGRATIONS_TABLE, MIGRATIONS).await?;
        tracing::debug!(kind = %self.kind, schema = ?self.schema, "state store schema is up to date");
        Ok(())
    }

    /// The one migration runner: applies the migrations of `set` the database has not seen, recording them
    /// in `table`. Every crate that owns tables keeps its own set and table (the state store's is
    /// [`MIGRATIONS_TABLE`]), so version numbers never mix. `set` is (version, description, SQLite SQL,
    /// PostgreSQL SQL), oldest first; each entry may hold several `;`-separated statements and runs in one
    /// transaction. An applied migration must never change: its checksum is checked on every start.
    ///
    /// Safe when several processes start at once: on PostgreSQL the runner holds sqlx's advisory lock
    /// while it checks and applies; on SQLite it holds the write lock (`BEGIN IMMEDIATE`), and the
    /// migrations' own transactions become savepoints inside it.
    ///
    /// For adopting tables that an earlier version created without migrations, write the first migration
    /// with `IF NOT EXISTS`, and add columns with `ALTER TABLE <t> ADD COLUMN IF NOT EXISTS <c> <type>`
    /// (PostgreSQL syntax). SQLite lacks that form, so there the runner checks the column under the lock
    /// (`pragma_table_info`) right before the migration runs, and drops the statement when the column
    /// exists or runs it without `IF NOT EXISTS` when it does not. The checksum is always that of the SQL
    /// as written.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be locked, [`StoreError::Migrate`] when a
    /// migration fails or an applied one was changed.
    pub async fn migrate_set(&self, table: &'static str, set: MigrationSet) -> Result<(), StoreError> {
        match self.kind {
            StoreKind::Postgres => {
                // `run_direct` on a concrete connection rather than `run(&pool)`: the generic `Acquire`
                // bound of `run` makes the future not `Send` for every lifetime, so `connect` could not be
                // spawned.
                let mut conn = self.acquire().await?;
                let migrator = migrator(table, set.iter().map(|&(v, d, _, postgres)| migration(v, d, postgres)).collect());
                if let Err(e) = migrator.run_direct(None, &mut *conn, false).await {
                    // A failed run returns before sqlx releases its session-level advisory lock: close the
                    // connection instead of handing it back to the pool still holding the lock.
                    conn.close_on_drop();
                    return Err(StoreError::Migrate(e));
                }
            }
            StoreKind::Sqlite => {
                let mut tx =
                    self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(|e| StoreError::sqlx("locking the database for migration", e))?;
                // One version at a time, so that an `ADD COLUMN IF NOT EXISTS` is resolved against the
                // schema the earlier migrations left. Every run sees the whole set (sqlx refuses a database
                // holding versions it does not know) and stops at its target.
                for (i, &(version, _, sql, _)) in set.iter().enumerate() {
                    let mut migrations: Vec<Migration> = set.iter().map(|&(v, d, sqlite, _)| migration(v, d, sqlite)).collect();
                    if let Some(resolved) = resolve_add_columns(&mut tx, sql).await? {
                        migrations[i].sql = AssertSqlSafe(resolved).into_sql_str();
                    }
                    migrator(table, migrations).run_direct(Some(version), &mut *tx, false).await.map_err(StoreError::Migrate)?;
                }
                tx.commit().await.map_err(|e| StoreError::sqlx("committing the migration", e))?;
            }
        }
        Ok(())
    }

    /// Which database this store runs on.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The PostgreSQL schema the tables live in, when one was chosen.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The SQLite database file (`None` on PostgreSQL and for `sqlite::memory:`), for bulk readers that
    /// open their own read-only connection (the audit verifier) instead of decoding rows through the pool.
    pub fn sqlite_file(&self) -> Option<&Path> {
        self.sqlite_file.as_deref()
    }

    /// The connection pool, for module SQL that does not need the inbox transaction. Write SQL with `$1`
    /// placeholders; it then runs on both databases.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction. Everything written through it (the handler's own SQL via [`Tx::conn`], the
    /// dedup row, outbox rows, dead letters) commits together on [`Tx::commit`]; dropping it without
    /// committing rolls all of it back.
    ///
    /// On SQLite the transaction takes the write lock at once (`BEGIN IMMEDIATE`), so concurrent writers
    /// queue for up to the busy timeout instead of failing on a lock upgrade.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when no connection can be had or the write lock is not granted in time.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match self.kind {
            StoreKind::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            StoreKind::Postgres => self.pool.begin().await,
        }
        .map_err(|e| StoreError::sqlx("starting a transaction", e))?;
        Ok(Tx { inner, kind: self.kind })
    }

    /// A pooled connection, for single-statement operations.
    pub(crate) async fn acquire(&self) -> Result<PoolConnection<Any>, StoreError> {
        self.pool.acquire().await.map_err(|e| StoreError::sqlx("acquiring a connection", e))
    }

    /// Checks that the database answers (for readiness probes).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        conn.ping().await.map_err(|e| StoreError::sqlx("pinging the database", e))
    }

    /// Closes the pool: waits for checked-out connections to come back and closes them all.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A state store transaction. See [`StateStore::begin`].
///
/// Dropping a `Tx` without [`Tx::commit`] rolls it back.
pub struct Tx {
    inner: Transaction<'static, Any>,
    kind: StoreKind,
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl Tx {
    /// The transaction's connection, for the handler's own SQL (`sqlx::query("... $1 ...").execute(tx.conn())`).
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    /// Which database the transaction runs on, for the rare statement that must differ.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// Commits everything written in the transaction.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Query`]; the transaction is then rolled back and
    /// nothing of it is stored.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await.map_err(|e| StoreError::sqlx("committing a transaction", e))
    }

    /// Rolls the transaction back explicitly (dropping it does the same, without waiting).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the connection failed; the database then discards the
    /// transaction itself.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.inner.rollback().await.map_err(|e| StoreError::sqlx("rolling back a transaction", e))
    }
}

/// Builds a `sqlite://` URL for a database file, escaping the characters a URL would misread.
pub fn sqlite_url(path: &Path) -> String {
    let mut out = String::from("sqlite://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// A migration as written: its checksum is that of `sql`, whatever the runner later executes.
fn migration(version: i64, description: &'static str, sql: &'static str) -> Migration {
    Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, sql.into_sql_str(), false)
}

fn migrator(table: &'static str, migrations: Vec<Migration>) -> Migrator {
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(table);
    migrator
}

/// The words that make an `ALTER TABLE` tolerate an existing column on PostgreSQL.
const ADD_COLUMN_IF_NOT_EXISTS: [&str; 5] = ["ADD", "COLUMN", "IF", "NOT", "EXISTS"];

/// SQLite's reading of `sql`'s `ALTER TABLE <t> ADD COLUMN IF NOT EXISTS <c> <type>` statements: each is
/// dropped when `<t>` already has `<c>` and loses its `IF NOT EXISTS` otherwise. `None` when `sql` has no
/// such statement (it runs as written). Only those statements are touched; each ends at the next `;`.
async fn resolve_add_columns(conn: &mut AnyConnection, sql: &str) -> Result<Option<String>, StoreError> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("IF NOT EXISTS") || !upper.contains("ALTER TABLE") {
        return Ok(None);
    }
    let mut out = String::with_capacity(sql.len());
    let mut changed = false;
    let mut rest = 0;
    while let Some(found) = upper[rest..].find("ALTER TABLE") {
        let start = rest + found;
        let end = upper[start..].find(';').map_or(sql.len(), |i| start + i + 1);
        let statement = sql[start..end].trim_end_matches(';');
        out.push_str(&sql[rest..start]);
        rest = end;
        let words: Vec<&str> = statement.split_whitespace().collect();
        let is_add_if_missing = words.len() > 9 && words[3..8].iter().zip(ADD_COLUMN_IF_NOT_EXISTS).all(|(w, k)| w.eq_ignore_ascii_case(k));
        if !is_add_if_missing {
            out.push_str(&sql[start..end]);
            continue;
        }
        changed = true;
        let (table, column) = (words[2], words[8]);
        let exists = sqlx::query("SELECT 1 FROM pragma_table_info($1) WHERE name = $2")
            .bind(table.to_owned())
            .bind(column.to_owned())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| StoreError::sqlx("reading a table's columns for migration", e))?
            .is_some();
        if !exists {
            out.push_str(&format!("ALTER TABLE {table} ADD COLUMN {column} {};", words[9..].join(" ")));
        }
    }
    out.push_str(&sql[rest..]);
    Ok(changed.then_some(out))
}

fn check_schema_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok { Ok(()) } else { Err(StoreError::InvalidSchema { name: name.to_owned() }) }
}

/// Puts a SQLite file in WAL mode (a property of the file: done once, before the pool opens
/// connections concurrently). Switching needs the file's exclusive lock, which another process (or
/// another store opening the same fresh file) may hold for a moment; SQLite reports that as "database
/// is locked" without consulting the busy handler, so it is retried here for up to the busy timeout.
async fn switch_to_wal(url: &str) -> Result<(), StoreError> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(u64::from(SQLITE_BUSY_TIMEOUT_MS));
    let mut conn = AnyConnection::connect(url).await.map_err(|e| StoreError::sqlx("opening the SQLite database", e))?;
    let pragmas = format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}");
    sqlx::raw_sql(AssertSqlSafe(pragmas)).execute(&mut conn).await.map_err(|e| StoreError::sqlx("opening the SQLite database", e))?;
    let mut pause = Duration::from_millis(5);
    loop {
        match sqlx::raw_sql("PRAGMA journal_mode = WAL").execute(&mut conn).await {
            Ok(_) => break,
            Err(sqlx::Error::Database(e)) if sqlite_busy(e.code().as_deref()) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(StoreError::sqlx("switching SQLite to WAL mode", e)),
        }
    }
    conn.close().await.map_err(|e| StoreError::sqlx("opening the SQLite database", e))
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6), extended codes included (their low byte is the primary code).
fn sqlite_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<u32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Decodes `%XX` escapes in the path part of a SQLite URL (the driver does the same when it opens it).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_kind() {
        assert_eq!(StoreKind::from_url("sqlite://x.db").ok(), Some(StoreKind::Sqlite));
        assert_eq!(StoreKind::from_url("sqlite::memory:").ok(), Some(StoreKind::Sqlite));
        assert_eq!(StoreKind::from_url("postgres://u@h/db").ok(), Some(StoreKind::Postgres));
        assert_eq!(StoreKind::from_url("postgresql://u@h/db").ok(), Some(StoreKind::Postgres));
        assert!(StoreKind::from_url("mysql://u@h/db").is_err());
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        for ok in ["t_0123abc", "_x", "brain"] {
            assert!(check_schema_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "a-b", "A", "a\"; drop", &"x".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sqlite_paths_round_trip_through_urls() {
        let path = Path::new("/tmp/a b/50%?#.db");
        let url = sqlite_url(path);
        assert_eq!(url, "sqlite:///tmp/a b/50%25%3F%23.db");
        assert_eq!(percent_decode(url.trim_start_matches("sqlite://")), "/tmp/a b/50%?#.db");
    }
}
