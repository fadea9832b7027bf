-- brain-modules, version 5: course_distribution (distributions of courses, their micro-niche derivations,
-- and the automatic root distribution claimed per course).
--
-- course_distributions: one row per distribution; `slug` unique per tenant; times in epoch milliseconds
-- (published_at NULL until the first publish; staging_deployed_at NULL until the course's staging deploy);
-- target_group, seo and cta as JSON text; derived_from the parent distribution of a micro-niche variant.
CREATE TABLE IF NOT EXISTS course_distributions (
    tenant TEXT NOT NULL,
    distribution_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    slug TEXT NOT NULL,
    language TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    target_group TEXT NOT NULL,
    version TEXT NOT NULL,
    derived_from TEXT,
    seo TEXT NOT NULL,
    cta TEXT NOT NULL,
    visibility TEXT NOT NULL,
    published_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    view_count BIGINT NOT NULL,
    enrollment_count BIGINT NOT NULL,
    staging_url TEXT,
    staging_deployed_at BIGINT,
    PRIMARY KEY (tenant, distribution_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS course_distributions_slug ON course_distributions (tenant, slug);
CREATE INDEX IF NOT EXISTS course_distributions_course ON course_distributions (tenant, course_id);
CREATE INDEX IF NOT EXISTS course_distributions_public ON course_distributions (tenant, visibility, published_at);
-- course_distribution_derivations: the derivation record of each micro-niche variant.
CREATE TABLE IF NOT EXISTS course_distribution_derivations (
    tenant TEXT NOT NULL,
    child_distribution_id TEXT NOT NULL,
    parent_distribution_id TEXT NOT NULL,
    derived_content TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, child_distribution_id)
);
CREATE INDEX IF NOT EXISTS course_distribution_derivations_parent ON course_distribution_derivations (tenant, parent_distribution_id);
-- course_distribution_roots: the consumer's claim on a course (one automatic root distribution per tenant
-- and course, ever): the completion event that claimed it and the distribution it created or found.
CREATE TABLE IF NOT EXISTS course_distribution_roots (
    tenant TEXT NOT NULL,
    course_id TEXT NOT NULL,
    distribution_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, course_id)
);
