//! The IR-to-DAG diff audit: does a DAG built from an IR carry exactly the IR's steps, unchanged?
//!
//! A DAG node names the step it implements (`ir_step_id`) and that step's hash (`ir_step_hash`); other
//! keys of a node are the DAG's business and ignored. The IR side is indexed by `step_id` (or the
//! step's index as a string) with [`IrStep::hash`](super::IrStep::hash).
//!
//! Fixed against the original (IR-F7): a node without its two keys, with a non-string or empty id, or
//! an id used twice (in the DAG or in the IR) is refused ([`DagError`], 422 at the API) instead of an
//! eventless `success=false` with an `"ERROR: ..."` entry, a silent overwrite, or an uncaught TypeError.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{Value, json};

use super::canonical::{CanonicalError, canonical_hash};
use super::model::{Ir, truncate_hash};

/// The longest `ir_step_id` and `ir_step_hash` accepted.
pub const MAX_NODE_FIELD: usize = 200;

/// The most DAG nodes one audit takes.
pub const MAX_NODES: usize = 1000;

/// A DAG node as far as the audit is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DagNode {
    /// The IR step it implements.
    pub ir_step_id: String,
    /// The hash of that step when the DAG was built.
    pub ir_step_hash: String,
}

/// Why a DAG (or the IR's step ids) cannot be audited. `field` names the value (`dag_nodes[2].ir_step_id`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DagError {
    /// A node is malformed: not an object, a key missing, not a non-empty string, too long.
    #[error("`{field}` {problem}")]
    Malformed {
        /// Where.
        field: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// Two nodes (or two IR steps) have the same id.
    #[error("`{field}`: the id `{id}` is used twice")]
    Duplicate {
        /// Where the second use is.
        field: String,
        /// The id.
        id: String,
    },
    /// Too many nodes.
    #[error("`dag_nodes` holds {0} nodes; at most {MAX_NODES} are accepted")]
    TooMany(usize),
    /// A float or control character in the IR or a node.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

impl DagError {
    /// The field at fault.
    pub fn field(&self) -> &str {
        match self {
            DagError::Malformed { field, .. } | DagError::Duplicate { field, .. } => field,
            DagError::TooMany(_) => "dag_nodes",
            DagError::Canonical(c) => c.path(),
        }
    }
}

/// Reads DAG nodes from JSON values, refusing malformed ones and duplicate ids.
///
/// # Errors
/// [`DagError::Malformed`], [`DagError::Duplicate`], [`DagError::TooMany`].
pub fn parse_nodes(values: &[Value]) -> Result<Vec<DagNode>, DagError> {
    if values.len() > MAX_NODES {
        return Err(DagError::TooMany(values.len()));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let Some(obj) = v.as_object() else {
            return Err(DagError::Malformed { field: format!("dag_nodes[{i}]"), problem: "must be an object" });
        };
        let text = |key: &str| -> Result<String, DagError> {
            let field = format!("dag_nodes[{i}].{key}");
            match obj.get(key) {
                None => Err(DagError::Malformed { field, problem: "is missing" }),
                Some(Value::String(s)) if s.is_empty() => Err(DagError::Malformed { field, problem: "must not be empty" }),
                Some(Value::String(s)) if s.chars().count() > MAX_NODE_FIELD => {
                    Err(DagError::Malformed { field, problem: "must be at most 200 characters" })
                }
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(DagError::Malformed { field, problem: "must be a string" }),
            }
        };
        let node = DagNode { ir_step_id: text("ir_step_id")?, ir_step_hash: text("ir_step_hash")? };
        if !seen.insert(node.ir_step_id.clone()) {
            return Err(DagError::Duplicate { field: format!("dag_nodes[{i}].ir_step_id"), id: node.ir_step_id });
        }
        out.push(node);
    }
    Ok(out)
}

/// The DAG hash: the canonical JSON of `[{ir_step_id, ir_step_hash}]` sorted by `ir_step_id`, hashed.
///
/// # Errors
/// A control character in a node (path relative to the sorted list).
pub fn dag_hash(nodes: &[DagNode]) -> Result<String, CanonicalError> {
    let mut sorted: Vec<&DagNode> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.ir_step_id.cmp(&b.ir_step_id));
    canonical_hash(&json!(sorted))
}

/// A step present in both with different hashes (hashes shortened to 16 characters and `...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HashMismatch {
    /// The step id.
    pub step_id: String,
    /// The IR's step hash.
    pub expected_hash: String,
    /// The DAG's.
    pub actual_hash: String,
}

/// What the audit found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffAudit {
    /// All three lists are empty.
    pub success: bool,
    /// The IR hash.
    pub ir_hash: String,
    /// The DAG hash.
    pub dag_hash: String,
    /// IR step ids with no node, in IR order.
    pub missing_ir_steps: Vec<String>,
    /// Node ids with no IR step, in DAG order.
    pub extra_dag_nodes: Vec<String>,
    /// Ids in both with different hashes, in IR order.
    pub hash_mismatches: Vec<HashMismatch>,
}

/// Audits `nodes` against `ir`.
///
/// # Errors
/// [`DagError::Duplicate`] for an IR step id used twice (`ir.steps[i].step_id`);
/// [`DagError::Canonical`] for a float or control character in the IR or the nodes.
pub fn audit(ir: &Ir, nodes: &[DagNode]) -> Result<DiffAudit, DagError> {
    let ir_hash = ir.hash().map_err(|e| e.prefixed("ir"))?;
    let dag_hash = dag_hash(nodes).map_err(|e| e.prefixed("dag_nodes"))?;
    let mut ir_steps: Vec<(String, String)> = Vec::with_capacity(ir.steps.len());
    let mut seen = HashSet::new();
    for (i, step) in ir.steps.iter().enumerate() {
        let id = step.audit_id(i);
        if !seen.insert(id.clone()) {
            return Err(DagError::Duplicate { field: format!("ir.steps[{i}].step_id"), id });
        }
        let hash = step.hash().map_err(|e| e.prefixed(&format!("ir.steps[{i}]")))?;
        ir_steps.push((id, hash));
    }
    let dag: HashMap<&str, &str> = nodes.iter().map(|n| (n.ir_step_id.as_str(), n.ir_step_hash.as_str())).collect();
    let mut missing_ir_steps = Vec::new();
    let mut hash_mismatches = Vec::new();
    for (id, hash) in &ir_steps {
        match dag.get(id.as_str()) {
            None => missing_ir_steps.push(id.clone()),
            Some(actual) if actual != hash => hash_mismatches.push(HashMismatch {
                step_id: id.clone(),
                expected_hash: truncate_hash(hash),
                actual_hash: truncate_hash(actual),
            }),
            Some(_) => {}
        }
    }
    let extra_dag_nodes: Vec<String> = nodes.iter().filter(|n| !seen.contains(&n.ir_step_id)).map(|n| n.ir_step_id.clone()).collect();
    let success = missing_ir_steps.is_empty() && extra_dag_nodes.is_empty() && hash_mismatches.is_empty();
    Ok(DiffAudit { success, ir_hash, dag_hash, missing_ir_steps, extra_dag_nodes, hash_mismatches })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ir::{IrAction, IrProvider, IrStep};

    fn ir() -> Ir {
        let mut a = IrStep::new(IrAction::CourseCreate, IrProvider::CourseFactoryV1, "course:1", "k1");
        a.step_id = Some("s1".into());
        let b = IrStep::new(IrAction::CourseGenerateOutline, IrProvider::CourseFactoryV1, "course:1", "k2");
        Ir::new("acme", vec![a, b])
    }

    fn nodes_of(ir: &Ir) -> Vec<DagNode> {
        ir.steps.iter().enumerate().map(|(i, s)| DagNode { ir_step_id: s.audit_id(i), ir_step_hash: s.hash().unwrap() }).collect()
    }

    #[test]
    fn a_faithful_dag_passes_and_every_difference_is_reported() {
        let ir = ir();
        let nodes = nodes_of(&ir);
        let ok = audit(&ir, &nodes).unwrap();
        assert!(ok.success);
        let mut reordered = nodes.clone();
        reordered.reverse();
        assert_eq!(audit(&ir, &reordered).unwrap().dag_hash, ok.dag_hash, "the DAG hash does not depend on node order");
        let bad = vec![
            DagNode { ir_step_id: "s1".into(), ir_step_hash: "f".repeat(64) },
            DagNode { ir_step_id: "999".into(), ir_step_hash: "x".into() },
        ];
        let r = audit(&ir, &bad).unwrap();
        assert!(!r.success);
        assert_eq!((r.missing_ir_steps, r.extra_dag_nodes), (vec!["1".to_owned()], vec!["999".to_owned()]));
        assert_eq!(r.hash_mismatches[0].actual_hash, format!("{}...", "f".repeat(16)));
    }

    #[test]
    fn malformed_nodes_and_duplicates_are_refused() {
        let e = parse_nodes(&[json!({"ir_step_id": "a"})]).unwrap_err();
        assert_eq!(e.field(), "dag_nodes[0].ir_step_hash");
        let e = parse_nodes(&[json!({"ir_step_id": 1, "ir_step_hash": "h"})]).unwrap_err();
        assert_eq!(e.field(), "dag_nodes[0].ir_step_id");
        let e =
            parse_nodes(&[json!({"ir_step_id": "a", "ir_step_hash": "h"}), json!({"ir_step_id": "a", "ir_step_hash": "h"})]).unwrap_err();
        assert!(matches!(e, DagError::Duplicate { .. }));
        assert!(parse_nodes(&[json!("x")]).is_err());
        let mut ir = ir();
        ir.steps[1].step_id = Some("s1".into());
        assert_eq!(audit(&ir, &[]).unwrap_err().field(), "ir.steps[1].step_id");
    }
}
