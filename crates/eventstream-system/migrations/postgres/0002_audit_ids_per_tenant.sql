-- Audit log version 2 (PostgreSQL): event ids are unique per tenant, not globally, so another tenant's
-- event with an id already in the log is appended too. Kept in step with
-- ../sqlite/0002_audit_ids_per_tenant.sql: a unique index on (tenant, event id), `''` standing for no tenant.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_event_id_key;
CREATE UNIQUE INDEX audit_log_tenant_event ON audit_log (COALESCE(tenant, ''), event_id);
