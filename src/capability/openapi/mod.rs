//! `cap import`: an OpenAPI 3.0/3.1 or Swagger 2.0 document (JSON or YAML) → one capability
//! file per operation, in the original mcp-gateway's format, each validated before it is
//! returned. `schema` resolves `$ref`s; `spec` reads servers and security schemes.

mod operation;
mod schema;
mod spec;

use std::collections::BTreeSet;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::Value;
use sha2::{Digest, Sha256};

use operation::Op;
use schema::deref;
pub use spec::{AuthPlan, Schemes, base_url, security};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const MAX_NAME: usize = 64;

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub prefix: Option<String>,
    /// Globs over the operation path (`/repos/**`) or the generated tool name (`repos_*`).
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// The environment variable holding the API key or token.
    pub auth_env: Option<String>,
    /// Overrides the document's servers / host.
    pub base_url: Option<String>,
    /// Where the document came from, to resolve a relative server URL.
    pub source_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Generated {
    pub name: String,
    /// `GET /path`
    pub operation: String,
    pub yaml: String,
}

#[derive(Debug, Clone)]
pub struct Skipped {
    pub operation: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub title: String,
    pub base_url: String,
    pub auth: Option<String>,
    pub generated: Vec<Generated>,
    pub skipped: Vec<Skipped>,
    pub notes: BTreeSet<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not JSON or YAML: {0}")]
    Parse(String),
    #[error("not an OpenAPI 3.x or Swagger 2.0 document (no `openapi` or `swagger` version)")]
    NotOpenApi,
    #[error("{0}")]
    BaseUrl(String),
    #[error("bad glob `{glob}`: {error}")]
    Glob { glob: String, error: String },
}

/// Parses a document's text: JSON when it looks like JSON, YAML otherwise.
pub fn parse(text: &str) -> Result<Value, ImportError> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| ImportError::Parse(e.to_string()))
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| ImportError::Parse(e.to_string()))
    }
}

/// Converts every operation of `doc`.
pub fn import(doc: &Value, options: &Options) -> Result<Report, ImportError> {
    let swagger2 = doc.get("swagger").is_some();
    if !swagger2 && doc.get("openapi").is_none() {
        return Err(ImportError::NotOpenApi);
    }
    let base = base_url(doc, options).map_err(ImportError::BaseUrl)?;
    let title = doc
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("API")
        .to_owned();
    let schemes = security(doc, &title, options.auth_env.as_deref());
    let include = globs(&options.include)?;
    let exclude = globs(&options.exclude)?;
    let mut report = Report {
        title,
        base_url: base.clone(),
        auth: schemes.describe(),
        ..Report::default()
    };
    let mut used = BTreeSet::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Ok(report);
    };
    for (path, item) in paths {
        let item = deref(doc, item);
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let operation = format!("{} {path}", method.to_uppercase());
            let name = unique(
                tool_name(op, method, path, options.prefix.as_deref()),
                &used,
            );
            let selected = |set: &Option<GlobSet>| {
                set.as_ref()
                    .map(|s| s.is_match(path.as_str()) || s.is_match(&name))
            };
            if selected(&include) == Some(false) || selected(&exclude) == Some(true) {
                continue;
            }
            let ctx = Op {
                doc,
                swagger2,
                path,
                method,
                item,
                op,
                base: &base,
                auth: schemes.for_operation(op, doc),
            };
            match ctx.convert(&name, &mut report.notes) {
                Ok(yaml) => {
                    used.insert(name.clone());
                    report.generated.push(Generated {
                        name,
                        operation,
                        yaml,
                    });
                }
                Err(reason) => report.skipped.push(Skipped { operation, reason }),
            }
        }
    }
    Ok(report)
}

fn globs(patterns: &[String]) -> Result<Option<GlobSet>, ImportError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p).map_err(|e| ImportError::Glob {
            glob: p.clone(),
            error: e.to_string(),
        })?;
        builder.add(glob);
    }
    builder.build().map(Some).map_err(|e| ImportError::Glob {
        glob: patterns.join(" "),
        error: e.to_string(),
    })
}

/// `operationId`, else method + path; lower-case `[a-z0-9_]`, at most 64 characters.
fn tool_name(op: &Value, method: &str, path: &str, prefix: Option<&str>) -> String {
    let raw = match op.get("operationId").and_then(Value::as_str) {
        Some(id) if !id.trim().is_empty() => id.to_owned(),
        _ => format!("{method}_{path}"),
    };
    let base = sanitize(&raw);
    let full = match prefix.map(sanitize).filter(|p| !p.is_empty()) {
        Some(p) => format!("{p}_{base}"),
        None => base,
    };
    let full = if full.is_empty() {
        "operation".to_owned()
    } else {
        full
    };
    if full.len() <= MAX_NAME {
        return full;
    }
    // Keep it unique and stable: a truncated name plus a short hash of the whole.
    let hash = Sha256::digest(full.as_bytes());
    let tag: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}_{tag}", full[..MAX_NAME - 9].trim_end_matches('_'))
}

/// Lower-case; every run of other characters becomes one `_`; camelCase splits.
pub fn sanitize(raw: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    out.trim_matches('_').to_owned()
}

fn unique(name: String, used: &BTreeSet<String>) -> String {
    if !used.contains(&name) {
        return name;
    }
    (2..)
        .map(|n| {
            let suffix = format!("_{n}");
            let keep = name.len().min(MAX_NAME - suffix.len());
            format!("{}{suffix}", &name[..keep])
        })
        .find(|candidate| !used.contains(candidate))
        .unwrap_or(name)
}
