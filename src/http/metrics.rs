//! `/metrics`: Prometheus text through `prometheus-client`. Calls are counted as the gateway
//! reports them ([`CallObserver`]); backend states, sessions and index size are read fresh
//! at each scrape, and restarts are counted by following the registry.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry as Prom;
use tokio_util::sync::CancellationToken;

use crate::gateway::CallObserver;
use crate::registry::{Registry, ServerState};

type Labels = Vec<(&'static str, String)>;

/// Every metric the listener exports.
pub struct Metrics {
    prom: Prom,
    calls: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    http_requests: Family<Labels, Counter>,
    backend_up: Family<Labels, Gauge>,
    restarts: Family<Labels, Counter>,
    sessions: Gauge,
    index_tools: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut prom = Prom::with_prefix("mcp_gateway");
        let calls = Family::<Labels, Counter>::default();
        let errors = Family::<Labels, Counter>::default();
        let latency =
            Family::<Labels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let http_requests = Family::<Labels, Counter>::default();
        let backend_up = Family::<Labels, Gauge>::default();
        let restarts = Family::<Labels, Counter>::default();
        let sessions = Gauge::default();
        let index_tools = Gauge::default();
        prom.register("tool_calls", "Backend tool calls", calls.clone());
        prom.register(
            "tool_call_errors",
            "Backend tool calls that failed or returned isError",
            errors.clone(),
        );
        prom.register(
            "tool_call_duration_seconds",
            "Backend tool call latency through the gateway",
            latency.clone(),
        );
        prom.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        prom.register(
            "backend_state",
            "1 for each backend's current state",
            backend_up.clone(),
        );
        prom.register(
            "backend_restarts",
            "Times a backend left the ready state and started again",
            restarts.clone(),
        );
        prom.register(
            "http_sessions",
            "Open 2025-era HTTP sessions",
            sessions.clone(),
        );
        prom.register(
            "index_tools",
            "Tools in the search index",
            index_tools.clone(),
        );
        Metrics {
            prom,
            calls,
            errors,
            latency,
            http_requests,
            backend_up,
            restarts,
            sessions,
            index_tools,
        }
    }

    pub fn http_request(&self, route: &'static str, status: u16) {
        self.http_requests
            .get_or_create(&vec![
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
    }

    /// The text exposition, with the gauges read from `registry` and `sessions` now.
    pub fn render(&self, registry: &Registry, sessions: usize) -> String {
        let snap = registry.snapshot();
        self.backend_up.clear();
        for server in snap.servers.values() {
            for state in [
                ServerState::Starting,
                ServerState::Ready,
                ServerState::Failed,
                ServerState::Disabled,
            ] {
                let labels = vec![
                    ("backend", server.name.clone()),
                    ("state", state.as_str().to_owned()),
                ];
                self.backend_up
                    .get_or_create(&labels)
                    .set(i64::from(server.state == state));
            }
        }
        self.sessions
            .set(i64::try_from(sessions).unwrap_or(i64::MAX));
        self.index_tools
            .set(i64::try_from(snap.tools().count()).unwrap_or(i64::MAX));
        let mut out = String::new();
        if encode(&mut out, &self.prom).is_err() {
            out.clear();
        }
        out
    }

    /// Count a restart each time a backend that was ready is seen starting again.
    pub async fn follow_restarts(
        self: Arc<Self>,
        registry: Arc<Registry>,
        stop: CancellationToken,
    ) {
        let mut changes = registry.subscribe();
        let mut was_ready = std::collections::BTreeSet::new();
        loop {
            let snap = registry.snapshot();
            for server in snap.servers.values() {
                match server.state {
                    ServerState::Ready => {
                        was_ready.insert(server.name.clone());
                    }
                    ServerState::Starting if was_ready.remove(&server.name) => {
                        self.restarts
                            .get_or_create(&vec![("backend", server.name.clone())])
                            .inc();
                    }
                    _ => {}
                }
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = stop.cancelled() => return,
            }
        }
    }
}

/// 1 ms … ~16 s: the tool's own time dominates; the gateway adds well under 1 ms.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

impl CallObserver for Metrics {
    fn call_done(&self, server: &str, tool: &str, failed: bool, elapsed: Duration) {
        let labels = vec![("backend", server.to_owned()), ("tool", tool.to_owned())];
        self.calls.get_or_create(&labels).inc();
        if failed {
            self.errors.get_or_create(&labels).inc();
        }
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }
}
