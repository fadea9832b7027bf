//! SQL shared by the modules' tables: the crate's migration set, named counters, and recognising
//! constraint violations. Every statement is written once with `$1` placeholders and runs on SQLite and PostgreSQL.

use eventstream::store::sqlx::{self, Row};
use eventstream::store::{MigrationSet, StoreError, Tx};

/// The table recording which of the crate's migrations ran.
pub const MIGRATIONS_TABLE: &str = "brain_modules_migrations";

/// The crate's versioned migrations, oldest first: the SQL files in `migrations/`, each the same on SQLite
/// and PostgreSQL (so one file serves both slots).
///
/// One set for the whole crate rather than one per module: the modules ship together, in one version of
/// this crate, and share a table (`module_counters`). The runner records each set in its own table and
/// takes the one per-database lock for each set, so per-module sets would buy thirteen migration tables
/// and thirteen lock round trips at every start, and nothing else. A module's new table or column is the
/// crate's next version here.
///
/// Version 1 is every table as the crate created it before it had migrations, written with
/// `IF NOT EXISTS` so that such a database adopts it unchanged; version 2 adds the mission lease columns,
/// which that crate added outside migrations too (`ADD COLUMN IF NOT EXISTS`); version 3 the tenants' turns
/// of the fair mission queue and the `delta` flag of DNA versions stored as changes; version 4 course_factory's
/// tables; version 5 course_distribution's.
pub(crate) const MIGRATIONS: MigrationSet = &[
    (1, "module tables", V1_MODULE_TABLES, V1_MODULE_TABLES),
    (2, "mission leases", V2_MISSION_LEASES, V2_MISSION_LEASES),
    (3, "fair queue and DNA changes", V3_FAIR_QUEUE_DNA_CHANGES, V3_FAIR_QUEUE_DNA_CHANGES),
    (4, "course_factory", V4_COURSE_FACTORY, V4_COURSE_FACTORY),
    (5, "course distribution", V5_COURSE_DISTRIBUTION, V5_COURSE_DISTRIBUTION),
];
const V1_MODULE_TABLES: &str = include_str!("../migrations/0001_module_tables.sql");
const V2_MISSION_LEASES: &str = include_str!("../migrations/0002_mission_leases.sql");
const V3_FAIR_QUEUE_DNA_CHANGES: &str = include_str!("../migrations/0003_fair_queue_and_dna_changes.sql");
const V4_COURSE_FACTORY: &str = include_str!("../migrations/0004_course_factory.sql");
const V5_COURSE_DISTRIBUTION: &str = include_str!("../migrations/0005_course_distribution.sql");

/// The next value of counter `name` (1, 2, ...), taken inside `tx` so it commits with the row using it.
/// The `UPDATE` locks the counter row on PostgreSQL; SQLite transactions are serialised already.
///
/// # Errors
/// The store's error.
pub(crate) async fn next_counter(tx: &mut Tx, name: &str) -> Result<i64, StoreError> {
    sqlx::query("INSERT INTO module_counters (name, value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING")
        .bind(name.to_owned())
        .execute(tx.conn())
        .await
        .map_err(|e| StoreError::sqlx("creating a counter", e))?;
    let row = sqlx::query("UPDATE module_counters SET value = value + 1 WHERE name = $1 RETURNING value")
        .bind(name.to_owned())
        .fetch_one(tx.conn())
        .await
        .map_err(|e| StoreError::sqlx("advancing a counter", e))?;
    row.try_get::<i64, _>(0).map_err(|e| StoreError::sqlx("reading a counter", e))
}

/// Whether a driver error is a unique-key violation (a concurrent insert of the same key).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Wraps a driver error raised while `context`.
pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::sqlx(context, e)
}
