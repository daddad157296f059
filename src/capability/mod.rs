//! Capabilities: REST APIs as tools, described by YAML files in the original mcp-gateway's
//! format (see docs/capabilities.md). This module is the only one that knows that format.
//!
//! - `format` / `validate`: the YAML as written → a runnable [`Capability`] (or a refusal).
//! - `template`: `{arg}` / `{env.VAR}` templates, filled without re-scanning caller values.
//! - `pin`: the file hash (and the older in-file `sha256:` pin line).
//! - `pins`: approvals of capability files, kept in the user's data directory.
//! - `load`: files from directories and the catalog embedded in the binary.
//! - `ssrf` / `executor`: the HTTP call, guarded against private addresses.
//! - `response` / `truncate`: the response into a result, cut to size as valid JSON.
//! - `service`: the backend actor that serves a capability set and reloads it on change.

mod builtin;
mod executor;
mod format;
pub mod load;
pub mod openapi;
pub mod pin;
pub mod pins;
mod response;
mod robustness;
mod service;
mod ssrf;
pub mod template;
mod truncate;
mod validate;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Map, Value};

pub use executor::{ClientError, Executor, HostOverrides, OVERRIDE_ENV, TEST_HOOKS};
pub use load::{LoadProblem, Loaded, LoadedCapability, Loader, Source, Trust, load_text};
pub use service::{CapabilitySet, executor, start, trust};
pub use ssrf::NetworkPolicy;
pub use template::Template;
pub use validate::{DEFAULT_TIMEOUT, Invalid, parse};

/// One validated capability: a tool backed by one REST call (plus fallbacks).
#[derive(Debug, Clone, PartialEq)]
pub struct Capability {
    pub name: String,
    pub description: String,
    pub input_schema: Map<String, Value>,
    /// Kept for documentation; not advertised as `outputSchema`, because real APIs drift and
    /// strict clients reject a whole result that does not match it.
    pub output_schema: Option<Map<String, Value>>,
    /// `primary` first, then the fallbacks in file order.
    pub providers: Vec<Provider>,
    pub auth: Auth,
    pub annotations: Annotations,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// Only ever set for `read_only` capabilities.
    pub cache_ttl: Option<Duration>,
}

/// One way to make the call.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    /// `"primary"` or `"fallback"`.
    pub role: &'static str,
    pub method: reqwest::Method,
    /// `base_url` + `path` (or `endpoint`), with `{arg}` path placeholders.
    pub url: Template,
    pub headers: Vec<(String, Template)>,
    pub params: Vec<(String, Template)>,
    /// Input name → API name, for arguments sent without a `params` template.
    pub param_map: BTreeMap<String, String>,
    pub static_params: Vec<(String, String)>,
    pub body: Option<Body>,
    pub response_path: Option<Vec<String>>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A JSON template: strings are templates, a string that is exactly `"{x}"` keeps x's type.
    Json(Value),
    /// A raw text template with its content type.
    Text(Template, String),
}

impl Provider {
    /// Every argument name the provider's templates read.
    pub fn args(&self) -> Vec<String> {
        let mut names: Vec<String> = self.url.args().map(str::to_owned).collect();
        for (_, t) in self.headers.iter().chain(&self.params) {
            names.extend(t.args().map(str::to_owned));
        }
        match &self.body {
            Some(Body::Text(t, _)) => names.extend(t.args().map(str::to_owned)),
            Some(Body::Json(v)) => json_args(v, &mut names),
            None => {}
        }
        names
    }
}

impl Capability {
    /// Every environment variable the capability reads: `{env.VAR}` in any template of any
    /// provider, and the `auth.key` variable.
    pub fn env_vars(&self) -> BTreeSet<String> {
        let mut vars: BTreeSet<String> = self.auth.key_var.iter().cloned().collect();
        for p in &self.providers {
            let templates = std::iter::once(&p.url)
                .chain(p.headers.iter().map(|(_, t)| t))
                .chain(p.params.iter().map(|(_, t)| t));
            for t in templates {
                vars.extend(t.env_vars().map(str::to_owned));
            }
            match &p.body {
                Some(Body::Text(t, _)) => vars.extend(t.env_vars().map(str::to_owned)),
                Some(Body::Json(v)) => json_env(v, &mut vars),
                None => {}
            }
        }
        vars
    }
}

fn json_env(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if let Ok(t) = Template::parse(s) {
                out.extend(t.env_vars().map(str::to_owned));
            }
        }
        Value::Array(items) => items.iter().for_each(|i| json_env(i, out)),
        Value::Object(map) => map.values().for_each(|i| json_env(i, out)),
        _ => {}
    }
}

fn json_args(v: &Value, out: &mut Vec<String>) {
    match v {
        // Parsing already succeeded at validation; a failure here only hides names.
        Value::String(s) => {
            if let Ok(t) = Template::parse(s) {
                out.extend(t.args().map(str::to_owned));
            }
        }
        Value::Array(items) => items.iter().for_each(|i| json_args(i, out)),
        Value::Object(map) => map.values().for_each(|i| json_args(i, out)),
        _ => {}
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    Bearer,
    ApiKey,
    Basic,
}

/// Credentials come only from the environment variable the file names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// `None` is `type: none`.
    pub kind: Option<AuthKind>,
    pub key_var: Option<String>,
    /// A missing key fails the call when required, and is skipped otherwise.
    pub required: bool,
    pub header: Option<String>,
    pub prefix: Option<String>,
    /// Send the key as this query parameter instead of a header.
    pub param: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: bool,
    /// Whether the file says `destructive` (else it is `!read_only`, MCP's own default,
    /// and the tool leaves `destructiveHint` out: the policy confirms only tools that say
    /// they are destructive, and most capability files say nothing).
    pub destructive_stated: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

impl Capability {
    /// The MCP tool clients see.
    pub fn to_tool(&self) -> Tool {
        let a = self.annotations;
        let mut annotations = ToolAnnotations::new()
            .read_only(a.read_only)
            .idempotent(a.idempotent)
            .open_world(a.open_world);
        if a.destructive_stated {
            annotations = annotations.destructive(a.destructive);
        }
        let mut description = self.description.clone();
        if !self.tags.is_empty() {
            // Tags help search ("weather", "pypi") without a separate field in the index.
            description.push_str(&format!(" [tags: {}]", self.tags.join(", ")));
        }
        Tool::new(
            self.name.clone(),
            description,
            Arc::new(self.input_schema.clone()),
        )
        .annotate(annotations)
    }
}
