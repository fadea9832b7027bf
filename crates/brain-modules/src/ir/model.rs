//! The IR (intermediate representation of a plan of actions) and its vocabularies.
//!
//! Wire shape as the original's Pydantic models (`extra="forbid"` on [`Ir`] and [`IrStep`]). Two
//! deliberate differences, both so that every validation verdict is reachable over HTTP (IR-F3):
//! `action` and `provider` are plain strings here, checked by the validator against [`IrAction`] and
//! [`IrProvider`] (an unknown value is a REJECT violation, not a body rejection), and `budget_cents`
//! keeps whatever JSON value was sent ([`Budget`]), so a negative or non-integer budget is a violation.
//! Sizes and character rules (lengths, control characters) are checked by [`Ir::normalized`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::canonical::{CanonicalError, canonical_hash};

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $wire)] $variant,)*
        }

        impl $name {
            /// Every value, in the original's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)*
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($wire => Ok($name::$variant),)*
                    _ => Err(UnknownValue),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A string that is not in a vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a known value")]
pub struct UnknownValue;

vocabulary!(
    /// What a step does (34 values, verbatim from the original).
    IrAction {
        /// `deploy.website`
        DeployWebsite = "deploy.website",
        /// `deploy.api`
        DeployApi = "deploy.api",
        /// `deploy.database`
        DeployDatabase = "deploy.database",
        /// `dns.update_records`
        DnsUpdateRecords = "dns.update_records",
        /// `dns.create_zone`
        DnsCreateZone = "dns.create_zone",
        /// `dns.delete_zone`
        DnsDeleteZone = "dns.delete_zone",
        /// `odoo.install_module`
        OdooInstallModule = "odoo.install_module",
        /// `odoo.uninstall_module`
        OdooUninstallModule = "odoo.uninstall_module",
        /// `odoo.update_module`
        OdooUpdateModule = "odoo.update_module",
        /// `odoo.create_record`
        OdooCreateRecord = "odoo.create_record",
        /// `odoo.update_record`
        OdooUpdateRecord = "odoo.update_record",
        /// `odoo.delete_record`
        OdooDeleteRecord = "odoo.delete_record",
        /// `webgen.generate_site`
        WebgenGenerateSite = "webgen.generate_site",
        /// `webgen.update_content`
        WebgenUpdateContent = "webgen.update_content",
        /// `webgenesis.site.create`
        WebgenesisSiteCreate = "webgenesis.site.create",
        /// `webgenesis.site.update`
        WebgenesisSiteUpdate = "webgenesis.site.update",
        /// `webgenesis.deploy.trigger`
        WebgenesisDeployTrigger = "webgenesis.deploy.trigger",
        /// `course.create`
        CourseCreate = "course.create",
        /// `course.generate_outline`
        CourseGenerateOutline = "course.generate_outline",
        /// `course.generate_lessons`
        CourseGenerateLessons = "course.generate_lessons",
        /// `course.generate_quiz`
        CourseGenerateQuiz = "course.generate_quiz",
        /// `course.generate_landing`
        CourseGenerateLanding = "course.generate_landing",
        /// `course.deploy_staging`
        CourseDeployStaging = "course.deploy_staging",
        /// `course.enhance_examples`
        CourseEnhanceExamples = "course.enhance_examples",
        /// `course.enhance_summaries`
        CourseEnhanceSummaries = "course.enhance_summaries",
        /// `course.generate_flashcards`
        CourseGenerateFlashcards = "course.generate_flashcards",
        /// `course.workflow_transition`
        CourseWorkflowTransition = "course.workflow_transition",
        /// `webgenesis.bind_theme`
        WebgenesisBindTheme = "webgenesis.bind_theme",
        /// `webgenesis.build_sections`
        WebgenesisBuildSections = "webgenesis.build_sections",
        /// `webgenesis.apply_seo`
        WebgenesisApplySeo = "webgenesis.apply_seo",
        /// `webgenesis.preview`
        WebgenesisPreview = "webgenesis.preview",
        /// `infra.provision`
        InfraProvision = "infra.provision",
        /// `infra.destroy`
        InfraDestroy = "infra.destroy",
        /// `infra.scale`
        InfraScale = "infra.scale",
    }
);

vocabulary!(
    /// Who carries a step out (13 values, verbatim from the original).
    IrProvider {
        /// `deploy.provider_v1`
        DeployProviderV1 = "deploy.provider_v1",
        /// `deploy.docker`
        DeployDocker = "deploy.docker",
        /// `deploy.kubernetes`
        DeployKubernetes = "deploy.kubernetes",
        /// `dns.hetzner`
        DnsHetzner = "dns.hetzner",
        /// `dns.cloudflare`
        DnsCloudflare = "dns.cloudflare",
        /// `dns.route53`
        DnsRoute53 = "dns.route53",
        /// `odoo.v16`
        OdooV16 = "odoo.v16",
        /// `odoo.v17`
        OdooV17 = "odoo.v17",
        /// `webgen.v1`
        WebgenV1 = "webgen.v1",
        /// `webgenesis.v1`
        WebgenesisV1 = "webgenesis.v1",
        /// `course_factory.v1`
        CourseFactoryV1 = "course_factory.v1",
        /// `infra.terraform`
        InfraTerraform = "infra.terraform",
        /// `infra.ansible`
        InfraAnsible = "infra.ansible",
    }
);

impl IrAction {
    /// The namespace before the first dot (`dns` of `dns.update_records`).
    pub fn namespace(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or_default()
    }
}

impl IrProvider {
    /// Whether this provider carries out `action`. The original never checked this; here a step whose
    /// provider belongs to another family is a REJECT violation (`ACTION_PROVIDER_MISMATCH`).
    pub fn serves(self, action: IrAction) -> bool {
        let family = match self {
            IrProvider::DeployProviderV1 | IrProvider::DeployDocker | IrProvider::DeployKubernetes => "deploy",
            IrProvider::DnsHetzner | IrProvider::DnsCloudflare | IrProvider::DnsRoute53 => "dns",
            IrProvider::OdooV16 | IrProvider::OdooV17 => "odoo",
            IrProvider::WebgenV1 => "webgen",
            IrProvider::WebgenesisV1 => "webgenesis",
            IrProvider::CourseFactoryV1 => "course",
            IrProvider::InfraTerraform | IrProvider::InfraAnsible => "infra",
        };
        action.namespace() == family
    }
}

/// Limits of the IR fields (the original's Pydantic constraints, plus a bound on the step count).
pub mod limits {
    /// `tenant_id` characters.
    pub const TENANT_ID: usize = 100;
    /// Steps of one IR.
    pub const STEPS: usize = 500;
    /// `intent_summary` characters.
    pub const INTENT_SUMMARY: usize = 2000;
    /// `resource` characters.
    pub const RESOURCE: usize = 500;
    /// `idempotency_key` characters.
    pub const IDEMPOTENCY_KEY: usize = 200;
    /// `description` characters.
    pub const DESCRIPTION: usize = 1000;
    /// `step_id` and `request_id` characters.
    pub const ID: usize = 200;
    /// Characters of a label key or value.
    pub const LABEL: usize = 500;
}

/// A step's budget as sent: an integer number of cents, or any other JSON value (which the validator
/// reports as `INVALID_BUDGET`). Serialises back to exactly the value sent, so it hashes as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Budget {
    /// Cents (negative ones are `NEGATIVE_BUDGET`).
    Cents(i64),
    /// Anything else.
    Other(Value),
}

/// One step of an IR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrStep {
    /// What it does (an [`IrAction`] value).
    pub action: String,
    /// Who does it (an [`IrProvider`] value).
    pub provider: String,
    /// What it acts on (1 to 500 characters, trimmed, no control characters).
    pub resource: String,
    /// Its parameters.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// The key that makes a retry of the step harmless (trimmed, at most 200 characters; blank is the
    /// violation `MISSING_IDEMPOTENCY_KEY`).
    #[serde(default)]
    pub idempotency_key: String,
    /// Its constraints (`environment`, ...).
    #[serde(default)]
    pub constraints: Map<String, Value>,
    /// Its budget in cents.
    #[serde(default)]
    pub budget_cents: Option<Budget>,
    /// The risk tier the validator computed (accepted and ignored on input; not hashed).
    #[serde(default)]
    pub risk_tier: Option<u8>,
    /// Whether the validator found it needs approval (accepted and ignored on input; not hashed).
    #[serde(default)]
    pub requires_approval: bool,
    /// Its id in the DAG built from the IR (default: its index).
    #[serde(default)]
    pub step_id: Option<String>,
    /// What it is for (at most 1000 characters).
    #[serde(default)]
    pub description: Option<String>,
}

impl IrStep {
    /// A step with empty params and constraints and no budget.
    pub fn new(action: IrAction, provider: IrProvider, resource: impl Into<String>, idempotency_key: impl Into<String>) -> Self {
        Self {
            action: action.as_str().to_owned(),
            provider: provider.as_str().to_owned(),
            resource: resource.into(),
            params: Map::new(),
            idempotency_key: idempotency_key.into(),
            constraints: Map::new(),
            budget_cents: None,
            risk_tier: None,
            requires_approval: false,
            step_id: None,
            description: None,
        }
    }

    /// The fields the step hash covers: all but the validator's `risk_tier` and `requires_approval`
    /// (IR-F1), with absent optional fields as `null` (as Pydantic's `model_dump`).
    pub fn hashed_view(&self) -> Value {
        json!({
            "action": self.action,
            "provider": self.provider,
            "resource": self.resource,
            "params": self.params,
            "idempotency_key": self.idempotency_key,
            "constraints": self.constraints,
            "budget_cents": self.budget_cents,
            "step_id": self.step_id,
            "description": self.description,
        })
    }

    /// `sha256_hex(canonical_json(hashed_view))`.
    ///
    /// # Errors
    /// A float or a control character in the step (path relative to the step).
    pub fn hash(&self) -> Result<String, CanonicalError> {
        canonical_hash(&self.hashed_view())
    }

    /// The id the diff audit uses: `step_id`, or the index as a string.
    pub fn audit_id(&self, index: usize) -> String {
        self.step_id.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| index.to_string())
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn now() -> DateTime<Utc> {
    eventstream_core::truncate_to_micros(Utc::now())
}

mod lenient_time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&eventstream_core::format_timestamp(t))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        eventstream_core::parse_timestamp(&s).map_err(serde::de::Error::custom)
    }
}

/// An IR: a tenant's plan of steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ir {
    /// The tenant (1 to 100 characters, trimmed, no control characters).
    pub tenant_id: String,
    /// The steps (at least one).
    pub steps: Vec<IrStep>,
    /// The request's id (default: a new UUIDv4; not hashed).
    #[serde(default = "new_request_id")]
    pub request_id: String,
    /// When it was made (default: now; RFC 3339 or naive ISO read as UTC; not hashed).
    #[serde(default = "now", with = "lenient_time")]
    pub created_at: DateTime<Utc>,
    /// What it is meant to achieve (at most 2000 characters).
    #[serde(default)]
    pub intent_summary: Option<String>,
    /// Free labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A field of an IR that breaks its rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {problem}")]
pub struct IrFieldError {
    /// The field (`steps[1].resource`).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

fn field_error(field: impl Into<String>, problem: impl Into<String>) -> IrFieldError {
    IrFieldError { field: field.into(), problem: problem.into() }
}

fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<(), IrFieldError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(field_error(field, format!("must be {min} to {max} characters (has {n})")));
    }
    Ok(())
}

fn check_no_control(field: &str, value: &str) -> Result<(), IrFieldError> {
    if let Some(c) = value.chars().find(|c| (*c as u32) < 0x20) {
        return Err(field_error(field, format!("must not contain control characters (found U+{:04X})", c as u32)));
    }
    Ok(())
}

impl Ir {
    /// A new IR of `tenant_id` with a fresh request id and the current time.
    pub fn new(tenant_id: impl Into<String>, steps: Vec<IrStep>) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            steps,
            request_id: new_request_id(),
            created_at: now(),
            intent_summary: None,
            labels: BTreeMap::new(),
        }
    }

    /// The IR with `tenant_id`, `resource` and `idempotency_key` trimmed (as Pydantic's
    /// `strip_whitespace`), after checking every size and character rule of the model.
    ///
    /// # Errors
    /// [`IrFieldError`] naming the first field that breaks a rule.
    pub fn normalized(mut self) -> Result<Ir, IrFieldError> {
        self.tenant_id = self.tenant_id.trim().to_owned();
        check_len("tenant_id", &self.tenant_id, 1, limits::TENANT_ID)?;
        check_no_control("tenant_id", &self.tenant_id)?;
        check_len("request_id", &self.request_id, 1, limits::ID)?;
        check_no_control("request_id", &self.request_id)?;
        if self.steps.is_empty() || self.steps.len() > limits::STEPS {
            return Err(field_error("steps", format!("must hold 1 to {} steps (has {})", limits::STEPS, self.steps.len())));
        }
        if let Some(s) = &self.intent_summary {
            check_len("intent_summary", s, 0, limits::INTENT_SUMMARY)?;
        }
        for (k, v) in &self.labels {
            check_len("labels", k, 1, limits::LABEL)?;
            check_len(&format!("labels.{k}"), v, 0, limits::LABEL)?;
        }
        for (i, step) in self.steps.iter_mut().enumerate() {
            let at = |f: &str| format!("steps[{i}].{f}");
            step.resource = step.resource.trim().to_owned();
            check_len(&at("resource"), &step.resource, 1, limits::RESOURCE)?;
            check_no_control(&at("resource"), &step.resource)?;
            step.idempotency_key = step.idempotency_key.trim().to_owned();
            check_len(&at("idempotency_key"), &step.idempotency_key, 0, limits::IDEMPOTENCY_KEY)?;
            check_len(&at("action"), &step.action, 0, limits::ID)?;
            check_len(&at("provider"), &step.provider, 0, limits::ID)?;
            if let Some(d) = &step.description {
                check_len(&at("description"), d, 0, limits::DESCRIPTION)?;
            }
            if let Some(id) = &step.step_id {
                check_len(&at("step_id"), id, 1, limits::ID)?;
            }
            if let Some(t) = step.risk_tier
                && t > 3
            {
                return Err(field_error(at("risk_tier"), "must be 0 to 3"));
            }
        }
        Ok(self)
    }

    /// The fields the IR hash covers: all but `request_id` and `created_at`, with each step's
    /// [`IrStep::hashed_view`] (IR-F1). So the same request always hashes alike, and validating an IR
    /// (which sets the steps' tiers) never changes its hash.
    pub fn hashed_view(&self) -> Value {
        json!({
            "tenant_id": self.tenant_id,
            "steps": self.steps.iter().map(IrStep::hashed_view).collect::<Vec<_>>(),
            "intent_summary": self.intent_summary,
            "labels": self.labels,
        })
    }

    /// The IR hash: `sha256_hex(canonical_json(hashed_view))`.
    ///
    /// # Errors
    /// A float or a control character anywhere in the hashed fields (path from the IR's root).
    pub fn hash(&self) -> Result<String, CanonicalError> {
        canonical_hash(&self.hashed_view())
    }
}

/// The first 16 characters of a hash and `...`, as the original showed hashes in responses.
pub fn truncate_hash(hash: &str) -> String {
    let head: String = hash.chars().take(16).collect();
    format!("{head}...")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_have_the_original_sizes_and_round_trip() {
        assert_eq!((IrAction::ALL.len(), IrProvider::ALL.len()), (34, 13));
        for a in IrAction::ALL {
            assert_eq!(a.as_str().parse::<IrAction>(), Ok(*a));
            assert!(IrProvider::ALL.iter().any(|p| p.serves(*a)), "{a} has a provider");
        }
        assert!("odoo.read".parse::<IrAction>().is_err());
    }

    #[test]
    fn hash_ignores_request_id_created_at_and_the_validator_fields() {
        let mut a = Ir::new("acme", vec![IrStep::new(IrAction::DnsUpdateRecords, IrProvider::DnsHetzner, "zone:x", "k1")]);
        let h = a.hash().unwrap();
        a.request_id = "other".into();
        a.created_at = DateTime::<Utc>::UNIX_EPOCH;
        a.steps[0].risk_tier = Some(2);
        a.steps[0].requires_approval = true;
        assert_eq!(a.hash().unwrap(), h);
        a.steps[0].resource = "zone:y".into();
        assert_ne!(a.hash().unwrap(), h);
    }

    #[test]
    fn normalization_trims_and_checks() {
        let mut ir = Ir::new("  acme ", vec![IrStep::new(IrAction::CourseCreate, IrProvider::CourseFactoryV1, " c ", " k ")]);
        ir = ir.normalized().unwrap();
        assert_eq!((ir.tenant_id.as_str(), ir.steps[0].resource.as_str(), ir.steps[0].idempotency_key.as_str()), ("acme", "c", "k"));
        let bad = Ir::new("ac\u{1}me", ir.steps.clone()).normalized().unwrap_err();
        assert_eq!(bad.field, "tenant_id");
        let bad = Ir::new("acme", vec![]).normalized().unwrap_err();
        assert_eq!(bad.field, "steps");
        let mut step = ir.steps[0].clone();
        step.resource = "a\nb".into();
        assert_eq!(Ir::new("acme", vec![step]).normalized().unwrap_err().field, "steps[0].resource");
    }
}
