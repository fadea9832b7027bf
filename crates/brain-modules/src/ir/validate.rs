//! The IR validator: structural checks per step, a risk tier per step, and one of three verdicts.
//!
//! Order (as the original): the IR hash is computed first, from the input as given; then each step
//! gets its violations and its tier = max(action tier, scope tier, impact tier); `requires_approval`
//! is tier >= 2; any ERROR violation gives REJECT, else a tier >= 2 gives ESCALATE (tier 3 too), else
//! PASS. The validator never changes its input, so hashing before or after validation is the same.
//!
//! Fixed against the original (IR-F2, IR-F3):
//! - scope words (`prod`, `production`, `live`) match whole words of the resource and of the params'
//!   keys and string values, not substrings: "product", "delivery", "Oliver", "Produktivität" stay tier 0;
//! - impact: only a truthy top-level `bulk`/`batch` key of params counts, not the word anywhere;
//! - `infra.provision` and `infra.scale` are tier 2, `webgenesis.deploy.trigger` tier 1;
//! - unknown actions and providers, a provider of another family than the action, a blank idempotency
//!   key, a non-integer or negative budget and a non-string `constraints.environment` are ERROR
//!   violations (the original rejected most of them before the validator ran, so REJECT was unreachable;
//!   a non-string environment crashed it).

use serde::Serialize;
use serde_json::{Map, Value};

use super::canonical::CanonicalError;
use super::model::{Budget, Ir, IrAction, IrProvider, IrStep};

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Every step below tier 2 and no errors.
    #[serde(rename = "PASS")]
    Pass,
    /// A step of tier 2 or 3 and no errors: needs a human approval.
    #[serde(rename = "ESCALATE")]
    Escalate,
    /// At least one ERROR violation.
    #[serde(rename = "REJECT")]
    Reject,
}

/// How bad a violation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Severity {
    /// Makes the IR REJECT.
    #[serde(rename = "ERROR")]
    Error,
    /// Reported only.
    #[serde(rename = "WARNING")]
    Warning,
}

impl Severity {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        }
    }
}

/// Violation codes.
pub mod codes {
    /// The action is blank.
    pub const INVALID_ACTION: &str = "INVALID_ACTION";
    /// The action is not an [`IrAction`](super::IrAction).
    pub const UNKNOWN_ACTION: &str = "UNKNOWN_ACTION";
    /// The provider is not an [`IrProvider`](super::IrProvider).
    pub const UNKNOWN_PROVIDER: &str = "UNKNOWN_PROVIDER";
    /// The provider belongs to another family than the action.
    pub const ACTION_PROVIDER_MISMATCH: &str = "ACTION_PROVIDER_MISMATCH";
    /// The idempotency key is blank.
    pub const MISSING_IDEMPOTENCY_KEY: &str = "MISSING_IDEMPOTENCY_KEY";
    /// The budget is not an integer.
    pub const INVALID_BUDGET: &str = "INVALID_BUDGET";
    /// The budget is below zero.
    pub const NEGATIVE_BUDGET: &str = "NEGATIVE_BUDGET";
    /// `constraints.environment` is not a string.
    pub const INVALID_ENVIRONMENT: &str = "INVALID_ENVIRONMENT";
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The step it concerns.
    pub step_index: Option<u32>,
    /// A stable code ([`codes`]).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// How bad.
    pub severity: Severity,
}

/// The risk the validator assigned to one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepRisk {
    /// 0 to 3.
    pub tier: u8,
    /// `tier >= 2`.
    pub requires_approval: bool,
}

/// The validator's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// The verdict.
    pub status: Verdict,
    /// Every finding, in step order.
    pub violations: Vec<Violation>,
    /// The highest step tier.
    pub risk_tier: u8,
    /// Whether any step needs approval.
    pub requires_approval: bool,
    /// The IR hash (of the input; unchanged by validation).
    pub ir_hash: String,
    /// Per step, in order.
    pub steps: Vec<StepRisk>,
}

/// The words that make a step's scope production (tier 2).
const SCOPE_WORDS: &[&str] = &["prod", "production", "live"];

/// Odoo models whose records are financial (impact tier 3 for record changes).
const FINANCIAL_MODELS: &[&str] = &["account.move", "account.payment", "account.invoice", "sale.order", "purchase.order"];

/// Validates `ir`.
///
/// # Errors
/// [`CanonicalError`] when the IR has no hash (a float or a control character in it): the API answers
/// 422 before any verdict.
pub fn validate(ir: &Ir) -> Result<Validation, CanonicalError> {
    let ir_hash = ir.hash()?;
    let mut violations = Vec::new();
    let mut steps = Vec::with_capacity(ir.steps.len());
    for (i, step) in ir.steps.iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let (action, mut found) = structural(step, index);
        let tier = action.map_or(0, action_tier).max(scope_tier(step, index, &mut found)).max(impact_tier(step, action));
        violations.append(&mut found);
        steps.push(StepRisk { tier, requires_approval: tier >= 2 });
    }
    let risk_tier = steps.iter().map(|s| s.tier).max().unwrap_or(0);
    let status = if violations.iter().any(|v| v.severity == Severity::Error) {
        Verdict::Reject
    } else if risk_tier >= 2 {
        Verdict::Escalate
    } else {
        Verdict::Pass
    };
    Ok(Validation { status, violations, risk_tier, requires_approval: risk_tier >= 2, ir_hash, steps })
}

fn error(index: u32, code: &'static str, message: String) -> Violation {
    Violation { step_index: Some(index), code, message, severity: Severity::Error }
}

/// The structural checks; returns the parsed action when it is known.
fn structural(step: &IrStep, index: u32) -> (Option<IrAction>, Vec<Violation>) {
    let mut out = Vec::new();
    let action = if step.action.trim().is_empty() {
        out.push(error(index, codes::INVALID_ACTION, "the action is empty".into()));
        None
    } else {
        let parsed = step.action.parse::<IrAction>().ok();
        if parsed.is_none() {
            out.push(error(index, codes::UNKNOWN_ACTION, format!("unknown action `{}`", step.action)));
        }
        parsed
    };
    match step.provider.parse::<IrProvider>() {
        Err(_) => out.push(error(index, codes::UNKNOWN_PROVIDER, format!("unknown provider `{}`", step.provider))),
        Ok(p) => {
            if let Some(a) = action
                && !p.serves(a)
            {
                out.push(error(index, codes::ACTION_PROVIDER_MISMATCH, format!("provider `{p}` does not carry out action `{a}`")));
            }
        }
    }
    if step.idempotency_key.trim().is_empty() {
        out.push(error(index, codes::MISSING_IDEMPOTENCY_KEY, "the idempotency key is missing".into()));
    }
    match &step.budget_cents {
        None | Some(Budget::Cents(0..)) => {}
        Some(Budget::Cents(c)) => out.push(error(index, codes::NEGATIVE_BUDGET, format!("budget_cents is negative ({c})"))),
        Some(Budget::Other(v)) => out.push(error(index, codes::INVALID_BUDGET, format!("budget_cents must be an integer, not {v}"))),
    }
    (action, out)
}

/// The action's own tier.
pub fn action_tier(action: IrAction) -> u8 {
    use IrAction as A;
    match action {
        A::DnsDeleteZone | A::OdooUninstallModule | A::OdooDeleteRecord | A::InfraDestroy => 3,
        A::DnsUpdateRecords | A::DnsCreateZone | A::OdooInstallModule | A::InfraProvision | A::InfraScale => 2,
        A::DeployWebsite
        | A::DeployApi
        | A::DeployDatabase
        | A::WebgenGenerateSite
        | A::WebgenUpdateContent
        | A::CourseDeployStaging
        | A::WebgenesisBuildSections
        | A::WebgenesisPreview
        | A::WebgenesisDeployTrigger => 1,
        A::OdooUpdateModule
        | A::OdooCreateRecord
        | A::OdooUpdateRecord
        | A::WebgenesisSiteCreate
        | A::WebgenesisSiteUpdate
        | A::CourseCreate
        | A::CourseGenerateOutline
        | A::CourseGenerateLessons
        | A::CourseGenerateQuiz
        | A::CourseGenerateLanding
        | A::CourseEnhanceExamples
        | A::CourseEnhanceSummaries
        | A::CourseGenerateFlashcards
        | A::CourseWorkflowTransition
        | A::WebgenesisBindTheme
        | A::WebgenesisApplySeo => 0,
    }
}

/// Whether `text` holds a scope word as a whole word (words are runs of letters and digits).
fn has_scope_word(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric()).any(|w| SCOPE_WORDS.iter().any(|s| w.eq_ignore_ascii_case(s)))
}

fn value_has_scope_word(v: &Value) -> bool {
    match v {
        Value::String(s) => has_scope_word(s),
        Value::Array(items) => items.iter().any(value_has_scope_word),
        Value::Object(map) => map_has_scope_word(map),
        _ => false,
    }
}

fn map_has_scope_word(map: &Map<String, Value>) -> bool {
    map.iter().any(|(k, v)| has_scope_word(k) || value_has_scope_word(v))
}

/// 2 when the step targets production: `constraints.environment`, or a scope word in the resource or
/// the params.
fn scope_tier(step: &IrStep, index: u32, found: &mut Vec<Violation>) -> u8 {
    let env_prod = match step.constraints.get("environment") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => SCOPE_WORDS.contains(&s.trim().to_lowercase().as_str()),
        Some(other) => {
            found.push(error(index, codes::INVALID_ENVIRONMENT, format!("constraints.environment must be a string, not {other}")));
            false
        }
    };
    if env_prod || has_scope_word(&step.resource) || map_has_scope_word(&step.params) { 2 } else { 0 }
}

/// Python truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// 3 for changes to financial Odoo records and for truthy `bulk`/`batch` params.
fn impact_tier(step: &IrStep, action: Option<IrAction>) -> u8 {
    let record_change = matches!(action, Some(IrAction::OdooCreateRecord | IrAction::OdooUpdateRecord | IrAction::OdooDeleteRecord));
    let financial = record_change && step.params.get("model").and_then(Value::as_str).is_some_and(|m| FINANCIAL_MODELS.contains(&m));
    let bulk = ["bulk", "batch"].iter().any(|k| step.params.get(*k).is_some_and(truthy));
    if financial || bulk { 3 } else { 0 }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn step(action: &str, provider: &str, resource: &str) -> IrStep {
        let mut s = IrStep::new(IrAction::CourseCreate, IrProvider::CourseFactoryV1, resource, "k");
        s.action = action.into();
        s.provider = provider.into();
        s
    }

    fn verdict(steps: Vec<IrStep>) -> Validation {
        validate(&Ir::new("acme", steps)).unwrap()
    }

    #[test]
    fn harmless_words_containing_prod_or_live_pass() {
        for word in ["product", "delivery", "Oliver", "Produktivität", "liveliness"] {
            let mut s = step("course.create", "course_factory.v1", &format!("course:{word}"));
            s.params.insert("title".into(), json!(word));
            s.params.insert(word.to_owned(), json!("batching"));
            let v = verdict(vec![s]);
            assert_eq!((v.status, v.risk_tier), (Verdict::Pass, 0), "{word}");
        }
    }

    #[test]
    fn production_scope_and_risky_actions_escalate() {
        let v = verdict(vec![step("course.create", "course_factory.v1", "site:prod-eu")]);
        assert_eq!((v.status, v.risk_tier), (Verdict::Escalate, 2));
        let mut s = step("course.create", "course_factory.v1", "c");
        s.constraints.insert("environment".into(), json!("Production"));
        assert_eq!(verdict(vec![s]).status, Verdict::Escalate);
        for (a, p, tier) in
            [("infra.provision", "infra.terraform", 2), ("infra.scale", "infra.ansible", 2), ("infra.destroy", "infra.terraform", 3)]
        {
            let v = verdict(vec![step(a, p, "cluster:a")]);
            assert_eq!((v.status, v.risk_tier, v.requires_approval), (Verdict::Escalate, tier, true), "{a}");
        }
        let v = verdict(vec![step("webgenesis.deploy.trigger", "webgenesis.v1", "site:a")]);
        assert_eq!((v.status, v.risk_tier), (Verdict::Pass, 1));
    }

    #[test]
    fn bulk_counts_only_as_a_truthy_key_and_financial_records_are_tier_three() {
        let mut s = step("odoo.update_record", "odoo.v17", "res.partner:1");
        s.params.insert("note".into(), json!("bulk batch"));
        s.params.insert("bulk".into(), json!(false));
        assert_eq!(verdict(vec![s.clone()]).risk_tier, 0);
        s.params.insert("batch".into(), json!(10));
        assert_eq!(verdict(vec![s.clone()]).risk_tier, 3);
        let mut f = step("odoo.create_record", "odoo.v17", "invoice");
        f.params.insert("model".into(), json!("account.move"));
        assert_eq!(verdict(vec![f]).risk_tier, 3);
    }

    #[test]
    fn structural_problems_reject_and_validation_keeps_the_hash() {
        let mut s = step("odoo.read", "odoo", "x");
        s.idempotency_key = " ".into();
        s.budget_cents = Some(Budget::Cents(-1));
        s.constraints.insert("environment".into(), json!(["prod"]));
        let mut t = step("dns.update_records", "odoo.v17", "zone");
        t.budget_cents = Some(Budget::Other(json!("10")));
        let ir = Ir::new("acme", vec![s, t]);
        let before = ir.hash().unwrap();
        let v = validate(&ir).unwrap();
        assert_eq!(v.status, Verdict::Reject);
        let codes: Vec<_> = v.violations.iter().map(|v| v.code).collect();
        assert_eq!(
            codes,
            [
                codes::UNKNOWN_ACTION,
                codes::UNKNOWN_PROVIDER,
                codes::MISSING_IDEMPOTENCY_KEY,
                codes::NEGATIVE_BUDGET,
                codes::INVALID_ENVIRONMENT,
                codes::ACTION_PROVIDER_MISMATCH,
                codes::INVALID_BUDGET
            ]
        );
        assert_eq!((v.ir_hash.as_str(), ir.hash().unwrap().as_str()), (before.as_str(), before.as_str()));
        assert_eq!(verdict(vec![step("", "odoo.v17", "x")]).violations[0].code, codes::INVALID_ACTION);
    }
}
