//! [`Catalog::to_markdown`]: the catalog as `docs/EVENTS.md`.
//!
//! The document is generated, never edited by hand: `brain catalog --markdown > docs/EVENTS.md`, or run
//! the `docs_events_md_is_up_to_date` test with `BRAIN_UPDATE_DOCS=1`. Its output depends only on the
//! catalog (types sorted, modules sorted, fields in declaration order), so it is stable across runs.

use std::fmt::Write as _;

use serde_json::Value;

use crate::catalog::{Catalog, CatalogEntry};

/// One row of a payload field table.
struct FieldRow {
    path: String,
    ty: String,
    required: bool,
    description: String,
}

/// Markdown-safe single line: newlines become spaces, pipes are escaped.
fn cell(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

/// A short type name for a schema (`string`, `integer`, `array of string`, `"A" \| "B"`, ...).
fn type_name(schema: &Value) -> String {
    let Some(o) = schema.as_object() else {
        return "any".to_owned();
    };
    if let Some(values) = o.get("enum").and_then(Value::as_array) {
        let mut names: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
        if o.get("type").and_then(Value::as_array).is_some_and(|t| t.iter().any(|x| x == "null")) {
            names.push("null".to_owned());
        }
        return names.join(" or ");
    }
    if let Some(alts) = o.get("anyOf").or_else(|| o.get("oneOf")).and_then(Value::as_array) {
        return alts.iter().map(type_name).collect::<Vec<_>>().join(" or ");
    }
    if let Some(c) = o.get("const") {
        return format!("`{c}`");
    }
    let types: Vec<&str> = match o.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return "any".to_owned(),
    };
    types
        .iter()
        .map(|t| match *t {
            "array" => match o.get("items") {
                Some(items) => format!("array of {}", type_name(items)),
                None => "array".to_owned(),
            },
            "object" if !o.contains_key("properties") => match o.get("additionalProperties") {
                Some(v @ Value::Object(_)) => format!("map of {}", type_name(v)),
                _ => "object".to_owned(),
            },
            "integer" if o.get("minimum").and_then(Value::as_f64) == Some(0.0) => "integer ≥ 0".to_owned(),
            other => other.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The object schema nested in `schema` (directly, as array items, or as the non-null alternative).
fn nested_object(schema: &Value) -> Option<(&Value, &'static str)> {
    let o = schema.as_object()?;
    if o.contains_key("properties") {
        return Some((schema, ""));
    }
    if let Some(items) = o.get("items") {
        return nested_object(items).map(|(s, _)| (s, "[]"));
    }
    let alts = o.get("anyOf").or_else(|| o.get("oneOf")).and_then(Value::as_array)?;
    alts.iter().find_map(nested_object)
}

/// Collects the rows of an object schema; `required` means required within the field's parent object.
fn collect_fields(schema: &Value, prefix: &str, out: &mut Vec<FieldRow>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    for (name, prop) in props {
        let path = format!("{prefix}{name}");
        let is_required = required.contains(&name.as_str());
        let description = prop.get("description").and_then(Value::as_str).unwrap_or("");
        out.push(FieldRow { path: path.clone(), ty: type_name(prop), required: is_required, description: cell(description) });
        if let Some((inner, suffix)) = nested_object(prop) {
            collect_fields(inner, &format!("{path}{suffix}."), out);
        }
    }
}

/// Rustdoc links are meaningless outside rustdoc: `[text](crate::path)` becomes `text`, and an
/// intra-doc link ``[`name`]`` becomes `` `name` ``.
fn strip_rustdoc_links(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("[`") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(close) = after.find("`]") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let text = &after[..close + 1];
        out.push_str(text);
        rest = &after[close + 2..];
        if rest.starts_with("(crate::") || rest.starts_with("(Self::") {
            match rest.find(')') {
                Some(end) => rest = &rest[end + 1..],
                None => rest = "",
            }
        }
    }
    out.push_str(rest);
    out
}

/// The paragraphs of the type's doc comment after the first (which repeats the one-line description).
fn notes(entry: &CatalogEntry) -> Vec<String> {
    let doc = entry.schema.get("description").and_then(Value::as_str).unwrap_or("");
    doc.split("\n\n").skip(1).map(|p| cell(&strip_rustdoc_links(p))).filter(|p| !p.is_empty()).collect()
}

fn write_entry(md: &mut String, entry: &CatalogEntry) {
    let consumers = if entry.consumers.is_empty() {
        "–".to_owned()
    } else {
        entry.consumers.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
    };
    let _ = writeln!(md, "### `{}`\n", entry.event_type);
    let _ = writeln!(md, "{}\n", entry.description);
    for note in notes(entry) {
        let _ = writeln!(md, "{note}\n");
    }
    let _ = writeln!(md, "| Source | Schema version | Criticality | Consumers |");
    let _ = writeln!(md, "|---|---|---|---|");
    let _ = writeln!(md, "| `{}` | {} | {} | {} |\n", entry.source, entry.schema_version, entry.criticality, consumers);
    let mut rows = Vec::new();
    collect_fields(&entry.schema, "", &mut rows);
    if rows.is_empty() {
        let _ = writeln!(md, "No payload fields.\n");
        return;
    }
    let _ = writeln!(md, "| Field | Type | Required | Description |");
    let _ = writeln!(md, "|---|---|---|---|");
    for r in rows {
        let _ = writeln!(md, "| `{}` | {} | {} | {} |", r.path, cell(&r.ty), if r.required { "yes" } else { "no" }, r.description);
    }
    md.push('\n');
}

impl Catalog {
    /// The catalog as Markdown: the contents of `docs/EVENTS.md`, grouped by module. For each type: its
    /// source, schema version, criticality, description, consumers and a table of payload fields (type,
    /// required, description; nested fields as dotted paths, list items as `name[].field`).
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let modules = self.modules();
        md.push_str("# BRAiN event catalog\n\n");
        md.push_str(
            "<!-- Generated from crates/brain-events; do not edit. Regenerate with \
             `cargo run -p brain -- catalog --markdown > docs/EVENTS.md` or \
             `BRAIN_UPDATE_DOCS=1 cargo test -p brain-events --test catalog`. -->\n\n",
        );
        let _ = writeln!(md, "{} event types in {} modules.\n", self.len(), modules.len());
        md.push_str(
            "Every event travels in the Charter v1.0 envelope; the payload schemas below are the wire \
             contract. `meta.schema_version` is the payload's schema version: older versions are upcast \
             on read. Publishing validates payloads (strict by default): unknown types are rejected unless \
             their namespace is registered, and a payload must match its schema. Extra payload fields are \
             allowed (producers may evolve first; consumers ignore what they do not know). In the field \
             tables, nested fields are dotted paths (`name[].field` for list items) and \"Required\" means \
             required within the parent object. The audit log and analytics consume every event and are not listed per type. Timestamps in payloads are \
             epoch seconds (numbers) or ISO 8601 strings, as each module's original producer wrote them.\n\n",
        );
        md.push_str("| Module | Types |\n|---|---|\n");
        for module in &modules {
            let types: Vec<String> = self.entries().filter(|e| e.module == *module).map(|e| format!("`{}`", e.event_type)).collect();
            let _ = writeln!(md, "| [{module}](#{}) | {} |", module, types.join(", "));
        }
        md.push('\n');
        for module in &modules {
            let _ = writeln!(md, "## {module}\n");
            for entry in self.entries().filter(|e| e.module == *module) {
                write_entry(&mut md, entry);
            }
        }
        while md.ends_with("\n\n") {
            md.pop();
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rustdoc_links_become_plain_code() {
        assert_eq!(strip_rustdoc_links("see [`Catalog::upcast`](crate::Catalog::upcast) now"), "see `Catalog::upcast` now");
        assert_eq!(strip_rustdoc_links("use [`thing`] and [a](https://x)"), "use `thing` and [a](https://x)");
        assert_eq!(strip_rustdoc_links("broken [`x"), "broken [`x");
    }

    #[test]
    fn cells_are_single_line_and_escape_pipes() {
        assert_eq!(cell("a |\n b"), "a \\| b");
    }

    #[test]
    fn type_names_are_readable() {
        assert_eq!(type_name(&json!({"type": ["string", "null"]})), "string or null");
        assert_eq!(type_name(&json!({"type": "array", "items": {"type": "string"}})), "array of string");
        assert_eq!(type_name(&json!({"type": "string", "enum": ["A", "B"]})), "`\"A\"` or `\"B\"`");
        assert_eq!(type_name(&json!({"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}})), "map of integer ≥ 0");
        assert_eq!(type_name(&json!(true)), "any");
    }
}
