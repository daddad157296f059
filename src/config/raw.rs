//! The file as written: serde types that mirror `gateway.yaml` key for key.
//!
//! These are kept apart from the validated types in `mod.rs` so that "what may be written"
//! and "what the gateway runs on" can differ (aliases, defaults, shell-split commands,
//! expanded variables). Every struct denies unknown fields; the keys of the original
//! mcp-gateway that we accept without implementing are declared as fields of type
//! [`Ignored`], so the struct itself is the complete list of legal keys, and [`fields_of`]
//! reads that list back for the unknown-key check and its did-you-mean.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, IgnoredAny};

use super::Mode;
use super::duration::Dur;
use super::size::Size;
use super::trust::{Action, TrustMode};

/// A key we accept for compatibility and otherwise ignore; its value may be anything.
pub(crate) type Ignored = Option<IgnoredAny>;

/// Top-level sections of the original mcp-gateway that have no meaning here. Each one present
/// produces one warning. (`meta_mcp` is handled apart: its `surfaced_tools` is used.)
pub(crate) const ORIGINAL_SECTIONS: &[&str] = &[
    "server",
    "auth",
    "streaming",
    "failsafe",
    "cache",
    "playbooks",
    "security",
    "webhooks",
    "routing_profiles",
    "default_routing_profile",
    "code_mode",
    "mtls",
    "key_server",
    "agent_auth",
    "runtime",
    "marketplace",
    "control_plane",
    "env_files",
    "telemetry",
    "cost_governance",
    // Documented in the original's example file though its loader never read them.
    "config_export",
    "discovery",
    "semantic_search",
    "tool_profiles",
];

/// Backend keys of the original mcp-gateway that we do not implement: a warning each.
pub(crate) const ORIGINAL_BACKEND_KEYS: &[&str] = &[
    "secrets",
    "passthrough",
    "runtime_profile",
    "identity_propagation",
    "stop_when_idle_for",
    "max_frame_bytes",
    "allow_flagged_tools",
    "input_schema_enforcement",
    "allow_cleartext_credentials",
    "account",
    "signature_chain",
    "chain_origins",
    "chain_signer",
    "transport",
    "a2a_url",
    "a2a_agent_card_path",
    "ws_url",
];

/// `meta_mcp` keys other than `surfaced_tools`, all ignored: we are always "meta" unless
/// `mode: flat`, and tool lists are always cached.
pub(crate) const ORIGINAL_META_KEYS: &[&str] = &[
    "enabled",
    "cache_tools",
    "cache_ttl",
    "warm_start",
    "projection_mode",
];

#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of config sections such as `backends:`"
)]
// The `Ignored` fields exist so that serde accepts those keys; nothing reads them.
#[allow(dead_code)]
pub(crate) struct RawConfig {
    pub mode: Option<Mode>,
    pub backends: Option<BTreeMap<String, RawBackend>>,
    pub surfaced_tools: Option<Vec<RawSurfacedTool>>,
    pub meta_mcp: Option<RawMetaMcp>,
    pub capabilities: Option<RawCapabilities>,
    pub limits: Option<RawLimits>,
    pub search: Option<RawSearch>,
    pub http: Option<super::http::RawHttp>,
    pub policy: Option<crate::policy::raw::RawPolicy>,
    pub scan: Option<RawScan>,
    pub audit: Option<RawAudit>,

    server: Ignored,
    auth: Ignored,
    streaming: Ignored,
    failsafe: Ignored,
    cache: Ignored,
    playbooks: Ignored,
    security: Ignored,
    webhooks: Ignored,
    routing_profiles: Ignored,
    default_routing_profile: Ignored,
    code_mode: Ignored,
    mtls: Ignored,
    key_server: Ignored,
    agent_auth: Ignored,
    runtime: Ignored,
    marketplace: Ignored,
    control_plane: Ignored,
    env_files: Ignored,
    telemetry: Ignored,
    cost_governance: Ignored,
    config_export: Ignored,
    discovery: Ignored,
    semantic_search: Ignored,
    tool_profiles: Ignored,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a backend: a mapping with `command` (a local server) or `url` (a remote one)"
)]
#[allow(dead_code)]
pub(crate) struct RawBackend {
    pub command: Option<String>,
    pub args: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub cwd: Option<String>,
    pub inherit_env: Option<bool>,
    pub url: Option<String>,
    /// The original mcp-gateway's name for `url`.
    pub http_url: Option<String>,
    /// The original's switch between Streamable HTTP and legacy SSE; we only speak the former.
    pub streamable_http: Option<bool>,
    pub headers: Option<BTreeMap<String, String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub timeout: Option<Dur>,
    pub start_timeout: Option<Dur>,
    pub protocol_version: Option<String>,
    pub trust: Option<TrustMode>,
    /// `eager` (at serve) or `lazy` (at the first call).
    pub start: Option<super::StartMode>,
    /// Stop the backend after this long without a call.
    pub idle_timeout: Option<Dur>,
    pub oauth: Option<RawOAuth>,
    pub max_concurrency: Option<u32>,
    pub queue_timeout: Option<Dur>,
    pub rate_limit: Option<super::failsafe::Rate>,
    pub circuit_breaker: Option<super::failsafe::BreakerSetting>,

    secrets: Ignored,
    passthrough: Ignored,
    runtime_profile: Ignored,
    identity_propagation: Ignored,
    stop_when_idle_for: Ignored,
    max_frame_bytes: Ignored,
    allow_flagged_tools: Ignored,
    input_schema_enforcement: Ignored,
    allow_cleartext_credentials: Ignored,
    account: Ignored,
    signature_chain: Ignored,
    chain_origins: Ignored,
    chain_signer: Ignored,
    transport: Ignored,
    pub a2a_url: Ignored,
    a2a_agent_card_path: Ignored,
    pub ws_url: Ignored,
}

/// A `url` backend's `oauth:` settings: all optional, since discovery and dynamic client
/// registration need none. The original mcp-gateway's keys we do not use are accepted.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "the `oauth` settings of a backend (a mapping such as `{client_id: ..., scopes: [...]}`)"
)]
#[allow(dead_code)]
pub(crate) struct RawOAuth {
    pub enabled: Option<bool>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub callback_port: Option<u16>,

    pub callback_host: Ignored,
    pub callback_path: Ignored,
    pub token_refresh_buffer_secs: Ignored,
    pub shared_account: Ignored,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "the `meta_mcp` section (a mapping)")]
#[allow(dead_code)]
pub(crate) struct RawMetaMcp {
    pub surfaced_tools: Option<Vec<RawSurfacedTool>>,
    enabled: Ignored,
    cache_tools: Ignored,
    cache_ttl: Ignored,
    warm_start: Ignored,
    projection_mode: Ignored,
}

/// The `capabilities:` section: REST APIs described by capability YAML files.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "the `capabilities` section (a mapping)"
)]
pub(crate) struct RawCapabilities {
    pub enabled: Option<bool>,
    pub name: Option<String>,
    pub directories: Option<Vec<String>>,
    pub builtin: Option<bool>,
    pub allow_private_networks: Option<bool>,
    pub allowed_hosts: Option<Vec<String>>,
    pub max_result_bytes: Option<Size>,
    /// Capability name glob, or file path glob (with a `/`) → the environment variables
    /// those capabilities may read.
    pub env_allow: Option<BTreeMap<String, Vec<String>>>,
}

/// A backend's `circuit_breaker:` settings (the mapping form).
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "the `circuit_breaker` settings: `failures` and `cool_down`"
)]
pub(crate) struct RawBreaker {
    pub failures: Option<u32>,
    pub cool_down: Option<Dur>,
}

/// The `limits:` section: sizes the gateway enforces on the wire.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "the `limits` section (a mapping)")]
pub(crate) struct RawLimits {
    pub max_message_bytes: Option<Size>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "the search section: `model: <directory of the embedding model>` or `model: off`"
)]
pub(crate) struct RawSearch {
    pub model: Option<String>,
}

/// The `scan:` section: what each kind of tool-definition finding does.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "the `scan` section: finding kinds mapped to `block`, `warn` or `off`, and `max_description_chars`"
)]
pub(crate) struct RawScan {
    pub invisible_unicode: Option<Action>,
    pub model_instructions: Option<Action>,
    pub secret_access: Option<Action>,
    pub exfiltration: Option<Action>,
    pub url: Option<Action>,
    pub oversized: Option<Action>,
    pub shadowing: Option<Action>,
    pub max_description_chars: Option<usize>,
}

/// The `audit:` section: the opt-in call log.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "the `audit` section: `path` (required), `record_values`, `max_size`, `keep`"
)]
pub(crate) struct RawAudit {
    pub path: Option<String>,
    pub record_values: Option<bool>,
    pub max_size: Option<Size>,
    pub keep: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a surfaced tool: `{ server: <backend>, tool: <tool name> }`"
)]
pub(crate) struct RawSurfacedTool {
    pub server: String,
    pub tool: String,
}

/// The field names a derived `Deserialize` accepts, read from the derive itself: its
/// `deserialize_struct` call passes them, and this deserializer captures them and stops.
pub(crate) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The error is expected: the probe never yields a value.
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

struct FieldProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> de::Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("fields captured"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lists_come_from_the_structs() {
        let top = fields_of::<RawConfig>();
        assert!(top.contains(&"backends") && top.contains(&"capabilities"));
        let backend = fields_of::<RawBackend>();
        assert!(backend.contains(&"command") && backend.contains(&"http_url"));
        assert_eq!(fields_of::<RawSurfacedTool>(), ["server", "tool"]);
    }

    /// The warning lists and the structs must agree, or an original key would be refused
    /// (missing field) or accepted without its warning (missing list entry).
    #[test]
    fn original_key_lists_match_the_structs() {
        let top = fields_of::<RawConfig>();
        let ours = [
            "mode",
            "backends",
            "surfaced_tools",
            "meta_mcp",
            "capabilities",
            "limits",
            "http",
            "search",
            "policy",
            "scan",
            "audit",
        ];
        assert_eq!(top.len(), ours.len() + ORIGINAL_SECTIONS.len());
        assert!(ORIGINAL_SECTIONS.iter().all(|k| top.contains(k)));

        let backend = fields_of::<RawBackend>();
        assert!(ORIGINAL_BACKEND_KEYS.iter().all(|k| backend.contains(k)));
        assert_eq!(backend.len(), 22 + ORIGINAL_BACKEND_KEYS.len());

        let meta = fields_of::<RawMetaMcp>();
        assert_eq!(meta.len(), 1 + ORIGINAL_META_KEYS.len());
        assert!(ORIGINAL_META_KEYS.iter().all(|k| meta.contains(k)));
    }
}
