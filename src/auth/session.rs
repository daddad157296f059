//! A stored token put to use: the HTTP client a backend connection sends its requests with.
//!
//! rmcp's `AuthClient` adds the bearer to every request, refreshes the access token when it
//! is within 30 s of expiring, and on a 401 refreshes once and retries; each refresh is
//! saved through the [`TokenStore`], so the next connection (and the next gateway) starts
//! from the new tokens. A backend with no token file is reached without one: its 401 then
//! becomes the "run `auth login`" error, at no cost of discovery requests.

use rmcp::transport::auth::{AuthClient, AuthorizationManager, OAuthClientConfig};

use super::AuthError;
use super::store::TokenStore;
use crate::config::OAuthConfig;

/// The authorized client for backend `backend` at `url`, or `None` when OAuth is off for it
/// or no token is stored. Rediscovers the authorization server's metadata (its token
/// endpoint and the `resource` to name) before the first request.
pub async fn authorized_client(
    backend: &str,
    url: &str,
    oauth: &OAuthConfig,
    http: reqwest::Client,
) -> Result<Option<AuthClient<reqwest::Client>>, AuthError> {
    if !oauth.enabled {
        return Ok(None);
    }
    let Ok(store) = TokenStore::for_backend(backend, url) else {
        return Ok(None);
    };
    let Some(file) = store.read()? else {
        return Ok(None);
    };
    let secret = oauth.client_secret.clone().or(file.client_secret);
    let mut manager = AuthorizationManager::new(url).await?;
    manager.set_credential_store(store);
    // Loads the client id, checks the issuer is still the one that issued the tokens (a
    // changed one clears them), and reports whether there is a token to use.
    if !manager.initialize_from_store().await? {
        return Ok(None);
    }
    if let Some(secret) = secret {
        // The store keeps only the client id; a confidential client also needs its secret
        // to refresh. (The redirect URI plays no part in a refresh.)
        let client = OAuthClientConfig::new(file.credentials.client_id, url.to_owned())
            .with_client_secret(secret);
        manager.configure_client(client)?;
    }
    Ok(Some(AuthClient::new(http, manager)))
}
