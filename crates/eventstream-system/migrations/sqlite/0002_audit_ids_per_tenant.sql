-- Audit log version 2 (SQLite): event ids are unique per tenant, not globally, so another tenant's event
-- with an id already in the log is appended too. Kept in step with ../postgres/0002_audit_ids_per_tenant.sql.
-- SQLite cannot drop the column constraint `UNIQUE` of `event_id`: the table is rebuilt with the same rows
-- (indexes, hashes and bytes unchanged) and a unique index on (tenant, event id), `''` standing for no tenant.
CREATE TABLE audit_log_v2 (
    idx         INTEGER PRIMARY KEY,
    tenant      TEXT,
    tenant_idx  INTEGER,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    event_time  INTEGER NOT NULL,
    appended_at INTEGER NOT NULL,
    bytes       BLOB,
    leaf_hash   BLOB NOT NULL,
    chain       BLOB NOT NULL,
    pruned_at   INTEGER
);
INSERT INTO audit_log_v2 (idx, tenant, tenant_idx, event_id, event_type, event_time, appended_at, bytes, leaf_hash, chain, pruned_at)
    SELECT idx, tenant, tenant_idx, event_id, event_type, event_time, appended_at, bytes, leaf_hash, chain, pruned_at FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_v2 RENAME TO audit_log;
CREATE INDEX audit_log_tenant ON audit_log (tenant, tenant_idx);
CREATE INDEX audit_log_type ON audit_log (event_type, idx);
CREATE INDEX audit_log_time ON audit_log (event_time);
CREATE UNIQUE INDEX audit_log_tenant_event ON audit_log (COALESCE(tenant, ''), event_id);
