//! A `url` backend's `oauth:` settings, raw → validated.
//!
//! None of them is needed for a server that publishes its OAuth metadata and offers dynamic
//! client registration: `mcp-gateway auth login <name>` discovers the rest. They exist for
//! servers without registration (a client registered by hand: `client_id`, maybe
//! `client_secret`, and the fixed `callback_port` its redirect URI names), for choosing
//! scopes, and for turning OAuth off (`enabled: false`) when a header carries the token.

use super::expand::{Lookup, VarUse, expand};
use super::raw::RawOAuth;

/// How the gateway signs in to one remote backend. The default: OAuth on, everything
/// discovered.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthConfig {
    /// `false`: never use a stored token for this backend.
    pub enabled: bool,
    /// A client registered by hand, for servers without dynamic client registration.
    pub client_id: Option<String>,
    /// That client's secret (a confidential client); `${VAR}` expanded, never logged.
    pub client_secret: Option<String>,
    /// Scopes to ask for; empty means the server's own hint (its 401, then its metadata).
    pub scopes: Vec<String>,
    /// The loopback port of the redirect URI (`http://127.0.0.1:<port>/callback`); by
    /// default any free port, which RFC 8252 asks authorization servers to accept.
    pub callback_port: Option<u16>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        OAuthConfig {
            enabled: true,
            client_id: None,
            client_secret: None,
            scopes: Vec::new(),
            callback_port: None,
        }
    }
}

impl std::fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("enabled", &self.enabled)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("scopes", &self.scopes)
            .field("callback_port", &self.callback_port)
            .finish()
    }
}

/// The validated settings, or a message saying what is wrong (the caller adds where).
pub(crate) fn build(
    raw: &RawOAuth,
    env: Lookup<'_>,
    used: &mut VarUse,
    warnings: &mut Vec<String>,
    name: &str,
) -> Result<OAuthConfig, String> {
    let text = |value: &Option<String>, used: &mut VarUse| -> Result<Option<String>, String> {
        match value {
            None => Ok(None),
            Some(v) => Ok(Some(expand(v, env, used)?).filter(|v| !v.trim().is_empty())),
        }
    };
    let client_id = text(&raw.client_id, used)?;
    let client_secret = text(&raw.client_secret, used)?;
    if client_secret.is_some() && client_id.is_none() {
        return Err(format!(
            "backend `{name}`: `oauth.client_secret` needs the `oauth.client_id` it belongs to"
        ));
    }
    let scopes: Vec<String> = raw
        .scopes
        .iter()
        .flatten()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = scopes.iter().find(|s| s.contains(char::is_whitespace)) {
        return Err(format!(
            "backend `{name}`: scope `{bad}` contains whitespace; list each scope on its own"
        ));
    }
    if raw.callback_port == Some(0) {
        return Err(format!(
            "backend `{name}`: `oauth.callback_port` 0 is not a port; leave it out for any free port"
        ));
    }
    for (key, present) in [
        ("callback_host", raw.callback_host.is_some()),
        ("callback_path", raw.callback_path.is_some()),
        (
            "token_refresh_buffer_secs",
            raw.token_refresh_buffer_secs.is_some(),
        ),
        ("shared_account", raw.shared_account.is_some()),
    ] {
        if present {
            warnings.push(format!(
                "`oauth.{key}` in backend `{name}` (from the original mcp-gateway) is not \
                 implemented and is ignored"
            ));
        }
    }
    Ok(OAuthConfig {
        enabled: raw.enabled.unwrap_or(true),
        client_id,
        client_secret,
        scopes,
        callback_port: raw.callback_port,
    })
}
