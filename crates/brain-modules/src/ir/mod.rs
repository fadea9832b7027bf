//! The IR library: the IR model and its vocabularies, canonical JSON and hashes, the validator and the
//! IR-to-DAG diff audit. Pure (no I/O, no routes, no events), so both `ir_governance` (which serves and
//! publishes them) and course_factory (which validates its own generated IRs and checks approvals
//! against their hashes) use the same definitions.
//!
//! It lives in `brain-modules` rather than `brain-events` because it is domain logic, not a wire
//! contract of an event: `brain-events` holds payload types only. No module's internals are needed to
//! use it: `brain_modules::ir` depends on nothing but serde, sha2 and the core's timestamp helpers.
//!
//! Hashed fields (IR-F1): the IR hash covers `tenant_id`, `steps`, `intent_summary` and `labels`, and
//! each step everything but the validator's `risk_tier` and `requires_approval`. `request_id` and
//! `created_at` are left out, so the same request always hashes alike (an approval issued for an IR
//! stays valid for a regenerated copy of it), and validation cannot change a hash. The golden vectors in
//! `tests/fixtures/ir_vectors.json` are produced by Python's `json.dumps` (`tests/fixtures/ir_vectors.py`)
//! and checked byte for byte by the unit tests below.

mod canonical;
mod dag;
mod model;
mod validate;

pub use canonical::{CanonicalError, canonical_hash, canonical_json, canonical_json_of, sha256_hex};
pub use dag::{DagError, DagNode, DiffAudit, HashMismatch, MAX_NODE_FIELD, MAX_NODES, audit, dag_hash, parse_nodes};
pub use model::{Budget, Ir, IrAction, IrFieldError, IrProvider, IrStep, UnknownValue, limits, truncate_hash};
pub use validate::{Severity, StepRisk, Validation, Verdict, Violation, action_tier, codes, validate};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod golden {
    use serde_json::Value;

    use super::*;

    const VECTORS: &str = include_str!("../../tests/fixtures/ir_vectors.json");

    fn vectors() -> Value {
        serde_json::from_str(VECTORS).unwrap()
    }

    #[test]
    fn canonical_json_equals_python_json_dumps_byte_for_byte() {
        let v = vectors();
        let cases = v["canonical"].as_array().unwrap();
        assert!(cases.len() >= 10);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let input: Value = serde_json::from_str(case["input"].as_str().unwrap()).unwrap();
            match case.get("error").and_then(Value::as_str) {
                None => {
                    let got = canonical_json(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(got, case["canonical"].as_str().unwrap(), "{name}");
                    assert_eq!(sha256_hex(&got), case["sha256"].as_str().unwrap(), "{name}");
                }
                Some("float") => assert!(matches!(canonical_json(&input), Err(CanonicalError::Float { .. })), "{name}"),
                Some("control_character") => {
                    assert!(matches!(canonical_json(&input), Err(CanonicalError::ControlCharacter { .. })), "{name}");
                }
                Some(other) => panic!("{name}: unknown error kind {other}"),
            }
        }
    }

    #[test]
    fn ir_step_and_dag_hashes_equal_the_python_reference() {
        let v = vectors();
        for case in v["ir"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let ir: Ir = serde_json::from_str(case["input"].as_str().unwrap()).unwrap();
            let ir = ir.normalized().unwrap();
            assert_eq!(canonical_json(&ir.hashed_view()).unwrap(), case["hashed_canonical"].as_str().unwrap(), "{name}");
            assert_eq!(ir.hash().unwrap(), case["ir_hash"].as_str().unwrap(), "{name}");
            let steps: Vec<String> = ir.steps.iter().map(|s| s.hash().unwrap()).collect();
            let want: Vec<String> = serde_json::from_value(case["step_hashes"].clone()).unwrap();
            assert_eq!(steps, want, "{name}");
            let nodes: Vec<DagNode> =
                ir.steps.iter().enumerate().map(|(i, s)| DagNode { ir_step_id: s.audit_id(i), ir_step_hash: s.hash().unwrap() }).collect();
            assert_eq!(dag_hash(&nodes).unwrap(), case["dag_hash"].as_str().unwrap(), "{name}");
        }
    }
}
