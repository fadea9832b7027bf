//! BRAiN modules on the EventStream: missions, supervisor, credits, hardware, telemetry, metrics, dna,
//! course_factory, course_distribution, ir_governance, policy, threats, immune, analytics and security
//! monitoring.
//!
//! Each module lives in its own folder (model, service, routes, handlers, errors). It gets the
//! [`EventStream`] handle by construction, owns its tables in the state store (created and upgraded by the
//! crate's versioned migrations in `migrations/`, applied by [`Modules::init`] through the state store's
//! runner; see [`migrate`]), writes each state change and its events in one
//! transaction (the transactional outbox), and never calls another module: the supervisor's mission
//! statistics are a projection of `mission.*`/`task.*` events, credits charges a mission's declared cost
//! on its `mission.completed`, and metrics aggregates mission events read from the log.
//!
//! [`Modules`] is the plug-in interface of `brain serve`:
//! - [`Modules::router`]: every route under `/api/<module>`; it expects a [`brain_http::Principal`] in
//!   the request extensions (the server's auth middleware puts it there). Every event and row belongs to
//!   the principal's tenant; the `X-Correlation-ID` header (or a generated id) is carried into every
//!   event the request causes, and on into the worker's events for a mission.
//! - [`Modules::subscriptions`]: the projections and handlers for the consumer runtime.
//! - [`Modules::spawn_background`]: the mission worker pool, the metrics aggregation timer and the
//!   supervisor's heartbeat check; the two timers run under a lease each, so of several replicas on one
//!   state store one runs them per interval.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use brain_events::Catalog;
use brain_events::consumers;
use eventstream::maintenance::{job_lease, spawn_every_leased};
use eventstream::store::{StateStore, StoreError};
use eventstream::{EventStream, Subscription, SubscriptionOptions};
use eventstream_core::{ConsumerName, EventLog, GroupName, InvalidId, TypePattern};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub mod analytics;
pub mod course_distribution;
pub mod course_factory;
pub mod credits;
pub mod dna;
pub mod hardware;
pub mod immune;
pub mod ir;
pub mod ir_governance;
pub mod metrics;
pub mod missions;
mod page;
pub mod policy;
pub mod routes;
pub mod security;
mod sql;
pub mod supervisor;
pub mod telemetry;
pub mod threats;
pub mod web;

use analytics::AnalyticsService;
use course_distribution::DistributionService;
use course_factory::{CourseFactoryService, CourseGenerator, TemplateGenerator};
use credits::CreditsService;
use dna::DnaService;
use hardware::HardwareService;
use immune::ImmuneService;
use ir_governance::IrGovernanceService;
use metrics::MetricsService;
use missions::{MissionExecutor, MissionService, SimulatedExecutor};
use policy::PolicyService;
use security::{SecurityConfig, SecurityService};
use supervisor::SupervisorService;
use telemetry::TelemetryService;
use threats::ThreatService;

/// The lease name of the periodic metrics aggregation (one replica runs it per interval).
pub const METRICS_AGGREGATION_JOB: &str = "brain.metrics_aggregation";
/// The lease name of the supervisor's periodic heartbeat check.
pub const HEARTBEAT_CHECK_JOB: &str = "brain.supervisor_heartbeat_check";

/// The settings of the modules. `ModulesConfig::default()` suits a single server.
#[derive(Debug, Clone)]
pub struct ModulesConfig {
    /// Mission workers running at once (default 4).
    pub mission_workers: usize,
    /// How often an idle worker looks at the queue when nothing woke it (default 500 ms).
    pub worker_poll_interval: Duration,
    /// Failed attempts a mission tolerates before it ends `FAILED`, unless it says otherwise (default 3).
    pub default_max_retries: u32,
    /// How long the simulating executor works on an attempt (default 50 ms).
    pub executor_duration: Duration,
    /// The probability that a simulated attempt fails (default 0).
    pub executor_failure_rate: f64,
    /// How often the metrics aggregation runs (default 30 s).
    pub metrics_interval: Duration,
    /// Log entries read per page by the aggregation (default 1000).
    pub metrics_batch: usize,
    /// An agent without a heartbeat for this long is offline (default 30 s).
    pub heartbeat_timeout: Duration,
    /// How often the supervisor looks for silent agents (default 5 s).
    pub heartbeat_check_interval: Duration,
    /// The security monitoring rules (`[security]` of `brain.toml`; see [`security::config`]).
    pub security: SecurityConfig,
    /// This replica's consumer name: the owner of the mission leases its workers hold (default
    /// [`eventstream::default_consumer_name`]; `brain serve` passes the runtime's name).
    pub consumer_name: ConsumerName,
    /// How long a worker's claim on a mission lasts without renewal; past it, any replica re-queues the
    /// mission (default 30 s).
    pub mission_lease: Duration,
    /// Where course_factory's content comes from (default: the deterministic [`TemplateGenerator`]).
    pub course_generator: Arc<dyn CourseGenerator>,
}

impl Default for ModulesConfig {
    fn default() -> Self {
        Self {
            mission_workers: 4,
            worker_poll_interval: Duration::from_millis(500),
            default_max_retries: 3,
            executor_duration: Duration::from_millis(50),
            executor_failure_rate: 0.0,
            metrics_interval: Duration::from_secs(30),
            metrics_batch: 1000,
            heartbeat_timeout: Duration::from_secs(30),
            heartbeat_check_interval: Duration::from_secs(5),
            security: SecurityConfig::default(),
            consumer_name: eventstream::default_consumer_name(),
            mission_lease: missions::DEFAULT_LEASE,
            course_generator: Arc::new(TemplateGenerator),
        }
    }
}

pub use sql::MIGRATIONS_TABLE;

/// Applies the modules' versioned migrations (every module's tables) that `store` has not seen yet,
/// through the state store's one migration runner. [`Modules::init`] calls it; running it again is a
/// no-op, and several replicas may run it at once.
///
/// # Errors
/// [`StoreError::Migrate`] when a migration fails or an applied one was changed,
/// [`StoreError::Unavailable`] when the database cannot be reached or locked.
pub async fn migrate(store: &StateStore) -> Result<(), StoreError> {
    store.migrate_set(MIGRATIONS_TABLE, sql::MIGRATIONS).await
}

/// Why the modules could not start.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// Applying the modules' migrations failed.
    #[error("applying the modules' migrations failed")]
    Migrate(#[source] StoreError),
    /// A subscriber name or type pattern is invalid (a bug caught at start).
    #[error("invalid subscription identifier")]
    Subscription(#[source] InvalidId),
}

/// The types the `course_factory` subscriber consumes: staging deploys (chain A) and the approvals
/// projection (chain B).
const COURSE_FACTORY_TYPES: &[&str] = &[
    <brain_events::distribution::DistributionCreated as brain_events::EventPayload>::TYPE,
    <brain_events::ir::IrApprovalConsumed as brain_events::EventPayload>::TYPE,
];

/// The modules, ready to serve. Cheap to clone (every service is shared).
#[derive(Clone)]
pub struct Modules {
    events: EventStream,
    config: ModulesConfig,
    catalog: Arc<Catalog>,
    executor: Arc<dyn MissionExecutor>,
    missions: Arc<MissionService>,
    supervisor: Arc<SupervisorService>,
    credits: Arc<CreditsService>,
    hardware: Arc<HardwareService>,
    ir_governance: Arc<IrGovernanceService>,
    telemetry: Arc<TelemetryService>,
    metrics: Arc<MetricsService>,
    dna: Arc<DnaService>,
    analytics: Arc<AnalyticsService>,
    security: Arc<SecurityService>,
    policy: Arc<PolicyService>,
    threats: Arc<ThreatService>,
    immune: Arc<ImmuneService>,
    course_factory: Arc<CourseFactoryService>,
    course_distribution: Arc<DistributionService>,
}

impl std::fmt::Debug for Modules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Modules").field("config", &self.config).field("executor", &self.executor.name()).finish_non_exhaustive()
    }
}

impl Modules {
    /// Applies the modules' migrations to `events.store()` ([`migrate`]) and builds the services, with the simulating
    /// executor of `config`. `log` is the event log the metrics aggregation reads; `catalog` is the
    /// process's one event catalog (the server shares it with its API state).
    ///
    /// # Errors
    /// [`ModuleError::Migrate`] when the migrations cannot be applied.
    pub async fn init(
        events: EventStream,
        log: Arc<dyn EventLog>,
        catalog: Arc<Catalog>,
        config: ModulesConfig,
    ) -> Result<Modules, ModuleError> {
        let executor = Arc::new(SimulatedExecutor::new(config.executor_duration, config.executor_failure_rate));
        Self::init_with_executor(events, log, catalog, config, executor).await
    }

    /// [`Modules::init`] with another mission executor.
    ///
    /// # Errors
    /// As [`Modules::init`].
    pub async fn init_with_executor(
        events: EventStream,
        log: Arc<dyn EventLog>,
        catalog: Arc<Catalog>,
        config: ModulesConfig,
        executor: Arc<dyn MissionExecutor>,
    ) -> Result<Modules, ModuleError> {
        migrate(events.store()).await.map_err(ModuleError::Migrate)?;
        Ok(Modules {
            missions: Arc::new(
                MissionService::new(events.clone(), config.default_max_retries)
                    .with_lease(config.consumer_name.to_string(), config.mission_lease),
            ),
            supervisor: Arc::new(SupervisorService::new(events.clone(), config.heartbeat_timeout)),
            credits: Arc::new(CreditsService::new(events.clone())),
            hardware: Arc::new(HardwareService::new(events.clone())),
            ir_governance: Arc::new(IrGovernanceService::new(events.clone())),
            telemetry: Arc::new(TelemetryService::new(events.clone())),
            metrics: Arc::new(MetricsService::new(events.clone(), log, catalog.clone(), config.metrics_batch)),
            dna: Arc::new(DnaService::new(events.clone())),
            analytics: Arc::new(AnalyticsService::new(events.clone())),
            security: Arc::new(SecurityService::new(events.clone(), config.security)),
            policy: Arc::new(PolicyService::new(events.clone())),
            threats: Arc::new(ThreatService::new(events.clone())),
            immune: Arc::new(ImmuneService::new(events.clone())),
            course_factory: Arc::new(CourseFactoryService::new(events.clone(), config.course_generator.clone())),
            course_distribution: Arc::new(DistributionService::new(events.clone())),
            catalog,
            executor,
            events,
            config,
        })
    }

    /// Every module's routes, with full paths and no state left.
    pub fn router(&self) -> Router {
        let missions = missions::api::router(missions::api::ApiState {
            service: self.missions.clone(),
            executor_name: self.executor.name(),
            poll_interval: self.config.worker_poll_interval,
        });
        Router::new()
            .merge(missions)
            .merge(supervisor::router(self.supervisor.clone()))
            .merge(credits::router(self.credits.clone()))
            .merge(hardware::router(self.hardware.clone()))
            .merge(ir_governance::router(self.ir_governance.clone()))
            .merge(telemetry::router(self.telemetry.clone()))
            .merge(metrics::router(self.metrics.clone()))
            .merge(dna::router(self.dna.clone()))
            .merge(analytics::router(self.analytics.clone()))
            .merge(security::router(self.security.clone()))
            .merge(policy::router(self.policy.clone()))
            .merge(threats::router(self.threats.clone()))
            .merge(immune::router(self.immune.clone()))
            .merge(course_factory::router(self.course_factory.clone()))
            .merge(course_distribution::router(self.course_distribution.clone()))
    }

    /// The subscribers to run in the consumer runtime: `supervisor` (mission/task/agent projection),
    /// `credits` (mission charges), `analytics` (every event, counted), `security_monitoring` (the
    /// security rules), `course_distribution` (distributions of generated courses, their staging URLs)
    /// and `course_factory` (staging deploys, the consumed-approvals projection). All run with
    /// concurrency 1 so they apply events in log order.
    ///
    /// # Panics
    /// Never: the names and patterns are constants checked by a unit test.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        match self.try_subscriptions() {
            Ok(s) => s,
            Err(e) => unreachable!("constant subscription identifiers are valid: {e}"),
        }
    }

    fn try_subscriptions(&self) -> Result<Vec<Subscription>, ModuleError> {
        let ordered = SubscriptionOptions { concurrency: 1, batch_size: 64, ..SubscriptionOptions::default() };
        let pattern = |p: &str| TypePattern::from_str(p).map_err(ModuleError::Subscription);
        let name = |n: &str| GroupName::from_str(n).map_err(ModuleError::Subscription);
        Ok(vec![
            Subscription::new(
                name(consumers::SUPERVISOR)?,
                vec![pattern("mission.*")?, pattern("task.*")?, pattern("agent.*")?],
                supervisor::handlers::SupervisorProjection { catalog: self.catalog.clone() },
            )
            .with_options(ordered.clone()),
            Subscription::new(
                name(consumers::CREDITS)?,
                vec![pattern("mission.*")?],
                credits::handlers::MissionCharges { catalog: self.catalog.clone(), events: self.events.clone() },
            )
            .with_options(ordered.clone()),
            Subscription::new(
                name(consumers::ANALYTICS)?,
                vec![TypePattern::all()],
                analytics::handlers::EventCounter { service: self.analytics.clone() },
            )
            .with_options(ordered.clone()),
            Subscription::new(
                name(course_distribution::handlers::NAME)?,
                course_distribution::handlers::PATTERNS.iter().map(|t| pattern(t)).collect::<Result<Vec<_>, _>>()?,
                course_distribution::handlers::CourseEvents { catalog: self.catalog.clone(), events: self.events.clone() },
            )
            .with_options(ordered.clone()),
            Subscription::new(
                name(consumers::SECURITY_MONITORING)?,
                security::WATCHED_TYPES.iter().map(|t| pattern(t)).collect::<Result<Vec<_>, _>>()?,
                security::handlers::SecurityMonitor { service: self.security.clone() },
            )
            // One event per transaction: each holds the lock row of one (tenant, rule) only.
            .with_options(SubscriptionOptions { handler_batch: 1, ..ordered.clone() }),
            Subscription::new(
                name(consumers::COURSE_FACTORY)?,
                COURSE_FACTORY_TYPES.iter().map(|t| pattern(t)).collect::<Result<Vec<_>, _>>()?,
                course_factory::handlers::CourseFactoryConsumer { catalog: self.catalog.clone(), events: self.events.clone() },
            )
            .with_options(ordered),
        ])
    }

    /// Starts the mission worker pool, the supervisor's heartbeat check and the metrics aggregation
    /// timer; they stop when `shutdown` is cancelled (which also closes open telemetry sockets with reason
    /// `server_shutdown`).
    pub fn spawn_background(&self, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
        let mut tasks = missions::worker::spawn_pool(
            self.missions.clone(),
            self.executor.clone(),
            self.config.mission_workers.max(1),
            self.config.worker_poll_interval,
            shutdown.clone(),
        );
        // The heartbeat check and the aggregation run on one replica at a time (a lease per job in the
        // state store), so N replicas do not run them N times per interval.
        let store = self.events.store().clone();
        let holder = self.config.consumer_name.to_string();
        let supervisor = self.supervisor.clone();
        let every = self.config.heartbeat_check_interval.max(Duration::from_millis(10));
        let lease = job_lease(store.clone(), HEARTBEAT_CHECK_JOB, &holder, every);
        tasks.push(spawn_every_leased(lease, every, shutdown.clone(), move || {
            let supervisor = supervisor.clone();
            async move {
                if let Err(e) = supervisor.check_heartbeats().await {
                    tracing::warn!(error = %eventstream_core::error::Chain(&e), "supervisor heartbeat check failed");
                }
            }
        }));
        let metrics = self.metrics.clone();
        let every = self.config.metrics_interval.max(Duration::from_millis(10));
        let lease = job_lease(store, METRICS_AGGREGATION_JOB, &holder, every);
        tasks.push(spawn_every_leased(lease, every, shutdown.clone(), move || {
            let metrics = metrics.clone();
            async move {
                if let Err(e) = metrics.run(None).await {
                    tracing::warn!(error = %eventstream_core::error::Chain(&e), "metrics aggregation failed");
                }
            }
        }));
        let telemetry = self.telemetry.shutdown_token();
        tasks.push(tokio::spawn(async move {
            shutdown.cancelled().await;
            telemetry.cancel();
        }));
        tasks
    }

    /// The event catalog the modules were built with (the one passed to [`Modules::init`]).
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The missions service (for embedding and tests).
    pub fn missions(&self) -> &Arc<MissionService> {
        &self.missions
    }

    /// The supervisor service.
    pub fn supervisor(&self) -> &Arc<SupervisorService> {
        &self.supervisor
    }

    /// The credits service.
    pub fn credits(&self) -> &Arc<CreditsService> {
        &self.credits
    }

    /// The hardware service.
    pub fn hardware(&self) -> &Arc<HardwareService> {
        &self.hardware
    }

    /// The ir_governance service.
    pub fn ir_governance(&self) -> &Arc<IrGovernanceService> {
        &self.ir_governance
    }

    /// The telemetry service.
    pub fn telemetry(&self) -> &Arc<TelemetryService> {
        &self.telemetry
    }

    /// The metrics aggregation job.
    pub fn metrics(&self) -> &Arc<MetricsService> {
        &self.metrics
    }

    /// The dna service.
    pub fn dna(&self) -> &Arc<DnaService> {
        &self.dna
    }

    /// The analytics service.
    pub fn analytics(&self) -> &Arc<AnalyticsService> {
        &self.analytics
    }

    /// The security monitoring service.
    pub fn security(&self) -> &Arc<SecurityService> {
        &self.security
    }

    /// The policy service.
    pub fn policy(&self) -> &Arc<PolicyService> {
        &self.policy
    }

    /// The threats service.
    pub fn threats(&self) -> &Arc<ThreatService> {
        &self.threats
    }

    /// The immune service.
    pub fn immune(&self) -> &Arc<ImmuneService> {
        &self.immune
    }

    /// The course_factory service.
    pub fn course_factory(&self) -> &Arc<CourseFactoryService> {
        &self.course_factory
    }

    /// The course_distribution service.
    pub fn course_distribution(&self) -> &Arc<DistributionService> {
        &self.course_distribution
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subscription_identifiers_are_valid() {
        use std::str::FromStr;
        for p in ["mission.*", "task.*", "agent.*"] {
            assert!(eventstream_core::TypePattern::from_str(p).is_ok(), "{p}");
        }
        for p in crate::COURSE_FACTORY_TYPES {
            assert!(eventstream_core::TypePattern::from_str(p).is_ok(), "{p}");
        }
        for p in crate::security::WATCHED_TYPES {
            assert!(eventstream_core::TypePattern::from_str(p).is_ok(), "{p}");
        }
        for p in crate::course_distribution::handlers::PATTERNS {
            assert!(eventstream_core::TypePattern::from_str(p).is_ok(), "{p}");
        }
        assert!(eventstream_core::GroupName::from_str(crate::course_distribution::handlers::NAME).is_ok());
        for n in [
            brain_events::consumers::SUPERVISOR,
            brain_events::consumers::CREDITS,
            brain_events::consumers::METRICS,
            brain_events::consumers::ANALYTICS,
            brain_events::consumers::SECURITY_MONITORING,
            brain_events::consumers::COURSE_FACTORY,
        ] {
            assert!(eventstream_core::GroupName::from_str(n).is_ok(), "{n}");
        }
    }
}
