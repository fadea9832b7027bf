-- BRAiN EventStream state store, version 5 (PostgreSQL): a leaner inbox and counters kept as it is written.
-- Kept in step with ../sqlite/0005_lean_inbox_and_counts.sql.
--
-- Every inbox row used to update six B-trees and a sequence. Nothing reads `id`, and the two single-column
-- indexes serve no query (every lookup starts with the subscriber, which the unique keys cover), so they
-- go. `processed_at` only grows along insertion, so a BRIN index serves the retention delete at a
-- fraction of a B-tree's cost per row.
ALTER TABLE processed_events DROP COLUMN id;
DROP INDEX IF EXISTS idx_processed_events_event_id;
DROP INDEX IF EXISTS idx_processed_events_tenant_id;
DROP INDEX IF EXISTS idx_processed_events_processed_at;
CREATE INDEX idx_processed_events_processed_at ON processed_events USING brin (processed_at);

-- Events processed per subscriber and type, counted in the transaction that writes the inbox rows, so
-- that metrics read a few rows instead of grouping the whole inbox. Concurrent transactions of one
-- subscriber add to different shards, so they never wait on each other's row lock.
CREATE TABLE processed_counts (
    subscriber_name TEXT   NOT NULL,
    event_type      TEXT   NOT NULL,
    shard           BIGINT NOT NULL,
    processed       BIGINT NOT NULL,
    PRIMARY KEY (subscriber_name, event_type, shard)
);
INSERT INTO processed_counts (subscriber_name, event_type, shard, processed)
    SELECT subscriber_name, event_type, 0, COUNT(*) FROM processed_events GROUP BY subscriber_name, event_type;
