//! The shape of one `gateway_search_tools` hit: what the tool is, what it does to the
//! world (the backend's annotation hints, compactly), and its input schema so the agent
//! can call it in one hop — capped in size per hit and per answer, because one backend
//! tool with a multi-megabyte schema would otherwise flood the model's context.

use rmcp::model::Tool;
use serde_json::{Map, Value, json};

use crate::search::SemanticStatus;

/// Largest input schema sent whole in one hit (bytes of JSON).
pub const SCHEMA_CAP: usize = 8 * 1024;
/// Largest total of input schemas in one answer; later hits get the outline only.
pub const TOTAL_SCHEMA_CAP: usize = 32 * 1024;

/// The explicit annotation hints of `tool` (`readOnly`, `destructive`, `idempotent`,
/// `openWorld`), or `None` when the backend gave none.
pub fn hints(tool: &Tool) -> Option<Value> {
    let a = tool.annotations.as_ref()?;
    let mut out = Map::new();
    for (key, value) in [
        ("readOnly", a.read_only_hint),
        ("destructive", a.destructive_hint),
        ("idempotent", a.idempotent_hint),
        ("openWorld", a.open_world_hint),
    ] {
        if let Some(v) = value {
            out.insert(key.into(), Value::Bool(v));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// Adds `input_schema` to `hit`: whole when it fits both caps (charged to `budget`),
/// else an outline (property names, types and `required`) with a note saying what was
/// cut and how to get the whole schema.
pub fn add_schema(hit: &mut Value, server: &str, tool: &Tool, budget: &mut usize) {
    let schema = Value::Object((*tool.input_schema).clone());
    let size = serde_json::to_string(&schema).map_or(usize::MAX, |s| s.len());
    if size <= SCHEMA_CAP && size <= *budget {
        *budget -= size;
        hit["input_schema"] = schema;
        return;
    }
    let outline = outline(&schema);
    let outline_size = serde_json::to_string(&outline).map_or(usize::MAX, |s| s.len());
    let why = if size > SCHEMA_CAP {
        format!("its input schema is {size} bytes (cap {SCHEMA_CAP})")
    } else {
        format!("this answer's schemas reached {TOTAL_SCHEMA_CAP} bytes")
    };
    if outline_size <= SCHEMA_CAP.min(*budget) {
        *budget -= outline_size;
        hit["input_schema"] = outline;
        hit["schema_note"] = json!(format!(
            "outline only (property names and types): {why}; gateway_list_tools with server `{server}` has the whole schema"
        ));
    } else {
        hit["schema_note"] = json!(format!(
            "schema left out: {why}; gateway_list_tools with server `{server}` has it"
        ));
    }
}

/// Top-level property names with their `type`, plus `required`: enough to call most tools.
fn outline(schema: &Value) -> Value {
    let mut properties = Map::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let kind = prop.get("type").cloned().unwrap_or(Value::Null);
            properties.insert(name.clone(), json!({ "type": kind }));
        }
    }
    let mut out = json!({ "type": "object", "properties": properties });
    if let Some(required) = schema.get("required") {
        out["required"] = required.clone();
    }
    out
}

/// How the answer describes the semantic channel: `ready`, `off` (with why), or
/// `pending` with the backends whose tools are matched by words only for now.
pub fn semantic(status: &SemanticStatus) -> Value {
    match status {
        SemanticStatus::Ready => json!("ready"),
        SemanticStatus::Off(why) => json!(format!("off ({why}); tools are matched by words only")),
        SemanticStatus::Pending(servers) => json!(format!(
            "pending: tools of {} are matched by words only until their embeddings are ready",
            servers.join(", ")
        )),
    }
}

/// The `semantic` field while the index is still taking in tool lists the registry already
/// has (a burst of backends listing at once): "ready" would claim more than is true.
pub fn catching_up() -> Value {
    json!("pending: the index is still taking in the latest tool lists; their tools may be missing")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tool(schema: Value) -> Tool {
        let Value::Object(map) = schema else {
            panic!("schema must be an object")
        };
        Tool::new("t", "d", Arc::new(map))
    }

    #[test]
    fn a_huge_schema_becomes_an_outline_with_a_note() {
        let big = "x".repeat(3 * 1024 * 1024);
        let t = tool(json!({
            "type": "object",
            "properties": {"a": {"type": "string", "description": big}},
            "required": ["a"]
        }));
        let mut hit = json!({});
        let mut budget = TOTAL_SCHEMA_CAP;
        add_schema(&mut hit, "s", &t, &mut budget);
        assert_eq!(hit["input_schema"]["properties"]["a"]["type"], "string");
        assert_eq!(hit["input_schema"]["required"], json!(["a"]));
        assert!(
            hit["schema_note"]
                .as_str()
                .is_some_and(|n| n.contains("cap"))
        );
        assert!(hit.to_string().len() < 1024);
    }

    #[test]
    fn small_schemas_pass_whole_until_the_answer_budget_is_spent() {
        let t = tool(
            json!({"type": "object", "properties": {"a": {"type": "string", "description": "y".repeat(6000)}}}),
        );
        let mut budget = TOTAL_SCHEMA_CAP;
        let mut whole = 0;
        for _ in 0..10 {
            let mut hit = json!({});
            add_schema(&mut hit, "s", &t, &mut budget);
            if hit.get("schema_note").is_none() {
                whole += 1;
            }
        }
        assert_eq!(whole, TOTAL_SCHEMA_CAP / 6000);
    }
}
