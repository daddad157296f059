//! Extraction of searchable text from a tool's JSON Schema `inputSchema`.
//!
//! Parameter names and their descriptions say a lot about what a tool does
//! (`repo_path`, `branch`, "The JQL query"), so they are indexed. Schemas come
//! from arbitrary servers: the walk tolerates any shape, never follows `$ref`
//! (no cycles), and is bounded in depth and volume so a pathological schema
//! cannot blow up indexing.

use serde_json::Value;

/// Deeper nesting than this is data modelling detail, not tool intent.
const MAX_DEPTH: usize = 6;
/// Upper bound on collected parameters per tool.
const MAX_PARAMS: usize = 200;

/// Parameter names and descriptions gathered from one schema.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SchemaText {
    /// Property names, space separated.
    pub names: String,
    /// Property descriptions and titles, one per line.
    pub descriptions: String,
}

/// Collects property names and their descriptions, recursing into nested
/// `properties`, `items`, `anyOf`/`oneOf`/`allOf`, `additionalProperties` and
/// `$defs`/`definitions`.
pub fn extract(schema: &Value) -> SchemaText {
    let mut out = SchemaText::default();
    let mut count = 0;
    walk(schema, 0, &mut out, &mut count);
    out
}

fn walk(schema: &Value, depth: usize, out: &mut SchemaText, count: &mut usize) {
    if depth > MAX_DEPTH || *count >= MAX_PARAMS {
        return;
    }
    let Some(obj) = schema.as_object() else {
        // Tuple-style `items: [..]` arrives here as an array.
        if let Some(list) = schema.as_array() {
            for item in list {
                walk(item, depth + 1, out, count);
            }
        }
        return;
    };
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            if *count >= MAX_PARAMS {
                return;
            }
            *count += 1;
            push_word(&mut out.names, name);
            for key in ["title", "description"] {
                if let Some(text) = prop.get(key).and_then(Value::as_str) {
                    push_line(&mut out.descriptions, text);
                }
            }
            walk(prop, depth + 1, out, count);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = obj.get(key) {
            walk(sub, depth + 1, out, count);
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(list) = obj.get(key).and_then(Value::as_array) {
            for sub in list {
                walk(sub, depth + 1, out, count);
            }
        }
    }
    for key in ["$defs", "definitions"] {
        if let Some(defs) = obj.get(key).and_then(Value::as_object) {
            for sub in defs.values() {
                walk(sub, depth + 1, out, count);
            }
        }
    }
}

fn push_word(buf: &mut String, word: &str) {
    if !buf.is_empty() {
        buf.push(' ');
    }
    buf.push_str(word);
}

fn push_line(buf: &mut String, line: &str) {
    if !buf.is_empty() {
        buf.push('\n');
    }
    buf.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_nested_names_and_descriptions() {
        let schema = json!({
            "type": "object",
            "properties": {
                "repo_path": {"type": "string", "description": "Path to the repo"},
                "filter": {
                    "anyOf": [
                        {"type": "object", "properties": {"label": {"description": "Label name"}}},
                        {"type": "null"}
                    ]
                },
                "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}}
            },
            "$defs": {"Item": {"type": "object", "properties": {"sku": {"title": "Stock unit"}}}}
        });
        let text = extract(&schema);
        // Map order depends on serde_json's `preserve_order` feature.
        let mut names: Vec<&str> = text.names.split(' ').collect();
        names.sort_unstable();
        assert_eq!(names, ["filter", "items", "label", "repo_path", "sku"]);
        let mut docs: Vec<&str> = text.descriptions.lines().collect();
        docs.sort_unstable();
        assert_eq!(docs, ["Label name", "Path to the repo", "Stock unit"]);
    }

    #[test]
    fn odd_schemas_yield_nothing_without_panicking() {
        for schema in [
            json!(null),
            json!(true),
            json!("string"),
            json!([1, 2]),
            json!({"properties": 3}),
            json!({"properties": {"a": 1, "b": null}}),
            json!({"items": [{"properties": {"x": {}}}]}),
        ] {
            let _ = extract(&schema);
        }
        assert_eq!(extract(&json!({"properties": {"a": 1}})).names, "a");
    }

    #[test]
    fn deep_and_huge_schemas_are_bounded() {
        let mut schema = json!({"type": "string"});
        for depth in 0..100 {
            schema = json!({"properties": {format!("p{depth}"): schema}});
        }
        let text = extract(&schema);
        assert!(text.names.split(' ').count() <= MAX_DEPTH + 1);

        let props: serde_json::Map<String, Value> =
            (0..1000).map(|i| (format!("p{i}"), json!({}))).collect();
        let text = extract(&json!({"properties": props}));
        assert_eq!(text.names.split(' ').count(), MAX_PARAMS);
    }
}
