//! The policy module's data: policies, rules, conditions, evaluation contexts and results, the request
//! bodies, and their checks (every bad value is a 422 naming its field).

use brain_events::policy::PolicyEffect;
use brain_http::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::engine::compile_pattern;
use crate::web::{check_id, check_text};

/// Rules one policy may hold.
pub const MAX_RULES: usize = 200;
/// Conditions one rule may hold.
pub const MAX_CONDITIONS: usize = 50;
/// Longest name, field path or text value.
const MAX_NAME: usize = 200;
/// Longest description or message.
const MAX_TEXT: usize = 2000;
/// Largest condition value or metadata object, as JSON text.
const MAX_JSON: usize = 16 * 1024;

/// A condition operator (the original's spellings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    /// Equality (numbers compare by value: `1 == 1.0`).
    #[serde(rename = "==")]
    Eq,
    /// Inequality.
    #[serde(rename = "!=")]
    Ne,
    /// Greater than: numbers or strings; any other pair (a missing field included) is false.
    #[serde(rename = ">")]
    Gt,
    /// Less than, as `>`.
    #[serde(rename = "<")]
    Lt,
    /// Substring of the field's text form; false for a missing field.
    #[serde(rename = "contains")]
    Contains,
    /// The regular expression matches at the start of the field's text form (Python's `re.match`).
    #[serde(rename = "matches")]
    Matches,
    /// The field equals an element of the value (a list; any other value is false).
    #[serde(rename = "in")]
    In,
}

/// One condition of a rule: `field operator value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A dot path: `action`, `agent_role`, `environment.X`, `params.X`, `agent.X` (reads `agent_X`).
    pub field: String,
    /// The operator.
    pub operator: Operator,
    /// The value compared with (any JSON).
    #[serde(default)]
    pub value: Value,
}

fn yes() -> bool {
    true
}

/// A rule: its conditions all match (AND; none always matches), the highest priority wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The rule id (unique within its policy).
    pub rule_id: String,
    /// Its name (used in reasons).
    pub name: String,
    /// A description.
    #[serde(default)]
    pub description: String,
    /// What it decides.
    pub effect: PolicyEffect,
    /// The conditions, all of which must hold.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Higher is evaluated first; ties keep policy order, then rule order.
    #[serde(default)]
    pub priority: i64,
    /// Disabled rules are skipped.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Free metadata.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// A policy: rules and the default effect when none matches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// `admin_full_access`, `guest_read_only` or `policy_<n>` (never reused).
    pub policy_id: String,
    /// Its name.
    pub name: String,
    /// Its version (`1.0.0`).
    pub version: String,
    /// A description.
    pub description: String,
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// The effect when no rule matches (of the first enabled policy).
    pub default_effect: PolicyEffect,
    /// Disabled policies are skipped.
    pub enabled: bool,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// The key that created it.
    pub created_by: Option<String>,
    /// Free metadata.
    pub metadata: Map<String, Value>,
}

/// Who wants to do what.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationContext {
    /// The acting agent.
    pub agent_id: String,
    /// Its role.
    #[serde(default)]
    pub agent_role: Option<String>,
    /// The action.
    pub action: String,
    /// The resource.
    #[serde(default)]
    pub resource: Option<String>,
    /// Facts about the environment (`environment.X`).
    #[serde(default)]
    pub environment: Map<String, Value>,
    /// The action's parameters (`params.X`).
    #[serde(default)]
    pub params: Map<String, Value>,
}

impl EvaluationContext {
    /// Checks the identifiers and sizes.
    ///
    /// # Errors
    /// 422 `validation_failed` naming the field.
    pub fn check(&self) -> Result<(), ApiError> {
        check_id("agent_id", &self.agent_id)?;
        check_text("action", &self.action, MAX_NAME, true)?;
        if let Some(r) = &self.agent_role {
            check_text("agent_role", r, MAX_NAME, true)?;
        }
        if let Some(r) = &self.resource {
            check_text("resource", r, MAX_TEXT, false)?;
        }
        check_json("environment", &Value::Object(self.environment.clone()))?;
        check_json("params", &Value::Object(self.params.clone()))
    }
}

/// The verdict of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationResult {
    /// Whether the action may proceed.
    pub allowed: bool,
    /// The effect applied.
    pub effect: PolicyEffect,
    /// The rule that matched.
    pub matched_rule: Option<String>,
    /// Its policy.
    pub matched_policy: Option<String>,
    /// Why.
    pub reason: String,
    /// Warnings of a `warn` rule.
    pub warnings: Vec<String>,
    /// Whether an `audit` rule matched.
    pub requires_audit: bool,
}

fn default_version() -> String {
    "1.0.0".into()
}

/// The body of `POST /api/policy/policies`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The name.
    pub name: String,
    /// The version (default `1.0.0`).
    #[serde(default = "default_version")]
    pub version: String,
    /// A description.
    #[serde(default)]
    pub description: String,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// The default effect (default `deny`).
    #[serde(default)]
    pub default_effect: PolicyEffect,
    /// Whether it is enabled (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl CreateRequest {
    /// Checks every field.
    ///
    /// # Errors
    /// 422 `validation_failed` naming the field (`rules[1].conditions[0].value` for a bad pattern).
    pub fn check(&self) -> Result<(), ApiError> {
        check_text("name", &self.name, MAX_NAME, true)?;
        check_text("version", &self.version, 32, true)?;
        check_text("description", &self.description, MAX_TEXT, false)?;
        check_rules(&self.rules)
    }
}

/// The body of `PUT /api/policy/policies/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
    /// New rules (replacing all).
    #[serde(default)]
    pub rules: Option<Vec<Rule>>,
    /// A new default effect.
    #[serde(default)]
    pub default_effect: Option<PolicyEffect>,
    /// Enable or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
}

impl UpdateRequest {
    /// Checks the fields given.
    ///
    /// # Errors
    /// As [`CreateRequest::check`].
    pub fn check(&self) -> Result<(), ApiError> {
        if let Some(n) = &self.name {
            check_text("name", n, MAX_NAME, true)?;
        }
        if let Some(d) = &self.description {
            check_text("description", d, MAX_TEXT, false)?;
        }
        if let Some(r) = &self.rules {
            check_rules(r)?;
        }
        Ok(())
    }
}

fn check_json(field: &str, v: &Value) -> Result<(), ApiError> {
    if v.to_string().len() > MAX_JSON {
        return Err(ApiError::invalid(field, format!("`{field}` must be at most {MAX_JSON} bytes of JSON")));
    }
    Ok(())
}

/// Checks a rule list: sizes, unique rule ids, field paths, and every `matches` pattern compiles.
fn check_rules(rules: &[Rule]) -> Result<(), ApiError> {
    if rules.len() > MAX_RULES {
        return Err(ApiError::invalid("rules", format!("a policy holds at most {MAX_RULES} rules")));
    }
    for (i, rule) in rules.iter().enumerate() {
        let at = |f: &str| format!("rules[{i}].{f}");
        check_id(&at("rule_id"), &rule.rule_id)?;
        if rules[..i].iter().any(|r| r.rule_id == rule.rule_id) {
            return Err(ApiError::invalid(at("rule_id"), format!("rule id `{}` appears twice in the policy", rule.rule_id)));
        }
        check_text(&at("name"), &rule.name, MAX_NAME, true)?;
        check_text(&at("description"), &rule.description, MAX_TEXT, false)?;
        check_json(&at("metadata"), &Value::Object(rule.metadata.clone()))?;
        if rule.conditions.len() > MAX_CONDITIONS {
            return Err(ApiError::invalid(at("conditions"), format!("a rule holds at most {MAX_CONDITIONS} conditions")));
        }
        for (j, c) in rule.conditions.iter().enumerate() {
            let at = |f: &str| format!("rules[{i}].conditions[{j}].{f}");
            check_text(&at("field"), &c.field, MAX_NAME, true)?;
            check_json(&at("value"), &c.value)?;
            if c.operator == Operator::Matches {
                let Value::String(p) = &c.value else {
                    return Err(ApiError::invalid(at("value"), "a `matches` value must be a regular expression string"));
                };
                compile_pattern(p).map_err(|e| ApiError::invalid(at("value"), format!("invalid regular expression: {e}")))?;
            }
        }
    }
    Ok(())
}
