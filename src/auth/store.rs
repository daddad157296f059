//! Where a backend's tokens are kept: `<data dir>/oauth/<name>-<hash of its URL>.json`, one
//! owner-only (0600) file per backend, written atomically (temp file, then rename).
//!
//! The URL is part of the key so that a backend whose `url:` changed never sends the old
//! server's token to the new one; the name is part of it so that `auth logout <name>` can
//! find every file of that backend. The file is rmcp's `StoredCredentials` (client id, token
//! response, granted scopes, when it was received, the issuer) plus the backend, its URL
//! and, for a confidential client, its secret, so a refresh works without a login. It is the
//! gateway's own data, never a file the user edits. A refresh holds an exclusive `flock` on
//! `<file>.lock` beside it, so two processes never spend one refresh token twice.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rmcp::transport::auth::{
    AuthError as RmcpAuthError, CredentialRefreshGuard, CredentialStore, StoredCredentials,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AuthError;
use crate::export::file::{Access, write_with};

/// The directory token files live in, or `None` when there is no data dir.
pub fn tokens_dir() -> Option<PathBuf> {
    crate::config::data_dir().map(|d| d.join("oauth"))
}

/// The file as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenFile {
    pub backend: String,
    pub url: String,
    /// A confidential client's secret (from registration or the config), for refreshes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub saved_at: String,
    pub credentials: StoredCredentials,
}

/// What `auth status` shows of a token file: nothing secret.
#[derive(Debug, Clone, Serialize)]
pub struct TokenSummary {
    pub backend: String,
    pub url: String,
    pub path: PathBuf,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub saved_at: String,
    /// Seconds until the access token expires (negative: expired), when the server said.
    pub expires_in: Option<i64>,
    pub refreshable: bool,
}

impl TokenFile {
    pub fn summary(&self, path: &Path) -> TokenSummary {
        let response = self
            .credentials
            .token_response
            .as_ref()
            .and_then(|r| serde_json::to_value(r).ok())
            .unwrap_or_default();
        let lifetime = response.get("expires_in").and_then(|v| v.as_i64());
        let received = self
            .credentials
            .token_received_at
            .and_then(|t| i64::try_from(t).ok());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        TokenSummary {
            backend: self.backend.clone(),
            url: self.url.clone(),
            path: path.to_path_buf(),
            client_id: self.credentials.client_id.clone(),
            scopes: self.credentials.granted_scopes.clone(),
            saved_at: self.saved_at.clone(),
            expires_in: lifetime
                .zip(received)
                .map(|(life, at)| at.saturating_add(life).saturating_sub(now)),
            refreshable: response
                .get("refresh_token")
                .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty())),
        }
    }
}

/// The token file of one backend at one URL; rmcp's credential store for it.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
    backend: String,
    url: String,
    client_secret: Option<String>,
}

impl TokenStore {
    /// The store of backend `backend` at `url`, in [`tokens_dir`].
    pub fn for_backend(backend: &str, url: &str) -> Result<TokenStore, AuthError> {
        let dir = tokens_dir().ok_or(AuthError::NoDataDir)?;
        Ok(TokenStore::in_dir(&dir, backend, url))
    }

    /// Backend names are `[A-Za-z0-9_-]{1,32}` (checked at load), so they are safe in a
    /// file name as they are.
    pub fn in_dir(dir: &Path, backend: &str, url: &str) -> TokenStore {
        let hash = Sha256::digest(url.as_bytes());
        let short: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
        TokenStore {
            path: dir.join(format!("{backend}-{short}.json")),
            backend: backend.to_owned(),
            url: url.to_owned(),
            client_secret: None,
        }
    }

    /// Keep this secret in the file beside the tokens (a confidential client refreshes
    /// with it).
    pub fn with_client_secret(mut self, secret: Option<String>) -> TokenStore {
        self.client_secret = secret;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file, or `None` when there is none. A file for another URL or backend (edited
    /// by hand, or a hash collision) counts as none.
    pub fn read(&self) -> Result<Option<TokenFile>, AuthError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(AuthError::Read {
                    path: self.path.clone(),
                    message: e.to_string(),
                });
            }
        };
        let file: TokenFile = serde_json::from_str(&text).map_err(|e| AuthError::Read {
            path: self.path.clone(),
            message: format!("not a token file ({e}); `auth logout` removes it"),
        })?;
        Ok((file.backend == self.backend && file.url == self.url).then_some(file))
    }

    /// Write `credentials` (with this store's secret, or the one already in the file).
    pub fn write(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let client_secret = match &self.client_secret {
            Some(secret) => Some(secret.clone()),
            None => self.read().ok().flatten().and_then(|f| f.client_secret),
        };
        let file = TokenFile {
            backend: self.backend.clone(),
            url: self.url.clone(),
            client_secret,
            saved_at: crate::clock::now(),
            credentials,
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| AuthError::Write {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        write_with(&self.path, text.as_bytes(), Access::Private).map_err(|e| AuthError::Write {
            path: self.path.clone(),
            message: format!("{e:#}"),
        })
    }

    /// Remove the file (and its lock file); `false` when there was none.
    pub fn remove(&self) -> Result<bool, AuthError> {
        let _ = remove_file(&self.lock_path());
        remove_file(&self.path)
    }

    /// Beside the token file: held while a refresh runs (see [`refresh_lock`]).
    fn lock_path(&self) -> PathBuf {
        self.path.with_extension("lock")
    }

    /// Every token file of `backend` in `dir` (whatever its URL), with what it holds.
    pub fn all_of(dir: &Path, backend: &str) -> Vec<(PathBuf, TokenFile)> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let prefix = format!("{backend}-");
        let mut found: Vec<(PathBuf, TokenFile)> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&prefix))
            })
            .filter_map(|p| {
                let text = std::fs::read_to_string(&p).ok()?;
                let file: TokenFile = serde_json::from_str(&text).ok()?;
                (file.backend == backend).then_some((p, file))
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }
}

pub(crate) fn remove_file(path: &Path) -> Result<bool, AuthError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(AuthError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

fn store_error(e: AuthError) -> RmcpAuthError {
    RmcpAuthError::CredentialStoreError(e.to_string())
}

/// Blocking file work off the async threads (a write syncs to disk).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, RmcpAuthError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RmcpAuthError::CredentialStoreError(e.to_string()))?
        .map_err(store_error)
}

#[async_trait::async_trait]
impl CredentialStore for TokenStore {
    async fn load(&self) -> Result<Option<StoredCredentials>, RmcpAuthError> {
        let store = self.clone();
        blocking(move || Ok(store.read()?.map(|f| f.credentials))).await
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), RmcpAuthError> {
        let store = self.clone();
        blocking(move || store.write(credentials)).await
    }

    async fn clear(&self) -> Result<(), RmcpAuthError> {
        let store = self.clone();
        blocking(move || store.remove().map(|_| ())).await
    }

    /// rmcp holds this from loading the refresh token to saving the new one. Two processes
    /// (a `serve` and a terminal `call`) refreshing at once would otherwise both spend the
    /// same refresh token, and where the server rotates them the second would be refused
    /// and the user sent back to `auth login`.
    async fn acquire_refresh_guard(&self) -> Result<Option<CredentialRefreshGuard>, RmcpAuthError> {
        let path = self.lock_path();
        let guard = blocking(move || Ok(refresh_lock(&path))).await?;
        Ok(guard)
    }
}

/// How long a refresh waits for another process's refresh before going ahead without the
/// lock (a refresh is one HTTP request; a holder stuck this long is not coming back soon).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The refresh lock at `path` (see [`crate::lockfile`]).
fn refresh_lock(path: &Path) -> Option<CredentialRefreshGuard> {
    crate::lockfile::exclusive(path, LOCK_WAIT).map(CredentialRefreshGuard::new)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn credentials(json: serde_json::Value) -> StoredCredentials {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_token_file_is_private_keyed_by_url_and_removable() {
        let dir = std::env::temp_dir().join(format!("mcpgw-oauth-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = TokenStore::in_dir(&dir, "notion", "https://mcp.example/mcp")
            .with_client_secret(Some("s3cret".into()));
        assert!(store.read().unwrap().is_none());
        store
            .write(credentials(serde_json::json!({
                "client_id": "c1",
                "token_response": {"access_token": "at", "token_type": "bearer",
                                   "expires_in": 60, "refresh_token": "rt"},
                "granted_scopes": ["mcp"],
                "token_received_at": 1
            })))
            .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let file = store.read().unwrap().unwrap();
        assert_eq!(file.client_secret.as_deref(), Some("s3cret"));
        let summary = file.summary(store.path());
        assert!(summary.refreshable);
        assert!(summary.expires_in.unwrap() < 0, "expired long ago");

        // Another URL of the same backend is another file; logout finds both.
        let moved = TokenStore::in_dir(&dir, "notion", "https://other.example/mcp");
        assert_ne!(moved.path(), store.path());
        assert!(moved.read().unwrap().is_none());
        // A later write without a secret keeps the one already there (a refresh).
        let again = TokenStore::in_dir(&dir, "notion", "https://mcp.example/mcp");
        again.write(file.credentials.clone()).unwrap();
        assert_eq!(
            again.read().unwrap().unwrap().client_secret.as_deref(),
            Some("s3cret")
        );
        assert_eq!(TokenStore::all_of(&dir, "notion").len(), 1);
        assert!(TokenStore::all_of(&dir, "not").is_empty());
        #[cfg(unix)]
        {
            // A second refresh waits for the first: the lock is exclusive across opens.
            let first = refresh_lock(&store.lock_path()).unwrap();
            let waiter = {
                let path = store.lock_path();
                std::thread::spawn(move || {
                    let started = std::time::Instant::now();
                    let _second = refresh_lock(&path).unwrap();
                    started.elapsed()
                })
            };
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(first);
            assert!(waiter.join().unwrap() >= std::time::Duration::from_millis(250));
        }
        assert!(store.remove().unwrap());
        assert!(!store.remove().unwrap());
        assert!(!store.lock_path().exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
