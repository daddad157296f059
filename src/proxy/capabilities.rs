//! What the gateway offers the client beyond tools: the union of what its backends offer.
//!
//! The client's handshake is answered before any backend has started (a backend must
//! never delay `initialize`), so a backend that is still starting counts as offering
//! everything it might; when it is ready, its real capabilities count, and the lists it
//! joins are announced with `list_changed`. Capability (REST) backends offer only tools.

use rmcp::model::ServerCapabilities;

use crate::registry::{ServerState, Snapshot, TransportKind};

/// The non-tool features the client is told about.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    pub resources: bool,
    pub subscribe: bool,
    pub prompts: bool,
    pub completions: bool,
    pub logging: bool,
}

impl Offered {
    /// The union over every backend of `snap`.
    pub fn of(snap: &Snapshot) -> Offered {
        let mut offered = Offered::default();
        for entry in snap.servers.values() {
            if entry.transport == TransportKind::Capability {
                continue;
            }
            match (entry.state, &entry.server) {
                (ServerState::Ready, Some(server)) => offered.add(&server.capabilities),
                (ServerState::Starting, _) => offered.add_all(),
                _ => {}
            }
        }
        offered
    }

    fn add(&mut self, caps: &ServerCapabilities) {
        if let Some(resources) = &caps.resources {
            self.resources = true;
            self.subscribe |= resources.subscribe == Some(true);
        }
        self.prompts |= caps.prompts.is_some();
        self.completions |= caps.completions.is_some();
        self.logging |= caps.logging.is_some();
    }

    fn add_all(&mut self) {
        *self = Offered {
            resources: true,
            subscribe: true,
            prompts: true,
            completions: true,
            logging: true,
        };
    }
}
