//! The running parts every command shares: registry, search index, gateway, backends, and
//! the follower that keeps the index in step with the backends.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::backend::Supervisor;
use crate::config::Config;
use crate::gateway::{Gateway, follow_changes};
use crate::registry::Registry;
use crate::search::SearchIndex;

pub(super) struct Engine {
    pub gateway: Gateway,
    pub shutdown: CancellationToken,
    supervisor: Supervisor,
    follower: JoinHandle<()>,
}

impl Engine {
    /// Start every backend in the background and return at once.
    pub fn start(config: &Config) -> anyhow::Result<Engine> {
        let shutdown = crate::shutdown::on_signals();
        let registry = Arc::new(Registry::default());
        let index = Arc::new(SearchIndex::new()?);
        let (tx, changes) = mpsc::unbounded_channel();
        let supervisor = Supervisor::start(config, &registry, tx, &shutdown);
        let gateway = Gateway::new(config, registry, index);
        let follower = tokio::spawn(follow_changes(gateway.clone(), changes, shutdown.clone()));
        Ok(Engine {
            gateway,
            shutdown,
            supervisor,
            follower,
        })
    }

    /// Stop the backends and the follower; bounded.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.supervisor.shutdown().await;
        let _ = self.follower.await;
    }
}
