//! Server→client requests: what a backend asks of the client — `sampling/createMessage`,
//! `elicitation/create`, `roots/list` — relayed to the real client and its answer back,
//! and the client capabilities the gateway declares to backends, so that a backend only
//! asks for what the client can give.
//!
//! `backend` holds the one [`Relay`] and calls into it from its `ClientHandler`;
//! `gateway` tells it who the clients are (each `initialize`, or a 2026-07-28 request)
//! and hands it the clients' progress and `roots/list_changed`; `backend` registers each
//! call it makes for a client, so a backend's request goes to the client whose call to it
//! is in flight (else to the primary client; see [`Relay::client_initializing`]). This
//! module knows neither side: a client is a `Peer<RoleServer>`, a backend a
//! `Peer<RoleClient>`.
//!
//! **When backends learn the client's capabilities.** Backends start when the client's
//! handshake is done, or after a short grace period (a 2026-07-28 client never sends
//! `initialize`). A backend that connected before the client's `initialize` was known
//! declared no client capabilities; when the client then turns out to have some, its
//! actor reconnects it once, declaring them ([`Relay::declared`] changed). Restarting is
//! the only way: MCP has no re-initialize, and a backend reads client capabilities once
//! (server-everything registers its sampling/roots tools at `initialized`). A 2026-07-28
//! client declares its capabilities on each request: backends are told those of its first
//! one, and a backend's request during one of its tool calls goes back to it inside an
//! `InputRequiredResult` (see [`Round`]).
//!
//! Errors toward a backend (the client cannot serve it, gave up, timed out) are JSON-RPC
//! errors built here, on the backend-facing wire: `gateway` builds those of the client's.

// Sampling and roots are deprecated by SEP-2577 / 2026-07-28, yet initialize-era
// clients and backends use them, and the gateway relays them.
#![allow(deprecated)]

mod ask;
mod declare;
mod error;
mod progress;
mod round;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rmcp::model::{ClientCapabilities, InitializeRequestParams};
use rmcp::{Peer, RoleClient, RoleServer};
use tokio::sync::watch;

use crate::config::Scope;
use crate::sync::lock;

pub use ask::{Ask, RELAY_TIMEOUT};
pub use error::RelayError;
pub use round::{InputAsk, Round};

/// Who the primary client is (the one backends are declared), as far as server→client
/// requests go.
#[derive(Clone, Default)]
pub enum Client {
    /// No handshake seen yet (or no client at all: a terminal command).
    #[default]
    Unknown,
    /// An initialize-era client: what it declared, and where to send requests.
    Legacy(Arc<LegacyClient>),
    /// A 2026-07-28 client, with what its first request declared: server→client
    /// requests are replaced by MRTR there.
    Modern(Arc<ClientCapabilities>),
}

/// An initialize-era client (the stdio client, or one HTTP session).
pub struct LegacyClient {
    pub name: String,
    pub capabilities: ClientCapabilities,
    pub peer: Peer<RoleServer>,
    /// The backends its API key may use (`None`: all).
    scope: Option<Arc<Scope>>,
    /// Reached over stdio, where the wire files its progress in order (see
    /// `gateway::wire`); an HTTP session's progress on relayed requests is not relayed.
    pub(crate) stdio: bool,
}

impl LegacyClient {
    fn allows(&self, backend: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|s| s.allows_backend(backend))
    }
}

/// A backend call in flight, and the handshake of the client it is made for (`None`: a
/// 2026-07-28 client or no client), or the round of a 2026-07-28 client's tool call.
struct InFlight {
    backend: Arc<str>,
    client: Option<Arc<InitializeRequestParams>>,
    round: Option<Round>,
}

/// Where a backend's request goes.
enum Recipient {
    /// To an initialize-era client, as a request of its own.
    Session(Arc<LegacyClient>),
    /// Into the `InputRequiredResult` of a 2026-07-28 client's call.
    Round(Round),
}

impl Recipient {
    fn client(&self) -> &str {
        match self {
            Recipient::Session(c) => &c.name,
            Recipient::Round(r) => &r.client,
        }
    }

    fn capabilities(&self) -> &ClientCapabilities {
        match self {
            Recipient::Session(c) => &c.capabilities,
            Recipient::Round(r) => &r.capabilities,
        }
    }
}

/// A live backend connection: its name and its peer.
type LiveBackend = (Arc<str>, Peer<RoleClient>);

/// The relay between backends and the clients. Shared as `Arc<Relay>`.
pub struct Relay {
    client: watch::Sender<Client>,
    /// Sent `notifications/initialized` (requests wait for it, as MCP asks).
    initialized: watch::Sender<bool>,
    progress: progress::Routes,
    /// Live backend connections, told when the client's roots change.
    backends: Mutex<BTreeMap<u64, LiveBackend>>,
    next_backend: std::sync::atomic::AtomicU64,
    /// Every initialize-era client still connected (the primary one first).
    clients: Mutex<Vec<Arc<LegacyClient>>>,
    /// Backend calls in flight, by a key of their own.
    calls: Mutex<BTreeMap<u64, InFlight>>,
}

impl Default for Relay {
    fn default() -> Self {
        Relay {
            client: watch::Sender::new(Client::Unknown),
            initialized: watch::Sender::new(false),
            progress: progress::Routes::default(),
            backends: Mutex::new(BTreeMap::new()),
            next_backend: std::sync::atomic::AtomicU64::new(0),
            clients: Mutex::new(Vec::new()),
            calls: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Relay {
    /// A client sent `initialize` (its peer already holds it): remember what it declared
    /// and where it is. The first initialize-era client stays the primary one — the one
    /// whose capabilities backends are told, and which gets the requests no call explains
    /// (a roots-aware server asking at start) — until it goes away: backends are shared,
    /// and re-declaring means reconnecting them.
    pub fn client_initializing(
        &self,
        request: &InitializeRequestParams,
        peer: &Peer<RoleServer>,
        scope: Option<Arc<Scope>>,
        stdio: bool,
    ) {
        let client = Arc::new(LegacyClient {
            name: request.client_info.name.clone(),
            capabilities: request.capabilities.clone(),
            peer: peer.clone(),
            scope,
            stdio,
        });
        let primary = {
            let mut clients = lock(&self.clients);
            clients.retain(|c| !c.peer.is_transport_closed());
            clients.push(Arc::clone(&client));
            Arc::clone(&clients[0])
        };
        self.client.send_if_modified(|current| match current {
            Client::Legacy(now) if Arc::ptr_eq(now, &primary) => false,
            _ => {
                *current = Client::Legacy(primary);
                true
            }
        });
    }

    /// A backend call is in flight for the client behind `peer` (through `round`, for a
    /// 2026-07-28 client's tool call) until the guard drops.
    pub fn calling(
        self: &Arc<Self>,
        backend: &str,
        peer: Option<&Peer<RoleServer>>,
        round: Option<&Round>,
    ) -> Calling {
        let id = self
            .next_backend
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let call = InFlight {
            backend: Arc::from(backend),
            client: peer.and_then(Peer::peer_info),
            round: round.cloned(),
        };
        lock(&self.calls).insert(id, call);
        Calling {
            relay: Arc::clone(self),
            id,
        }
    }

    /// Where a request from `backend` goes: to the client whose calls to that backend are
    /// in flight, or, with none in flight, to the primary client. Several clients (or
    /// calls of a 2026-07-28 client) at once cannot be told apart (a stdio backend's
    /// request carries nothing that links it to a call): an error says so rather than
    /// guess.
    fn target(&self, backend: &str, method: &'static str) -> Result<Recipient, RelayError> {
        let mut rounds: Vec<Round> = Vec::new();
        let mut callers: Vec<Option<Arc<InitializeRequestParams>>> = Vec::new();
        for call in lock(&self.calls).values() {
            if &*call.backend != backend {
                continue;
            }
            match &call.round {
                Some(round) if !rounds.iter().any(|r| r.same(round)) => {
                    rounds.push(round.clone());
                }
                Some(_) => {}
                None => callers.push(call.client.clone()),
            }
        }
        // A client's handshake, as its peer keeps it: every call made for that client
        // carries the same `Arc` (rmcp stores it once the handshake is done), which is how
        // a backend's request is matched to the client whose call caused it.
        let clients: Vec<(Arc<LegacyClient>, Option<Arc<InitializeRequestParams>>)> =
            lock(&self.clients)
                .iter()
                .map(|c| (Arc::clone(c), c.peer.peer_info()))
                .collect();
        let mut found: Vec<Arc<LegacyClient>> = Vec::new();
        let mut modern = false;
        for caller in &callers {
            let client = caller.as_ref().and_then(|info| {
                clients
                    .iter()
                    .find(|(_, mine)| mine.as_ref().is_some_and(|mine| Arc::ptr_eq(mine, info)))
                    .map(|(c, _)| c)
            });
            match client {
                Some(c) if !found.iter().any(|f| Arc::ptr_eq(f, c)) => found.push(Arc::clone(c)),
                Some(_) => {}
                None => modern = true,
            }
        }
        match (found.len(), rounds.len(), modern) {
            (1, 0, false) => Ok(Recipient::Session(found.remove(0))),
            (0, 1, false) => Ok(Recipient::Round(rounds.remove(0))),
            (0, 0, true) => Err(RelayError::ModernClient { method }),
            (0, 0, false) => match self.client() {
                Client::Legacy(primary) if primary.allows(backend) => {
                    Ok(Recipient::Session(primary))
                }
                Client::Legacy(_) | Client::Unknown => Err(RelayError::NoClient { method }),
                Client::Modern(_) => Err(RelayError::ModernClient { method }),
            },
            _ => Err(RelayError::Ambiguous { method }),
        }
    }

    /// The client sent `notifications/initialized`.
    pub fn client_initialized(&self) {
        self.initialized.send_replace(true);
    }

    /// The client spoke 2026-07-28, declaring `capabilities` on that request. An
    /// initialize-era session stays what it is: such a client may still probe with a
    /// 2026-07-28 request.
    pub fn client_is_modern(&self, capabilities: ClientCapabilities) {
        self.client.send_if_modified(|client| match client {
            Client::Unknown => {
                *client = Client::Modern(Arc::new(capabilities));
                true
            }
            _ => false,
        });
    }

    pub fn client(&self) -> Client {
        self.client.borrow().clone()
    }

    /// The client capabilities to declare to a backend now: exactly the sampling,
    /// elicitation and roots the client declared, never more.
    pub fn declared(&self) -> ClientCapabilities {
        match &*self.client.borrow() {
            Client::Legacy(client) => declare::mirror(&client.capabilities),
            Client::Modern(capabilities) => declare::mirror(capabilities),
            Client::Unknown => ClientCapabilities::default(),
        }
    }

    /// Wakes whenever the client becomes known (backends then compare [`Relay::declared`]
    /// with what they declared).
    pub fn watch(&self) -> watch::Receiver<Client> {
        self.client.subscribe()
    }

    /// Register a live backend connection, to be told of root changes; dropping the
    /// guard unregisters it.
    pub fn attach(self: &Arc<Self>, name: &Arc<str>, peer: Peer<RoleClient>) -> Attached {
        let id = self
            .next_backend
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.backends).insert(id, (Arc::clone(name), peer));
        Attached {
            relay: Arc::clone(self),
            id,
        }
    }

    /// The client's roots changed: tell every live backend (each was told the client
    /// has roots, or is about to reconnect and ask afresh).
    pub async fn roots_changed(&self) {
        if self.declared().roots.is_none() {
            return;
        }
        let backends: Vec<LiveBackend> = lock(&self.backends).values().cloned().collect();
        for (name, peer) in backends {
            if let Err(e) = peer.notify_roots_list_changed().await {
                tracing::debug!(backend = %name, "roots/list_changed not passed on: {e}");
            }
        }
    }

    /// A backend's `notifications/elicitation/complete` (URL mode; rmcp has no type for
    /// it): passed to the client if it declared URL elicitation, else dropped (logged).
    pub async fn elicitation_complete(&self, notification: rmcp::model::CustomNotification) {
        let Client::Legacy(client) = self.client() else {
            return;
        };
        let url = client
            .capabilities
            .elicitation
            .as_ref()
            .is_some_and(|e| e.url.is_some());
        if !url {
            tracing::debug!("elicitation/complete dropped: the client has no URL elicitation");
            return;
        }
        let notification = rmcp::model::ServerNotification::CustomNotification(notification);
        if let Err(e) = client.peer.send_notification(notification).await {
            tracing::debug!("elicitation/complete not passed on: {e}");
        }
    }

    /// A progress notification from the client, for a request relayed to it: filed for
    /// the backend that asked, which forwards it in order before the answer.
    pub fn client_progress(&self, param: rmcp::model::ProgressNotificationParam) {
        self.progress.file(param);
    }
}

/// A backend call's registration as in flight.
pub struct Calling {
    relay: Arc<Relay>,
    id: u64,
}

impl Drop for Calling {
    fn drop(&mut self) {
        lock(&self.relay.calls).remove(&self.id);
    }
}

/// A backend connection's registration for root changes.
pub struct Attached {
    relay: Arc<Relay>,
    id: u64,
}

impl Drop for Attached {
    fn drop(&mut self) {
        lock(&self.relay.backends).remove(&self.id);
    }
}
