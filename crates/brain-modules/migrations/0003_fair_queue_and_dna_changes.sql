-- brain-modules, version 3: fair scheduling between tenants and DNA versions stored as changes.
--
-- mission_tenant_turns: when each tenant last had a mission claimed (epoch microseconds). The worker takes the next mission of the tenant served least recently among those with
-- queued work (round robin between tenants), then by priority and queue position within it.
CREATE TABLE IF NOT EXISTS mission_tenant_turns (
    tenant TEXT PRIMARY KEY,
    served BIGINT NOT NULL
);
-- dna_snapshots.delta: 1 when the row's `dna` and `traits` hold only the keys this version set (a
-- mutation), folded onto the versions before it; NULL or 0 when they hold the whole version, as every row
-- written before version 3 does, and every manual snapshot and every 32nd version does since.
ALTER TABLE dna_snapshots ADD COLUMN IF NOT EXISTS delta BIGINT;
