-- BRAiN EventStream state store, version 4 (PostgreSQL): retry counts per (subscriber, tenant, event id),
-- so two tenants' events with the same id never share a backoff schedule. Kept in step with
-- ../sqlite/0004_retry_state_per_tenant.sql. Existing rows get tenant '' (the counts of events failing
-- during the upgrade restart from zero).
ALTER TABLE retry_state ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE retry_state DROP CONSTRAINT retry_state_pkey;
ALTER TABLE retry_state ADD CONSTRAINT retry_state_pkey PRIMARY KEY (subscriber_name, tenant_id, event_id);
