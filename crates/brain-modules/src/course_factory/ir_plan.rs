//! The IRs course_factory has approved through ir_governance (chain B), built and validated with the
//! shared IR library ([`crate::ir`]):
//! - the course IR of a generation request (CF-B9): up to six `course_factory.v1` steps;
//! - the gate IR of the review → publish_ready transition: one step `course.workflow_transition` on
//!   `course:{course_id}` with params `{to_state}`.
//!
//! Both are hashed per IR-F1 (no request id, no time), so the same request always has the same hash and
//! an approval issued for it stays valid for the retried request.

use serde_json::{Value, json};

use super::model::{CourseGenerationRequest, state_str};
use crate::ir::{self, CanonicalError, Ir, IrAction, IrProvider, IrStep};
use crate::web::now_ms;
use brain_events::course::WorkflowState;

pub use crate::ir_governance::model::ValidationResult;

/// Validates `ir` (normalised) with the shared validator.
///
/// # Errors
/// [`CanonicalError`] for a float or control character in the IR.
pub(crate) fn validate(ir: &Ir) -> Result<ValidationResult, CanonicalError> {
    let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now_ms()).unwrap_or_default();
    Ok(ValidationResult::new(ir::validate(ir)?, ir, eventstream_core::format_timestamp(&at)))
}

fn step(action: IrAction, resource: String, key: String, params: Value) -> IrStep {
    let mut s = IrStep::new(action, IrProvider::CourseFactoryV1, resource, key);
    if let Value::Object(p) = params {
        s.params = p;
    }
    s
}

/// The course IR of `req` for `tenant` (CF-B9): create, outline, lessons, then quiz, landing page and the
/// staging deploy as requested. Idempotency keys `course_{kind}_{tenant}_{title}`; labels `module`,
/// `language` and `dry_run` (`True`/`False`, as the original wrote Python booleans).
pub fn course_ir(tenant: &str, req: &CourseGenerationRequest) -> Ir {
    let title = &req.title;
    let key = |kind: &str| format!("course_{kind}_{tenant}_{title}");
    let mut steps = vec![
        step(
            IrAction::CourseCreate,
            format!("course:{title}"),
            key("create"),
            json!({"title": title, "description": req.description, "language": req.language.as_str(), "target_audiences": req.audience_names()}),
        ),
        step(
            IrAction::CourseGenerateOutline,
            format!("course:{title}:outline"),
            key("outline"),
            json!({"modules_count": "4-6", "lessons_per_module": "3-5"}),
        ),
        step(
            IrAction::CourseGenerateLessons,
            format!("course:{title}:lessons"),
            key("lessons"),
            json!({"full_lessons_count": req.full_lessons_count}),
        ),
    ];
    if req.generate_quiz {
        steps.push(step(IrAction::CourseGenerateQuiz, format!("course:{title}:quiz"), key("quiz"), json!({"question_count": 15})));
    }
    if req.generate_landing_page {
        steps.push(step(IrAction::CourseGenerateLanding, format!("course:{title}:landing"), key("landing"), json!({})));
    }
    if let (true, Some(domain)) = (req.deploy_to_staging, &req.staging_domain) {
        let mut s =
            step(IrAction::CourseDeployStaging, format!("course:{title}:staging"), key("deploy"), json!({"staging_domain": domain}));
        s.constraints.insert("environment".into(), json!("staging"));
        steps.push(s);
    }
    let mut ir = Ir::new(tenant, steps);
    ir.intent_summary = Some(format!("Generate and deploy online course: {title}"));
    ir.labels.insert("module".into(), "course_factory".into());
    ir.labels.insert("language".into(), req.language.as_str().into());
    ir.labels.insert("dry_run".into(), if req.dry_run { "True" } else { "False" }.into());
    ir
}

/// The gate IR of moving course `course_id` of `tenant` to `to` (chain B): one step
/// `course.workflow_transition` on `course:{course_id}` with params `{to_state}`, idempotency key
/// `course_workflow_{tenant}_{course_id}_{to_state}`, label `module: course_factory`.
pub fn gate_ir(tenant: &str, course_id: &str, to: WorkflowState) -> Ir {
    let to = state_str(to);
    let s = step(
        IrAction::CourseWorkflowTransition,
        format!("course:{course_id}"),
        format!("course_workflow_{tenant}_{course_id}_{to}"),
        json!({"to_state": to}),
    );
    let mut ir = Ir::new(tenant, vec![s]);
    ir.intent_summary = Some(format!("Move course {course_id} to {to}"));
    ir.labels.insert("module".into(), "course_factory".into());
    ir
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::model::{Audience, Language};
    use super::*;
    use crate::ir::Verdict;

    fn request(title: &str) -> CourseGenerationRequest {
        CourseGenerationRequest {
            tenant_id: None,
            title: title.into(),
            description: "x".repeat(60),
            language: Language::De,
            target_audiences: vec![Audience::Employees],
            full_lessons_count: 3,
            generate_quiz: true,
            generate_landing_page: true,
            deploy_to_staging: true,
            staging_domain: Some("staging.example.com".into()),
            dry_run: false,
        }
    }

    #[test]
    fn the_course_ir_has_six_steps_passes_and_hashes_the_same_every_time() {
        let a = course_ir("acme", &request("Haushaltsbuch für Einsteiger")).normalized().unwrap();
        let b = course_ir("acme", &request("Haushaltsbuch für Einsteiger")).normalized().unwrap();
        assert_eq!(a.steps.len(), 6);
        assert_ne!(a.request_id, b.request_id);
        assert_eq!(a.hash().unwrap(), b.hash().unwrap());
        assert_eq!(validate(&a).unwrap().status, Verdict::Pass);
        // "Produktivität" no longer escalates (IR-F2); a whole word "live" does.
        assert_eq!(validate(&course_ir("acme", &request("Produktivität im Alltag"))).unwrap().status, Verdict::Pass);
        assert_eq!(validate(&course_ir("acme", &request("Going live with your budget"))).unwrap().status, Verdict::Escalate);
    }

    #[test]
    fn the_gate_ir_passes_the_validator_and_depends_on_course_tenant_and_target() {
        let g = gate_ir("acme", "c1", WorkflowState::PublishReady);
        assert_eq!(validate(&g).unwrap().status, Verdict::Pass);
        assert_ne!(g.hash().unwrap(), gate_ir("acme", "c2", WorkflowState::PublishReady).hash().unwrap());
        assert_ne!(g.hash().unwrap(), gate_ir("other", "c1", WorkflowState::PublishReady).hash().unwrap());
        assert_eq!(g.hash().unwrap(), gate_ir("acme", "c1", WorkflowState::PublishReady).hash().unwrap());
    }
}
