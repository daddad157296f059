//! `gateway.yaml`: discovery, parsing, validation, `${VAR}` expansion → an immutable [`Config`].
//!
//! Config is a value: [`Config::load`] builds one when a command starts; a running gateway
//! does not reload `gateway.yaml` (only capability files are watched). A `gateway.yaml`
//! written for the original
//! mcp-gateway loads too: its single-string `command`, `http_url` and
//! `meta_mcp.surfaced_tools` are understood, its features we lack are accepted with a
//! warning, and anything else unknown is an error with file, line, column and a suggestion.
//!
//! Loading goes text → `Value` (YAML syntax errors) → key check (`keys`) → raw serde types
//! (`raw`, type errors with positions) → validated types (`backend`). Positions for checks
//! that run after serde come from `locate`.
//!
//! ```yaml
//! mode: meta                 # or flat
//! backends:
//!   fs:
//!     command: npx
//!     args: ["-y", "@modelcontextprotocol/server-filesystem", "${HOME}/src"]
//!     env: { API_KEY: "${MY_KEY}" }
//!     timeout: 30s
//!   remote:
//!     url: https://example.com/mcp
//!     headers: { Authorization: "Bearer ${TOKEN}" }
//! surfaced_tools:
//!   - { server: fs, tool: read_text_file }
//! ```

mod backend;
mod child_env;
mod discover;
mod duration;
mod error;
mod expand;
mod failsafe;
mod http;
mod keys;
mod locate;
mod oauth;
mod raw;
mod redact;
mod size;
#[cfg(test)]
mod tests;
mod trust;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use backend::MAX_BACKEND_NAME;
pub use child_env::{child_env, dropped_needs, dropped_needs_advice};
pub use discover::{
    CONFIG_ENV, CONFIG_FILE_NAME, DATA_DIR_ENV, data_dir, discover, system_config_path,
    user_config_path,
};
pub use duration::{human_duration, parse_duration};
pub use error::{ConfigError, Location, UnknownKey};
pub use failsafe::{
    BreakerConfig, DEFAULT_BREAKER_COOL_DOWN, DEFAULT_BREAKER_FAILURES, DEFAULT_QUEUE_TIMEOUT,
    FailsafeConfig, Rate, parse_rate,
};
pub use http::{ApiKey, DEFAULT_LISTEN, HttpConfig, Scope, SecretSource};
pub use oauth::OAuthConfig;
pub use redact::{MASK, looks_secret, redact_url, register_secrets, scrub, url_secrets};
pub use size::parse_size;
pub use trust::{
    Action, AuditConfig, DEFAULT_AUDIT_KEEP, DEFAULT_AUDIT_MAX_BYTES,
    DEFAULT_MAX_DESCRIPTION_CHARS, FindingKind, ScanPolicy, Severity, TrustMode,
};

use locate::{Doc, Seg, Target};

/// Per-call timeout when a backend sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `initialize` may take when a backend sets no `start_timeout`: a cold `npx -y` or
/// `uvx` first downloads the server, which can take well over a minute.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(120);

/// A loaded, validated config. `Config::default()` is what runs when no file is found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The file it came from (absolute); `None` for the built-in defaults.
    pub source: Option<PathBuf>,
    pub mode: Mode,
    /// Sorted by name.
    pub backends: BTreeMap<String, BackendConfig>,
    /// Backend tools pinned into the meta surface, in file order, without duplicates.
    pub surfaced_tools: Vec<SurfacedTool>,
    /// The `capabilities:` section (REST APIs as tools); defaults when absent.
    pub capabilities: CapabilitiesConfig,
    /// The `limits:` section; defaults when absent.
    pub limits: Limits,
    /// `search.model`: the embedding model's directory (absolute), or `off` for lexical
    /// search only; `None` means the default (the user's data dir, fetched on first use).
    pub search_model: Option<PathBuf>,
    /// The `http:` section (the optional HTTP listener); defaults when absent.
    pub http: HttpConfig,
    /// The `policy:` section: which tools are allowed, denied or confirmed.
    pub policy: crate::policy::Policy,
    /// The `scan:` section: what each kind of tool-definition finding does.
    pub scan: ScanPolicy,
    /// The `audit:` section; `None` (the default) keeps no audit log.
    pub audit: Option<AuditConfig>,
    /// Things the user should hear about that do not stop loading (ignored keys of the
    /// original mcp-gateway, unset variables, disabled backends). The caller logs them.
    pub warnings: Vec<String>,
    /// The subset of `warnings` about ignored keys of the original mcp-gateway that
    /// configure a protection (a deny policy, auth, schema enforcement): `doctor` reports
    /// these as problems, since the user believes they are on.
    pub ignored_protections: Vec<String>,
}

/// The `limits:` section: sizes enforced on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest JSON-RPC message read from the client or from a stdio backend. A client
    /// request over it gets an error naming the limit; a backend response over it fails
    /// its call with the same.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: crate::framing::DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// How much of a capability's response a call returns when the config sets nothing.
pub const DEFAULT_CAPABILITY_RESULT_BYTES: usize = 32 * 1024;

/// Name of the capability backend when the config names none.
pub const DEFAULT_CAPABILITIES_NAME: &str = "capabilities";

/// The `capabilities:` section, validated. The built-in catalog is served under
/// [`DEFAULT_CAPABILITIES_NAME`] when no backends are configured, or when `builtin: true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilitiesConfig {
    pub enabled: bool,
    /// The backend name the capability tools appear under.
    pub name: String,
    /// Watched directories of capability YAML files (absolute; relative ones in the file are
    /// resolved against the config file's directory).
    pub directories: Vec<PathBuf>,
    /// Serve the catalog embedded in the binary (default: only when no backends are
    /// configured).
    pub builtin: bool,
    /// Let capabilities reach loopback, private and link-local addresses.
    pub allow_private_networks: bool,
    /// Hosts (names or IP literals) that may resolve to private addresses.
    pub allowed_hosts: Vec<String>,
    /// The JSON text of a result is cut (at a JSON boundary, staying valid) to this size.
    pub max_result_bytes: usize,
    /// Which environment variables which capabilities may read (`env_allow`), in file
    /// order. A capability reading any other variable is refused at load.
    pub env_allow: Vec<EnvAllow>,
}

/// One `capabilities.env_allow` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvAllow {
    /// A capability (tool) name glob, or, when it holds a `/`, a glob over the capability
    /// file's absolute path (relative ones resolved against the config file's directory).
    pub pattern: String,
    pub by_path: bool,
    pub vars: BTreeSet<String>,
}

impl CapabilitiesConfig {
    /// Whether a capability backend has anything to serve at all.
    pub fn serves_anything(&self) -> bool {
        self.enabled && (self.builtin || !self.directories.is_empty())
    }
}

impl Default for CapabilitiesConfig {
    fn default() -> Self {
        CapabilitiesConfig {
            enabled: true,
            name: DEFAULT_CAPABILITIES_NAME.to_owned(),
            directories: Vec::new(),
            builtin: true,
            allow_private_networks: false,
            allowed_hosts: Vec::new(),
            max_result_bytes: DEFAULT_CAPABILITY_RESULT_BYTES,
            env_allow: Vec::new(),
        }
    }
}

/// What the client's `tools/list` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A few meta-tools; backend tools are found through search.
    #[default]
    Meta,
    /// Every backend tool directly, as `<server>__<tool>`.
    Flat,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Meta => "meta",
            Mode::Flat => "flat",
        })
    }
}

/// When a backend is started (`start:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartMode {
    /// When the gateway starts serving.
    #[default]
    Eager,
    /// At its first call; meanwhile its tools are searchable from the last cached
    /// `tools/list` (without one it is started once at serve to fill the cache).
    Lazy,
}

/// A backend tool listed directly in the meta surface.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SurfacedTool {
    pub server: String,
    pub tool: String,
}

/// One backend, validated, with every `${VAR}` already expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    pub name: String,
    pub description: Option<String>,
    /// `false` when the file says so, or when an unset variable left it unable to start.
    pub enabled: bool,
    /// Per-call timeout.
    pub timeout: Duration,
    /// How long `initialize` may take.
    pub start_timeout: Duration,
    pub transport: Transport,
    /// MCP protocol version to offer in `initialize` instead of the default.
    pub protocol_version: Option<String>,
    /// What happens to tools it adds after its first pin (`trust:`).
    pub trust: TrustMode,
    /// When the backend is first started (`start:`).
    pub start: StartMode,
    /// Stopped after this long without a call, started again by the next (`idle_timeout:`).
    pub idle_timeout: Option<Duration>,
    /// Limits and the circuit breaker (`max_concurrency`, `queue_timeout`, `rate_limit`,
    /// `circuit_breaker`); applied live, without restarting the backend.
    pub failsafe: FailsafeConfig,
    /// Every variable this backend's strings reference (for `doctor`).
    pub referenced_vars: BTreeSet<String>,
    /// Referenced without a default and unset at load time; each expanded to "".
    pub unset_vars: BTreeSet<String>,
}

/// How a backend is reached. A closed set: every transport the gateway speaks.
#[derive(Clone, PartialEq, Eq)]
pub enum Transport {
    /// A local process speaking MCP over stdin/stdout.
    Stdio {
        command: String,
        args: Vec<String>,
        /// The backend's own `env:`; see [`BackendConfig::child_env`] for the full set.
        env: BTreeMap<String, String>,
        /// Absolute when given relative in the file (resolved against the file's directory).
        cwd: Option<PathBuf>,
        /// Pass the gateway's whole environment instead of the safe allow-list.
        inherit_env: bool,
    },
    /// A remote server speaking Streamable HTTP.
    Http {
        url: String,
        headers: BTreeMap<String, String>,
        /// How a stored OAuth token is used for it (`auth login`).
        oauth: OAuthConfig,
    },
}

impl Transport {
    /// `"stdio"` or `"http"`, for listings.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Stdio { .. } => "stdio",
            Transport::Http { .. } => "http",
        }
    }
}

/// Env and header values are often credentials, and `Debug` output ends up in logs, so only
/// their names are shown.
impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
                inherit_env,
            } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field(
                    "args",
                    &args
                        .iter()
                        .map(|a| if looks_secret("", a) { MASK } else { a })
                        .collect::<Vec<_>>(),
                )
                .field("env", &env.keys().collect::<Vec<_>>())
                .field("cwd", cwd)
                .field("inherit_env", inherit_env)
                .finish(),
            Transport::Http {
                url,
                headers,
                oauth,
            } => f
                .debug_struct("Http")
                .field("url", &redact_url(url))
                .field("headers", &headers.keys().collect::<Vec<_>>())
                .field("oauth", oauth)
                .finish(),
        }
    }
}

impl BackendConfig {
    /// The complete environment to start this backend's process with (start from an empty
    /// environment): the safe allow-list, or everything with `inherit_env`, plus its `env:`.
    /// `None` for HTTP backends. See [`child_env`].
    pub fn child_env(&self) -> Option<Vec<(String, String)>> {
        match &self.transport {
            Transport::Stdio {
                env, inherit_env, ..
            } => Some(child_env(env, *inherit_env)),
            Transport::Http { .. } => None,
        }
    }
}

fn capabilities(
    doc: Doc<'_>,
    raw: raw::RawCapabilities,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CapabilitiesConfig, ConfigError> {
    let defaults = CapabilitiesConfig::default();
    let name = raw.name.unwrap_or(defaults.name);
    if name.is_empty()
        || name.len() > MAX_BACKEND_NAME
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(doc.invalid(
            &[Seg::key("capabilities"), Seg::key("name")],
            Target::Value,
            format!("`capabilities.name` must be 1-{MAX_BACKEND_NAME} letters, digits, `_` or `-`"),
        ));
    }
    let mut directories = Vec::new();
    for (i, dir) in raw.directories.unwrap_or_default().iter().enumerate() {
        let path = [
            Seg::key("capabilities"),
            Seg::key("directories"),
            Seg::Index(i),
        ];
        let expanded = expand::expand(dir, env, &mut expand::VarUse::default())
            .map_err(|e| doc.invalid(&path, Target::Value, e))?;
        directories.push(base_dir.join(expanded));
    }
    let mut env_allow = Vec::new();
    for (pattern, vars) in raw.env_allow.unwrap_or_default() {
        let path = [
            Seg::key("capabilities"),
            Seg::key("env_allow"),
            Seg::Key(pattern.clone()),
        ];
        let by_path = pattern.contains('/');
        let pattern = if by_path {
            // `components` drops the `.` of `./caps/**`, which a path never contains.
            let joined: PathBuf = base_dir.join(&pattern).components().collect();
            joined.to_string_lossy().into_owned()
        } else {
            pattern
        };
        if let Err(e) = globset::Glob::new(&pattern) {
            return Err(doc.invalid(
                &path,
                Target::Key,
                format!("`{pattern}` is not a valid glob: {e}"),
            ));
        }
        if let Some(bad) = vars.iter().find(|v| !is_var_name(v)) {
            return Err(doc.invalid(
                &path,
                Target::Value,
                format!("`{bad}` is not an environment variable name (letters, digits, `_`)"),
            ));
        }
        env_allow.push(EnvAllow {
            pattern,
            by_path,
            vars: vars.into_iter().collect(),
        });
    }
    Ok(CapabilitiesConfig {
        enabled: raw.enabled.unwrap_or(defaults.enabled),
        name,
        directories,
        builtin: raw.builtin.unwrap_or(defaults.builtin),
        allow_private_networks: raw.allow_private_networks.unwrap_or(false),
        allowed_hosts: raw.allowed_hosts.unwrap_or_default(),
        max_result_bytes: raw
            .max_result_bytes
            .map_or(defaults.max_result_bytes, |s| s.0),
        env_allow,
    })
}

fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn policy(
    doc: Doc<'_>,
    raw: crate::policy::raw::RawPolicy,
) -> Result<crate::policy::Policy, ConfigError> {
    crate::policy::Policy::from_raw(raw).map_err(|(at, message)| {
        let mut path = vec![Seg::key("policy")];
        path.extend(at.iter().map(|s| match s.parse::<usize>() {
            Ok(i) => Seg::Index(i),
            Err(_) => Seg::Key(s.clone()),
        }));
        // An unknown annotation is a key; everything else points at its value.
        let target = if at.len() == 5 {
            Target::Key
        } else {
            Target::Value
        };
        doc.invalid(&path, target, message)
    })
}

fn scan_policy(doc: Doc<'_>, raw: raw::RawScan) -> Result<ScanPolicy, ConfigError> {
    let mut policy = ScanPolicy::default();
    let given = [
        (FindingKind::InvisibleUnicode, raw.invisible_unicode),
        (FindingKind::ModelInstructions, raw.model_instructions),
        (FindingKind::SecretAccess, raw.secret_access),
        (FindingKind::Exfiltration, raw.exfiltration),
        (FindingKind::Url, raw.url),
        (FindingKind::Oversized, raw.oversized),
        (FindingKind::Shadowing, raw.shadowing),
    ];
    for (kind, action) in given {
        if let Some(action) = action {
            policy.actions.insert(kind, action);
        }
    }
    if let Some(max) = raw.max_description_chars {
        if max == 0 {
            return Err(doc.invalid(
                &[Seg::key("scan"), Seg::key("max_description_chars")],
                Target::Value,
                "`scan.max_description_chars` must be at least 1".into(),
            ));
        }
        policy.max_description_chars = max;
    }
    Ok(policy)
}

fn audit_config(
    doc: Doc<'_>,
    raw: raw::RawAudit,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AuditConfig, ConfigError> {
    let Some(path) = raw.path.filter(|p| !p.trim().is_empty()) else {
        return Err(doc.invalid(
            &[Seg::key("audit")],
            Target::Key,
            "the `audit` section needs a `path` (the log file to write)".into(),
        ));
    };
    let at = [Seg::key("audit"), Seg::key("path")];
    let expanded = expand::expand(&path, env, &mut expand::VarUse::default())
        .map_err(|e| doc.invalid(&at, Target::Value, e))?;
    // `~/…` is what people write for a log path; the shell is not there to expand it.
    let path = match expanded.strip_prefix("~/") {
        Some(rest) => match directories::BaseDirs::new() {
            Some(dirs) => dirs.home_dir().join(rest),
            None => PathBuf::from(&expanded),
        },
        None => PathBuf::from(&expanded),
    };
    let keep = raw.keep.unwrap_or(DEFAULT_AUDIT_KEEP);
    if keep == 0 {
        return Err(doc.invalid(
            &[Seg::key("audit"), Seg::key("keep")],
            Target::Value,
            "`audit.keep` must be at least 1 (rotated files kept)".into(),
        ));
    }
    let max_bytes = raw.max_size.map_or(DEFAULT_AUDIT_MAX_BYTES, |s| s.0);
    if max_bytes < 1024 {
        return Err(doc.invalid(
            &[Seg::key("audit"), Seg::key("max_size")],
            Target::Value,
            "`audit.max_size` must be at least 1KiB".into(),
        ));
    }
    Ok(AuditConfig {
        path: base_dir.join(path),
        record_values: raw.record_values.unwrap_or(false),
        max_bytes,
        keep,
    })
}

impl Config {
    /// Finds the config file ([`discover`]) and loads it. No file anywhere is not an error:
    /// the built-in defaults are returned, with `source: None`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NotFound`] when `explicit` or `$MCP_GATEWAY_CONFIG` names a missing
    /// file, [`ConfigError::Read`] when the file cannot be read, and anything
    /// [`Config::from_yaml`] reports.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let found = discover::find(explicit);
        let Some(found) = found else {
            tracing::debug!("no config file found; using built-in defaults");
            return Ok(Config::default());
        };
        let text = match std::fs::read_to_string(&found.path) {
            Ok(text) => text,
            Err(e) if found.named && e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::NotFound { path: found.path });
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: found.path,
                    source,
                });
            }
        };
        tracing::debug!(path = %found.path.display(), "loading config");
        let config = Config::from_yaml(&text, &found.path)?;
        register_secrets(
            config
                .backends
                .values()
                .flat_map(|b| b.transport.secret_values()),
        );
        Ok(config)
    }

    /// Parses, validates and expands `text`. `source` names the file in errors and anchors
    /// relative paths; variables come from the process environment.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Syntax`] for text that is not YAML, [`ConfigError::UnknownKey`] for a
    /// key that is neither ours nor the original mcp-gateway's, [`ConfigError::Invalid`] for
    /// wrong types and values that fail validation. All carry the file, line and column.
    pub fn from_yaml(text: &str, source: &Path) -> Result<Config, ConfigError> {
        Config::from_yaml_with_env(text, source, &expand::process_env)
    }

    /// [`Config::from_yaml`] reading `${VAR}` values from `env` instead of the process
    /// environment: for tests (setting process variables is `unsafe` in edition 2024) and
    /// for checking a config against another environment.
    ///
    /// # Errors
    ///
    /// As [`Config::from_yaml`].
    pub fn from_yaml_with_env(
        text: &str,
        source: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf());
        let doc = Doc { text, file: &file };
        let root: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::from_yaml(&file, &e, true))?;
        let mut config = Config {
            source: Some(file.clone()),
            ..Config::default()
        };
        // An empty file, or one with only comments, is an empty config.
        if root.is_null() {
            return Ok(config);
        }
        keys::check(
            doc,
            &root,
            &mut config.warnings,
            &mut config.ignored_protections,
        )?;
        let raw: raw::RawConfig =
            serde_yaml_ng::from_str(text).map_err(|e| ConfigError::from_yaml(&file, &e, false))?;

        config.mode = raw.mode.unwrap_or_default();
        let builtin = raw.capabilities.as_ref().and_then(|c| c.builtin);
        let base_dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        if let Some(caps) = raw.capabilities {
            config.capabilities = capabilities(doc, caps, &base_dir, env)?;
        }
        if let Some(http) = raw.http {
            config.http = http::build(doc, http, &base_dir)?;
        }
        if let Some(p) = raw.policy {
            config.policy = policy(doc, p)?;
        }
        if let Some(max) = raw.limits.and_then(|l| l.max_message_bytes) {
            config.limits.max_message_bytes = max.0;
        }
        if let Some(model) = raw.search.and_then(|s| s.model) {
            config.search_model = Some(if model == "off" {
                PathBuf::from("off")
            } else {
                base_dir.join(model)
            });
        }
        if let Some(scan) = raw.scan {
            config.scan = scan_policy(doc, scan)?;
        }
        if let Some(audit) = raw.audit {
            config.audit = Some(audit_config(doc, audit, &base_dir, env)?);
        }
        let surfaced = raw
            .surfaced_tools
            .into_iter()
            .flatten()
            .map(|t| (t, vec![Seg::key("surfaced_tools")]))
            .chain(
                raw.meta_mcp
                    .and_then(|m| m.surfaced_tools)
                    .into_iter()
                    .flatten()
                    .map(|t| (t, vec![Seg::key("meta_mcp"), Seg::key("surfaced_tools")])),
            );
        for (tool, path) in surfaced {
            if tool.server.trim().is_empty() || tool.tool.trim().is_empty() {
                return Err(doc.invalid(
                    &path,
                    Target::Key,
                    "every `surfaced_tools` entry needs a non-empty `server` and `tool`".into(),
                ));
            }
            let tool = SurfacedTool {
                server: tool.server,
                tool: tool.tool,
            };
            if !config.surfaced_tools.contains(&tool) {
                config.surfaced_tools.push(tool);
            }
        }

        let mut ctx = backend::Ctx {
            doc,
            base_dir: &base_dir,
            env,
            warnings: &mut config.warnings,
        };
        for (name, raw) in raw.backends.into_iter().flatten() {
            if let Some(backend) = backend::build(&name, raw, &mut ctx)? {
                config.backends.insert(name, backend);
            }
        }
        // The catalog's 30 tools would crowd a user's own tools out of search and make
        // outbound calls the user never asked for: on by default only when there is nothing
        // else to serve.
        config.capabilities.builtin = builtin.unwrap_or(config.backends.is_empty());
        Ok(config)
    }

    /// Names of all variables referenced by any backend (for `doctor`).
    pub fn referenced_vars(&self) -> BTreeSet<String> {
        self.backends
            .values()
            .flat_map(|b| b.referenced_vars.iter().cloned())
            .collect()
    }

    /// Names of variables referenced without a default that were unset at load time.
    pub fn unset_vars(&self) -> BTreeSet<String> {
        self.backends
            .values()
            .flat_map(|b| b.unset_vars.iter().cloned())
            .collect()
    }

    /// Backends to start, by name.
    pub fn enabled_backends(&self) -> impl Iterator<Item = &BackendConfig> {
        self.backends.values().filter(|b| b.enabled)
    }
}
