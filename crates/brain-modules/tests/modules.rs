//! Integration tests of the BRAiN modules: each module's routes served in-process on port 0, over an
//! embedded event log and a SQLite state store in a per-test temp dir, with the publisher and the consumer
//! runtime running; assertions read the events back from the log.

#[path = "modules/helpers.rs"]
mod helpers;

#[path = "modules/analytics.rs"]
mod analytics;
#[path = "modules/bad_input.rs"]
mod bad_input;
#[path = "modules/course_distribution.rs"]
mod course_distribution;
#[path = "modules/course_factory.rs"]
mod course_factory;
#[path = "modules/credits.rs"]
mod credits;
#[path = "modules/dna.rs"]
mod dna;
#[path = "modules/dna_history.rs"]
mod dna_history;
#[path = "modules/hardware.rs"]
mod hardware;
#[path = "modules/immune.rs"]
mod immune;
#[path = "modules/ir_governance.rs"]
mod ir_governance;
#[path = "modules/metrics.rs"]
mod metrics;
#[path = "modules/migrations.rs"]
mod migrations;
#[path = "modules/missions.rs"]
mod missions;
#[path = "modules/missions_fair.rs"]
mod missions_fair;
#[path = "modules/pages.rs"]
mod pages;
#[path = "modules/policy.rs"]
mod policy;
#[path = "modules/security.rs"]
mod security;
#[path = "modules/supervisor.rs"]
mod supervisor;
#[path = "modules/telemetry.rs"]
mod telemetry;
#[path = "modules/threats.rs"]
mod threats;
