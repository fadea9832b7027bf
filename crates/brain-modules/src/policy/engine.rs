//! The pure policy engine: field resolution, operators, rule order, effects and the ported safety check.
//! No I/O: the service loads the tenant's policies, calls [`evaluate`] and stores the counters and events.

use brain_events::policy::PolicyEffect;
use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::model::{Condition, EvaluationContext, EvaluationResult, Operator, Policy};

/// Longest `matches` pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 1000;
/// Compiled-program and lazy-DFA budgets of one pattern: the `regex` crate matches in linear time, and
/// these bound what a pattern may cost to compile and cache.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// The suffix added to the reason when the safety check overrides an allow.
pub const OVERRIDE_SUFFIX: &str = " (overridden by Foundation safety check)";

/// Why a `matches` pattern is refused.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    /// Over [`MAX_PATTERN_CHARS`].
    #[error("the pattern is longer than {MAX_PATTERN_CHARS} characters")]
    TooLong,
    /// Not a valid (Rust `regex` syntax) expression, or over the size limit.
    #[error("{0}")]
    Regex(#[source] regex::Error),
}

/// Compiles a `matches` pattern anchored at the start only (`^(?:p)`, as Python's `re.match`), within
/// the size limits.
///
/// # Errors
/// [`PatternError`].
pub fn compile_pattern(pattern: &str) -> Result<Regex, PatternError> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(PatternError::TooLong);
    }
    RegexBuilder::new(&format!("^(?:{pattern})"))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(PatternError::Regex)
}

/// The rule that decided, with its policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    /// The policy id.
    pub policy_id: String,
    /// The policy's name.
    pub policy_name: String,
    /// The rule id.
    pub rule_id: String,
    /// The rule's name.
    pub rule_name: String,
}

/// What an evaluation decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The verdict.
    pub result: EvaluationResult,
    /// The matching rule (none: the default effect, or no enabled policy).
    pub matched: Option<Matched>,
    /// No policy was enabled.
    pub no_policies: bool,
}

/// Evaluates `ctx` against `policies` (in insertion order).
///
/// The enabled rules of enabled policies are sorted stably by priority, highest first; the first whose
/// conditions all hold decides. An allowing rule is then checked by [`safety_violation`]; a violation
/// turns it into a deny (counted once, as a deny). No match applies the default effect of the first
/// enabled policy.
pub fn evaluate(policies: &[Policy], ctx: &EvaluationContext) -> Outcome {
    let enabled: Vec<&Policy> = policies.iter().filter(|p| p.enabled).collect();
    let Some(first) = enabled.first() else {
        return Outcome {
            result: result(false, PolicyEffect::Deny, "No policies configured - default deny".into(), None),
            matched: None,
            no_policies: true,
        };
    };
    let mut rules: Vec<_> = enabled.iter().flat_map(|p| p.rules.iter().filter(|r| r.enabled).map(move |r| (*p, r))).collect();
    rules.sort_by_key(|(_, r)| std::cmp::Reverse(r.priority));
    let hit = rules.into_iter().find(|(_, r)| r.conditions.iter().all(|c| holds(c, ctx)));
    let Some((policy, rule)) = hit else {
        let effect = first.default_effect;
        let reason = format!("No matching rules - applied default effect: {}", effect_str(effect));
        return Outcome { result: result(effect == PolicyEffect::Allow, effect, reason, None), matched: None, no_policies: false };
    };
    let ids = Some((policy.policy_id.clone(), rule.rule_id.clone()));
    let mut res = match rule.effect {
        PolicyEffect::Allow => result(true, PolicyEffect::Allow, format!("Allowed by rule '{}'", rule.name), ids),
        PolicyEffect::Deny => result(false, PolicyEffect::Deny, format!("Denied by rule '{}'", rule.name), ids),
        PolicyEffect::Warn => {
            let mut r = result(true, PolicyEffect::Warn, format!("Allowed with warning by rule '{}'", rule.name), ids);
            r.warnings = vec![format!("Action '{}' triggered warning rule", ctx.action)];
            r
        }
        PolicyEffect::Audit => {
            let mut r = result(true, PolicyEffect::Audit, format!("Allowed with audit requirement by rule '{}'", rule.name), ids);
            r.requires_audit = true;
            r
        }
    };
    if res.allowed && safety_violation(ctx).is_some() {
        res.allowed = false;
        res.effect = PolicyEffect::Deny;
        res.reason.push_str(OVERRIDE_SUFFIX);
    }
    let matched = Matched {
        policy_id: policy.policy_id.clone(),
        policy_name: policy.name.clone(),
        rule_id: rule.rule_id.clone(),
        rule_name: rule.name.clone(),
    };
    Outcome { result: res, matched: Some(matched), no_policies: false }
}

fn result(allowed: bool, effect: PolicyEffect, reason: String, ids: Option<(String, String)>) -> EvaluationResult {
    let (matched_policy, matched_rule) = ids.map_or((None, None), |(p, r)| (Some(p), Some(r)));
    EvaluationResult { allowed, effect, matched_rule, matched_policy, reason, warnings: Vec::new(), requires_audit: false }
}

/// The wire spelling of an effect.
pub fn effect_str(e: PolicyEffect) -> &'static str {
    match e {
        PolicyEffect::Allow => "allow",
        PolicyEffect::Deny => "deny",
        PolicyEffect::Warn => "warn",
        PolicyEffect::Audit => "audit",
    }
}

/// Resolves a condition field: one token is a context attribute; `environment.X`, `params.X` and
/// `agent.X` (the attribute `agent_X`) read one level down; anything else is absent.
fn resolve(field: &str, ctx: &EvaluationContext) -> Option<Value> {
    let attr = |name: &str| -> Option<Value> {
        match name {
            "agent_id" => Some(Value::String(ctx.agent_id.clone())),
            "agent_role" => ctx.agent_role.clone().map(Value::String),
            "action" => Some(Value::String(ctx.action.clone())),
            "resource" => ctx.resource.clone().map(Value::String),
            "environment" => Some(Value::Object(ctx.environment.clone())),
            "params" => Some(Value::Object(ctx.params.clone())),
            _ => None,
        }
    };
    let parts: Vec<&str> = field.split('.').collect();
    let found = match parts.as_slice() {
        [one] => attr(one),
        ["environment", key] => ctx.environment.get(*key).cloned(),
        ["params", key] => ctx.params.get(*key).cloned(),
        ["agent", key] => attr(&format!("agent_{key}")),
        _ => None,
    };
    found.filter(|v| !v.is_null())
}

/// Equality where numbers compare by value (`1 == 1.0`, as in Python).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The text form `contains` and `matches` read: a string as it is, anything else as its JSON text.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether one condition holds. Never fails: a missing field or mismatched types make it false
/// (the original raised, answering 500).
fn holds(c: &Condition, ctx: &EvaluationContext) -> bool {
    let field = resolve(&c.field, ctx);
    match c.operator {
        Operator::Eq => same(field.as_ref().unwrap_or(&Value::Null), &c.value),
        Operator::Ne => !same(field.as_ref().unwrap_or(&Value::Null), &c.value),
        Operator::Gt | Operator::Lt => {
            let ord = match (field.as_ref(), &c.value) {
                (Some(Value::Number(a)), Value::Number(b)) => a.as_f64().zip(b.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)),
                (Some(Value::String(a)), Value::String(b)) => Some(a.cmp(b)),
                _ => None,
            };
            let want = if c.operator == Operator::Gt { std::cmp::Ordering::Greater } else { std::cmp::Ordering::Less };
            ord == Some(want)
        }
        Operator::Contains => field.is_some_and(|f| text(&f).contains(&text(&c.value))),
        Operator::Matches => match (field, &c.value) {
            (Some(f), Value::String(p)) => compile_pattern(p).is_ok_and(|re| re.is_match(&text(&f))),
            _ => false,
        },
        Operator::In => match &c.value {
            Value::Array(items) => {
                let f = field.unwrap_or(Value::Null);
                items.iter().any(|i| same(i, &f))
            }
            _ => false,
        },
    }
}

/// Substrings of an action that are always refused.
const BLACKLIST: [&str; 4] = ["delete_all", "format_disk", "sudo_rm_rf", "drop_database"];
/// Words that make an action unethical.
const UNETHICAL: [&str; 2] = ["hack", "exploit"];
/// Unsafe fragments of an action or of a string parameter.
const UNSAFE: [&str; 4] = ["rm -rf", "del /f", "shred", "wipe"];
/// Targets that make a `connect` unsafe.
const BAD_TARGETS: [&str; 3] = ["malware", "exploit", "hack"];

/// The ported Foundation safety check (`validate_action` with its default configuration; the Foundation
/// module itself is not migrated): the reason an allowed action is refused anyway, if any.
///
/// Refused: an action containing a blacklisted substring (`delete_all`, `format_disk`, `sudo_rm_rf`,
/// `drop_database`) or an unethical word (`hack`, `exploit`); an action or string parameter containing an
/// unsafe fragment (`rm -rf`, `del /f`, `shred`, `wipe`, or both `drop` and `database`); a `connect`
/// action whose `params.target` names malware, an exploit or a hack. Case-insensitive.
pub fn safety_violation(ctx: &EvaluationContext) -> Option<&'static str> {
    let action = ctx.action.to_lowercase();
    if BLACKLIST.iter().any(|b| action.contains(b)) {
        return Some("blacklisted action");
    }
    if UNETHICAL.iter().any(|w| action.contains(w)) {
        return Some("unethical action");
    }
    let unsafe_text = |t: &str| UNSAFE.iter().any(|u| t.contains(u)) || (t.contains("drop") && t.contains("database"));
    let params: Vec<String> = ctx.params.values().filter_map(Value::as_str).map(str::to_lowercase).collect();
    if unsafe_text(&action) || params.iter().any(|p| unsafe_text(p)) {
        return Some("unsafe operation");
    }
    if action.contains("connect") {
        let target = ctx.params.get("target").map(|t| text(t).to_lowercase()).unwrap_or_default();
        if BAD_TARGETS.iter().any(|b| target.contains(b)) {
            return Some("unsafe connection target");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::super::model::Rule;

    use super::*;

    fn ctx(role: Option<&str>, action: &str) -> EvaluationContext {
        EvaluationContext { agent_id: "a".into(), agent_role: role.map(Into::into), action: action.into(), ..Default::default() }
    }

    fn cond(field: &str, op: Operator, value: Value) -> Condition {
        Condition { field: field.into(), operator: op, value }
    }

    #[test]
    fn operators_never_fail_on_missing_or_mismatched_values() {
        let mut c = ctx(Some("admin"), "read_data");
        c.params.insert("n".into(), json!(5));
        c.environment.insert("zone".into(), json!("eu-west"));
        assert!(holds(&cond("params.n", Operator::Gt, json!(4.5)), &c));
        assert!(!holds(&cond("params.n", Operator::Lt, json!(5)), &c));
        assert!(!holds(&cond("params.missing", Operator::Gt, json!(1)), &c));
        assert!(!holds(&cond("params.n", Operator::Gt, json!("x")), &c));
        assert!(holds(&cond("params.n", Operator::Eq, json!(5.0)), &c));
        assert!(holds(&cond("agent.role", Operator::Eq, json!("admin")), &c));
        assert!(holds(&cond("resource", Operator::Eq, json!(null)), &c));
        assert!(holds(&cond("environment.zone", Operator::Matches, json!("eu-")), &c));
        assert!(!holds(&cond("environment.zone", Operator::Matches, json!("west")), &c), "anchored at the start");
        assert!(holds(&cond("action", Operator::Contains, json!("read")), &c));
        assert!(!holds(&cond("resource", Operator::Contains, json!("")), &c), "missing field is false");
        assert!(holds(&cond("action", Operator::In, json!(["read_data", "x"])), &c));
        assert!(!holds(&cond("action", Operator::In, json!("read_data")), &c), "not a list is false");
        assert!(resolve("a.b.c", &c).is_none() && resolve("params.n.x", &c).is_none(), "three parts are absent");
        assert!(holds(&cond("agent.role", Operator::Ne, json!("guest")), &c));
        assert!(!holds(&cond("agent.role", Operator::Ne, json!("admin")), &c));
        assert!(holds(&cond("params.n", Operator::Ne, json!("5")), &c), "a string is not the number");
        assert!(holds(&cond("params.missing", Operator::Ne, json!(1)), &c), "a missing field differs from any value");
    }

    fn rule(id: &str, effect: PolicyEffect, priority: i64) -> Rule {
        let r = json!({"rule_id": id, "name": id, "effect": effect, "priority": priority});
        serde_json::from_value(r).unwrap_or_else(|e| panic!("rule {id}: {e}"))
    }

    fn policy(id: &str, rules: Vec<Rule>) -> Policy {
        Policy {
            policy_id: id.into(),
            name: id.into(),
            version: "1.0.0".into(),
            description: String::new(),
            rules,
            default_effect: PolicyEffect::Deny,
            enabled: true,
            created_at: String::new(),
            updated_at: String::new(),
            created_by: None,
            metadata: Map::new(),
        }
    }

    /// PO-B5: the highest priority decides; equal priorities keep policy order, then rule order.
    #[test]
    fn ties_keep_policy_order_then_rule_order() {
        let c = ctx(Some("admin"), "read_data");
        let first = policy("p1", vec![rule("p1_warn", PolicyEffect::Warn, 5), rule("p1_deny", PolicyEffect::Deny, 5)]);
        let second = policy("p2", vec![rule("p2_allow", PolicyEffect::Allow, 5), rule("p2_audit", PolicyEffect::Audit, 9)]);
        let decided = |ps: &[Policy]| evaluate(ps, &c).matched.map(|m| m.rule_id);
        assert_eq!(decided(&[first.clone(), second.clone()]), Some("p2_audit".into()), "priority 9 beats the 5s");
        let mut second_low = second.clone();
        second_low.rules[1].priority = 1;
        assert_eq!(decided(&[first.clone(), second_low.clone()]), Some("p1_warn".into()), "tie: first policy, first rule");
        assert_eq!(decided(&[second_low, first.clone()]), Some("p2_allow".into()), "policy order decides a tie");
        let mut swapped = first;
        swapped.rules.reverse();
        assert_eq!(decided(&[swapped]), Some("p1_deny".into()), "rule order decides within a policy");
    }

    #[test]
    fn patterns_are_bounded() {
        assert!(compile_pattern("(a+)+$").is_ok(), "linear-time engine: nested quantifiers are harmless");
        assert!(matches!(compile_pattern("(unclosed"), Err(PatternError::Regex(_))));
        assert!(matches!(compile_pattern(&"a".repeat(1001)), Err(PatternError::TooLong)));
        assert!(compile_pattern("(?:\\w{1,100}){1,100}").is_err(), "over the size limit");
        let re = compile_pattern("(a+)+$").ok();
        let evil = format!("{}!", "a".repeat(5000));
        assert_eq!(re.map(|r| r.is_match(&evil)), Some(false));
    }

    #[test]
    fn safety_check_refuses_the_defaults() {
        assert!(safety_violation(&ctx(None, "read_data")).is_none());
        assert!(safety_violation(&ctx(None, "delete_database")).is_none());
        assert!(safety_violation(&ctx(None, "drop_database")).is_some());
        assert!(safety_violation(&ctx(None, "hack_server")).is_some());
        let mut c = ctx(None, "run");
        c.params.insert("cmd".into(), json!("sudo RM -RF /"));
        assert!(safety_violation(&c).is_some());
        let mut c = ctx(None, "connect");
        c.params.insert("target".into(), json!("malware.example"));
        assert!(safety_violation(&c).is_some());
    }
}
