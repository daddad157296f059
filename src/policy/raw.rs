//! The `policy:` section as written in `gateway.yaml`: serde types that mirror it key for
//! key, kept apart from the validated [`super::Policy`] the gateway runs on.
//!
//! ```yaml
//! policy:
//!   default: allow              # or deny: allow-list mode
//!   confirm_destructive: true   # ask before tools annotated destructiveHint: true
//!   rules:                      # first match wins
//!     - deny: { server: github, annotations: { destructiveHint: true } }
//!     - allow: { server: fs, tool: "read_*" }
//!     - confirm: { tool: "*delete*" }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "the `policy` section (a mapping)")]
pub(crate) struct RawPolicy {
    pub default: Option<RawDefault>,
    pub confirm_destructive: Option<bool>,
    pub rules: Option<Vec<RawRule>>,
}

/// What a tool no rule matches gets.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase", expecting = "`allow` or `deny`")]
pub(crate) enum RawDefault {
    Allow,
    Deny,
}

/// One rule: exactly one action key, whose value says which tools it matches.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a policy rule: `allow:`, `deny:` or `confirm:` with `{ server, tool, annotations }`"
)]
pub(crate) struct RawRule {
    pub allow: Option<RawMatch>,
    pub deny: Option<RawMatch>,
    pub confirm: Option<RawMatch>,
}

/// Which tools a rule matches. Every key given must match; an empty match matches all.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "which tools a rule matches: `{ server: <glob>, tool: <glob>, annotations: {...} }`"
)]
pub(crate) struct RawMatch {
    pub server: Option<String>,
    pub tool: Option<String>,
    /// MCP annotation name (`destructiveHint`, `readOnlyHint`, `idempotentHint`,
    /// `openWorldHint`) → the value the tool must state.
    pub annotations: Option<BTreeMap<String, bool>>,
}
