-- brain-modules, version 1: every module's tables as the crate created them before it had migrations.
-- Written with IF NOT EXISTS so that a database those earlier versions set up adopts this version without
-- change. The same SQL runs on SQLite and PostgreSQL. Never edit an applied migration: add a new file.

-- Named sequences shared by the modules (queue order, snapshot ids).
CREATE TABLE IF NOT EXISTS module_counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);

-- missions (the lease columns came later: version 2)
CREATE TABLE IF NOT EXISTS missions (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    mission_type TEXT NOT NULL,
    description TEXT,
    data TEXT NOT NULL,
    priority BIGINT NOT NULL,
    status TEXT NOT NULL,
    queued BIGINT NOT NULL,
    queue_seq BIGINT NOT NULL,
    retry_count BIGINT NOT NULL,
    max_retries BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    agent_id TEXT,
    credit_cost DOUBLE PRECISION,
    correlation_id TEXT,
    last_error TEXT,
    result TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS missions_queue ON missions (queued, priority, queue_seq);
CREATE TABLE IF NOT EXISTS mission_logs (
    tenant TEXT NOT NULL,
    mission_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT NOT NULL,
    logged_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant, mission_id, seq)
);

-- supervisor
CREATE TABLE IF NOT EXISTS supervisor_missions (tenant TEXT NOT NULL, mission_id TEXT NOT NULL, status TEXT NOT NULL,
    updated_at BIGINT NOT NULL, PRIMARY KEY (tenant, mission_id));
CREATE TABLE IF NOT EXISTS supervisor_task_counts (tenant TEXT NOT NULL, kind TEXT NOT NULL, count BIGINT NOT NULL,
    PRIMARY KEY (tenant, kind));
CREATE TABLE IF NOT EXISTS supervisor_agents (tenant TEXT NOT NULL, agent_id TEXT NOT NULL, name TEXT, state TEXT NOT NULL,
    capabilities TEXT NOT NULL, current_mission_id TEXT, last_seen BIGINT NOT NULL, errors BIGINT NOT NULL,
    PRIMARY KEY (tenant, agent_id));

-- credits
CREATE TABLE IF NOT EXISTS credit_accounts (tenant TEXT NOT NULL, agent_id TEXT NOT NULL, balance BIGINT NOT NULL,
    allocated BIGINT NOT NULL, consumed BIGINT NOT NULL, refunded BIGINT NOT NULL, created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL, PRIMARY KEY (tenant, agent_id));
CREATE TABLE IF NOT EXISTS credit_ledger (tenant TEXT NOT NULL, agent_id TEXT NOT NULL, seq BIGINT NOT NULL,
    kind TEXT NOT NULL, amount BIGINT NOT NULL, balance_after BIGINT NOT NULL, reason TEXT NOT NULL, mission_id TEXT,
    correlation_id TEXT, created_at BIGINT NOT NULL, PRIMARY KEY (tenant, agent_id, seq));
CREATE TABLE IF NOT EXISTS credit_mission_charges (tenant TEXT NOT NULL, mission_id TEXT NOT NULL, agent_id TEXT NOT NULL,
    cost BIGINT NOT NULL, state TEXT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (tenant, mission_id));

-- hardware
CREATE TABLE IF NOT EXISTS hardware_robots (tenant TEXT NOT NULL, robot_id TEXT NOT NULL,
    linear_x DOUBLE PRECISION NOT NULL, linear_y DOUBLE PRECISION NOT NULL, angular_z DOUBLE PRECISION NOT NULL,
    pos_x DOUBLE PRECISION NOT NULL, pos_y DOUBLE PRECISION NOT NULL, heading DOUBLE PRECISION NOT NULL,
    commands BIGINT NOT NULL, last_command_at BIGINT NOT NULL, PRIMARY KEY (tenant, robot_id));

-- ir_governance: one row per approval, keyed by tenant; the token's SHA-256 is unique across tenants (a
-- token identifies its approval, whoever presents it).
CREATE TABLE IF NOT EXISTS ir_approvals (tenant TEXT NOT NULL, approval_id TEXT NOT NULL, ir_hash TEXT NOT NULL,
    token_hash TEXT NOT NULL, status TEXT NOT NULL, ttl_seconds BIGINT NOT NULL, created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL, consumed_at BIGINT, created_by TEXT, consumed_by TEXT, acknowledged_by TEXT,
    acknowledged_at BIGINT, correlation_id TEXT, PRIMARY KEY (tenant, approval_id));
CREATE UNIQUE INDEX IF NOT EXISTS ir_approvals_token ON ir_approvals (token_hash);
CREATE INDEX IF NOT EXISTS ir_approvals_status ON ir_approvals (tenant, status, expires_at);

-- telemetry
CREATE TABLE IF NOT EXISTS telemetry_connections (connection_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, robot_id TEXT NOT NULL,
    connected_at BIGINT NOT NULL, closed_at BIGINT, reason TEXT, duration_seconds DOUBLE PRECISION);
CREATE TABLE IF NOT EXISTS telemetry_metrics (tenant TEXT NOT NULL, robot_id TEXT NOT NULL, cpu_usage DOUBLE PRECISION NOT NULL,
    memory_usage DOUBLE PRECISION NOT NULL, network_latency_ms DOUBLE PRECISION NOT NULL, battery_percentage DOUBLE PRECISION NOT NULL,
    published_at BIGINT NOT NULL, PRIMARY KEY (tenant, robot_id));

-- metrics
CREATE TABLE IF NOT EXISTS metrics_cursor (name TEXT PRIMARY KEY, position TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS metrics_mission_status (tenant TEXT NOT NULL, mission_id TEXT NOT NULL, status TEXT NOT NULL,
    PRIMARY KEY (tenant, mission_id));
CREATE TABLE IF NOT EXISTS metrics_runs (scope TEXT PRIMARY KEY, entries_processed BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL, completed_at BIGINT NOT NULL);

-- dna
CREATE TABLE IF NOT EXISTS dna_snapshots (id BIGINT PRIMARY KEY, tenant TEXT NOT NULL,
    agent_id TEXT NOT NULL, version BIGINT NOT NULL, dna TEXT NOT NULL, traits TEXT NOT NULL, karma_score DOUBLE PRECISION,
    source TEXT NOT NULL, parent_snapshot_id BIGINT, reason TEXT, created_at BIGINT NOT NULL, UNIQUE (tenant, agent_id, version));

-- analytics
CREATE TABLE IF NOT EXISTS analytics_seconds (tenant TEXT NOT NULL, event_type TEXT NOT NULL, second BIGINT NOT NULL,
    count BIGINT NOT NULL, PRIMARY KEY (tenant, event_type, second));
CREATE INDEX IF NOT EXISTS analytics_seconds_by_time ON analytics_seconds (second);
CREATE TABLE IF NOT EXISTS analytics_minutes (tenant TEXT NOT NULL, event_type TEXT NOT NULL, minute BIGINT NOT NULL,
    count BIGINT NOT NULL, PRIMARY KEY (tenant, event_type, minute));
CREATE INDEX IF NOT EXISTS analytics_minutes_by_time ON analytics_minutes (minute);
CREATE TABLE IF NOT EXISTS analytics_modules (tenant TEXT NOT NULL, module TEXT NOT NULL, events BIGINT NOT NULL,
    created BIGINT NOT NULL, completed BIGINT NOT NULL, failed BIGINT NOT NULL, PRIMARY KEY (tenant, module));

-- security monitoring
CREATE TABLE IF NOT EXISTS security_rule_locks (tenant TEXT NOT NULL, rule TEXT NOT NULL, touched_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, rule));
CREATE TABLE IF NOT EXISTS security_observations (tenant TEXT NOT NULL, rule TEXT NOT NULL, event_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL, PRIMARY KEY (tenant, rule, event_id));
CREATE INDEX IF NOT EXISTS security_observations_by_time ON security_observations (tenant, rule, at_ms);
CREATE INDEX IF NOT EXISTS security_observations_age ON security_observations (at_ms);
CREATE TABLE IF NOT EXISTS security_alerts (alert_id TEXT PRIMARY KEY, rule TEXT NOT NULL, tenant TEXT NOT NULL,
    window_start BIGINT NOT NULL, window_secs BIGINT NOT NULL, event_type TEXT NOT NULL, severity TEXT NOT NULL,
    message TEXT NOT NULL, observed BIGINT NOT NULL, threshold BIGINT NOT NULL, trigger_event_id TEXT NOT NULL,
    raised_at BIGINT NOT NULL, UNIQUE (rule, tenant, window_start));
CREATE INDEX IF NOT EXISTS security_alerts_by_tenant ON security_alerts (tenant, alert_id);

-- policy
CREATE TABLE IF NOT EXISTS policy_policies (tenant TEXT NOT NULL, policy_id TEXT NOT NULL, seq BIGINT NOT NULL,
    name TEXT NOT NULL, version TEXT NOT NULL, description TEXT NOT NULL, rules TEXT NOT NULL, default_effect TEXT NOT NULL,
    enabled BIGINT NOT NULL, revision BIGINT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
    created_by TEXT, metadata TEXT NOT NULL, PRIMARY KEY (tenant, policy_id));
CREATE TABLE IF NOT EXISTS policy_tenants (tenant TEXT PRIMARY KEY, total_evaluations BIGINT NOT NULL,
    total_allows BIGINT NOT NULL, total_denies BIGINT NOT NULL, total_warnings BIGINT NOT NULL, seeded_at BIGINT NOT NULL);

-- threats (times are epoch seconds with fractions, as the events carry them)
CREATE TABLE IF NOT EXISTS threats (tenant TEXT NOT NULL, id TEXT NOT NULL, threat_type TEXT NOT NULL,
    source TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL, description TEXT, metadata TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL, last_seen_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (tenant, id));
CREATE INDEX IF NOT EXISTS threats_by_last_seen ON threats (tenant, last_seen_at);

-- immune
CREATE TABLE IF NOT EXISTS immune_events (tenant TEXT NOT NULL, id BIGINT NOT NULL, agent_id TEXT, module TEXT,
    severity TEXT NOT NULL, event_type TEXT NOT NULL, message TEXT NOT NULL, meta TEXT NOT NULL, created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, id));
CREATE INDEX IF NOT EXISTS immune_events_by_time ON immune_events (tenant, created_at);
