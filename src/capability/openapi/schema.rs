//! `$ref` resolution for OpenAPI documents: local JSON pointers only, with cycles cut (a
//! recursive schema becomes a described stub instead of an endless expansion) and a depth
//! limit that keeps generated input schemas readable.

use serde_json::{Map, Value};

/// Nesting depth past which a schema is summarised instead of inlined.
const MAX_DEPTH: usize = 6;

/// The value a `$ref` points at (`#/a/b`), or `None` for remote or broken references.
pub fn lookup<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

/// Follows `$ref`s at the top of `value` (not inside it) until a real object.
pub fn deref<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..32 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) => match lookup(doc, r) {
                Some(target) => value = target,
                None => return value,
            },
            None => return value,
        }
    }
    value
}

/// A copy of `schema` with every local `$ref` inlined. `notes` hears about cycles cut.
pub fn inline(doc: &Value, schema: &Value, notes: &mut Vec<String>) -> Value {
    let mut stack = Vec::new();
    walk(doc, schema, &mut stack, 0, notes)
}

fn walk(
    doc: &Value,
    value: &Value,
    stack: &mut Vec<String>,
    depth: usize,
    notes: &mut Vec<String>,
) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                let name = reference.rsplit('/').next().unwrap_or(reference).to_owned();
                if stack.iter().any(|r| r == reference) {
                    notes.push(format!("recursive schema `{name}` cut"));
                    return stub(&format!("(recursive: {name}; see the API documentation)"));
                }
                let Some(target) = lookup(doc, reference) else {
                    notes.push(format!("unresolved reference `{reference}` left open"));
                    return stub(&format!("(unresolved reference {reference})"));
                };
                stack.push(reference.to_owned());
                let out = walk(doc, target, stack, depth, notes);
                stack.pop();
                return out;
            }
            if depth > MAX_DEPTH {
                let kind = map.get("type").cloned().unwrap_or(Value::from("object"));
                let mut out = Map::new();
                out.insert("type".into(), kind);
                if let Some(d) = map.get("description") {
                    out.insert("description".into(), d.clone());
                }
                return Value::Object(out);
            }
            let mut out = Map::new();
            for (k, v) in map {
                // Examples are often huge and never needed to call the API.
                if matches!(k.as_str(), "example" | "examples" | "xml" | "externalDocs")
                    || k.starts_with("x-")
                {
                    continue;
                }
                let nested = matches!(
                    k.as_str(),
                    "properties" | "items" | "allOf" | "anyOf" | "oneOf" | "additionalProperties"
                );
                let d = if nested { depth + 1 } else { depth };
                out.insert(k.clone(), walk(doc, v, stack, d, notes));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| walk(doc, i, stack, depth, notes))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn stub(description: &str) -> Value {
    serde_json::json!({ "type": "object", "description": description })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cycles_are_cut_not_followed() {
        let doc = json!({"components": {"schemas": {
            "Node": {"type": "object", "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
            }}
        }}});
        let mut notes = Vec::new();
        let out = inline(
            &doc,
            &json!({"$ref": "#/components/schemas/Node"}),
            &mut notes,
        );
        assert_eq!(out["properties"]["name"], json!({"type": "string"}));
        let child = &out["properties"]["children"]["items"];
        assert!(
            child["description"]
                .as_str()
                .unwrap_or("")
                .contains("recursive")
        );
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn deref_follows_chains() {
        let doc = json!({"a": {"$ref": "#/b"}, "b": {"x": 1}});
        assert_eq!(deref(&doc, &json!({"$ref": "#/a"})), &json!({"x": 1}));
    }
}
