//! The gateway as an MCP server: the rmcp `ServerHandler` the AI client talks to. It
//! serves the meta-tools (or flat/surfaced tools), proxies calls to backends, and is the
//! one place where failures become wire errors or `isError` results.

// Logging and resources/subscribe are deprecated by SEP-2577 / 2026-07-28, yet
// initialize-era clients and backends use them, and the gateway passes them on.
#![allow(deprecated)]

mod catalog;
mod events;
mod guard;
mod handlers;
mod live;
mod logs;
pub mod meta;
pub mod names;
mod proxied;
mod search_answer;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    ContentBlock, DiscoverResult, GetPromptRequestParams, GetPromptResponse, Implementation,
    InitializeRequestParams, InitializeResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ResultType, ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::audit::AuditLog;
use crate::backend::Caller;
use crate::config::{Config, Mode, Scope};
use crate::failsafe::Failsafe;
use crate::mrtr::{Rounds, StartCall};
use crate::policy::Route;
use crate::proxy::capabilities::Offered;
use crate::registry::{Registry, Snapshot};
use crate::relay::Relay;
use crate::search::SearchIndex;
use meta::MetaTool;

use crate::sync::lock;
pub use catalog::follow_changes;
pub use events::follow_events;
pub use handlers::Outcome;
pub use live::ConfigProblem;
use live::Surface;

const INSTRUCTIONS: &str = "Tools of many MCP servers sit behind this gateway. \
Find one with gateway_search_tools, then call it with gateway_invoke.";

/// Exposed name → `(server, tool)`, for flat and surfaced tools.
type FlatNames = BTreeMap<String, (String, String)>;

/// Hears every backend call the gateway makes (the HTTP listener's metrics).
pub trait CallObserver: Send + Sync {
    /// `failed` is true for an error the gateway made or an `isError` result.
    fn call_done(&self, server: &str, tool: &str, failed: bool, elapsed: Duration);
}

/// The MCP server the client sees. Cheap to clone; all state is shared.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
    /// What the caller's API key may use; `None` is everything (stdio, full token).
    scope: Option<Arc<Scope>>,
}

/// An initialize-era client and what its API key lets it see.
#[derive(Clone)]
struct Upstream {
    peer: Peer<RoleServer>,
    scope: Option<Arc<Scope>>,
}

impl Upstream {
    /// Whether events of `backend` are this client's to hear.
    fn hears(&self, backend: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|s| s.allows_backend(backend))
    }
}

struct Inner {
    registry: Arc<Registry>,
    index: Arc<SearchIndex>,
    /// `mode` and `surfaced_tools`, replaced whole by a reload.
    surface: Mutex<Arc<Surface>>,
    /// Why the config file on disk is not the one running, if it is not.
    config_problem: Mutex<Option<Arc<ConfigProblem>>>,
    /// Initialize-era clients (one on stdio, one per HTTP session) with the scope each may
    /// see, told of changes and backend events with plain notifications. Closed ones are
    /// dropped as they are noticed.
    upstream: Mutex<Vec<Upstream>>,
    observer: OnceLock<Arc<dyn CallObserver>>,
    /// Fires after each re-index; 2026-07-28 clients hear it on `subscriptions/listen`.
    tools_changed: broadcast::Sender<()>,
    /// Prompt and resource changes, for 2026-07-28 clients' `subscriptions/listen`.
    lists_changed: broadcast::Sender<events::ListChange>,
    /// The non-tool capabilities last declared to the client.
    offered: Mutex<Offered>,
    /// The registry version the search index has caught up with.
    indexed: watch::Sender<u64>,
    /// Cancelled when the client has finished its handshake (backends then start).
    client_ready: CancellationToken,
    /// Exposed names, cached per snapshot.
    flat: Mutex<Option<(Arc<Snapshot>, Arc<FlatNames>)>>,
    /// Told who the client is; relays the backends' requests to it.
    relay: Arc<Relay>,
    /// The tools the policy hides, cached per snapshot and surface.
    hidden: Mutex<Option<Arc<guard::Hidden>>>,
    /// The audit log, when `audit:` asks for one; replaced by a reload.
    audit: Mutex<Option<Arc<AuditLog>>>,
    /// 2026-07-28 clients' calls parked on their answers to backends' requests.
    rounds: Arc<Rounds>,
    /// Each backend's limits and circuit breaker; reconfigured by a reload.
    failsafe: Failsafe,
}

impl Gateway {
    /// `client_ready` is cancelled when the client finishes its handshake.
    pub fn new(
        config: &Config,
        registry: Arc<Registry>,
        index: Arc<SearchIndex>,
        client_ready: CancellationToken,
        relay: Arc<Relay>,
    ) -> Gateway {
        Gateway {
            inner: Arc::new(Inner {
                registry,
                index,
                surface: Mutex::new(Arc::new(Surface::of(config))),
                config_problem: Mutex::new(None),
                upstream: Mutex::new(Vec::new()),
                observer: OnceLock::new(),
                client_ready,
                tools_changed: broadcast::Sender::new(16),
                lists_changed: broadcast::Sender::new(64),
                offered: Mutex::new(Offered::default()),
                indexed: watch::Sender::new(0),
                flat: Mutex::new(None),
                relay,
                hidden: Mutex::new(None),
                audit: Mutex::new(config.audit.clone().map(|a| Arc::new(AuditLog::new(a)))),
                rounds: Arc::new(Rounds::default()),
                failsafe: Failsafe::new(config),
            }),
            scope: None,
        }
    }

    /// Report every backend call to `observer` from now on (set once).
    pub fn observe(&self, observer: Arc<dyn CallObserver>) {
        let _ = self.inner.observer.set(observer);
    }

    /// This gateway as seen by a caller limited to `scope`.
    pub fn scoped(&self, scope: Option<Arc<Scope>>) -> Gateway {
        Gateway {
            inner: Arc::clone(&self.inner),
            scope,
        }
    }

    /// Whether the caller may see and call `tool` of `server`.
    fn permits(&self, server: &str, tool: &Tool) -> bool {
        self.scope.as_ref().is_none_or(|scope| {
            let read_only = tool.annotations.as_ref().and_then(|a| a.read_only_hint);
            scope.allows(server, &tool.name, read_only)
        })
    }

    /// Whether the caller may see `server` at all.
    fn permits_server(&self, server: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|scope| scope.allows_backend(server))
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// The relay of the backends' requests to the client (the client-facing transport
    /// files the client's progress with it).
    pub fn client_relay(&self) -> &Arc<Relay> {
        &self.inner.relay
    }

    /// Remember an initialize-era client (once, at its `initialize`) with its scope.
    fn remember(&self, peer: &Peer<RoleServer>, scope: Option<Arc<Scope>>) {
        let mut peers = lock(&self.inner.upstream);
        peers.retain(|u| !u.peer.is_transport_closed());
        peers.push(Upstream {
            peer: peer.clone(),
            scope,
        });
    }

    /// The initialize-era clients still connected.
    fn upstreams(&self) -> Vec<Upstream> {
        let mut peers = lock(&self.inner.upstream);
        peers.retain(|u| !u.peer.is_transport_closed());
        peers.clone()
    }

    /// Wait (at most `limit`) until the search index reflects every registry change made
    /// so far, so a search never misses tools `gateway_list_servers` already reported.
    /// Whether it does.
    async fn index_caught_up(&self, limit: std::time::Duration) -> bool {
        let target = self.inner.registry.version();
        let mut indexed = self.inner.indexed.subscribe();
        matches!(
            tokio::time::timeout(limit, indexed.wait_for(|v| *v >= target)).await,
            Ok(Ok(_))
        )
    }

    /// Tell every connected client that the tool list changed.
    async fn announce_tools_changed(&self) {
        let _ = self.inner.tools_changed.send(());
        for upstream in self.upstreams() {
            if let Err(e) = upstream.peer.notify_tool_list_changed().await {
                tracing::debug!("tools/list_changed not sent: {e}");
            }
        }
    }

    /// Exposed name → (server, tool) for every backend tool in `snap`.
    fn flat_map(&self, snap: &Arc<Snapshot>) -> Arc<FlatNames> {
        let mut cache = lock(&self.inner.flat);
        if let Some((cached, map)) = cache.as_ref()
            && Arc::ptr_eq(cached, snap)
        {
            return Arc::clone(map);
        }
        let map = Arc::new(names::flat_names(
            snap.tools()
                .map(|(server, tool)| (server, tool.name.as_ref())),
        ));
        *cache = Some((Arc::clone(snap), Arc::clone(&map)));
        map
    }

    /// Whether a backend tool is in `tools/list` under its own (flat) name.
    fn exposes(surface: &Surface, server: &str, tool: &str) -> bool {
        match surface.mode {
            Mode::Flat => true,
            Mode::Meta => surface
                .surfaced
                .iter()
                .any(|s| s.server == server && s.tool == tool),
        }
    }

    /// Everything `tools/list` returns: the meta-tools, then flat or surfaced tools.
    pub fn listed_tools(&self) -> Vec<Tool> {
        self.inner.registry.recheck_trust();
        let mut tools: Vec<Tool> = MetaTool::ALL.iter().map(|m| m.definition()).collect();
        let snap = self.inner.registry.snapshot();
        let flat = self.flat_map(&snap);
        let surface = self.surface();
        let hidden = self.hidden(&snap);
        for (exposed, (server, tool)) in flat.iter() {
            if !Self::exposes(&surface, server, tool) || !hidden.visible(server, tool) {
                continue;
            }
            if let Some(def) = snap.server(server).and_then(|s| s.tool(tool))
                && self.permits(server, def)
            {
                let mut def = def.clone();
                def.name = exposed.clone().into();
                tools.push(def);
            }
        }
        tools
    }

    /// Run one tool call by its exposed name: a meta-tool, or a flat/surfaced tool.
    pub async fn call(
        &self,
        name: &str,
        arguments: Option<rmcp::model::JsonObject>,
        caller: Caller,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(tool) = MetaTool::from_name(name) {
            return Ok(self.call_meta(tool, arguments, caller).await.into_result());
        }
        let snap = self.inner.registry.snapshot();
        let flat = self.flat_map(&snap);
        let surface = self.surface();
        let exposed = flat
            .get(name)
            .filter(|(server, tool)| Self::exposes(&surface, server, tool));
        match exposed {
            Some((server, tool)) => {
                let arguments = arguments.unwrap_or_default();
                let outcome = self.invoke(server, tool, arguments, caller, Route::Direct);
                Ok(outcome.await.into_result())
            }
            None => {
                // A quarantined tool lost its flat name with its place in the list; a client
                // that still has the old list hears why, and the call is audited as refused.
                if let Some((server, tool)) = held_by_flat_name(&snap, name) {
                    let arguments = arguments.unwrap_or_default();
                    let outcome = self.invoke(&server, &tool, arguments, caller, Route::Direct);
                    return Ok(outcome.await.into_result());
                }
                let listed = self.listed_tools();
                let suggestions = names::suggest(name, listed.iter().map(|t| t.name.as_ref()));
                Err(ErrorData::invalid_params(
                    format!("unknown tool `{name}`{}", names::did_you_mean(&suggestions)),
                    None,
                ))
            }
        }
    }
}

impl ServerHandler for Gateway {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(self.capabilities())
            .with_server_info(Implementation::new(
                "mcp-gateway",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(self.instructions())
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        self.remember(&context.peer, scope_of(&context));
        context.peer.set_peer_info(request.clone());
        // Before backends start (they start at `initialized`): they are told exactly
        // what this client can do.
        let over_http = context.extensions.get::<http::request::Parts>().is_some();
        self.inner.relay.client_initializing(
            &request,
            &context.peer,
            scope_of(&context),
            !over_http,
        );
        self.negotiate_initialize(&request)
    }

    async fn on_initialized(&self, _context: NotificationContext<RoleServer>) {
        self.inner.relay.client_initialized();
        self.inner.client_ready.cancel();
    }

    async fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        self.modern(&context);
        Ok(DiscoverResult::from_server_info(
            self.supported_protocol_versions().into_owned(),
            self.get_info(),
        ))
    }

    async fn on_roots_list_changed(&self, _context: NotificationContext<RoleServer>) {
        self.inner.relay.roots_changed().await;
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::builder()
            .tools_list_changed()
            .prompts_list_changed()
            .resources_list_changed()
            .build();
        accepted.resource_subscriptions = requested.resource_subscriptions.clone();
        Some(accepted)
    }

    /// A 2026-07-28 client's `subscriptions/listen` stream: list changes and updates of
    /// the resources it named go out on it.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        self.serve_subscription(context).await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.proxy_list_resources(request, &context).await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.proxy_list_templates(request, &context).await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.proxy_read(request, &context).await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.proxy_subscribe(&request.uri, true, &context).await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.proxy_subscribe(&request.uri, false, &context).await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(self.proxy_list_prompts(&context))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        self.proxy_get_prompt(request, &context).await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        self.proxy_complete(request, &context).await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.proxy_set_level(request.level, &context).await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let gateway = self.scoped(scope_of(&context));
        Ok(ListToolsResult::with_all_items(gateway.listed_tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let scope = scope_of(&context);
        let gateway = self.scoped(scope.clone());
        if !self.modern(&context) {
            let mut result = gateway
                .call(&request.name, request.arguments, proxied::caller(&context))
                .await?;
            // A 2025-era backend sends no `resultType`; 2026-07-28 clients require it. It
            // is envelope, not content: rmcp strips it again for older clients.
            result.result_type.get_or_insert(ResultType::COMPLETE);
            return Ok(result.into());
        }
        // A 2026-07-28 client: the call may take rounds of input (see `mrtr`).
        let client = context.client_info().map(|i| i.name).unwrap_or_default();
        let capabilities = context.client_capabilities().unwrap_or_default();
        let peer = context.peer.clone();
        let progress_token = context.meta.get_progress_token();
        let (name, arguments) = (request.name.to_string(), request.arguments.clone());
        let start: StartCall = Box::new(move |round, cancelled| {
            Box::pin(async move {
                // Progress goes under the first request's token: once the call has taken a
                // round that request is answered, and the client may drop what follows.
                let caller = Caller {
                    peer: Some(peer),
                    progress_token,
                    cancelled,
                    round: Some(round),
                };
                let mut result = gateway.call(&name, arguments, caller).await?;
                result.result_type.get_or_insert(ResultType::COMPLETE);
                Ok(result)
            })
        });
        let principal = scope.as_ref().map_or("", |s| s.key.as_str());
        let rounds = &self.inner.rounds;
        let call = rounds.call(
            &request,
            principal,
            (&client, capabilities),
            &context.ct,
            start,
        );
        self.scoped(scope.clone())
            .with_logs(&request, &context, call)
            .await
    }
}

impl Gateway {
    /// Whether `context` is a 2026-07-28 request; the relay and the backends learn of
    /// the first one as they learn of an `initialize`.
    fn modern(&self, context: &RequestContext<RoleServer>) -> bool {
        let modern = context
            .protocol_version()
            .is_some_and(|v| v >= rmcp::model::ProtocolVersion::V_2026_07_28);
        if modern {
            let capabilities = context.client_capabilities().unwrap_or_default();
            self.inner.relay.client_is_modern(capabilities);
            self.inner.client_ready.cancel();
        }
        modern
    }
}

/// The scope the HTTP listener attached to this request's HTTP parts, if any.
fn scope_of(context: &RequestContext<RoleServer>) -> Option<Arc<Scope>> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Arc<Scope>>())
        .cloned()
}

/// The `(server, tool)` of a held-back tool whose flat name is `name`.
fn held_by_flat_name(snap: &Snapshot, name: &str) -> Option<(String, String)> {
    snap.servers.values().find_map(|s| {
        s.held
            .iter()
            .find(|h| names::flat_name(&s.name, h.name()) == name)
            .map(|h| (s.name.clone(), h.name().to_owned()))
    })
}

/// A text-only `isError` result: what a model reads when a call could not be made.
pub(crate) fn error_result(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}
