//! The capability YAML format as written (raw serde types, matching the original
//! mcp-gateway's files key for key). Validation into runnable types is in `validate.rs`.
//!
//! Keys are accepted in three ways: implemented; informational (metadata such as `docs` or
//! `rate_limit`, accepted silently because they change nothing); or collected in `other`
//! maps so the validator can warn about each by name. Nothing is dropped without a word.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct RawCapability {
    /// The original's format version; only "1.0" exists.
    pub fulcrum: Option<Value>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub schema: RawSchema,
    #[serde(default)]
    pub providers: BTreeMap<String, Value>,
    pub auth: Option<RawAuth>,
    pub cache: Option<RawCache>,
    #[serde(default)]
    pub metadata: RawMetadata,
    /// The pin line; checked against the file text (`pin.rs`), never read from here.
    #[allow(dead_code)]
    pub sha256: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSchema {
    pub input: Option<Value>,
    pub output: Option<Value>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct RawProvider {
    pub service: Option<String>,
    /// Informational.
    #[allow(dead_code)]
    pub cost_per_call: Option<Value>,
    /// Seconds.
    pub timeout: Option<f64>,
    #[serde(default)]
    pub config: RawRestConfig,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRestConfig {
    pub base_url: Option<String>,
    pub path: Option<String>,
    /// Overrides `base_url` + `path` with one URL.
    pub endpoint: Option<String>,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    #[serde(default)]
    pub param_map: BTreeMap<String, String>,
    #[serde(default)]
    pub static_params: BTreeMap<String, Value>,
    pub body: Option<Value>,
    pub body_content_type: Option<String>,
    pub response_path: Option<String>,
    pub response_format: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawAuth {
    pub required: Option<bool>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub key: Option<String>,
    /// Informational.
    #[allow(dead_code)]
    pub description: Option<String>,
    pub header: Option<String>,
    pub prefix: Option<String>,
    pub param: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawCache {
    pub strategy: Option<String>,
    /// Seconds.
    pub ttl: Option<f64>,
    pub key_template: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMetadata {
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// Top-level keys of the original format that this gateway does not implement; each present
/// gets a warning naming the file.
pub const UNIMPLEMENTED_TOP: &[&str] = &[
    "transform",
    "response_transform",
    "projection",
    "webhooks",
    "visible_in_states",
];

/// Metadata keys that only describe the capability; accepted without a warning.
pub const INFORMATIONAL_METADATA: &[&str] = &[
    "cost_category",
    "execution_time",
    "rate_limit",
    "docs",
    "exposure",
    "identity_owner",
    "produces",
    "consumes",
    "chains_with",
    "author",
    "version",
    "source",
];
