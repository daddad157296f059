//! What a pin covers: a tool's name, description, input and output schema — not its
//! annotations or title, which servers change freely (hints, icons) without changing what the
//! tool does — written as canonical JSON (keys sorted, no whitespace) and hashed with
//! sha256, so the same definition always has the same hash whatever order a server sends
//! its keys in.

use rmcp::model::Tool;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The pinned parts of `tool`, as a JSON object (`outputSchema` only when it has one).
pub fn definition(tool: &Tool) -> Value {
    let mut def = json!({
        "name": tool.name,
        "description": tool.description.as_deref().unwrap_or(""),
        "inputSchema": Value::Object((*tool.input_schema).clone()),
    });
    if let Some(out) = &tool.output_schema {
        def["outputSchema"] = Value::Object((**out).clone());
    }
    def
}

/// `value` as canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant
/// whitespace, strings escaped as serde_json escapes them.
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// sha256 of the canonical form of `definition`, in hex.
pub fn hash(definition: &Value) -> String {
    Sha256::digest(canonical(definition).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Which parts differ between two definitions, in words a person reads in a refusal:
/// `description`, `input schema`, `output schema`.
pub fn changed_parts(old: &Value, new: &Value) -> Vec<&'static str> {
    let part = |key: &str| {
        let get = |v: &Value| v.get(key).map(canonical);
        get(old) != get(new)
    };
    let mut parts = Vec::new();
    for (key, words) in [
        ("description", "description"),
        ("inputSchema", "input schema"),
        ("outputSchema", "output schema"),
        ("name", "name"),
    ] {
        if part(key) {
            parts.push(words);
        }
    }
    parts
}

/// A definition pretty-printed with sorted keys, for a diff a person reads.
pub fn pretty(definition: &Value) -> String {
    serde_json::to_string_pretty(&sorted(definition)).unwrap_or_default()
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&map[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::Arc;

    use super::*;

    /// A tool named `t` with this description and input schema.
    pub(crate) fn tool(description: &str, schema: Value) -> Tool {
        let Value::Object(schema) = schema else {
            panic!("object")
        };
        Tool::new("t".to_owned(), description.to_owned(), Arc::new(schema))
    }

    #[test]
    fn key_order_and_annotations_do_not_change_the_hash() {
        let a = tool(
            "d",
            json!({"type": "object", "properties": {"x": {"type": "string"}}}),
        );
        let mut b = tool(
            "d",
            json!({"properties": {"x": {"type": "string"}}, "type": "object"}),
        );
        b.annotations = Some(rmcp::model::ToolAnnotations::new().read_only(true));
        assert_eq!(hash(&definition(&a)), hash(&definition(&b)));
        assert_eq!(
            canonical(&json!({"b": [1, {"z": 1, "a": "é"}], "a": null})),
            r#"{"a":null,"b":[1,{"a":"é","z":1}]}"#
        );
    }

    #[test]
    fn the_changed_part_is_named() {
        let a = definition(&tool("d", json!({"type": "object"})));
        let b = definition(&tool("d2", json!({"type": "object"})));
        let c = definition(&tool("d", json!({"type": "object", "required": ["x"]})));
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(changed_parts(&a, &b), ["description"]);
        assert_eq!(changed_parts(&a, &c), ["input schema"]);
    }
}
