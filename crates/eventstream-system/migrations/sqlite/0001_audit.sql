-- The audit log: one row per event in append order. `bytes` is the exact canonical JSON that is hashed
-- (NULL once pruned), `leaf_hash` = SHA-256(0x00 || bytes), `chain` = SHA-256(previous leaf hash || leaf
-- hash) (locates reordered and inserted rows). Rows are never updated except by prune.
CREATE TABLE audit_log (
    idx         INTEGER PRIMARY KEY,
    tenant      TEXT,
    tenant_idx  INTEGER,
    event_id    TEXT NOT NULL UNIQUE,
    event_type  TEXT NOT NULL,
    event_time  INTEGER NOT NULL,
    appended_at INTEGER NOT NULL,
    bytes       BLOB,
    leaf_hash   BLOB NOT NULL,
    chain       BLOB NOT NULL,
    pruned_at   INTEGER
);
CREATE INDEX audit_log_tenant ON audit_log (tenant, tenant_idx);
CREATE INDEX audit_log_type ON audit_log (event_type, idx);
CREATE INDEX audit_log_time ON audit_log (event_time);

-- The writer's state of each tree (`global`, `tenant/<id>`): size, compact range, last leaf hash.
CREATE TABLE audit_trees (
    tree      TEXT PRIMARY KEY,
    size      INTEGER NOT NULL,
    frontier  BLOB NOT NULL,
    last_leaf BLOB NOT NULL
);

-- Signed checkpoints (C2SP tlog-checkpoint notes).
CREATE TABLE audit_checkpoints (
    tree       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tree, size)
);

-- Each prune: rows whose payload bytes were removed (their leaf hashes stay).
CREATE TABLE audit_prunes (
    pruned_at  INTEGER NOT NULL,
    before     INTEGER NOT NULL,
    rows       INTEGER NOT NULL,
    first_idx  INTEGER,
    last_idx   INTEGER
);
