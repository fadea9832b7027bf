//! The policy store and evaluations: policies per tenant in `policy_policies`, counters and the
//! default-policy seed marker in `policy_tenants`; every change and its event in one transaction.

use std::time::Instant;

use brain_events::EventPayload;
use brain_events::policy::{
    Change, PolicyAuditRequired, PolicyChanges, PolicyContext, PolicyCreated, PolicyDeleted, PolicyDenied, PolicyEffect, PolicyEvaluated,
    PolicyResult, PolicyUpdated, PolicyWarningTriggered, RulesChange,
};
use eventstream::EventStream;
use eventstream::store::sqlx::{self, Row, any::AnyRow};
use eventstream::store::{StoreError, Tx};
use eventstream_core::{Event, format_timestamp};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::engine::{self, Outcome, effect_str};
use super::error::PolicyError;
use super::model::{Condition, CreateRequest, EvaluationContext, Operator, Policy, Rule, UpdateRequest};
use crate::page::Page;
use crate::sql::{db, is_unique_violation, next_counter};
use crate::web::{Origin, now_ms, now_secs};

/// The ids of the default policies, in their order.
pub const DEFAULT_POLICY_IDS: [&str; 2] = ["admin_full_access", "guest_read_only"];

const COLUMNS: &str =
    "policy_id, name, version, description, rules, default_effect, enabled, created_at, updated_at, created_by, metadata, revision";

/// `GET /api/policy/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyStats {
    /// Policies of the tenant.
    pub total_policies: u64,
    /// Enabled ones.
    pub active_policies: u64,
    /// Rules of every policy, disabled ones included.
    pub total_rules: u64,
    /// Evaluations (not test-rule calls).
    pub total_evaluations: u64,
    /// Allowed verdicts.
    pub total_allows: u64,
    /// Denied verdicts (an overridden allow counts once, here).
    pub total_denies: u64,
    /// Verdicts with the `warn` effect.
    pub total_warnings: u64,
}

/// The policy service.
#[derive(Debug)]
pub struct PolicyService {
    events: EventStream,
}

fn rule(id: &str, name: &str, effect: PolicyEffect, priority: i64, conditions: Vec<Condition>) -> Rule {
    Rule {
        rule_id: id.into(),
        name: name.into(),
        description: String::new(),
        effect,
        conditions,
        priority,
        enabled: true,
        metadata: Map::new(),
    }
}

fn cond(field: &str, operator: Operator, value: Value) -> Condition {
    Condition { field: field.into(), operator, value }
}

/// The default policies (id, name, description, rules), seeded per tenant on its first use.
fn defaults() -> [(&'static str, &'static str, &'static str, Vec<Rule>); 2] {
    [
        (
            DEFAULT_POLICY_IDS[0],
            "Admin Full Access",
            "Administrators may do anything",
            vec![rule(
                "admin_allow_all",
                "Admin Allow All",
                PolicyEffect::Allow,
                1000,
                vec![cond("agent_role", Operator::Eq, json!("admin"))],
            )],
        ),
        (
            DEFAULT_POLICY_IDS[1],
            "Guest Read Only",
            "Guests may read, never write",
            vec![
                rule(
                    "guest_read_allow",
                    "Guest Read Allow",
                    PolicyEffect::Allow,
                    50,
                    vec![cond("agent_role", Operator::Eq, json!("guest")), cond("action", Operator::Contains, json!("read"))],
                ),
                rule(
                    "guest_write_deny",
                    "Guest Write Deny",
                    PolicyEffect::Deny,
                    100,
                    vec![
                        cond("agent_role", Operator::Eq, json!("guest")),
                        cond("action", Operator::In, json!(["write", "delete", "update", "create"])),
                    ],
                ),
            ],
        ),
    ]
}

fn effect_from(s: &str) -> PolicyEffect {
    match s {
        "allow" => PolicyEffect::Allow,
        "warn" => PolicyEffect::Warn,
        "audit" => PolicyEffect::Audit,
        _ => PolicyEffect::Deny,
    }
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| format_timestamp(&t)).unwrap_or_default()
}

/// A stored policy with its revision (the optimistic-concurrency token of updates).
struct Stored {
    policy: Policy,
    revision: i64,
}

fn from_row(r: &AnyRow) -> Result<Stored, PolicyError> {
    let e = || db("reading a policy");
    let id: String = r.try_get(0).map_err(e())?;
    let rules: String = r.try_get(4).map_err(e())?;
    let rules: Vec<Rule> = serde_json::from_str(&rules).map_err(|source| PolicyError::Corrupt { id: id.clone(), source })?;
    let meta: String = r.try_get(10).map_err(e())?;
    let metadata = match serde_json::from_str(&meta) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let effect: String = r.try_get(5).map_err(e())?;
    let enabled: i64 = r.try_get(6).map_err(e())?;
    let policy = Policy {
        policy_id: id,
        name: r.try_get(1).map_err(e())?,
        version: r.try_get(2).map_err(e())?,
        description: r.try_get(3).map_err(e())?,
        rules,
        default_effect: effect_from(&effect),
        enabled: enabled != 0,
        created_at: iso(r.try_get(7).map_err(e())?),
        updated_at: iso(r.try_get(8).map_err(e())?),
        created_by: r.try_get(9).map_err(e())?,
        metadata,
    };
    Ok(Stored { policy, revision: r.try_get(11).map_err(e())? })
}

fn rules_json(rules: &[Rule]) -> String {
    serde_json::to_string(rules).unwrap_or_else(|_| "[]".into())
}

impl PolicyService {
    /// The service over `events`.
    pub fn new(events: EventStream) -> Self {
        Self { events }
    }

    /// Seeds the tenant's default policies and counters on its first use (once: a marker row decides).
    async fn ensure(&self, tenant: &str) -> Result<(), PolicyError> {
        let seeded = sqlx::query("SELECT 1 FROM policy_tenants WHERE tenant = $1")
            .bind(tenant.to_owned())
            .fetch_optional(self.events.store().pool())
            .await
            .map_err(db("reading the policy tenant"))?;
        if seeded.is_some() {
            return Ok(());
        }
        let mut tx = self.events.store().begin().await?;
        let now = now_ms();
        let fresh = sqlx::query(
            "INSERT INTO policy_tenants (tenant, total_evaluations, total_allows, total_denies, total_warnings, seeded_at) \
             VALUES ($1, 0, 0, 0, 0, $2) ON CONFLICT (tenant) DO NOTHING",
        )
        .bind(tenant.to_owned())
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(db("seeding the policy tenant"))?
        .rows_affected()
            == 1;
        if fresh {
            for (id, name, description, rules) in defaults() {
                let seq = next_counter(&mut tx, &counter(tenant)).await?;
                insert(&mut tx, tenant, id, seq, name, "1.0.0", description, &rules, PolicyEffect::Deny, true, None).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's policies in insertion order.
    ///
    /// # Errors
    /// [`PolicyError::Store`], [`PolicyError::Corrupt`].
    pub async fn list(&self, tenant: &str) -> Result<Vec<Policy>, PolicyError> {
        self.ensure(tenant).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM policy_policies WHERE tenant = $1 ORDER BY seq")))
            .bind(tenant.to_owned())
            .fetch_all(self.events.store().pool())
            .await
            .map_err(db("listing policies"))?;
        rows.iter().map(|r| from_row(r).map(|s| s.policy)).collect()
    }

    /// A page of the tenant's policies in insertion order, the next page's cursor (the number of
    /// policies before it) when more follow, and how many the tenant has.
    ///
    /// # Errors
    /// [`PolicyError::Store`], [`PolicyError::Corrupt`].
    pub(crate) async fn list_page(&self, tenant: &str, page: Page) -> Result<(Vec<Policy>, Option<String>, i64), PolicyError> {
        self.ensure(tenant).await?;
        let offset = page.after.unwrap_or(0);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM policy_policies WHERE tenant = $1 ORDER BY seq LIMIT $2 OFFSET $3"
        )))
        .bind(tenant.to_owned())
        .bind(page.fetch())
        .bind(offset)
        .fetch_all(self.events.store().pool())
        .await
        .map_err(db("listing policies"))?;
        let mut policies = rows.iter().map(|r| from_row(r).map(|s| s.policy)).collect::<Result<Vec<_>, _>>()?;
        let next = page.finish(&mut policies, |_| 0).map(|_| (offset + i64::from(page.limit)).to_string());
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM policy_policies WHERE tenant = $1")
            .bind(tenant.to_owned())
            .fetch_one(self.events.store().pool())
            .await
            .and_then(|r| r.try_get(0))
            .map_err(db("counting policies"))?;
        Ok((policies, next, total))
    }

    /// One policy.
    ///
    /// # Errors
    /// [`PolicyError::NotFound`] (also for another tenant's id), [`PolicyError::Store`].
    pub async fn get(&self, tenant: &str, id: &str) -> Result<Policy, PolicyError> {
        self.ensure(tenant).await?;
        let mut tx = self.events.store().begin().await?;
        let p = load(&mut tx, tenant, id).await?.policy;
        tx.commit().await?;
        Ok(p)
    }

    /// Creates a policy with the next never-reused id `policy_<n>` (`policy.created`).
    ///
    /// # Errors
    /// [`PolicyError::Exists`], [`PolicyError::Store`].
    pub async fn create(&self, origin: &Origin, req: CreateRequest) -> Result<Policy, PolicyError> {
        let tenant = origin.tenant();
        self.ensure(tenant).await?;
        let mut tx = self.events.store().begin().await?;
        let seq = next_counter(&mut tx, &counter(tenant)).await?;
        let id = format!("policy_{seq}");
        let creator = origin.actor_id.as_deref();
        let (name, version, desc, effect) = (&req.name, &req.version, &req.description, req.default_effect);
        insert(&mut tx, tenant, &id, seq, name, version, desc, &req.rules, effect, req.enabled, creator).await?;
        let policy = load(&mut tx, tenant, &id).await?.policy;
        let event = PolicyCreated { policy_id: id, policy_name: policy.name.clone(), created_at: now_secs() };
        self.commit(tx, vec![origin.stamp(event.to_event())]).await?;
        Ok(policy)
    }

    /// Changes the fields given (`policy.updated` with one `changes` entry per changed field).
    ///
    /// # Errors
    /// [`PolicyError::NotFound`], [`PolicyError::Concurrent`], [`PolicyError::Store`].
    pub async fn update(&self, origin: &Origin, id: &str, req: UpdateRequest) -> Result<Policy, PolicyError> {
        let tenant = origin.tenant();
        self.ensure(tenant).await?;
        let mut tx = self.events.store().begin().await?;
        let Stored { policy: old, revision } = load(&mut tx, tenant, id).await?;
        let mut new = old.clone();
        let mut changes = PolicyChanges::default();
        if let Some(n) = req.name.filter(|n| *n != old.name) {
            changes.name = Some(Change { old: old.name.clone(), new: n.clone() });
            new.name = n;
        }
        if let Some(d) = req.description.filter(|d| *d != old.description) {
            changes.description = Some(Change { old: old.description.clone(), new: d.clone() });
            new.description = d;
        }
        if let Some(r) = req.rules {
            let count = |v: &[Rule]| u32::try_from(v.len()).unwrap_or(u32::MAX);
            changes.rules = Some(RulesChange { old_count: count(&old.rules), new_count: count(&r) });
            new.rules = r;
        }
        if let Some(e) = req.default_effect.filter(|e| *e != old.default_effect) {
            changes.default_effect = Some(Change { old: old.default_effect, new: e });
            new.default_effect = e;
        }
        if let Some(e) = req.enabled.filter(|e| *e != old.enabled) {
            changes.enabled = Some(Change { old: old.enabled, new: e });
            new.enabled = e;
        }
        let done = sqlx::query(
            "UPDATE policy_policies SET name = $1, description = $2, rules = $3, default_effect = $4, enabled = $5, \
             revision = revision + 1, updated_at = $6 WHERE tenant = $7 AND policy_id = $8 AND revision = $9",
        )
        .bind(new.name.clone())
        .bind(new.description.clone())
        .bind(rules_json(&new.rules))
        .bind(effect_str(new.default_effect))
        .bind(i64::from(new.enabled))
        .bind(now_ms())
        .bind(tenant.to_owned())
        .bind(id.to_owned())
        .bind(revision)
        .execute(tx.conn())
        .await
        .map_err(db("updating a policy"))?;
        if done.rows_affected() != 1 {
            return Err(PolicyError::Concurrent(id.to_owned()));
        }
        let policy = load(&mut tx, tenant, id).await?.policy;
        let any = changes != PolicyChanges::default();
        let event = PolicyUpdated {
            policy_id: id.to_owned(),
            policy_name: policy.name.clone(),
            changes: any.then_some(changes),
            updated_at: now_secs(),
        };
        self.commit(tx, vec![origin.stamp(event.to_event())]).await?;
        Ok(policy)
    }

    /// Deletes a policy; its `policy.deleted` is written in the same transaction.
    ///
    /// # Errors
    /// [`PolicyError::NotFound`], [`PolicyError::Store`].
    pub async fn delete(&self, origin: &Origin, id: &str) -> Result<(), PolicyError> {
        let tenant = origin.tenant();
        self.ensure(tenant).await?;
        let mut tx = self.events.store().begin().await?;
        let row = sqlx::query("DELETE FROM policy_policies WHERE tenant = $1 AND policy_id = $2 RETURNING name")
            .bind(tenant.to_owned())
            .bind(id.to_owned())
            .fetch_optional(tx.conn())
            .await
            .map_err(db("deleting a policy"))?
            .ok_or_else(|| PolicyError::NotFound(id.to_owned()))?;
        let name: String = row.try_get(0).map_err(db("deleting a policy"))?;
        let event = PolicyDeleted { policy_id: id.to_owned(), policy_name: name, deleted_at: now_secs() };
        self.commit(tx, vec![origin.stamp(event.to_event())]).await
    }

    /// The tenant's counts.
    ///
    /// # Errors
    /// [`PolicyError::Store`].
    pub async fn stats(&self, tenant: &str) -> Result<PolicyStats, PolicyError> {
        let policies = self.list(tenant).await?;
        let row = sqlx::query("SELECT total_evaluations, total_allows, total_denies, total_warnings FROM policy_tenants WHERE tenant = $1")
            .bind(tenant.to_owned())
            .fetch_optional(self.events.store().pool())
            .await
            .map_err(db("reading policy counters"))?;
        let n = |i: usize| -> Result<u64, PolicyError> {
            let v: i64 = match &row {
                Some(r) => r.try_get(i).map_err(db("reading policy counters"))?,
                None => 0,
            };
            Ok(u64::try_from(v).unwrap_or(0))
        };
        let len = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        Ok(PolicyStats {
            total_policies: len(policies.len()),
            active_policies: len(policies.iter().filter(|p| p.enabled).count()),
            total_rules: len(policies.iter().map(|p| p.rules.len()).sum()),
            total_evaluations: n(0)?,
            total_allows: n(1)?,
            total_denies: n(2)?,
            total_warnings: n(3)?,
        })
    }

    /// Evaluates `ctx`. With `record`, the counters and the events (`policy.evaluated`, then
    /// `policy.denied` / `policy.warning_triggered` / `policy.audit_required`) are written in one
    /// transaction, also when no policy is enabled (so every deny is visible); without it (test-rule)
    /// nothing is written.
    ///
    /// # Errors
    /// [`PolicyError::Store`], [`PolicyError::Corrupt`].
    pub async fn evaluate(&self, origin: &Origin, ctx: &EvaluationContext, record: bool) -> Result<Outcome, PolicyError> {
        let started = Instant::now();
        let policies = self.list(origin.tenant()).await?;
        let outcome = engine::evaluate(&policies, ctx);
        if !record {
            return Ok(outcome);
        }
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let r = &outcome.result;
        let mut tx = self.events.store().begin().await?;
        sqlx::query(
            "UPDATE policy_tenants SET total_evaluations = total_evaluations + 1, total_allows = total_allows + $1, \
             total_denies = total_denies + $2, total_warnings = total_warnings + $3 WHERE tenant = $4",
        )
        .bind(i64::from(r.allowed))
        .bind(i64::from(!r.allowed))
        .bind(i64::from(r.effect == PolicyEffect::Warn))
        .bind(origin.tenant().to_owned())
        .execute(tx.conn())
        .await
        .map_err(db("counting an evaluation"))?;
        let events = outcome_events(&outcome, ctx, elapsed_ms).into_iter().map(|e| origin.stamp(e)).collect();
        self.commit(tx, events).await?;
        Ok(outcome)
    }

    async fn commit(&self, mut tx: Tx, events: Vec<Event>) -> Result<(), PolicyError> {
        self.events.outbox_in_tx(&mut tx, &events).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(())
    }
}

/// The events of an evaluation, in order.
fn outcome_events(o: &Outcome, ctx: &EvaluationContext, elapsed_ms: f64) -> Vec<Event> {
    let r = &o.result;
    let at = now_secs();
    let context = PolicyContext {
        agent_id: ctx.agent_id.clone(),
        agent_role: ctx.agent_role.clone(),
        action: ctx.action.clone(),
        resource: ctx.resource.clone(),
    };
    let result = PolicyResult { allowed: r.allowed, effect: r.effect, reason: r.reason.clone() };
    let m = o.matched.as_ref();
    let warnings = Some(r.warnings.clone()).filter(|w| !w.is_empty());
    let audit = r.requires_audit.then_some(true);
    let mut out = vec![
        PolicyEvaluated {
            context: context.clone(),
            policy_id: m.map(|m| m.policy_id.clone()),
            policy_name: m.map(|m| m.policy_name.clone()),
            rule_id: m.map(|m| m.rule_id.clone()),
            rule_name: m.map(|m| m.rule_name.clone()),
            result: result.clone(),
            matched_policy: r.matched_policy.clone(),
            matched_rule: r.matched_rule.clone(),
            warnings: warnings.clone(),
            requires_audit: audit,
            evaluation_time_ms: elapsed_ms,
            evaluated_at: at,
        }
        .to_event(),
    ];
    if !r.allowed {
        out.push(
            PolicyDenied {
                context: context.clone(),
                policy_id: m.map(|m| m.policy_id.clone()),
                policy_name: m.map(|m| m.policy_name.clone()),
                rule_id: m.map(|m| m.rule_id.clone()),
                rule_name: m.map(|m| m.rule_name.clone()),
                result: result.clone(),
                matched_policy: r.matched_policy.clone(),
                matched_rule: r.matched_rule.clone(),
                warnings: warnings.clone(),
                requires_audit: audit,
                denied_at: at,
            }
            .to_event(),
        );
    }
    if let Some(m) = m {
        if r.effect == PolicyEffect::Warn {
            out.push(
                PolicyWarningTriggered {
                    context: context.clone(),
                    policy_id: m.policy_id.clone(),
                    policy_name: m.policy_name.clone(),
                    rule_id: m.rule_id.clone(),
                    rule_name: m.rule_name.clone(),
                    warnings: r.warnings.clone(),
                    warning_triggered_at: at,
                }
                .to_event(),
            );
        }
        if r.effect == PolicyEffect::Audit {
            out.push(
                PolicyAuditRequired {
                    context,
                    policy_id: m.policy_id.clone(),
                    policy_name: m.policy_name.clone(),
                    rule_id: m.rule_id.clone(),
                    rule_name: m.rule_name.clone(),
                    result,
                    matched_policy: r.matched_policy.clone(),
                    matched_rule: r.matched_rule.clone(),
                    requires_audit: true,
                    audit_required_at: at,
                }
                .to_event(),
            );
        }
    }
    out
}

/// The per-tenant counter of policy insertion order (also the `n` of `policy_<n>`).
fn counter(tenant: &str) -> String {
    format!("policy_seq:{tenant}")
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    tx: &mut Tx,
    tenant: &str,
    id: &str,
    seq: i64,
    name: &str,
    version: &str,
    description: &str,
    rules: &[Rule],
    effect: PolicyEffect,
    enabled: bool,
    created_by: Option<&str>,
) -> Result<(), PolicyError> {
    let now = now_ms();
    let done = sqlx::query(
        "INSERT INTO policy_policies (tenant, policy_id, seq, name, version, description, rules, default_effect, enabled, \
         revision, created_at, updated_at, created_by, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10, $11, '{}')",
    )
    .bind(tenant.to_owned())
    .bind(id.to_owned())
    .bind(seq)
    .bind(name.to_owned())
    .bind(version.to_owned())
    .bind(description.to_owned())
    .bind(rules_json(rules))
    .bind(effect_str(effect))
    .bind(i64::from(enabled))
    .bind(now)
    .bind(created_by.map(str::to_owned))
    .execute(tx.conn())
    .await;
    match done {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(PolicyError::Exists(id.to_owned())),
        Err(e) => Err(StoreError::sqlx("storing a policy", e).into()),
    }
}

async fn load(tx: &mut Tx, tenant: &str, id: &str) -> Result<Stored, PolicyError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM policy_policies WHERE tenant = $1 AND policy_id = $2")))
        .bind(tenant.to_owned())
        .bind(id.to_owned())
        .fetch_optional(tx.conn())
        .await
        .map_err(db("reading a policy"))?
        .ok_or_else(|| PolicyError::NotFound(id.to_owned()))?;
    from_row(&row)
}
