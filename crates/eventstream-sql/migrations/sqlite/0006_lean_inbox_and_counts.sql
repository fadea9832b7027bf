-- BRAiN EventStream state store, version 5 (SQLite): a leaner inbox and counters kept as it is written.
-- Kept in step with ../postgres/0005_lean_inbox_and_counts.sql.
--
-- The two single-column indexes serve no query (every lookup starts with the subscriber, which the
-- unique keys cover), so they go. The row id stays: it is the table's own B-tree on SQLite.
DROP INDEX IF EXISTS idx_processed_events_event_id;
DROP INDEX IF EXISTS idx_processed_events_tenant_id;

-- Events processed per subscriber and type, counted in the transaction that writes the inbox rows, so
-- that metrics read a few rows instead of grouping the whole inbox.
CREATE TABLE processed_counts (
    subscriber_name TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    shard           INTEGER NOT NULL,
    processed       INTEGER NOT NULL,
    PRIMARY KEY (subscriber_name, event_type, shard)
) WITHOUT ROWID;
INSERT INTO processed_counts (subscriber_name, event_type, shard, processed)
    SELECT subscriber_name, event_type, 0, COUNT(*) FROM processed_events GROUP BY subscriber_name, event_type;
