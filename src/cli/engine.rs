//! The running parts every command shares: registry, search index, gateway, backends.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::backend::Supervisor;
use crate::config::Config;
use crate::gateway::Gateway;
use crate::registry::Registry;
use crate::search::SearchIndex;

pub(super) struct Engine {
    pub gateway: Gateway,
    pub index: Arc<SearchIndex>,
    pub supervisor: Supervisor,
    pub shutdown: CancellationToken,
    /// Names of backends whose state or tools changed, from the actors.
    pub changes: mpsc::UnboundedReceiver<String>,
}

impl Engine {
    /// Start every backend in the background and return at once.
    pub fn start(config: &Config) -> anyhow::Result<Engine> {
        let shutdown = crate::shutdown::on_signals();
        let registry = Arc::new(Registry::default());
        let index = Arc::new(SearchIndex::new()?);
        let (tx, changes) = mpsc::unbounded_channel();
        let supervisor = Supervisor::start(config, &registry, tx, &shutdown);
        let gateway = Gateway::new(config, registry, Arc::clone(&index));
        Ok(Engine {
            gateway,
            index,
            supervisor,
            shutdown,
            changes,
        })
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.supervisor.shutdown().await;
    }
}
