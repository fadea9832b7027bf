-- BRAiN EventStream state store, version 3 (SQLite): at most one open dead letter per (subscriber, tenant,
-- event id). Event ids are unique per tenant only; keyed on the id alone, another tenant's failure of an
-- event with the same id would overwrite this tenant's open dead letter. `''` stands for no tenant.
-- The same SQL as ../postgres/0003_dead_letters_per_tenant.sql.
DROP INDEX uq_dead_letters_open;
CREATE UNIQUE INDEX uq_dead_letters_open ON dead_letters (subscriber_name, COALESCE(tenant_id, ''), event_id) WHERE status = 'open';
