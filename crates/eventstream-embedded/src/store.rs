//! The SQL of every operation, as plain functions on a connection or transaction. The async layer
//! (`log.rs`) decides which thread runs them; the transactions that hand out entries are `BEGIN
//! IMMEDIATE`, so two processes never deliver one entry twice to one group.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use eventstream_core::{ConsumerName, Delivery, Event, GroupInfo, GroupName, LogError, Position, Record, StartFrom};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::error::sql;

/// How long a consumer that holds nothing still counts in [`GroupInfo::consumers`] after its last read.
const CONSUMER_SEEN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// One event encoded for storage. Encoding happens in the caller's task, so the writer thread only writes.
#[derive(Debug)]
pub(crate) struct NewRow {
    pub(crate) event_id: String,
    pub(crate) event_type: String,
    pub(crate) tenant_id: Option<String>,
    pub(crate) body: String,
}

impl NewRow {
    /// The row of an event: its canonical JSON plus the columns used for filtering.
    pub(crate) fn encode(e: &Event) -> Result<Self, LogError> {
        let body = e.to_json_string();
        Ok(Self {
            event_id: e.id.to_string(),
            event_type: e.event_type.to_string(),
            tenant_id: e.tenant_id.as_ref().map(ToString::to_string),
            body,
        })
    }
}

/// Runs `f` (one claim or ack transaction) with `synchronous = NORMAL`, then restores `durability`.
///
/// Claims and acks are bookkeeping a power loss may undo without losing anything: a lost claim or ack
/// only redelivers entries, which consumers deduplicate. Under [`crate::Durability::Full`] they would
/// otherwise pay an fsync each on the thread that commits the appends. Ordering is kept: WAL frames are
/// written in order, and the next full commit's fsync covers the frames before it.
pub(crate) fn without_fsync<T>(
    conn: &mut Connection,
    durability: crate::Durability,
    f: impl FnOnce(&mut Connection) -> Result<T, LogError>,
) -> Result<T, LogError> {
    if durability == crate::Durability::Normal {
        return f(conn);
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL").map_err(|e| sql("relaxing durability for bookkeeping", e))?;
    let result = f(conn);
    let restored = conn.execute_batch(&format!("PRAGMA synchronous = {}", durability.pragma()));
    match (result, restored) {
        (r, Ok(())) => r,
        // Never leave the connection less durable than configured: fail, and let the next call retry.
        (_, Err(e)) => Err(sql("restoring durability", e)),
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn limit(max: usize) -> i64 {
    i64::try_from(max).unwrap_or(i64::MAX)
}

/// The sequence number of a position this backend issued.
pub(crate) fn parse_position(p: &Position) -> Result<i64, LogError> {
    let invalid = |reason: &str| LogError::InvalidPosition { position: p.to_string(), reason: reason.to_owned() };
    if !p.as_str().bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("the embedded log's positions are decimal sequence numbers"));
    }
    p.as_str().parse::<i64>().map_err(|_| invalid("out of range"))
}

/// The position of a sequence number.
pub(crate) fn position(seq: i64) -> Result<Position, LogError> {
    Position::try_from(seq.to_string()).map_err(|e| LogError::storage("a stored sequence number is not a position", e))
}

fn instant(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Starts a write transaction that takes the write lock at once (waiting up to the busy timeout).
pub(crate) fn write_tx(conn: &mut Connection) -> Result<Transaction<'_>, LogError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| sql("starting a write transaction", e))
}

/// Starts a read transaction: one consistent snapshot for several queries.
pub(crate) fn read_tx(conn: &mut Connection) -> Result<Transaction<'_>, LogError> {
    conn.transaction_with_behavior(TransactionBehavior::Deferred).map_err(|e| sql("starting a read transaction", e))
}

/// The newest entry's sequence number and append time, `(0, 0)` for an empty log.
pub(crate) fn last_entry(conn: &Connection) -> Result<(i64, i64), LogError> {
    conn.query_row("SELECT seq, appended_at FROM events ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map(Option::unwrap_or_default)
        .map_err(|e| sql("reading the head", e))
}

/// Rows per multi-row INSERT when appending (6 binds each): fewer statement steps per row.
const ROWS_PER_INSERT: usize = 32;

/// The head the writer remembers between commits, valid while no other connection committed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KnownHead {
    /// `PRAGMA data_version` when it was recorded (it changes when another connection commits).
    data_version: Option<i64>,
    seq: i64,
    appended_at: i64,
}

/// Inserts the rows of several append requests in the current write transaction (on `conn`), after the
/// newest entry; returns the sequence numbers of each request's rows and the new head.
///
/// The head comes from `known` unless another connection (another process) committed since it was
/// recorded; the statements are cached, and rows go in multi-row INSERTs of [`ROWS_PER_INSERT`].
pub(crate) fn insert_batches<'a>(
    conn: &Connection,
    known: &mut KnownHead,
    batches: impl Iterator<Item = &'a [NewRow]>,
) -> rusqlite::Result<Vec<Vec<i64>>> {
    let data_version: i64 = conn.prepare_cached("PRAGMA data_version")?.query_row([], |r| r.get(0))?;
    let (mut seq, last_at) = if known.data_version == Some(data_version) {
        (known.seq, known.appended_at)
    } else {
        conn.prepare_cached("SELECT seq, appended_at FROM events ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or_default()
    };
    // Append times never go backwards along the sequence, even if the clock does.
    let at = now_ms().max(last_at);
    let batches: Vec<&[NewRow]> = batches.collect();
    let rows: Vec<&NewRow> = batches.iter().flat_map(|b| b.iter()).collect();
    let first = seq + 1;
    let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
    if chunks.len() > 0 {
        let values: Vec<String> = (0..ROWS_PER_INSERT)
            .map(|i| {
                let b = 6 * i;
                format!("(?{}, ?{}, ?{}, ?{}, ?{}, ?{})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6)
            })
            .collect();
        let sql = format!("INSERT INTO events (seq, appended_at, event_id, event_type, tenant_id, body) VALUES {}", values.join(", "));
        let mut stmt = conn.prepare_cached(&sql)?;
        for chunk in chunks.by_ref() {
            let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(6 * ROWS_PER_INSERT);
            let seqs: Vec<i64> = (0..chunk.len() as i64).map(|i| seq + 1 + i).collect();
            for (row, s) in chunk.iter().zip(&seqs) {
                let p: [&dyn rusqlite::ToSql; 6] = [s, &at, &row.event_id, &row.event_type, &row.tenant_id, &row.body];
                params.extend_from_slice(&p);
            }
            stmt.execute(params.as_slice())?;
            seq += chunk.len() as i64;
        }
    }
    let mut stmt = conn
        .prepare_cached("INSERT INTO events (seq, appended_at, event_id, event_type, tenant_id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
    for row in chunks.remainder() {
        seq += 1;
        stmt.execute(params![seq, at, row.event_id, row.event_type, row.tenant_id, row.body])?;
    }
    *known = KnownHead { data_version: Some(data_version), seq, appended_at: at };
    // Hand each request its own sequence numbers, in order.
    let mut next = first;
    Ok(batches
        .iter()
        .map(|b| {
            let seqs: Vec<i64> = (next..next + b.len() as i64).collect();
            next += b.len() as i64;
            seqs
        })
        .collect())
}

/// The cursor (exclusive sequence number) a start position means now.
pub(crate) fn resolve(conn: &Connection, start: &StartFrom) -> Result<i64, LogError> {
    match start {
        StartFrom::Beginning => Ok(0),
        StartFrom::End => Ok(last_entry(conn)?.0),
        StartFrom::After(p) => parse_position(p),
        StartFrom::Time(t) => {
            let first: Option<i64> = conn
                .query_row(
                    "SELECT seq FROM events WHERE appended_at >= ?1 ORDER BY appended_at, seq LIMIT 1",
                    [t.timestamp_millis()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| sql("finding the first entry at a time", e))?;
            match first {
                Some(seq) => Ok(seq - 1),
                None => Ok(last_entry(conn)?.0),
            }
        }
    }
}

fn record(seq: i64, appended_at: i64, body: &str) -> Result<Record, LogError> {
    Ok(Record { position: position(seq)?, appended_at: instant(appended_at), event: Event::from_json_slice(body.as_bytes()) })
}

fn record_row(r: &Row<'_>) -> rusqlite::Result<(i64, i64, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn records(rows: Vec<(i64, i64, String)>) -> Result<Vec<Record>, LogError> {
    rows.into_iter().map(|(seq, at, body)| record(seq, at, &body)).collect()
}

/// Up to `max` entries after `cursor`, oldest first.
pub(crate) fn read_after(conn: &Connection, cursor: i64, max: usize) -> Result<Vec<Record>, LogError> {
    let ctx = "reading entries";
    let mut stmt =
        conn.prepare_cached("SELECT seq, appended_at, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2").map_err(|e| sql(ctx, e))?;
    let rows = stmt.query_map(params![cursor, limit(max)], record_row).and_then(Iterator::collect).map_err(|e| sql(ctx, e))?;
    records(rows)
}

/// Up to `max` entries before `before`, newest first.
pub(crate) fn read_before(conn: &Connection, before: i64, max: usize) -> Result<Vec<Record>, LogError> {
    let ctx = "reading entries backwards";
    let mut stmt = conn
        .prepare_cached("SELECT seq, appended_at, body FROM events WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2")
        .map_err(|e| sql(ctx, e))?;
    let rows = stmt.query_map(params![before, limit(max)], record_row).and_then(Iterator::collect).map_err(|e| sql(ctx, e))?;
    records(rows)
}

/// The group's cursor, or [`LogError::UnknownGroup`].
fn group_cursor(conn: &Connection, group: &GroupName) -> Result<i64, LogError> {
    conn.query_row("SELECT last_seq FROM groups WHERE name = ?1", [group.as_str()], |r| r.get(0))
        .optional()
        .map_err(|e| sql("reading a group", e))?
        .ok_or_else(|| LogError::UnknownGroup(group.to_string()))
}

fn touch_consumer(tx: &Transaction<'_>, group: &GroupName, consumer: &ConsumerName, now: i64) -> Result<(), LogError> {
    tx.execute(
        "INSERT INTO consumers (group_name, consumer, seen_at) VALUES (?1, ?2, ?3) ON CONFLICT (group_name, consumer) DO UPDATE SET seen_at = excluded.seen_at",
        params![group.as_str(), consumer.as_str(), now],
    )
    .map(drop)
    .map_err(|e| sql("recording a consumer", e))
}

/// Creates the group at `start` unless it exists.
pub(crate) fn ensure_group(conn: &mut Connection, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
    let tx = write_tx(conn)?;
    let exists: bool = tx
        .query_row("SELECT EXISTS (SELECT 1 FROM groups WHERE name = ?1)", [group.as_str()], |r| r.get(0))
        .map_err(|e| sql("reading a group", e))?;
    if !exists {
        let cursor = resolve(&tx, start)?;
        tx.execute("INSERT INTO groups (name, last_seq, created_at) VALUES (?1, ?2, ?3)", params![group.as_str(), cursor, now_ms()])
            .map_err(|e| sql("creating a group", e))?;
    }
    tx.commit().map_err(|e| sql("creating a group", e))
}

/// Moves the group's cursor to `start`.
pub(crate) fn set_group_position(conn: &mut Connection, group: &GroupName, start: &StartFrom) -> Result<(), LogError> {
    let tx = write_tx(conn)?;
    group_cursor(&tx, group)?;
    let cursor = resolve(&tx, start)?;
    tx.execute("UPDATE groups SET last_seq = ?1 WHERE name = ?2", params![cursor, group.as_str()]).map_err(|e| sql("moving a group", e))?;
    tx.commit().map_err(|e| sql("moving a group", e))
}

/// Hands the next `max` undelivered entries of the group to `consumer` and makes them pending.
pub(crate) fn claim(conn: &mut Connection, group: &GroupName, consumer: &ConsumerName, max: usize) -> Result<Vec<Delivery>, LogError> {
    let ctx = "delivering entries to a group";
    let tx = write_tx(conn)?;
    let cursor = group_cursor(&tx, group)?;
    if max == 0 {
        return Ok(Vec::new());
    }
    let rows = {
        let mut stmt =
            tx.prepare_cached("SELECT seq, appended_at, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2").map_err(|e| sql(ctx, e))?;
        stmt.query_map(params![cursor, limit(max)], record_row)
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(|e| sql(ctx, e))?
    };
    let Some(&(last, _, _)) = rows.last() else {
        // Nothing to deliver: dropping the transaction rolls back a transaction that wrote nothing.
        return Ok(Vec::new());
    };
    let now = now_ms();
    let mut out = Vec::with_capacity(rows.len());
    {
        // An entry still pending from before a `set_group_position` is delivered again: count it.
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO pending (group_name, seq, consumer, delivered_at, delivery_count) VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT (group_name, seq) DO UPDATE SET consumer = excluded.consumer, delivered_at = excluded.delivered_at,
                 delivery_count = pending.delivery_count + 1 RETURNING delivery_count",
            )
            .map_err(|e| sql(ctx, e))?;
        for (seq, at, body) in rows {
            let count: i64 = stmt.query_row(params![group.as_str(), seq, consumer.as_str(), now], |r| r.get(0)).map_err(|e| sql(ctx, e))?;
            out.push(Delivery { record: record(seq, at, &body)?, delivery_count: u32::try_from(count).unwrap_or(u32::MAX) });
        }
    }
    tx.execute("UPDATE groups SET last_seq = ?1 WHERE name = ?2", params![last, group.as_str()]).map_err(|e| sql(ctx, e))?;
    touch_consumer(&tx, group, consumer, now)?;
    tx.commit().map_err(|e| sql(ctx, e))?;
    Ok(out)
}

/// Which pending entries a redelivery takes.
pub(crate) enum Redeliver<'a> {
    /// The consumer's own pending entries (after a restart).
    Own(&'a ConsumerName),
    /// Any consumer's entries delivered at least this long ago.
    IdleFor(Duration),
}

/// Delivers pending entries again to `consumer`, oldest first, increasing their delivery count.
pub(crate) fn redeliver(
    conn: &mut Connection,
    group: &GroupName,
    consumer: &ConsumerName,
    which: Redeliver<'_>,
    max: usize,
) -> Result<Vec<Delivery>, LogError> {
    let ctx = "redelivering pending entries";
    let tx = write_tx(conn)?;
    group_cursor(&tx, group)?;
    let now = now_ms();
    let rows = {
        let (filter, arg): (&str, rusqlite::types::Value) = match which {
            Redeliver::Own(c) => ("p.consumer = ?2", c.as_str().to_owned().into()),
            Redeliver::IdleFor(idle) => ("p.delivered_at <= ?2", now.saturating_sub(ms(idle)).into()),
        };
        let q = format!(
            "SELECT p.seq, e.appended_at, e.body FROM pending p JOIN events e ON e.seq = p.seq WHERE p.group_name = ?1 AND {filter} ORDER BY p.seq LIMIT ?3"
        );
        let mut stmt = tx.prepare_cached(&q).map_err(|e| sql(ctx, e))?;
        stmt.query_map(params![group.as_str(), arg, limit(max)], record_row)
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(|e| sql(ctx, e))?
    };
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(rows.len());
    {
        let mut stmt = tx
            .prepare_cached(
                "UPDATE pending SET consumer = ?3, delivered_at = ?4, delivery_count = delivery_count + 1 WHERE group_name = ?1 AND seq = ?2 RETURNING delivery_count",
            )
            .map_err(|e| sql(ctx, e))?;
        for (seq, at, body) in rows {
            let count: i64 = stmt.query_row(params![group.as_str(), seq, consumer.as_str(), now], |r| r.get(0)).map_err(|e| sql(ctx, e))?;
            out.push(Delivery { record: record(seq, at, &body)?, delivery_count: u32::try_from(count).unwrap_or(u32::MAX) });
        }
    }
    touch_consumer(&tx, group, consumer, now)?;
    tx.commit().map_err(|e| sql(ctx, e))?;
    Ok(out)
}

/// Removes entries from the group's pending set; returns how many were pending.
pub(crate) fn ack(conn: &mut Connection, group: &GroupName, positions: &[Position]) -> Result<u64, LogError> {
    let ctx = "acknowledging entries";
    let mut seqs = positions.iter().map(parse_position).collect::<Result<Vec<_>, _>>()?;
    seqs.sort_unstable();
    seqs.dedup();
    let tx = write_tx(conn)?;
    group_cursor(&tx, group)?;
    let mut acked = 0u64;
    {
        let mut stmt = tx.prepare_cached("DELETE FROM pending WHERE group_name = ?1 AND seq = ?2").map_err(|e| sql(ctx, e))?;
        for seq in seqs {
            acked += stmt.execute(params![group.as_str(), seq]).map_err(|e| sql(ctx, e))? as u64;
        }
    }
    tx.commit().map_err(|e| sql(ctx, e))?;
    Ok(acked)
}

fn info(conn: &Connection, name: GroupName, cursor: i64) -> Result<GroupInfo, LogError> {
    let ctx = "reading a group's state";
    let count = |q: &str, p: &[&dyn rusqlite::ToSql]| -> Result<u64, LogError> {
        conn.query_row(q, p, |r| r.get::<_, i64>(0)).map(|n| n.max(0) as u64).map_err(|e| sql(ctx, e))
    };
    let pending = count("SELECT count(*) FROM pending WHERE group_name = ?1", &[&name.as_str()])?;
    // `seq` is dense (the writer numbers entries `head + 1`, and entries are never deleted), so the
    // undelivered count is a subtraction, not a scan of the backlog.
    let undelivered = (last_entry(conn)?.0 - cursor).max(0) as u64;
    let recent = now_ms().saturating_sub(ms(CONSUMER_SEEN_WINDOW));
    let consumers = count(
        "SELECT count(*) FROM consumers c WHERE c.group_name = ?1 AND (c.seen_at >= ?2
         OR EXISTS (SELECT 1 FROM pending p WHERE p.group_name = c.group_name AND p.consumer = c.consumer))",
        &[&name.as_str(), &recent],
    )?;
    let last_delivered = if cursor > 0 { Some(position(cursor)?) } else { None };
    Ok(GroupInfo { name, last_delivered, pending, undelivered, consumers })
}

/// One group's state.
pub(crate) fn group_info(conn: &mut Connection, group: &GroupName) -> Result<GroupInfo, LogError> {
    let tx = read_tx(conn)?;
    let cursor = group_cursor(&tx, group)?;
    info(&tx, group.clone(), cursor)
}

/// Every group's state, by name.
pub(crate) fn groups(conn: &mut Connection) -> Result<Vec<GroupInfo>, LogError> {
    let ctx = "listing groups";
    let tx = read_tx(conn)?;
    let rows: Vec<(String, i64)> = {
        let mut stmt = tx.prepare_cached("SELECT name, last_seq FROM groups ORDER BY name").map_err(|e| sql(ctx, e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).and_then(Iterator::collect).map_err(|e| sql(ctx, e))?
    };
    rows.into_iter()
        .map(|(name, cursor)| {
            let name = GroupName::try_from(name).map_err(|e| LogError::storage("a stored group name is invalid", e))?;
            info(&tx, name, cursor)
        })
        .collect()
}
