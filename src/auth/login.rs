//! `auth login`: from a backend's URL to stored tokens.
//!
//! [`Login::begin`] does everything up to the browser: the unauthenticated probe whose 401
//! names the protected-resource metadata, discovery (rmcp: RFC 9728, then RFC 8414 / OpenID
//! discovery with the well-known fallbacks, issuer checked), the client (the config's, or
//! one registered now per RFC 7591), and the authorization URL (PKCE S256, state, RFC 8707
//! `resource`) with a redirect to the loopback listener. [`Login::finish`] waits for the
//! redirect and exchanges the code; rmcp checks the state and the `iss` of the answer and
//! the store writes the tokens.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rmcp::transport::auth::{
    AuthorizationManager, AuthorizationMetadataSource, AuthorizationRequest, AuthorizationSession,
};

use super::AuthError;
use super::loopback::Loopback;
use super::store::{TokenStore, TokenSummary};
use crate::config::OAuthConfig;

/// The client name sent with dynamic registration, shown on consent screens.
const CLIENT_NAME: &str = "mcp-gateway";
/// How long the probe and each discovery step may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// What signing in to one backend needs (from its config).
#[derive(Debug, Clone)]
pub struct LoginOptions {
    pub backend: String,
    pub url: String,
    /// The backend's own headers (an API key some servers want beside OAuth), sent with
    /// the probe.
    pub headers: BTreeMap<String, String>,
    pub oauth: OAuthConfig,
}

/// A sign-in waiting for the user to authorize in the browser.
pub struct Login {
    session: AuthorizationSession,
    loopback: Loopback,
    store: TokenStore,
    /// The authorization server's issuer, when its metadata names one.
    pub issuer: Option<String>,
    /// A client was registered for this sign-in (RFC 7591).
    pub registered: bool,
}

/// A finished sign-in: where the tokens are and what they allow.
#[derive(Debug)]
pub struct Signed {
    pub path: PathBuf,
    pub summary: Option<TokenSummary>,
}

impl Login {
    pub async fn begin(options: LoginOptions) -> Result<Login, AuthError> {
        let store = TokenStore::for_backend(&options.backend, &options.url)?;
        let (status, challenge) = probe(&options).await?;
        let mut manager = AuthorizationManager::new(options.url.as_str()).await?;
        let resolution = manager
            .resolve_metadata_from_challenge(challenge.as_deref())
            .await?;
        if challenge.is_none()
            && resolution.source == AuthorizationMetadataSource::LegacyEndpointFallback
        {
            return Err(AuthError::NotProtected {
                url: crate::config::redact_url(&options.url),
                status,
            });
        }
        let issuer = resolution.metadata.issuer.clone();
        let can_register = resolution.metadata.registration_endpoint.is_some();
        manager.set_metadata(resolution.metadata);

        let loopback = Loopback::bind(options.oauth.callback_port.unwrap_or(0)).await?;
        let redirect = loopback.redirect_uri();
        let scopes = if options.oauth.scopes.is_empty() {
            manager.select_initial_scopes(&[]).await
        } else {
            options.oauth.scopes.clone()
        };
        let (client_id, client_secret, registered) = match &options.oauth.client_id {
            Some(id) => (id.clone(), options.oauth.client_secret.clone(), false),
            None if can_register => {
                let scope_refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
                let client = manager
                    .register_client(CLIENT_NAME, &redirect, &scope_refs)
                    .await?;
                (client.client_id, client.client_secret, true)
            }
            None => {
                return Err(AuthError::NoRegistration {
                    backend: options.backend.clone(),
                });
            }
        };
        let store = store.with_client_secret(client_secret.clone());
        manager.set_credential_store(store.clone());
        let mut request = AuthorizationRequest::new(redirect)
            .with_scopes(scopes)
            .with_client_name(CLIENT_NAME)
            .with_preregistered_client(client_id);
        if let Some(secret) = client_secret {
            request = request.with_client_secret(secret);
        }
        let session = AuthorizationSession::new(manager, request)
            .await
            .map_err(|(_, e)| AuthError::OAuth(e))?;
        check_browser_url(session.get_authorization_url())?;
        Ok(Login {
            session,
            loopback,
            store,
            issuer,
            registered,
        })
    }

    /// Where the user authorizes (checked to be http(s), never handed to a shell).
    pub fn authorization_url(&self) -> &str {
        self.session.get_authorization_url()
    }

    /// Where the browser comes back to.
    pub fn redirect_uri(&self) -> String {
        self.loopback.redirect_uri()
    }

    /// Wait (at most `limit`) for the redirect, exchange its code and store the tokens.
    pub async fn finish(self, limit: Duration) -> Result<Signed, AuthError> {
        let url = self.loopback.wait(limit).await?;
        if let Some(refusal) = refusal(&url) {
            return Err(AuthError::Refused(refusal));
        }
        self.session.handle_callback_url(&url).await?;
        let summary = self
            .store
            .read()?
            .map(|file| file.summary(self.store.path()));
        Ok(Signed {
            path: self.store.path().to_path_buf(),
            summary,
        })
    }
}

/// Ask the server without a token: the status, and the `WWW-Authenticate` challenge of a
/// 401 (which names the protected-resource metadata).
async fn probe(options: &LoginOptions) -> Result<(u16, Option<String>), AuthError> {
    let unreachable = |e: reqwest::Error| AuthError::Unreachable {
        url: crate::config::redact_url(&options.url),
        message: error_text(&e),
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PROBE_TIMEOUT)
        .build()
        .map_err(unreachable)?;
    let mut request = client
        .post(options.url.as_str())
        .header(http::header::ACCEPT, "application/json, text/event-stream")
        .header(http::header::CONTENT_TYPE, "application/json");
    for (name, value) in &options.headers {
        if !name.eq_ignore_ascii_case("authorization") {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    let initialize = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": CLIENT_NAME, "version": env!("CARGO_PKG_VERSION")}
        }
    });
    let response = request
        .body(initialize.to_string())
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status().as_u16();
    let challenge = (status == 401)
        .then(|| {
            response
                .headers()
                .get_all(http::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.trim_start().to_ascii_lowercase().starts_with("bearer"))
                .map(str::to_owned)
        })
        .flatten();
    Ok((status, challenge))
}

fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = inner.source();
    }
    text
}

/// The authorization server's `error` (and description) when the redirect carries one
/// instead of a code: the user declined, or the request was invalid.
fn refusal(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let pairs: BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
    let error = pairs.get("error")?;
    Some(match pairs.get("error_description") {
        Some(d) => format!("{error}: {d}"),
        None => error.clone(),
    })
}

/// A URL from a server's metadata is opened in a browser and printed: only `https`, or
/// `http` on a loopback host, passes (a `javascript:` or `file:` URL, or a string made to
/// look like options, does not).
fn check_browser_url(url: &str) -> Result<(), AuthError> {
    let bad = |why: &str| {
        Err(AuthError::Refused(format!(
            "the authorization URL the server gave is not usable ({why})"
        )))
    };
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return bad("not a URL");
    };
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        other => bad(&format!("scheme `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_web_urls_reach_the_browser() {
        assert!(check_browser_url("https://as.example/authorize?x=1").is_ok());
        assert!(check_browser_url("http://127.0.0.1:9/authorize").is_ok());
        assert!(check_browser_url("http://localhost:9/authorize").is_ok());
        assert!(check_browser_url("http://as.example/authorize").is_err());
        assert!(check_browser_url("javascript:alert(1)").is_err());
        assert!(check_browser_url("file:///etc/passwd").is_err());
        assert!(check_browser_url("--help").is_err());
    }

    #[test]
    fn a_declined_authorization_is_named() {
        assert_eq!(
            refusal("http://127.0.0.1:1/callback?error=access_denied&error_description=no+thanks")
                .as_deref(),
            Some("access_denied: no thanks")
        );
        assert_eq!(refusal("http://127.0.0.1:1/callback?code=c&state=s"), None);
    }
}
