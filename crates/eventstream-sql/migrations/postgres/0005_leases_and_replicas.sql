-- BRAiN EventStream state store, version 5 (postgres): what several `brain serve` replicas on one state store
-- share. Kept in step with ../sqlite/0005_leases_and_replicas.sql.

-- Leases: a named job (a timer, a relay) held by one replica until `until_ms`; renewed by its holder, taken
-- over by another replica once it expired (see src/lease.rs).
CREATE TABLE leases (
    name        TEXT   NOT NULL PRIMARY KEY,
    holder      TEXT   NOT NULL,
    until_ms    BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL,
    renewed_at  BIGINT NOT NULL
);

-- Replicas: every running `brain serve` with its subscribers (JSON), refreshed by a heartbeat, so any
-- replica can show the consumers of all of them (see src/replicas.rs).
CREATE TABLE replicas (
    replica     TEXT   NOT NULL PRIMARY KEY,
    started_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    subscribers TEXT   NOT NULL
);
CREATE INDEX idx_replicas_last_seen ON replicas (last_seen);
