-- brain-modules, version 2: the lease a worker holds on a claimed mission (set while RUNNING through the
-- queue, NULL otherwise) and the index lease recovery scans. Earlier versions of the crate added these
-- columns outside migrations, so a database may have them already: ADD COLUMN IF NOT EXISTS (native on
-- PostgreSQL; on SQLite the migration runner checks the column first).
ALTER TABLE missions ADD COLUMN IF NOT EXISTS lease_owner TEXT;
ALTER TABLE missions ADD COLUMN IF NOT EXISTS lease_until BIGINT;
ALTER TABLE missions ADD COLUMN IF NOT EXISTS claim_id TEXT;
CREATE INDEX IF NOT EXISTS missions_leases ON missions (status, lease_until);
