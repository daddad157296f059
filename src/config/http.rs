//! The `http:` section: the optional Streamable HTTP listener and its API keys.
//!
//! ```yaml
//! http:
//!   listen: 127.0.0.1:39400        # `serve --http` without an address uses this
//!   token_env: MCP_GATEWAY_TOKEN   # or token_file: /run/secrets/mcp-gateway-token
//!   allowed_hosts: [gateway.internal]            # Host names besides loopback
//!   allowed_origins: ["https://app.example.com"] # browser origins besides loopback
//!   max_body_bytes: 4MiB
//!   max_sessions: 64
//!   keys:
//!     ci:
//!       token_env: CI_GATEWAY_KEY
//!       backends: ["fs*"]
//!       tools: ["read_*", "list_*"]
//!       read_only: true
//! ```
//!
//! Token values are never read here: the config names where a secret lives (a variable or
//! a file) and the listener reads it when it starts, so a secret never sits in a `Config`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use super::ConfigError;
use super::locate::{Doc, Seg, Target};
use super::size::Size;

/// Where `serve --http` listens when neither the command line nor the file says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:39400";
/// Largest request body the listener reads (rmcp's own default).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most 2025-era sessions open at once; more get 503 until one ends.
pub const DEFAULT_MAX_SESSIONS: usize = 64;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "the `http` section (a mapping)")]
pub(crate) struct RawHttp {
    pub listen: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub allowed_hosts: Option<Vec<String>>,
    pub allowed_origins: Option<Vec<String>>,
    pub max_body_bytes: Option<Size>,
    pub max_sessions: Option<usize>,
    pub keys: Option<BTreeMap<String, RawKey>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an API key: a mapping with `token_env` or `token_file`, and `backends`/`tools` globs"
)]
pub(crate) struct RawKey {
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub backends: Option<Vec<String>>,
    pub tools: Option<Vec<String>>,
    pub read_only: Option<bool>,
}

/// Where a secret is read from when the listener starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// The validated `http:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// The full-access bearer token; `None` means generate one if the bind needs it.
    pub token: Option<SecretSource>,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    pub max_sessions: usize,
    pub keys: Vec<ApiKey>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 39400)),
            token: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_sessions: DEFAULT_MAX_SESSIONS,
            keys: Vec::new(),
        }
    }
}

/// A named key limited to some backends and tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub name: String,
    pub secret: SecretSource,
    pub scope: Scope,
}

/// What a scoped key may see and call. Globs match backend names and tool names; an empty
/// list means "any".
#[derive(Debug, Clone)]
pub struct Scope {
    pub key: String,
    backends: Vec<String>,
    tools: Vec<String>,
    backend_set: GlobSet,
    tool_set: GlobSet,
    /// Only tools that declare `readOnlyHint: true`.
    pub read_only: bool,
}

/// Equal when written the same: the compiled sets follow from the patterns.
impl PartialEq for Scope {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
            && self.backends == other.backends
            && self.tools == other.tools
            && self.read_only == other.read_only
    }
}
impl Eq for Scope {}

impl Scope {
    /// A scope from glob patterns; the error names the bad pattern.
    pub fn new(
        key: &str,
        backends: Vec<String>,
        tools: Vec<String>,
        read_only: bool,
    ) -> Result<Scope, String> {
        Ok(Scope {
            key: key.to_owned(),
            backend_set: globs(&backends)?,
            tool_set: globs(&tools)?,
            backends,
            tools,
            read_only,
        })
    }

    /// Whether any tool of `backend` may be used.
    pub fn allows_backend(&self, backend: &str) -> bool {
        self.backends.is_empty() || self.backend_set.is_match(backend)
    }

    /// Whether `tool` of `backend` may be seen and called; `read_only` is the tool's
    /// `readOnlyHint`.
    pub fn allows(&self, backend: &str, tool: &str, read_only: Option<bool>) -> bool {
        self.allows_backend(backend)
            && (self.tools.is_empty() || self.tool_set.is_match(tool))
            && (!self.read_only || read_only == Some(true))
    }

    /// The scope in words, for refusals.
    pub fn describe(&self) -> String {
        let any = |v: &[String]| {
            if v.is_empty() {
                "any".to_owned()
            } else {
                v.join(", ")
            }
        };
        format!(
            "backends: {}; tools: {}{}",
            any(&self.backends),
            any(&self.tools),
            if self.read_only {
                "; read-only tools only"
            } else {
                ""
            }
        )
    }
}

fn globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        set.add(Glob::new(p).map_err(|e| format!("bad glob `{p}`: {e}"))?);
    }
    set.build().map_err(|e| e.to_string())
}

pub(crate) fn build(
    doc: Doc<'_>,
    raw: RawHttp,
    base_dir: &Path,
) -> Result<HttpConfig, ConfigError> {
    let at = |key: &str| [Seg::key("http"), Seg::key(key)];
    let defaults = HttpConfig::default();
    let listen = match raw.listen {
        Some(text) => text.parse().map_err(|_| {
            doc.invalid(
                &at("listen"),
                Target::Value,
                format!("`http.listen` must be an address and port such as {DEFAULT_LISTEN}, not `{text}`"),
            )
        })?,
        None => defaults.listen,
    };
    let token = secret(
        doc,
        &[Seg::key("http")],
        raw.token_env,
        raw.token_file,
        base_dir,
    )?;
    let mut keys = Vec::new();
    for (name, key) in raw.keys.into_iter().flatten() {
        let path = [Seg::key("http"), Seg::key("keys"), Seg::Key(name.clone())];
        let Some(secret) = secret(doc, &path, key.token_env, key.token_file, base_dir)? else {
            return Err(doc.invalid(
                &path,
                Target::Key,
                format!("API key `{name}` needs `token_env` or `token_file`"),
            ));
        };
        let scope = Scope::new(
            &name,
            key.backends.unwrap_or_default(),
            key.tools.unwrap_or_default(),
            key.read_only.unwrap_or(false),
        )
        .map_err(|e| doc.invalid(&path, Target::Key, format!("API key `{name}`: {e}")))?;
        keys.push(ApiKey {
            name,
            secret,
            scope,
        });
    }
    Ok(HttpConfig {
        listen,
        token,
        allowed_hosts: raw.allowed_hosts.unwrap_or_default(),
        allowed_origins: raw.allowed_origins.unwrap_or_default(),
        max_body_bytes: raw.max_body_bytes.map_or(defaults.max_body_bytes, |s| s.0),
        max_sessions: raw.max_sessions.unwrap_or(defaults.max_sessions).max(1),
        keys,
    })
}

fn secret(
    doc: Doc<'_>,
    path: &[Seg],
    env: Option<String>,
    file: Option<String>,
    base_dir: &Path,
) -> Result<Option<SecretSource>, ConfigError> {
    match (env, file) {
        (Some(_), Some(_)) => Err(doc.invalid(
            path,
            Target::Key,
            "give `token_env` or `token_file`, not both".into(),
        )),
        (Some(var), None) => Ok(Some(SecretSource::Env(var))),
        (None, Some(file)) => Ok(Some(SecretSource::File(base_dir.join(file)))),
        (None, None) => Ok(None),
    }
}
