//! Bad input on every route: a 4xx with a stable code, never a 5xx; unknown ids are 404.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{App, TENANT, fast_config};

/// A valid ir_governance hash, and approval-issue paths with a bad query.
const A64: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const IR_APPROVAL_TTL_0: &str = "/api/ir/approvals?ir_hash=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&ttl_seconds=0";
const IR_APPROVAL_TTL_HUGE: &str =
    "/api/ir/approvals?ir_hash=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&ttl_seconds=99999999";
const IR_APPROVAL_TTL_TEXT: &str =
    "/api/ir/approvals?ir_hash=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&ttl_seconds=soon";
const IR_APPROVAL_OTHER_TENANT: &str =
    "/api/ir/approvals?ir_hash=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&tenant_id=zz";

/// A one-step IR of `tenant` with `overrides` merged into its step.
fn ir_with(tenant: &str, overrides: Value) -> Value {
    let mut step = json!({"action": "course.create", "provider": "course_factory.v1", "resource": "c", "idempotency_key": "k"});
    if let (Some(s), Some(o)) = (step.as_object_mut(), overrides.as_object()) {
        s.extend(o.clone());
    }
    json!({"tenant_id": tenant, "steps": [step]})
}

/// A valid course generation request (a dry run) with `overrides` merged in.
fn course(overrides: Value) -> Value {
    let mut body = json!({
        "title": "Household budgeting for beginners",
        "description": "Learn to plan a monthly household budget, track spending and build savings step by step.",
        "language": "en",
        "target_audiences": ["employees"],
    });
    if let (Some(b), Some(o)) = (body.as_object_mut(), overrides.as_object()) {
        b.extend(o.clone());
    }
    body
}

/// course_distribution: paths of the distributions [`cd_setup`] creates; their ids are known only once
/// they exist, so the cases write `CD_ID` (slug `dist-known`) and `CD_DOTTED` (version `v1.2`) and the loop
/// puts the ids in.
const CD_PATH: &str = "/api/courses/distribution/CD_ID";
const CD_DOTTED_BUMP: &str = "/api/courses/distribution/CD_DOTTED/version-bump";

/// A valid create body of course_distribution with `overrides` merged in.
fn cd_create(overrides: Value) -> Value {
    let mut body = json!({
        "course_id": "course_1",
        "slug": "dist-new",
        "language": "de",
        "title": "A title long enough",
        "description": "A description that is long enough to pass the fifty character minimum.",
        "seo": {"meta_title": "A meta title here", "meta_description": "A meta description that is long enough for the minimum."},
        "cta": {"label": "Start now", "action": "open_course"},
    });
    if let (Some(b), Some(o)) = (body.as_object_mut(), overrides.as_object()) {
        b.extend(o.clone());
    }
    body
}

const CF_TRANSITION_BAD_STATE: &str = "/api/course-factory/workflow/transition?course_id=c&from_state=draft&to_state=flying&actor=a";
const CF_TRANSITION_UNKNOWN: &str = "/api/course-factory/workflow/transition?course_id=nope&from_state=draft&to_state=review&actor=a";
const CF_TRANSITION_BAD_ID: &str = "/api/course-factory/workflow/transition?course_id=a%20b&from_state=draft&to_state=review&actor=a";
const CF_TRANSITION_NO_ACTOR: &str = "/api/course-factory/workflow/transition?course_id=c&from_state=draft&to_state=review&actor=";
const CF_ROLLBACK_UNKNOWN: &str = "/api/course-factory/workflow/rollback?course_id=nope&transition_id=t&actor=a&reason=r";
const CF_ROLLBACK_NO_REASON: &str = "/api/course-factory/workflow/rollback?course_id=c&transition_id=t&actor=a&reason=";

/// A valid micro-niche body of course_distribution (parent: the known distribution) with `overrides`.
fn cd_micro(overrides: Value) -> Value {
    let mut body = json!({
        "parent_distribution_id": "CD_ID",
        "new_slug": "dist-variant",
        "language": "de",
        "seo": {"meta_title": "A meta title here", "meta_description": "A meta description that is long enough for the minimum."},
        "cta": {"label": "Start now", "action": "open_course"},
    });
    if let (Some(b), Some(o)) = (body.as_object_mut(), overrides.as_object()) {
        b.extend(o.clone());
    }
    body
}

/// Creates the known distribution (slug `dist-known`) and one with version `v1.2` (slug
/// `dist-dotted`); returns their ids, which replace `CD_ID` and `CD_DOTTED` in paths and bodies.
async fn cd_setup(app: &App) -> (String, String) {
    let (_, known) = app.post("/api/courses/distribution/create", cd_create(json!({"slug": "dist-known"}))).await;
    let (_, dotted) = app.post("/api/courses/distribution/create", cd_create(json!({"slug": "dist-dotted", "version": "v1.2"}))).await;
    let id = |v: &Value| v["distribution_id"].as_str().expect("created").to_owned();
    (id(&known), id(&dotted))
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str),
}

#[tokio::test]
async fn bad_input_on_every_route_gets_a_4xx_with_a_code() {
    let app = App::start(fast_config()).await;
    app.post("/api/missions", json!({"id": "known", "name": "known"})).await;
    app.post("/api/credits/agents/rich/allocate", json!({"amount": 1})).await;
    let (cd_id, cd_dotted) = cd_setup(&app).await;
    use Body::{Json, None as NoBody, Raw};
    let cases: Vec<(Method, &str, Body, u16, &str)> = vec![
        // missions
        (Method::POST, "/api/missions", Json(json!({})), 422, "invalid_body"),
        (Method::POST, "/api/missions", Json(json!({"name": ""})), 422, "validation_failed"),
        (Method::POST, "/api/missions", Json(json!({"name": "x", "priority": 25})), 422, "invalid_body"),
        (Method::POST, "/api/missions", Json(json!({"name": "x", "id": "a b"})), 422, "validation_failed"),
        (Method::POST, "/api/missions", Json(json!({"name": "x", "credit_cost": 5})), 422, "validation_failed"),
        (Method::POST, "/api/missions", Json(json!({"name": "x", "agent_id": "a", "credit_cost": -5})), 422, "validation_failed"),
        (Method::POST, "/api/missions", Json(json!({"name": "x", "max_retries": 1000})), 422, "validation_failed"),
        (Method::POST, "/api/missions", Json(json!({"name": "x", "surprise": 1})), 422, "invalid_body"),
        (Method::POST, "/api/missions", Raw("{not json"), 400, "malformed_json"),
        (Method::POST, "/api/missions/enqueue", Json(json!({"payload": {}})), 422, "invalid_body"),
        (Method::POST, "/api/missions/enqueue", Json(json!({"type": "t", "payload": []})), 422, "invalid_body"),
        (Method::GET, "/api/missions?status=DONE", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/missions?limit=0", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/missions?limit=abc", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/missions/queue?limit=1000", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/missions/nope", NoBody, 404, "mission_not_found"),
        (Method::GET, "/api/missions/bad%20id", NoBody, 404, "mission_not_found"),
        (Method::POST, "/api/missions/nope/status?mission_status=RUNNING", NoBody, 404, "mission_not_found"),
        (Method::POST, "/api/missions/known/status", NoBody, 400, "invalid_query"),
        (Method::POST, "/api/missions/known/status?mission_status=FLYING", NoBody, 400, "invalid_query"),
        (Method::POST, "/api/missions/known/status?mission_status=COMPLETED", NoBody, 409, "illegal_transition"),
        (Method::POST, "/api/missions/nope/cancel", NoBody, 404, "mission_not_found"),
        (Method::POST, "/api/missions/nope/execute", NoBody, 404, "mission_not_found"),
        (Method::POST, "/api/missions/nope/log", Json(json!({"message": "m"})), 404, "mission_not_found"),
        (Method::POST, "/api/missions/known/log", Json(json!({"message": ""})), 422, "validation_failed"),
        (Method::POST, "/api/missions/known/log", Json(json!({"level": "info"})), 422, "invalid_body"),
        (Method::GET, "/api/missions/nope/log", NoBody, 404, "mission_not_found"),
        // supervisor (no input besides the principal)
        // credits
        (Method::POST, "/api/credits/agents/rich/consume", Json(json!({"amount": 0})), 422, "validation_failed"),
        (Method::POST, "/api/credits/agents/rich/consume", Json(json!({"amount": -1})), 422, "validation_failed"),
        (Method::POST, "/api/credits/agents/rich/consume", Json(json!({"amount": 1e20})), 422, "validation_failed"),
        (Method::POST, "/api/credits/agents/rich/consume", Json(json!({"amount": "ten"})), 422, "invalid_body"),
        (Method::POST, "/api/credits/agents/rich/consume", Json(json!({"amount": 0.0001})), 422, "validation_failed"),
        (Method::POST, "/api/credits/agents/rich/consume", Json(json!({"amount": 5})), 409, "insufficient_credits"),
        (Method::POST, "/api/credits/agents/ghost/consume", Json(json!({"amount": 1})), 404, "account_not_found"),
        (Method::POST, "/api/credits/agents/ghost/refund", Json(json!({"amount": 1})), 404, "account_not_found"),
        (Method::POST, "/api/credits/agents/rich/refund", Json(json!({"amount": 1})), 409, "refund_exceeds_consumed"),
        (Method::POST, "/api/credits/agents/bad%20agent/allocate", Json(json!({"amount": 1})), 422, "validation_failed"),
        (Method::POST, "/api/credits/agents/rich/allocate", Raw("{\"amount\": 1"), 400, "malformed_json"),
        (Method::GET, "/api/credits/agents/ghost/balance", NoBody, 404, "account_not_found"),
        (Method::GET, "/api/credits/agents/ghost/history", NoBody, 404, "account_not_found"),
        (Method::GET, "/api/credits/agents/rich/history?limit=-1", NoBody, 400, "invalid_query"),
        // hardware
        (Method::POST, "/api/hardware/robots/r/command", Json(json!({"linear_x": 0, "linear_y": 0})), 422, "invalid_body"),
        (
            Method::POST,
            "/api/hardware/robots/r/command",
            Json(json!({"linear_x": 0, "linear_y": 1.01, "angular_z": 0})),
            422,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/hardware/robots/r/command",
            Json(json!({"linear_x": 0, "linear_y": 0, "angular_z": -2.5})),
            422,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/hardware/robots/r/command",
            Json(json!({"linear_x": "fast", "linear_y": 0, "angular_z": 0})),
            422,
            "invalid_body",
        ),
        (
            Method::POST,
            "/api/hardware/robots/r%20x/command",
            Json(json!({"linear_x": 0, "linear_y": 0, "angular_z": 0})),
            422,
            "validation_failed",
        ),
        (Method::GET, "/api/hardware/robots/never/state", NoBody, 404, "robot_not_found"),
        // telemetry
        (Method::GET, "/api/telemetry/robots/never/metrics", NoBody, 404, "robot_not_found"),
        (Method::GET, "/api/telemetry/robots/bad%20id/metrics", NoBody, 422, "validation_failed"),
        (Method::GET, "/api/telemetry/ws/r-1", NoBody, 400, "websocket_upgrade_required"),
        // dna
        (Method::POST, "/api/dna/snapshot", Json(json!({"agent_id": "a"})), 422, "invalid_body"),
        (Method::POST, "/api/dna/snapshot", Json(json!({"agent_id": "", "dna": {}})), 422, "validation_failed"),
        (Method::POST, "/api/dna/snapshot", Json(json!({"agent_id": "a", "dna": [1]})), 422, "invalid_body"),
        (Method::POST, "/api/dna/agents/ghost/mutate", Json(json!({"mutation": {"a": 1}})), 404, "agent_not_found"),
        (Method::POST, "/api/dna/agents/ghost/mutate", Json(json!({"traits_delta": {}})), 422, "invalid_body"),
        (Method::POST, "/api/dna/agents/ghost/karma", Json(json!({"score": 0.5})), 404, "agent_not_found"),
        (Method::POST, "/api/dna/agents/ghost/karma", Json(json!({"score": 101})), 422, "validation_failed"),
        (Method::GET, "/api/dna/agents/ghost/history", NoBody, 404, "agent_not_found"),
        // ir_governance
        (Method::POST, "/api/ir/validate", Json(json!({})), 422, "invalid_body"),
        (Method::POST, "/api/ir/validate", Raw("{\"tenant_id\": "), 400, "malformed_json"),
        (Method::POST, "/api/ir/validate", Json(json!({"tenant_id": "acme", "steps": []})), 422, "validation_failed"),
        (Method::POST, "/api/ir/validate", Json(ir_with("other", json!({}))), 403, "tenant_mismatch"),
        (Method::POST, "/api/ir/validate", Json(ir_with("acme", json!({"surprise": 1}))), 422, "invalid_body"),
        (Method::POST, "/api/ir/validate", Json(ir_with("acme", json!({"resource": " "}))), 422, "validation_failed"),
        (Method::POST, "/api/ir/validate", Json(ir_with("acme", json!({"params": {"p": 0.5}}))), 422, "float_not_allowed"),
        (Method::POST, "/api/ir/validate", Json(ir_with("acme", json!({"params": {"p": "\u{1b}"}}))), 422, "control_character"),
        (Method::POST, "/api/ir/validate", Json(ir_with("acme", json!({"budget_cents": 2.5}))), 422, "float_not_allowed"),
        (Method::POST, "/api/ir/validate", Json(ir_with("acme", json!({"action": 5}))), 422, "invalid_body"),
        (Method::POST, "/api/ir/dag-diff", Json(json!({"ir": ir_with("acme", json!({}))})), 422, "invalid_body"),
        (
            Method::POST,
            "/api/ir/dag-diff",
            Json(json!({"ir": ir_with("acme", json!({})), "dag_nodes": [{"ir_step_hash": "h"}]})),
            422,
            "invalid_dag_node",
        ),
        (Method::POST, "/api/ir/dag-diff", Json(json!({"ir": ir_with("acme", json!({})), "dag_nodes": [1]})), 422, "invalid_dag_node"),
        (Method::POST, "/api/ir/dag-diff", Json(json!({"ir": ir_with("zz", json!({})), "dag_nodes": []})), 403, "tenant_mismatch"),
        (Method::POST, "/api/ir/approvals", NoBody, 422, "validation_failed"),
        (Method::POST, "/api/ir/approvals?ir_hash=xyz", NoBody, 422, "validation_failed"),
        (Method::POST, IR_APPROVAL_TTL_0, NoBody, 422, "validation_failed"),
        (Method::POST, IR_APPROVAL_TTL_HUGE, NoBody, 422, "validation_failed"),
        (Method::POST, IR_APPROVAL_TTL_TEXT, NoBody, 400, "invalid_query"),
        (Method::POST, IR_APPROVAL_OTHER_TENANT, NoBody, 403, "tenant_mismatch"),
        (Method::POST, "/api/ir/approvals?surprise=1", NoBody, 400, "invalid_query"),
        (Method::POST, "/api/ir/approvals/consume", Json(json!({})), 422, "validation_failed"),
        (Method::POST, "/api/ir/approvals/consume", Json(json!({"ir_hash": A64, "token": ""})), 422, "validation_failed"),
        (Method::POST, "/api/ir/approvals/consume", Json(json!({"ir_hash": A64, "token": "t", "extra": 1})), 422, "invalid_body"),
        (Method::POST, "/api/ir/approvals/consume", Json(json!({"ir_hash": A64, "token": "t", "tenant_id": "zz"})), 403, "tenant_mismatch"),
        (Method::POST, "/api/ir/approvals/consume", Raw("{\"token\": "), 400, "malformed_json"),
        (Method::GET, "/api/ir/approvals/pending?limit=0", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/ir/approvals/pending?limit=many", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/ir/approvals/stats?tenant_id=zz", NoBody, 403, "tenant_mismatch"),
        (Method::GET, "/api/ir/approvals/nope", NoBody, 404, "approval_not_found"),
        (Method::GET, "/api/ir/approvals/bad%20id", NoBody, 422, "validation_failed"),
        (Method::GET, "/api/ir/approvals/nope/status", NoBody, 404, "approval_not_found"),
        (Method::POST, "/api/ir/approvals/nope/acknowledge", Json(json!({"acknowledged_by": "x"})), 404, "approval_not_found"),
        (Method::POST, "/api/ir/approvals/nope/acknowledge", Json(json!({})), 422, "validation_failed"),
        (Method::GET, "/api/ir/approvals/ws", NoBody, 400, "websocket_upgrade_required"),
        (Method::GET, "/api/ir/approvals/bad%20id/status", NoBody, 422, "validation_failed"),
        (Method::POST, "/api/ir/approvals/bad%20id/acknowledge", Json(json!({"acknowledged_by": "x"})), 422, "validation_failed"),
        (Method::POST, "/api/ir/approvals/nope/acknowledge", Raw("{\"acknowledged_by\": "), 400, "malformed_json"),
        (Method::GET, "/api/ir/approvals/pending?tenant_id=zz", NoBody, 403, "tenant_mismatch"),
        // policy
        (Method::POST, "/api/policy/evaluate", Json(json!({})), 422, "invalid_body"),
        (Method::POST, "/api/policy/evaluate", Json(json!({"agent_id": "a b", "action": "x"})), 422, "validation_failed"),
        (Method::POST, "/api/policy/evaluate", Json(json!({"agent_id": "a", "action": " "})), 422, "validation_failed"),
        (Method::POST, "/api/policy/evaluate", Json(json!({"agent_id": "a", "action": "x", "params": [1]})), 422, "invalid_body"),
        (Method::POST, "/api/policy/evaluate", Raw("{\"agent_id\""), 400, "malformed_json"),
        (Method::POST, "/api/policy/test-rule", Json(json!({"agent_id": "a"})), 422, "invalid_body"),
        (Method::POST, "/api/policy/policies", Json(json!({})), 422, "invalid_body"),
        (Method::POST, "/api/policy/policies", Json(json!({"name": ""})), 422, "validation_failed"),
        (Method::POST, "/api/policy/policies", Json(json!({"name": "x", "default_effect": "maybe"})), 422, "invalid_body"),
        (Method::POST, "/api/policy/policies", Json(json!({"name": "x", "surprise": 1})), 422, "invalid_body"),
        (
            Method::POST,
            "/api/policy/policies",
            Json(
                json!({"name": "x", "rules": [{"rule_id": "r", "name": "r", "effect": "deny", "conditions": [{"field": "action", "operator": "~=", "value": 1}]}]}),
            ),
            422,
            "invalid_body",
        ),
        (
            Method::POST,
            "/api/policy/policies",
            Json(
                json!({"name": "x", "rules": [{"rule_id": "r", "name": "r", "effect": "deny", "conditions": [{"field": "action", "operator": "matches", "value": "(("}]}]}),
            ),
            422,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/policy/policies",
            Json(
                json!({"name": "x", "rules": [{"rule_id": "r", "name": "r", "effect": "deny"}, {"rule_id": "r", "name": "s", "effect": "allow"}]}),
            ),
            422,
            "validation_failed",
        ),
        (Method::GET, "/api/policy/policies/nope", NoBody, 404, "policy_not_found"),
        (Method::GET, "/api/policy/policies/bad%20id", NoBody, 422, "validation_failed"),
        (Method::PUT, "/api/policy/policies/nope", Json(json!({"name": "x"})), 404, "policy_not_found"),
        (Method::PUT, "/api/policy/policies/admin_full_access", Json(json!({"version": "2"})), 422, "invalid_body"),
        (Method::PUT, "/api/policy/policies/admin_full_access", Json(json!({"name": " "})), 422, "validation_failed"),
        (Method::DELETE, "/api/policy/policies/nope", NoBody, 404, "policy_not_found"),
        (Method::DELETE, "/api/policy/policies/bad%20id", NoBody, 422, "validation_failed"),
        (Method::PUT, "/api/policy/policies/admin_full_access", Raw("{\"name\": "), 400, "malformed_json"),
        // threats
        (Method::POST, "/api/threats", Json(json!({"type": "t", "source": "s"})), 422, "invalid_body"),
        (Method::POST, "/api/threats", Json(json!({"type": "t", "source": "s", "severity": "SEVERE"})), 422, "invalid_body"),
        (Method::POST, "/api/threats", Json(json!({"type": "", "source": "s", "severity": "LOW"})), 422, "validation_failed"),
        (Method::POST, "/api/threats", Json(json!({"type": "t", "source": "s", "severity": "LOW", "metadata": []})), 422, "invalid_body"),
        (Method::POST, "/api/threats", Raw("["), 400, "malformed_json"),
        (Method::GET, "/api/threats?status=DONE", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/threats?severity=huge", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/threats?surprise=1", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/threats/nope", NoBody, 404, "threat_not_found"),
        (Method::GET, "/api/threats/bad%20id", NoBody, 422, "validation_failed"),
        (Method::POST, "/api/threats/nope/status?status=MITIGATED", NoBody, 404, "threat_not_found"),
        (Method::POST, "/api/threats/nope/status", NoBody, 400, "invalid_query"),
        (Method::POST, "/api/threats/nope/status?status=FIXED", NoBody, 400, "invalid_query"),
        // immune
        (Method::POST, "/api/immune/event", Json(json!({})), 422, "invalid_body"),
        (Method::POST, "/api/immune/event", Json(json!({"severity": "LOUD", "type": "ERROR_SPIKE", "message": "m"})), 422, "invalid_body"),
        (
            Method::POST,
            "/api/immune/event",
            Json(json!({"severity": "INFO", "type": "ERROR_SPIKE", "message": ""})),
            422,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/immune/event",
            Json(json!({"severity": "INFO", "type": "ERROR_SPIKE", "message": "m", "agent_id": "a b"})),
            422,
            "validation_failed",
        ),
        (Method::POST, "/api/immune/event", Raw("{"), 400, "malformed_json"),
        // course_factory
        (Method::POST, "/api/course-factory/generate", Json(json!({})), 422, "invalid_body"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"title": "Short"}))), 422, "validation_failed"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"title": "Budget \u{1b} basics"}))), 422, "validation_failed"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"description": "too short"}))), 422, "validation_failed"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"language": "it"}))), 422, "invalid_body"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"target_audiences": []}))), 422, "validation_failed"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"target_audiences": ["aliens"]}))), 422, "invalid_body"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"full_lessons_count": 11}))), 422, "validation_failed"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"full_lessons_count": -1}))), 422, "invalid_body"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"deploy_to_staging": true}))), 422, "validation_failed"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"staging_domain": "bad domain"}))), 422, "validation_failed"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"tenant_id": "zz"}))), 403, "tenant_mismatch"),
        (Method::POST, "/api/course-factory/generate", Json(course(json!({"surprise": 1}))), 422, "invalid_body"),
        (Method::POST, "/api/course-factory/generate", Raw("{\"title\": "), 400, "malformed_json"),
        (Method::POST, "/api/course-factory/generate?approval_id=bad%20id", Json(course(json!({}))), 422, "validation_failed"),
        (Method::POST, "/api/course-factory/generate?surprise=1", Json(course(json!({}))), 400, "invalid_query"),
        (Method::POST, "/api/course-factory/dry-run", Json(json!({})), 422, "invalid_body"),
        (Method::POST, "/api/course-factory/dry-run", Json(course(json!({"full_lessons_count": "three"}))), 422, "invalid_body"),
        (Method::POST, "/api/course-factory/generate-ir", Json(json!({})), 422, "invalid_body"),
        (Method::POST, "/api/course-factory/generate-ir", Json(course(json!({"tenant_id": "zz"}))), 403, "tenant_mismatch"),
        (Method::POST, "/api/course-factory/validate-ir", Json(json!({})), 422, "invalid_body"),
        (Method::POST, "/api/course-factory/validate-ir", Json(json!({"tenant_id": "acme", "steps": []})), 422, "validation_failed"),
        (Method::POST, "/api/course-factory/validate-ir", Json(ir_with("other", json!({}))), 403, "tenant_mismatch"),
        (Method::POST, "/api/course-factory/validate-ir", Json(ir_with("acme", json!({"params": {"p": 0.5}}))), 422, "float_not_allowed"),
        (Method::POST, "/api/course-factory/workflow/transition", NoBody, 400, "invalid_query"),
        (Method::POST, CF_TRANSITION_BAD_STATE, NoBody, 400, "invalid_query"),
        (Method::POST, CF_TRANSITION_UNKNOWN, NoBody, 404, "course_not_found"),
        (Method::POST, CF_TRANSITION_BAD_ID, NoBody, 422, "validation_failed"),
        (Method::POST, CF_TRANSITION_NO_ACTOR, NoBody, 422, "validation_failed"),
        (Method::POST, "/api/course-factory/workflow/rollback", NoBody, 400, "invalid_query"),
        (Method::POST, CF_ROLLBACK_UNKNOWN, NoBody, 404, "course_not_found"),
        (Method::POST, CF_ROLLBACK_NO_REASON, NoBody, 422, "validation_failed"),
        (Method::GET, "/api/course-factory/courses/nope", NoBody, 404, "course_not_found"),
        (Method::GET, "/api/course-factory/courses/bad%20id", NoBody, 422, "validation_failed"),
        // course_distribution (a private distribution `dist-known` with the id in CD_ID exists)
        (Method::GET, "/api/courses/public?limit=0", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/courses/public?limit=101", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/courses/public?language=german", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/courses/public?sort=new", NoBody, 400, "invalid_query"),
        (Method::GET, "/api/courses/public/dist-known", NoBody, 404, "distribution_not_found"),
        (Method::GET, "/api/courses/public/Bad_Slug", NoBody, 422, "validation_failed"),
        (Method::GET, "/api/courses/public/dist-known/outline", NoBody, 404, "distribution_not_found"),
        (Method::GET, "/api/courses/public/dist-known/page", NoBody, 404, "distribution_not_found"),
        (Method::POST, "/api/courses/public/dist-known/track-enrollment", NoBody, 404, "distribution_not_found"),
        (Method::POST, "/api/courses/public/a/track-enrollment", NoBody, 422, "validation_failed"),
        (Method::POST, "/api/courses/distribution/create", Json(json!({})), 422, "invalid_body"),
        (Method::POST, "/api/courses/distribution/create", Json(cd_create(json!({"slug": "dist-known"}))), 409, "slug_taken"),
        (Method::POST, "/api/courses/distribution/create", Json(cd_create(json!({"slug": "ab"}))), 422, "validation_failed"),
        (Method::POST, "/api/courses/distribution/create", Json(cd_create(json!({"slug": "Not-A-Slug"}))), 422, "validation_failed"),
        (Method::POST, "/api/courses/distribution/create", Json(cd_create(json!({"language": "DE"}))), 422, "validation_failed"),
        (Method::POST, "/api/courses/distribution/create", Json(cd_create(json!({"title": "Short"}))), 422, "validation_failed"),
        (Method::POST, "/api/courses/distribution/create", Json(cd_create(json!({"description": "Too short."}))), 422, "validation_failed"),
        (Method::POST, "/api/courses/distribution/create", Json(cd_create(json!({"course_id": "a b"}))), 422, "validation_failed"),
        (Method::POST, "/api/courses/distribution/create", Json(cd_create(json!({"version": "v 1"}))), 422, "validation_failed"),
        (Method::POST, "/api/courses/distribution/create", Json(cd_create(json!({"target_group": "all"}))), 422, "invalid_body"),
        (Method::POST, "/api/courses/distribution/create", Json(cd_create(json!({"visibility": "public"}))), 422, "invalid_body"),
        (
            Method::POST,
            "/api/courses/distribution/create",
            Json(cd_create(json!({"seo": {"meta_title": "Too short", "meta_description": "x".repeat(60)}}))),
            422,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/courses/distribution/create",
            Json(cd_create(
                json!({"seo": {"meta_title": "Long enough title", "meta_description": "x".repeat(60), "keywords": vec!["k"; 11]}}),
            )),
            422,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/courses/distribution/create",
            Json(cd_create(json!({"cta": {"label": "Start now", "action": "teleport"}}))),
            422,
            "invalid_body",
        ),
        (
            Method::POST,
            "/api/courses/distribution/create",
            Json(cd_create(json!({"cta": {"label": "Start now", "action": "custom", "url": "javascript:alert(1)"}}))),
            422,
            "validation_failed",
        ),
        (Method::POST, "/api/courses/distribution/create", Raw("{\"slug\":"), 400, "malformed_json"),
        (Method::POST, "/api/courses/distribution/micro-niche", Json(json!({})), 422, "invalid_body"),
        (
            Method::POST,
            "/api/courses/distribution/micro-niche",
            Json(cd_micro(json!({"parent_distribution_id": "dist_0000000000000000"}))),
            404,
            "distribution_not_found",
        ),
        (Method::POST, "/api/courses/distribution/micro-niche", Json(cd_micro(json!({"new_slug": "dist-known"}))), 409, "slug_taken"),
        (Method::POST, "/api/courses/distribution/micro-niche", Json(cd_micro(json!({"new_slug": "x"}))), 422, "validation_failed"),
        (
            Method::POST,
            "/api/courses/distribution/micro-niche",
            Json(cd_micro(json!({"derived_content": {"title_override": "short"}}))),
            422,
            "validation_failed",
        ),
        (
            Method::POST,
            "/api/courses/distribution/micro-niche",
            Json(cd_micro(json!({"derived_content": {"surprise": 1}}))),
            422,
            "invalid_body",
        ),
        (Method::GET, "/api/courses/distribution/dist_0000000000000000", NoBody, 404, "distribution_not_found"),
        (Method::GET, "/api/courses/distribution/bad%20id", NoBody, 422, "validation_failed"),
        (
            Method::PATCH,
            "/api/courses/distribution/dist_0000000000000000",
            Json(json!({"title": "A long enough title"})),
            404,
            "distribution_not_found",
        ),
        (Method::PATCH, CD_PATH, Json(json!({"title": "short"})), 422, "validation_failed"),
        (Method::PATCH, CD_PATH, Json(json!({"visibility": "public"})), 422, "invalid_body"),
        (Method::PATCH, CD_PATH, Json(json!({"target_group": vec!["g"; 51]})), 422, "validation_failed"),
        (Method::PATCH, CD_PATH, Raw("["), 400, "malformed_json"),
        (Method::DELETE, "/api/courses/distribution/dist_0000000000000000", NoBody, 404, "distribution_not_found"),
        (Method::DELETE, "/api/courses/distribution/bad%20id", NoBody, 422, "validation_failed"),
        (Method::POST, "/api/courses/distribution/dist_0000000000000000/publish", NoBody, 404, "distribution_not_found"),
        (Method::POST, "/api/courses/distribution/dist_0000000000000000/unpublish", NoBody, 404, "distribution_not_found"),
        (Method::POST, "/api/courses/distribution/dist_0000000000000000/version-bump", NoBody, 404, "distribution_not_found"),
        (Method::POST, "/api/courses/distribution/bad%20id/version-bump", NoBody, 422, "validation_failed"),
        (Method::POST, CD_DOTTED_BUMP, NoBody, 422, "invalid_version"),
    ];
    let mut without_field = Vec::new();
    for (method, path, body, want_status, want_code) in cases {
        let path = path.replace("CD_ID", &cd_id).replace("CD_DOTTED", &cd_dotted);
        let path = path.as_str();
        let mut req = app.client.request(method.clone(), format!("{}{path}", app.base)).header("x-test-tenant", TENANT);
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&serde_json::from_str::<Value>(&v.to_string().replace("CD_ID", &cd_id)).unwrap_or(v)),
            Body::Raw(s) => req.header("content-type", "application/json").body(s),
        };
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let v: Value = serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        assert_eq!(status, want_status, "{method} {path}: {v}");
        if !want_code.is_empty() {
            assert_eq!(v["code"].as_str(), Some(want_code), "{method} {path}: {v}");
        }
        // Input errors name what is wrong: every 400/403/404/422 carries the field, the parameter or the
        // id it is about, except where the whole body or request is the problem.
        let whole_request = ["malformed_json", "websocket_upgrade_required", "unauthorized", "forbidden"];
        if matches!(want_status, 400 | 403 | 404 | 422)
            && !whole_request.contains(&want_code)
            && v["field"].as_str().is_none_or(str::is_empty)
        {
            without_field.push(format!("{method} {path}: {v}"));
        }
    }

    assert!(without_field.is_empty(), "answers that do not name their field:\n{}", without_field.join("\n"));

    // Missing principal, read-only keys and a bad correlation id.
    let anon = app.client.get(format!("{}/api/missions", app.base)).header("x-test-anonymous", "1").send().await.expect("request");
    assert_eq!(anon.status().as_u16(), 401);
    let reader = app
        .client
        .post(format!("{}/api/credits/agents/rich/allocate", app.base))
        .header("x-test-role", "reader")
        .json(&json!({"amount": 1}))
        .send()
        .await
        .expect("request");
    assert_eq!(reader.status().as_u16(), 403);
    let bad_corr = app.client.get(format!("{}/api/missions", app.base)).header("x-correlation-id", "a b").send().await.expect("request");
    assert_eq!(bad_corr.status().as_u16(), 400);
    app.stop().await;
}

/// A bad query on a module route is answered like one on the event API: 400 `invalid_query`, naming the
/// parameter in `field`, whether the extractor or the route's own check rejects it.
#[tokio::test]
async fn bad_query_on_module_routes_is_400_invalid_query_with_its_field() {
    let app = App::start(fast_config()).await;
    app.post("/api/missions", json!({"id": "known", "name": "known"})).await;
    app.post("/api/credits/agents/rich/allocate", json!({"amount": 1})).await;
    let cases: [(Method, &str, &str); 9] = [
        (Method::GET, "/api/missions?limit=abc", "limit"),
        (Method::GET, "/api/missions?limit=0", "limit"),
        (Method::GET, "/api/missions?surprise=1", "surprise"),
        (Method::GET, "/api/missions?status=DONE", "status"),
        (Method::GET, "/api/missions/queue?limit=1000", "limit"),
        (Method::POST, "/api/missions/known/status", "mission_status"),
        (Method::POST, "/api/missions/known/status?mission_status=FLYING", "mission_status"),
        (Method::GET, "/api/credits/agents/rich/history?limit=-1", "limit"),
        (Method::GET, "/api/credits/agents/rich/history?limit=5&extra=1", "extra"),
    ];
    for (method, path, field) in cases {
        let resp = app
            .client
            .request(method.clone(), format!("{}{path}", app.base))
            .header("x-test-tenant", TENANT)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let v: Value = serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        assert_eq!(status, 400, "{method} {path}: {v}");
        assert_eq!(v["code"].as_str(), Some("invalid_query"), "{method} {path}: {v}");
        assert_eq!(v["field"].as_str(), Some(field), "{method} {path}: {v}");
    }
    app.stop().await;
}
