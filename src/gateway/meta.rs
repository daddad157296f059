//! The four meta-tools: their definitions (kept small — they are the whole default
//! `tools/list`) and their argument types.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::{Value, json};

/// The meta-tools, a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaTool {
    ListServers,
    ListTools,
    SearchTools,
    Invoke,
}

impl MetaTool {
    pub const ALL: [MetaTool; 4] = [
        MetaTool::ListServers,
        MetaTool::ListTools,
        MetaTool::SearchTools,
        MetaTool::Invoke,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MetaTool::ListServers => "gateway_list_servers",
            MetaTool::ListTools => "gateway_list_tools",
            MetaTool::SearchTools => "gateway_search_tools",
            MetaTool::Invoke => "gateway_invoke",
        }
    }

    pub fn from_name(name: &str) -> Option<MetaTool> {
        MetaTool::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn definition(self) -> Tool {
        let (description, schema, read_only) = match self {
            MetaTool::ListServers => (
                "List the backend MCP servers: state (starting/ready/failed/disabled), tool count, last error.",
                json!({"type": "object", "properties": {}}),
                true,
            ),
            MetaTool::ListTools => (
                "List backend tools. With `server`: its full tool definitions. Without: every tool's server, name and one-line description.",
                json!({"type": "object", "properties": {
                    "server": {"type": "string", "description": "Only this server"}
                }}),
                true,
            ),
            MetaTool::SearchTools => (
                "Find backend tools for a task, described in plain words. Returns the best matches with their input schemas, ready for gateway_invoke.",
                json!({"type": "object", "properties": {
                    "query": {"type": "string"},
                    "limit": {"type": "integer", "minimum": 1, "default": 8},
                    "server": {"type": "string", "description": "Only this server"}
                }, "required": ["query"]}),
                true,
            ),
            MetaTool::Invoke => (
                "Call a backend tool and return its result unchanged.",
                json!({"type": "object", "properties": {
                    "server": {"type": "string"},
                    "tool": {"type": "string"},
                    "arguments": {"type": "object", "description": "Per the tool's input schema"}
                }, "required": ["server", "tool"]}),
                false,
            ),
        };
        let annotations = if read_only {
            ToolAnnotations::new()
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false)
        } else {
            // It forwards to arbitrary backend tools, so it may do anything.
            ToolAnnotations::new().read_only(false).open_world(true)
        };
        Tool::new(self.name(), description, Arc::new(object(schema))).with_annotations(annotations)
    }
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListToolsArgs {
    pub server: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    pub query: String,
    pub limit: Option<usize>,
    pub server: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvokeArgs {
    pub server: String,
    pub tool: String,
    #[serde(default)]
    pub arguments: Option<Value>,
}

impl InvokeArgs {
    /// The tool arguments as an object. Some clients (OpenAI-style) send them as a JSON
    /// string, so that is accepted too.
    pub fn arguments(&self) -> Result<JsonObject, String> {
        match &self.arguments {
            None | Some(Value::Null) => Ok(JsonObject::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(JsonObject::new()),
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err("`arguments` must be a JSON object".into()),
                Err(e) => Err(format!("`arguments` is not valid JSON: {e}")),
            },
            Some(_) => Err("`arguments` must be an object".into()),
        }
    }
}

/// Parse a meta-tool's arguments, with a message a model can act on.
pub fn parse<T: serde::de::DeserializeOwned>(
    tool: MetaTool,
    arguments: Option<JsonObject>,
) -> Result<T, String> {
    serde_json::from_value(Value::Object(arguments.unwrap_or_default()))
        .map_err(|e| format!("invalid arguments for {}: {e}", tool.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_accept_objects_and_json_strings() {
        let args: InvokeArgs = serde_json::from_value(json!({
            "server": "s", "tool": "t", "arguments": "{\"a\": 1}"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(args.arguments(), Ok(object(json!({"a": 1}))));
        let bad: InvokeArgs =
            serde_json::from_value(json!({"server": "s", "tool": "t", "arguments": "[1]"}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(bad.arguments().is_err());
    }

    #[test]
    fn every_meta_tool_round_trips_by_name() {
        for tool in MetaTool::ALL {
            assert_eq!(MetaTool::from_name(tool.name()), Some(tool));
            assert!(tool.definition().annotations.is_some());
        }
    }
}
