-- BRAiN EventStream state store, version 2 (PostgreSQL): the inbox keys on (subscriber, tenant, event id).
-- Kept in step with ../sqlite/0002_inbox_per_tenant.sql.
--
-- Event ids are unique per tenant, not globally: two tenants may both publish id X, and each subscriber
-- must process both. `tenant_id` becomes NOT NULL with '' for a tenantless event (SQL treats NULLs as
-- distinct in a UNIQUE constraint, which would stop deduplicating tenantless events); existing NULLs
-- become ''.
UPDATE processed_events SET tenant_id = '' WHERE tenant_id IS NULL;
ALTER TABLE processed_events ALTER COLUMN tenant_id SET DEFAULT '';
ALTER TABLE processed_events ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE processed_events DROP CONSTRAINT uq_processed_events_subscriber_event;
ALTER TABLE processed_events
    ADD CONSTRAINT uq_processed_events_subscriber_tenant_event UNIQUE (subscriber_name, tenant_id, event_id);
