-- BRAiN EventStream state store, version 2 (SQLite): the inbox keys on (subscriber, tenant, event id).
-- Kept in step with ../postgres/0002_inbox_per_tenant.sql.
--
-- Event ids are unique per tenant, not globally: two tenants may both publish id X, and each subscriber
-- must process both. `tenant_id` becomes NOT NULL with '' for a tenantless event (SQL treats NULLs as
-- distinct in a UNIQUE constraint, which would stop deduplicating tenantless events); existing NULLs
-- become ''. SQLite cannot drop a table constraint, so the table is rebuilt with the same columns, ids
-- and the indexes of version 1.
CREATE TABLE processed_events_v2 (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_name   TEXT    NOT NULL,
    stream_name       TEXT    NOT NULL,
    stream_message_id TEXT    NOT NULL,
    event_id          TEXT    NOT NULL,
    event_type        TEXT    NOT NULL,
    tenant_id         TEXT    NOT NULL DEFAULT '',
    metadata          TEXT,
    processed_at      INTEGER NOT NULL,
    CONSTRAINT uq_processed_events_subscriber_tenant_event UNIQUE (subscriber_name, tenant_id, event_id),
    CONSTRAINT uq_processed_events_subscriber_message UNIQUE (subscriber_name, stream_message_id)
);
INSERT INTO processed_events_v2
    (id, subscriber_name, stream_name, stream_message_id, event_id, event_type, tenant_id, metadata, processed_at)
    SELECT id, subscriber_name, stream_name, stream_message_id, event_id, event_type, COALESCE(tenant_id, ''), metadata,
           processed_at
    FROM processed_events;
DROP TABLE processed_events;
ALTER TABLE processed_events_v2 RENAME TO processed_events;
CREATE INDEX idx_processed_events_processed_at ON processed_events (processed_at);
CREATE INDEX idx_processed_events_event_id ON processed_events (event_id);
CREATE INDEX idx_processed_events_tenant_id ON processed_events (tenant_id);
