//! Everything MCP offers beyond tools, proxied across backends: resources (list,
//! templates, read, subscribe), prompts, completion and logging, with the namespacing
//! that lets every URI and prompt name the client sees route back to its backend.
//!
//! `gateway` stays the dispatch layer: it calls in here and turns [`ProxyError`] into
//! wire errors. This module never sends to the client itself.

pub mod capabilities;
pub mod prompts;
pub mod resources;
pub mod rewrite;
pub mod uri;

use std::sync::Arc;

use crate::registry::{ServerEntry, ServerState, Snapshot};
use crate::target::{BackendHandle, CallError};

pub use uri::Namespace;

/// Exposed prompt name → `(server, prompt)`.
pub type PromptNames = std::collections::BTreeMap<String, (String, String)>;

/// Why a proxied request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(
        "resource `{uri}` does not belong to any backend of this gateway (URIs are \
         `<server>+<scheme>:…` as listed by resources/list)"
    )]
    UnknownUri { uri: String },
    #[error("unknown prompt `{name}`{suggestion}")]
    UnknownPrompt { name: String, suggestion: String },
    #[error("backend `{backend}` is {state}, not ready")]
    NotReady {
        backend: String,
        state: &'static str,
    },
    #[error("backend `{backend}` does not offer {what}")]
    NotOffered { backend: String, what: &'static str },
    #[error("invalid cursor `{cursor}`: pass back a nextCursor exactly as it was given")]
    BadCursor { cursor: String },
    #[error(transparent)]
    Call(#[from] CallError),
}

/// The ready backend `server`, with its live handle.
fn ready<'a>(
    snap: &'a Snapshot,
    server: &str,
) -> Result<(&'a Arc<ServerEntry>, &'a BackendHandle), ProxyError> {
    let entry = snap.server(server).ok_or_else(|| ProxyError::NotReady {
        backend: server.to_owned(),
        state: "gone",
    })?;
    match (&entry.handle, entry.state) {
        (Some(handle), ServerState::Ready) => Ok((entry, handle)),
        (_, state) => Err(ProxyError::NotReady {
            backend: server.to_owned(),
            state: state.as_str(),
        }),
    }
}

/// The namespace of every backend in `snap` (stable while the set of names is).
pub fn namespace(snap: &Snapshot) -> Namespace {
    Namespace::new(snap.servers.keys().map(String::as_str))
}
