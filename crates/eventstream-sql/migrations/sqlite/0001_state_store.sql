-- BRAiN EventStream state store, version 1 (SQLite).
-- Kept column-for-column in step with ../postgres/0001_state_store.sql.
-- Timestamps are INTEGER milliseconds since the Unix epoch (UTC) on both databases.

-- Inbox: one row per (subscriber, event) processed. Both keys are unique, so a redelivered stream entry
-- and a re-sent event (same id, new stream entry) are both recognised.
CREATE TABLE processed_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_name   TEXT    NOT NULL,
    stream_name       TEXT    NOT NULL,
    stream_message_id TEXT    NOT NULL,
    event_id          TEXT    NOT NULL,
    event_type        TEXT    NOT NULL,
    tenant_id         TEXT,
    metadata          TEXT,
    processed_at      INTEGER NOT NULL,
    CONSTRAINT uq_processed_events_subscriber_event UNIQUE (subscriber_name, event_id),
    CONSTRAINT uq_processed_events_subscriber_message UNIQUE (subscriber_name, stream_message_id)
);
-- Retention deletes by age; a plain index (the original's partial index with NOW() could not be created).
CREATE INDEX idx_processed_events_processed_at ON processed_events (processed_at);
CREATE INDEX idx_processed_events_event_id ON processed_events (event_id);
CREATE INDEX idx_processed_events_tenant_id ON processed_events (tenant_id);

-- Dead letters: at most one open row per (subscriber, event); a later failure of the same event updates it.
CREATE TABLE dead_letters (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_name   TEXT    NOT NULL,
    stream_name       TEXT    NOT NULL,
    stream_message_id TEXT    NOT NULL,
    event_id          TEXT    NOT NULL,
    event_type        TEXT,
    tenant_id         TEXT,
    event             TEXT    NOT NULL,
    error             TEXT    NOT NULL,
    error_kind        TEXT    NOT NULL CHECK (error_kind IN ('transient_exhausted', 'permanent', 'undecodable')),
    attempts          INTEGER NOT NULL CHECK (attempts >= 0),
    first_failed_at   INTEGER NOT NULL,
    last_failed_at    INTEGER NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'retried', 'discarded')),
    resolved_at       INTEGER
);
-- The predicate is a constant comparison, which both databases accept in a partial index.
CREATE UNIQUE INDEX uq_dead_letters_open ON dead_letters (subscriber_name, event_id) WHERE status = 'open';
CREATE INDEX idx_dead_letters_subscriber_status ON dead_letters (subscriber_name, status);
CREATE INDEX idx_dead_letters_tenant_id ON dead_letters (tenant_id);

-- The publisher's durable local outbox; `id` is the publication order.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL,
    event           TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_attempt_at INTEGER
);

-- Transient-failure attempt counts, so retries survive a restart.
CREATE TABLE retry_state (
    subscriber_name TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT,
    first_failed_at INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (subscriber_name, event_id)
);
CREATE INDEX idx_retry_state_updated_at ON retry_state (updated_at);
