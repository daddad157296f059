//! OAuth 2.1 for remote (Streamable HTTP) backends, on rmcp's `auth` support.
//!
//! `mcp-gateway auth login <name>` (login.rs) asks the server without a token and reads its
//! 401 (`WWW-Authenticate: Bearer resource_metadata=…`), follows the protected-resource
//! metadata (RFC 9728) to the authorization server's metadata (RFC 8414; the well-known
//! fallbacks when the challenge names none), registers a client (RFC 7591) unless the
//! config names one, and sends the user to the authorization URL (PKCE S256, `resource`
//! per RFC 8707) with a redirect to a one-shot listener on 127.0.0.1 (loopback.rs). The code
//! it receives is exchanged for tokens, which are kept in the user's data dir, one
//! owner-only file per backend name and URL (store.rs).
//!
//! When the gateway connects to that backend (session.rs), the stored access token is the
//! bearer; rmcp refreshes it when it is about to expire and once more when the server
//! answers 401, and every refreshed token is written back to the same file. Without a
//! usable token the backend fails with [`login_hint`], a permanent error: retrying cannot
//! help until the user signs in, after which the next call retries at once.

mod login;
mod loopback;
mod session;
mod store;

pub use login::{Login, LoginOptions, Signed};
pub use session::authorized_client;
pub use store::{TokenFile, TokenStore, TokenSummary, tokens_dir};

/// What a backend without a usable token says, wherever its state is shown.
pub fn login_hint(backend: &str) -> String {
    format!("authorization required: run `mcp-gateway auth login {backend}`")
}

/// Why signing in, or using a stored token, failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no data directory to keep tokens in: set $MCP_GATEWAY_DATA_DIR (or $HOME) to a writable place"
    )]
    NoDataDir,
    #[error("cannot read the token file {}: {message}", path.display())]
    Read {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("cannot write the token file {}: {message}", path.display())]
    Write {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error(
        "{url} answered HTTP {status} without a token and publishes no OAuth metadata: it does not \
         ask for OAuth sign-in"
    )]
    NotProtected { url: String, status: u16 },
    #[error(
        "the authorization server of `{backend}` offers no dynamic client registration: register \
         a client with it and set `oauth: {{client_id: …}}` for `{backend}` in gateway.yaml"
    )]
    NoRegistration { backend: String },
    #[error("cannot listen for the redirect on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("the authorization server refused: {0}")]
    Refused(String),
    #[error("no redirect came back within {0:?}; run the command again")]
    Timeout(std::time::Duration),
    #[error("{0}")]
    OAuth(#[from] rmcp::transport::auth::AuthError),
}
