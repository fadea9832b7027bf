-- brain-modules, version 4: course_factory (courses, their evidence packs, workflow transitions, the
-- projection of consumed IR approvals, the approvals each gate used, and staging deploys). Times are epoch
-- milliseconds; flags are 0/1 BIGINTs so the same SQL runs on SQLite and PostgreSQL.
CREATE TABLE IF NOT EXISTS course_factory_courses (
    tenant TEXT NOT NULL,
    course_id TEXT NOT NULL,
    title TEXT NOT NULL,
    language TEXT NOT NULL,
    request TEXT NOT NULL,
    dry_run BIGINT NOT NULL,
    deploy_to_staging BIGINT NOT NULL,
    staging_domain TEXT,
    ir_hash TEXT NOT NULL,
    template_id TEXT,
    generation_status TEXT NOT NULL,
    error_message TEXT,
    workflow_state TEXT NOT NULL,
    total_modules BIGINT NOT NULL,
    total_lessons BIGINT NOT NULL,
    full_lessons_generated BIGINT NOT NULL,
    quiz_questions_count BIGINT NOT NULL,
    evidence_pack_path TEXT,
    deployed BIGINT NOT NULL,
    staging_url TEXT,
    deployed_at BIGINT,
    correlation_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, course_id)
);
CREATE INDEX IF NOT EXISTS course_factory_courses_by_time ON course_factory_courses (tenant, created_at);
CREATE TABLE IF NOT EXISTS course_factory_evidence (
    tenant TEXT NOT NULL,
    course_id TEXT NOT NULL,
    path TEXT NOT NULL,
    media_type TEXT NOT NULL,
    content TEXT NOT NULL,
    PRIMARY KEY (tenant, course_id, path)
);
CREATE TABLE IF NOT EXISTS course_factory_transitions (
    tenant TEXT NOT NULL,
    transition_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    requires_approval BIGINT NOT NULL,
    approval_id TEXT,
    approved_by TEXT,
    transitioned_by TEXT NOT NULL,
    reason TEXT,
    can_rollback BIGINT NOT NULL,
    rollback_state TEXT,
    rollback_of TEXT,
    transitioned_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, transition_id),
    UNIQUE (tenant, course_id, seq)
);
CREATE TABLE IF NOT EXISTS course_factory_approvals (
    tenant TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    ir_hash TEXT NOT NULL,
    consumed_at TEXT NOT NULL,
    consumed_by TEXT,
    event_id TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, approval_id)
);
CREATE INDEX IF NOT EXISTS course_factory_approvals_by_hash ON course_factory_approvals (tenant, ir_hash);
CREATE TABLE IF NOT EXISTS course_factory_approval_uses (
    tenant TEXT NOT NULL,
    approval_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    used_for TEXT NOT NULL,
    used_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, approval_id)
);
CREATE TABLE IF NOT EXISTS course_factory_deploys (
    tenant TEXT NOT NULL,
    course_id TEXT NOT NULL,
    distribution_id TEXT NOT NULL,
    staging_domain TEXT NOT NULL,
    staging_url TEXT NOT NULL,
    cause_event_id TEXT NOT NULL,
    deployed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, course_id)
);
