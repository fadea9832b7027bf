-- BRAiN EventStream state store, version 4 (SQLite): retry counts per (subscriber, tenant, event id), so
-- two tenants' events with the same id never share a backoff schedule. Kept in step with
-- ../postgres/0004_retry_state_per_tenant.sql. Existing rows get tenant '' (the counts of events failing
-- during the upgrade restart from zero). SQLite cannot change a primary key: the table is rebuilt.
CREATE TABLE retry_state_v2 (
    subscriber_name TEXT    NOT NULL,
    tenant_id       TEXT    NOT NULL DEFAULT '',
    event_id        TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT,
    first_failed_at INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (subscriber_name, tenant_id, event_id)
);
INSERT INTO retry_state_v2 (subscriber_name, event_id, attempts, last_error, first_failed_at, updated_at)
    SELECT subscriber_name, event_id, attempts, last_error, first_failed_at, updated_at FROM retry_state;
DROP TABLE retry_state;
ALTER TABLE retry_state_v2 RENAME TO retry_state;
CREATE INDEX idx_retry_state_updated_at ON retry_state (updated_at);
