//! One OpenAPI operation → one capability file: arguments from parameters and the JSON
//! request body, templates for path, query, headers and body, auth, annotations.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::AuthPlan;
use super::schema::{deref, inline};

const MAX_DESCRIPTION: usize = 1200;

/// An argument name safe in `{…}` templates (and not an `env.` reference).
fn arg_name(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_matches('_').to_owned();
    if s.is_empty() { "value".into() } else { s }
}

/// One operation being converted.
pub(super) struct Op<'a> {
    pub doc: &'a Value,
    pub swagger2: bool,
    pub path: &'a str,
    pub method: &'a str,
    pub item: &'a Value,
    pub op: &'a Value,
    pub base: &'a str,
    /// The operation's credential and whether it is required.
    pub auth: Option<(AuthPlan, bool)>,
}

impl Op<'_> {
    pub fn convert(&self, name: &str, notes: &mut BTreeSet<String>) -> Result<String, String> {
        let mut props = Map::new();
        let mut required = Vec::new();
        let mut path = self.path.to_owned();
        let mut params = Map::new();
        let mut headers = Map::new();
        headers.insert("Accept".into(), json!("application/json"));
        let mut body: Option<Value> = None;
        let mut cut = Vec::new();

        for param in self.parameters() {
            let param = deref(self.doc, param);
            let (Some(pname), Some(location)) = (
                param.get("name").and_then(Value::as_str),
                param.get("in").and_then(Value::as_str),
            ) else {
                continue;
            };
            if self
                .auth
                .as_ref()
                .is_some_and(|(p, _)| p.covers(location, pname))
            {
                continue; // the key comes from the environment, not the caller
            }
            let arg = arg_name(pname);
            let mut schema = match param.get("schema") {
                Some(s) => inline(self.doc, s, &mut cut),
                // Swagger 2.0 puts the type on the parameter itself.
                None => swagger_param_schema(param),
            };
            if let (Value::Object(s), Some(d)) = (&mut schema, param.get("description")) {
                s.insert(
                    "description".into(),
                    clip(d.as_str().unwrap_or(""), 300).into(),
                );
            }
            let is_required =
                param.get("required").and_then(Value::as_bool) == Some(true) || location == "path";
            match location {
                "path" => path = path.replace(&format!("{{{pname}}}"), &format!("{{{arg}}}")),
                "query" => {
                    params.insert(pname.to_owned(), json!(format!("{{{arg}}}")));
                }
                "header" => {
                    headers.insert(pname.to_owned(), json!(format!("{{{arg}}}")));
                }
                "body" if self.swagger2 => {
                    let s = param.get("schema").unwrap_or(&Value::Null);
                    let s = inline(self.doc, s, &mut cut);
                    body = Some(self.body_template(&s, is_required, &mut props, &mut required));
                    continue;
                }
                "formData" => {
                    return Err("form-data parameters are not supported".into());
                }
                "cookie" => {
                    if is_required {
                        return Err("a required cookie parameter is not supported".into());
                    }
                    continue;
                }
                _ => continue,
            }
            props.insert(arg.clone(), schema);
            if is_required && !required.contains(&arg) {
                required.push(arg);
            }
        }

        if let Some(request) = self.op.get("requestBody") {
            let request = deref(self.doc, request);
            let is_required = request.get("required").and_then(Value::as_bool) == Some(true);
            let content = request.get("content").and_then(Value::as_object);
            let json_schema = content.and_then(|c| {
                c.iter()
                    .find(|(t, _)| t.starts_with("application/json") || t.ends_with("+json"))
                    .map(|(_, media)| media.get("schema").cloned().unwrap_or(json!({})))
            });
            match json_schema {
                Some(s) => {
                    let s = inline(self.doc, &s, &mut cut);
                    body = Some(self.body_template(&s, is_required, &mut props, &mut required));
                }
                None if is_required => {
                    let types: Vec<&str> = content
                        .into_iter()
                        .flatten()
                        .map(|(t, _)| t.as_str())
                        .collect();
                    return Err(format!(
                        "request body type {} is not supported (only JSON)",
                        types.join(", ")
                    ));
                }
                None => {}
            }
        }
        notes.extend(cut);

        let mut config = Map::new();
        config.insert("base_url".into(), json!(self.base));
        config.insert("path".into(), json!(path));
        config.insert("method".into(), json!(self.method.to_uppercase()));
        config.insert("headers".into(), Value::Object(headers));
        if !params.is_empty() {
            config.insert("params".into(), Value::Object(params));
        }
        if let Some(body) = body {
            config.insert("body".into(), body);
        }
        let read_only = matches!(self.method, "get" | "head");
        let mut input = json!({"type": "object", "properties": props});
        if !required.is_empty() {
            input["required"] = json!(required);
        }
        let mut doc = json!({
            "fulcrum": "1.0",
            "name": name,
            "description": self.description(),
            "schema": {"input": input},
            "providers": {"primary": {"service": "rest", "timeout": 30, "config": config}},
            "auth": self.auth(),
            "metadata": {
                "category": "api",
                "tags": self.tags(),
                "read_only": read_only,
                "destructive": self.method == "delete",
                "idempotent": matches!(self.method, "get" | "head" | "put" | "delete" | "options"),
                "open_world": true,
            },
        });
        if read_only {
            doc["cache"] = json!({"strategy": "exact", "ttl": 60});
        }
        // Top-level keys in the order people read them (a JSON map would sort them).
        let mut yaml = String::new();
        for key in [
            "fulcrum",
            "name",
            "description",
            "schema",
            "providers",
            "auth",
            "cache",
            "metadata",
        ] {
            if let Some(value) = doc.get(key) {
                let part = serde_yaml_ng::to_string(&json!({ key: value }))
                    .map_err(|e| format!("cannot write YAML: {e}"))?;
                yaml.push_str(&part);
            }
        }
        // Every generated file must load; a failure here is a bug in the importer.
        crate::capability::load::load_text(&yaml)
            .map_err(|e| format!("generated file is invalid: {e}"))?;
        Ok(yaml)
    }

    fn parameters(&self) -> Vec<&Value> {
        let mut out: Vec<&Value> = Vec::new();
        let op_params: Vec<&Value> = self
            .op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let key = |p: &Value| {
            let p = deref(self.doc, p);
            (p.get("name").cloned(), p.get("in").cloned())
        };
        // Operation parameters override path-level ones with the same name and location.
        for p in self
            .item
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !op_params.iter().any(|o| key(o) == key(p)) {
                out.push(p);
            }
        }
        out.extend(op_params);
        out
    }

    /// Top-level properties of an object body become arguments; anything else is `body`.
    fn body_template(
        &self,
        schema: &Value,
        is_required: bool,
        props: &mut Map<String, Value>,
        required: &mut Vec<String>,
    ) -> Value {
        let object_props = schema.get("properties").and_then(Value::as_object);
        let Some(object_props) = object_props.filter(|p| !p.is_empty()) else {
            props.insert("body".into(), schema.clone());
            if is_required {
                required.push("body".into());
            }
            return json!("{body}");
        };
        let body_required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut template = Map::new();
        for (prop, s) in object_props {
            let mut arg = arg_name(prop);
            if props.contains_key(&arg) {
                arg = format!("body_{arg}");
            }
            template.insert(prop.clone(), json!(format!("{{{arg}}}")));
            props.insert(arg.clone(), s.clone());
            if is_required && body_required.contains(&prop.as_str()) {
                required.push(arg);
            }
        }
        Value::Object(template)
    }

    fn description(&self) -> String {
        let summary = self.op.get("summary").and_then(Value::as_str).unwrap_or("");
        let detail = self
            .op
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut text = summary.trim().to_owned();
        if !detail.trim().is_empty() && detail.trim() != summary.trim() {
            if !text.is_empty() {
                text.push_str(". ");
            }
            text.push_str(detail.trim());
        }
        let text = clip(&text, MAX_DESCRIPTION);
        format!(
            "{}{}{} {}",
            text,
            if text.is_empty() { "" } else { " " },
            self.method.to_uppercase(),
            self.path
        )
    }

    fn tags(&self) -> Vec<String> {
        let mut tags = vec!["openapi".to_owned()];
        tags.extend(
            self.op
                .get("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned),
        );
        tags
    }

    fn auth(&self) -> Value {
        match &self.auth {
            Some((plan, required)) => plan.to_auth(*required),
            None => json!({"required": false, "type": "none"}),
        }
    }
}

fn swagger_param_schema(param: &Value) -> Value {
    let mut s = Map::new();
    for key in [
        "type", "format", "items", "enum", "default", "minimum", "maximum",
    ] {
        if let Some(v) = param.get(key) {
            s.insert(key.into(), v.clone());
        }
    }
    if !s.contains_key("type") {
        s.insert("type".into(), json!("string"));
    }
    Value::Object(s)
}

fn clip(text: &str, max: usize) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match folded.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &folded[..cut]),
        None => folded,
    }
}
