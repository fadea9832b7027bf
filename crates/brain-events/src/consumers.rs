//! Names of the known subscribers, as they appear in the catalog's `consumers` lists.
//!
//! These are the subscriber (consumer group) names the modules and system consumers use, kept in one
//! place so the catalog and the subscribers cannot drift apart. The audit log and analytics read every
//! event and are not repeated on each type.

/// course_distribution: creates a distribution when a course is generated, records staging deploys.
pub const COURSE_DISTRIBUTION: &str = "course_distribution";
/// course_factory: deploys a course to staging once its distribution exists.
pub const COURSE_FACTORY: &str = "course_factory";
/// supervisor: keeps the mission statistics projection.
pub const SUPERVISOR: &str = "supervisor";
/// credits: charges a mission's declared cost when it completes.
pub const CREDITS: &str = "credits";
/// metrics: aggregates mission status counts.
pub const METRICS: &str = "metrics";
/// Security monitoring: watches approvals, DAG audits, threats, policy denials, critical immune events.
pub const SECURITY_MONITORING: &str = "security_monitoring";
/// The audit log: every event, hash-chained.
pub const AUDIT_LOG: &str = "audit_log";
/// Analytics: event rates by type.
pub const ANALYTICS: &str = "analytics";
