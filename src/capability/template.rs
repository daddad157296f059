//! String templates of a capability: `{arg}` placeholders filled from the caller's arguments
//! and `{env.VAR}` references filled from the gateway's environment.
//!
//! A template is parsed once, at load, into literal text and references. Substitution walks
//! those parts, so a caller's value is inserted as text and never scanned again: an argument
//! that contains `{env.SECRET}` reaches the API literally (the original expanded secrets over
//! the combined string, which let a caller read any environment variable).

use serde_json::{Map, Value};

/// One parsed template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Arg(String),
    Env(String),
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`{{{0}}}` reads a secret store this gateway does not support; use `{{env.VAR}}`")]
    UnsupportedSecret(String),
}

/// Why a template could not be filled for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    Arg(String),
    Env(String),
}

impl Template {
    /// Parses `text`. A `{` that does not start `{name}` (letters, digits, `_`, `-`, `.`) is
    /// literal, so JSON-looking text such as `{}` or `{"a": 1}` passes through unchanged.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            lit.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
                .unwrap_or(after.len());
            if name_len > 0 && after[name_len..].starts_with('}') {
                let name = &after[..name_len];
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(reference(name)?);
                rest = &after[name_len + 1..];
            } else {
                lit.push('{');
                rest = after;
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    /// `Some(name)` when the whole template is one `{name}` argument: such a body value keeps
    /// its JSON type instead of becoming a string.
    pub fn sole_arg(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Arg(name)] => Some(name),
            _ => None,
        }
    }

    /// Argument names this template reads.
    pub fn args(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Arg(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Environment variables this template reads.
    pub fn env_vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Env(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Fills the template. `encode` is applied to argument values only (path segments are
    /// percent-encoded; the capability's own literal text is trusted as written).
    pub fn fill(
        &self,
        args: &Map<String, Value>,
        env: &dyn Fn(&str) -> Option<String>,
        encode: &dyn Fn(&str) -> String,
    ) -> Result<String, Missing> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(text) => out.push_str(text),
                Part::Arg(name) => match args.get(name) {
                    None | Some(Value::Null) => return Err(Missing::Arg(name.clone())),
                    Some(value) => out.push_str(&encode(&value_text(value))),
                },
                Part::Env(name) => match env(name) {
                    Some(value) => out.push_str(&value),
                    None => return Err(Missing::Env(name.clone())),
                },
            }
        }
        Ok(out)
    }
}

fn reference(name: &str) -> Result<Part, TemplateError> {
    if let Some(var) = name.strip_prefix("env.") {
        return Ok(Part::Env(var.to_owned()));
    }
    if name.starts_with("keychain.") || name.starts_with("oauth.") || name.starts_with("file.") {
        return Err(TemplateError::UnsupportedSecret(name.to_owned()));
    }
    Ok(Part::Arg(name.to_owned()))
}

/// How an argument reads inside a URL, header or string: strings as they are, arrays as
/// comma-separated lists (the usual REST convention), anything else as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn env(name: &str) -> Option<String> {
        (name == "SECRET").then(|| "s3cr3t".to_owned())
    }

    fn plain(s: &str) -> String {
        s.to_owned()
    }

    #[test]
    fn fills_args_and_env() {
        let t = Template::parse("Bearer {env.SECRET} for {user}").unwrap();
        let out = t.fill(&args(json!({"user": "ann"})), &env, &plain).unwrap();
        assert_eq!(out, "Bearer s3cr3t for ann");
    }

    #[test]
    fn caller_values_are_never_expanded() {
        let t = Template::parse("q={q}").unwrap();
        let out = t
            .fill(&args(json!({"q": "{env.SECRET}"})), &env, &plain)
            .unwrap();
        assert_eq!(out, "q={env.SECRET}");
    }

    #[test]
    fn json_braces_are_literal() {
        let t = Template::parse(r#"{} and {"a": 1} and { x }"#).unwrap();
        assert_eq!(
            t.fill(&Map::new(), &env, &plain).unwrap(),
            r#"{} and {"a": 1} and { x }"#
        );
    }

    #[test]
    fn sole_arg_and_missing() {
        assert_eq!(Template::parse("{n}").unwrap().sole_arg(), Some("n"));
        assert_eq!(Template::parse("x{n}").unwrap().sole_arg(), None);
        let t = Template::parse("{a}/{env.NOPE}").unwrap();
        assert_eq!(
            t.fill(&Map::new(), &env, &plain),
            Err(Missing::Arg("a".into()))
        );
        assert_eq!(
            t.fill(&args(json!({"a": 1})), &env, &plain),
            Err(Missing::Env("NOPE".into()))
        );
    }

    #[test]
    fn keychain_is_refused() {
        assert!(Template::parse("{keychain.stripe}").is_err());
    }

    #[test]
    fn arrays_join_with_commas() {
        assert_eq!(value_text(&json!(["a", 1, true])), "a,1,true");
    }
}
