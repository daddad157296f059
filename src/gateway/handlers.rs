//! What each meta-tool does. Shared by the MCP surface and the terminal commands.

use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject, Tool};
use serde_json::{Value, json};

use super::guard::{Admitted, Refused};
use super::meta::{self, InvokeArgs, ListToolsArgs, MetaTool, SearchArgs};
use super::names::{did_you_mean, suggest};
use super::{Gateway, error_result, search_answer};
use crate::audit;
use crate::backend::{CallError, Caller};
use crate::failsafe::{self, Retry};
use crate::policy::Route;
use crate::proxy;
use crate::registry::{ServerEntry, ServerState, Snapshot};
use crate::target::BackendHandle;

/// Default and largest number of search results.
const DEFAULT_LIMIT: usize = 8;
const MAX_LIMIT: usize = 50;
/// How long a search waits for the index to catch up with the registry.
const INDEX_WAIT: Duration = Duration::from_secs(2);
/// How long a call waits for a backend that is still starting.
const START_WAIT: Duration = Duration::from_secs(30);
/// How long a call to a failed backend waits for the retry it asked for.
const RETRY_WAIT: Duration = Duration::from_secs(10);
/// Longest description in summaries, in characters.
const SUMMARY_CHARS: usize = 160;
const MATCH_CHARS: usize = 600;
/// Longest backend instructions shown by `gateway_list_servers`, in characters.
const INSTRUCTIONS_CHARS: usize = 4000;

/// What a meta-tool produced.
pub enum Outcome {
    /// The gateway's own answer, sent as `structuredContent` plus the same JSON as text.
    Structured(Value),
    /// A backend's result, passed through unchanged.
    Backend(CallToolResult),
    /// The call could not be made; sent as an `isError` result the model can read.
    Failed(String),
}

impl Outcome {
    pub fn into_result(self) -> CallToolResult {
        match self {
            Outcome::Structured(value) => CallToolResult::structured(value),
            Outcome::Backend(result) => result,
            Outcome::Failed(message) => error_result(message),
        }
    }
}

impl Gateway {
    pub async fn call_meta(
        &self,
        tool: MetaTool,
        arguments: Option<JsonObject>,
        caller: Caller,
    ) -> Outcome {
        let result = match tool {
            MetaTool::ListServers => Ok(self.list_servers()),
            MetaTool::ListTools => meta::parse(tool, arguments).and_then(|a| self.list_tools_of(a)),
            MetaTool::SearchTools => match meta::parse(tool, arguments) {
                Ok(args) => self.search(args).await,
                Err(e) => Err(e),
            },
            MetaTool::Invoke => match meta::parse::<InvokeArgs>(tool, arguments) {
                Ok(args) => match args.arguments() {
                    Ok(arguments) => {
                        return self
                            .invoke(&args.server, &args.tool, arguments, caller, Route::Invoke)
                            .await;
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(value) => Outcome::Structured(value),
            Err(message) => Outcome::Failed(message),
        }
    }

    fn list_servers(&self) -> Value {
        self.inner.registry.recheck_trust();
        let snap = self.inner.registry.snapshot();
        let hidden_tools = self.hidden(&snap);
        let servers: Vec<Value> = snap
            .servers
            .values()
            .filter(|s| self.permits_server(&s.name))
            .map(|s| {
                let hidden = hidden_tools.count(Some(&s.name));
                let mut row = json!({
                    "name": s.name,
                    "transport": s.transport.as_str(),
                    "state": s.state.as_str(),
                    "tools_count": s.tools.len() - hidden,
                });
                if hidden > 0 {
                    row["hidden_by_policy"] = json!(hidden);
                }
                if let Some(d) = &s.description {
                    row["description"] = json!(d);
                }
                if let Some(e) = &s.last_error {
                    row["error"] = json!(e);
                }
                if let Some(t) = s.startup {
                    row["startup_ms"] = json!(t.as_millis());
                }
                if let Some(idle) = s.idle {
                    row["idle"] = json!(idle.to_string());
                }
                if s.attempts > 0 {
                    row["attempts"] = json!(s.attempts);
                }
                if let Some(at) = s.next_retry {
                    let wait = at
                        .duration_since(std::time::SystemTime::now())
                        .unwrap_or_default();
                    row["next_retry_in_ms"] = json!(wait.as_millis());
                }
                if !s.problems.is_empty() {
                    row["problems"] = json!(s.problems);
                }
                // An open breaker, calls queued for a slot: why calls fail fast or wait.
                if let (Some(guard), Some(row)) =
                    (self.inner.failsafe.guard(&s.name), row.as_object_mut())
                {
                    row.extend(guard.status());
                }
                // A backend's own guidance, where an agent looks for how to use it.
                if let Some(text) = s.server.as_ref().and_then(|i| i.instructions.as_deref()) {
                    row["instructions"] = json!(clip_keeping_lines(text, INSTRUCTIONS_CHARS));
                }
                if !s.prompts.is_empty() {
                    row["prompts_count"] = json!(s.prompts.len());
                }
                if !s.held.is_empty() {
                    let trust = self.inner.registry.trust();
                    row["quarantined"] =
                        json!(s.held.iter().map(|h| h.to_json()).collect::<Vec<_>>());
                    row["approve"] = json!(format!(
                        "{} shows what changed; the user approves with `{}`",
                        trust.diff_command(&s.name),
                        trust.approve_command(&s.name, "<tool>…")
                    ));
                }
                if !s.findings.is_empty() {
                    row["findings"] =
                        json!(s.findings.iter().map(|f| f.to_json()).collect::<Vec<_>>());
                }
                row
            })
            .collect();
        let mut out = json!({ "servers": servers, "total": servers.len() });
        if let Some(problem) = self.config_problem() {
            out["config"] = problem.to_json();
        }
        out
    }

    fn list_tools_of(&self, args: ListToolsArgs) -> Result<Value, String> {
        self.inner.registry.recheck_trust();
        let snap = self.inner.registry.snapshot();
        let hidden = self.hidden(&snap);
        match args.server {
            Some(name) => {
                let server = self.visible_server(&snap, &name)?;
                let tools: Vec<&rmcp::model::Tool> = server
                    .tools
                    .iter()
                    .filter(|t| self.permits(&server.name, t))
                    .filter(|t| hidden.visible(&server.name, &t.name))
                    .collect();
                Ok(json!({
                    "server": server.name,
                    "state": server.state.as_str(),
                    "tools": tools,
                }))
            }
            None => {
                let tools: Vec<Value> = snap
                    .tools()
                    .filter(|(server, t)| self.permits(server, t))
                    .filter(|(server, t)| hidden.visible(server, &t.name))
                    .map(|(server, t)| {
                        json!({
                            "server": server,
                            "name": t.name,
                            "description": summary(t.description.as_deref().unwrap_or(""), SUMMARY_CHARS),
                        })
                    })
                    .collect();
                Ok(json!({ "total": tools.len(), "tools": tools, "starting": snap.starting() }))
            }
        }
    }

    async fn search(&self, args: SearchArgs) -> Result<Value, String> {
        // An approval made since the last request joins the index before this search.
        self.inner.registry.recheck_trust();
        let caught_up = self.index_caught_up(INDEX_WAIT).await;
        let snap = self.inner.registry.snapshot();
        if let Some(name) = &args.server {
            self.visible_server(&snap, name)?;
        }
        let wanted = args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        // Tools the policy hides, and tools outside a scoped caller's key, are in the
        // index too: ask for enough to fill the page.
        let hidden = self.hidden(&snap);
        let fetch = if self.scope.is_some() {
            MAX_LIMIT + hidden.count(args.server.as_deref())
        } else {
            wanted + hidden.count(args.server.as_deref())
        };
        let index = std::sync::Arc::clone(&self.inner.index);
        let server = args.server.clone();
        let query = args.query.clone();
        // Searching is sub-millisecond, but tantivy is blocking code: keep it off the
        // async workers anyway so a pathological query cannot stall other requests.
        let hits =
            tokio::task::spawn_blocking(move || index.search(&query, fetch, server.as_deref()))
                .await
                .map_err(|e| format!("search failed: {e}"))?
                .map_err(|e| format!("search failed: {e}"))?;
        let mut budget = search_answer::TOTAL_SCHEMA_CAP;
        let matches: Vec<Value> = hits
            .iter()
            .filter_map(|hit| {
                let tool = snap.server(&hit.server)?.tool(&hit.tool)?;
                if !self.permits(&hit.server, tool) || !hidden.visible(&hit.server, &hit.tool) {
                    return None;
                }
                let mut out = json!({
                    "server": hit.server,
                    "tool": hit.tool,
                    "description": clip(tool.description.as_deref().unwrap_or(""), MATCH_CHARS),
                    "score": (f64::from(hit.score) * 1000.0).round() / 1000.0,
                });
                if let Some(hints) = search_answer::hints(tool) {
                    out["hints"] = hints;
                }
                search_answer::add_schema(&mut out, &hit.server, tool, &mut budget);
                Some(out)
            })
            .take(wanted)
            .collect();
        let mut out = json!({
            "total": matches.len(),
            "matches": matches,
            "semantic": if caught_up {
                search_answer::semantic(&self.inner.index.semantic_status())
            } else {
                search_answer::catching_up()
            },
        });
        let starting = snap.starting();
        if !starting.is_empty() {
            // Tell the agent the list may grow, rather than let it conclude a tool is missing.
            out["starting"] = json!(starting);
        }
        Ok(out)
    }

    /// Call `tool` on `server` for `caller`, waiting briefly for a backend still starting;
    /// recorded in the audit log when there is one. `route` is how the client named the
    /// tool (the policy asks the user only where the client's own approval could not tell
    /// tools apart).
    pub async fn invoke(
        &self,
        server: &str,
        tool: &str,
        arguments: JsonObject,
        caller: Caller,
        route: Route,
    ) -> Outcome {
        let started = std::time::Instant::now();
        let audit = self.audit();
        let client = audit.as_ref().and_then(|_| {
            caller
                .peer
                .as_ref()
                .and_then(|p| p.peer_info())
                .map(|i| format!("{}/{}", i.client_info.name, i.client_info.version))
        });
        let recorded = audit.as_ref().map(|_| arguments.clone());
        let (outcome, decision) = self
            .invoke_unaudited(server, tool, arguments, caller, route)
            .await;
        if let Some(observer) = self.inner.observer.get() {
            let failed = match &outcome {
                Outcome::Backend(result) => result.is_error == Some(true),
                Outcome::Failed(_) => true,
                Outcome::Structured(_) => false,
            };
            observer.call_done(server, tool, failed, started.elapsed());
        }
        if let (Some(audit), Some(recorded)) = (audit, recorded) {
            let (ended, is_error) = match (&outcome, decision) {
                (Outcome::Backend(r), Decision::Allowed | Decision::Confirmed) => {
                    (audit::Outcome::Ok, r.is_error == Some(true))
                }
                (_, Decision::Allowed | Decision::Confirmed) => (audit::Outcome::Error, false),
                _ => (audit::Outcome::Refused, false),
            };
            audit.record(&audit::Record {
                client,
                server,
                tool,
                arguments: &recorded,
                duration: started.elapsed(),
                outcome: ended,
                decision: decision.as_str(),
                is_error,
            });
        }
        outcome
    }

    async fn invoke_unaudited(
        &self,
        server: &str,
        tool: &str,
        arguments: JsonObject,
        caller: Caller,
        route: Route,
    ) -> (Outcome, Decision) {
        self.inner.registry.recheck_trust();
        let problem = self.config_problem();
        if let Some(p) = problem.as_deref().filter(|p| !p.kept_last_good) {
            return (Outcome::Failed(p.summary()), Decision::Unavailable);
        }
        let snap = self.inner.registry.snapshot();
        if let Err(e) = self.visible_server(&snap, server) {
            // The server may be in the edit that did not load: say why it is not here.
            let message = match problem {
                Some(p) => format!("{e}; {}", p.summary()),
                None => e,
            };
            return (Outcome::Failed(message), Decision::Unknown);
        }
        let Some(mut entry) = self.inner.registry.wait_settled(server, START_WAIT).await else {
            return (
                Outcome::Failed(format!("server `{server}` was removed")),
                Decision::Unknown,
            );
        };
        if matches!(entry.state, ServerState::Failed | ServerState::Idle)
            && let Some(retry) = &entry.retry_now
        {
            // A call is the best sign the backend is wanted now: retry at once rather than
            // at the next backoff (or start an idle one), and answer with the outcome.
            retry.notify_one();
            let tried = entry.attempts;
            let limit = if entry.state == ServerState::Idle {
                entry.start_wait
            } else {
                RETRY_WAIT
            };
            let waited = self
                .inner
                .registry
                .wait_until(server, limit, |e| {
                    e.state == ServerState::Ready
                        || (e.state == ServerState::Failed && e.attempts > tried)
                        || e.retry_now.is_none()
                })
                .await;
            match waited {
                Some(now) => entry = now,
                None => {
                    return (
                        Outcome::Failed(format!("server `{server}` was removed")),
                        Decision::Unknown,
                    );
                }
            }
        }
        let handle = match (&entry.state, &entry.handle) {
            (ServerState::Ready, Some(handle)) => handle.clone(),
            (state, _) => {
                let why = entry
                    .last_error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                let message = format!("server `{server}` is {}{why}", state.as_str());
                return (Outcome::Failed(message), Decision::Unavailable);
            }
        };
        let Some(definition) = entry.tool(tool) else {
            // Held back: say what changed and how the user approves it; never call it.
            let now = self.inner.registry.snapshot();
            let current = now.server(server).unwrap_or(&entry);
            if let Some(held) = current.held_tool(tool) {
                let refusal = self.inner.registry.trust().refusal(server, held);
                return (Outcome::Failed(refusal), Decision::Quarantined);
            }
            return (
                Outcome::Failed(unknown_tool(&now, &entry, tool)),
                Decision::Unknown,
            );
        };
        if let Some(scope) = &self.scope
            && !self.permits(server, definition)
        {
            let message = format!(
                "API key `{}` may not call `{tool}` on `{server}` (its scope: {})",
                scope.key,
                scope.describe()
            );
            return (Outcome::Failed(message), Decision::Denied);
        }
        let admitted = match self
            .admit(server, definition, &arguments, &caller, route)
            .await
        {
            Ok(Admitted::Allowed) => Decision::Allowed,
            Ok(Admitted::Confirmed) => Decision::Confirmed,
            Err(Refused::Policy(why)) => return (Outcome::Failed(why), Decision::PolicyDenied),
            Err(Refused::NotConfirmed(why)) => {
                return (Outcome::Failed(why), Decision::NotConfirmed);
            }
        };
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let called = self
            .call_failsafe(server, definition, handle, params, caller)
            .await;
        let outcome = match called {
            Ok(mut result) => {
                // Links and embedded resources must read back through the gateway.
                if proxy::rewrite::has_resources(&result) {
                    let ns = proxy::namespace(&self.inner.registry.snapshot());
                    proxy::rewrite::Rewriter { ns: &ns, server }.tool_result(&mut result);
                }
                Outcome::Backend(result)
            }
            Err(CallError::Backend { error, .. }) => Outcome::Failed(format!(
                "`{server}` rejected the call to `{tool}`: {}",
                error.message
            )),
            Err(e) => Outcome::Failed(e.to_string()),
        };
        (outcome, admitted)
    }

    /// The backend call itself, through the backend's limits and breaker; tried once
    /// more, on a fresh connection, when [`Retry`] says that cannot repeat a side effect.
    async fn call_failsafe(
        &self,
        server: &str,
        definition: &Tool,
        mut handle: BackendHandle,
        params: CallToolRequestParams,
        caller: Caller,
    ) -> Result<CallToolResult, CallError> {
        let guard = self.inner.failsafe.guard(server);
        let mut retry = Retry::for_tool(definition);
        loop {
            let call = handle.call_tool(params.clone(), caller.clone());
            let connection = handle.connection();
            let result =
                failsafe::guarded(guard.as_ref(), connection, &caller.cancelled, call).await;
            let error = match result {
                Err(e) if retry.again(&e) => e,
                done => return done,
            };
            tracing::info!(backend = %server, tool = %params.name, "retrying once: {error}");
            tokio::select! {
                () = tokio::time::sleep(failsafe::RETRY_BACKOFF) => {}
                () = caller.cancelled.cancelled() => return Err(CallError::Cancelled),
            }
            match self.reconnected(server, &handle).await {
                Ok(fresh) => handle = fresh,
                Err(why) => {
                    return Err(CallError::Closed {
                        backend: server.to_owned(),
                        detail: format!("; not retried: {why} (first try: {error})"),
                    });
                }
            }
        }
    }

    /// A live connection to `server` other than `old`, asking the backend's actor to
    /// reconnect at once rather than at its next backoff; waits at most [`RETRY_WAIT`].
    async fn reconnected(
        &self,
        server: &str,
        old: &BackendHandle,
    ) -> Result<BackendHandle, String> {
        let fresh = |e: &ServerEntry| {
            e.state == ServerState::Ready && e.handle.as_ref().is_some_and(|h| !h.same(old))
        };
        // Asked once: a stored wake-up left behind would cut a later backoff short.
        let asked = std::sync::atomic::AtomicBool::new(false);
        let entry = self
            .inner
            .registry
            .wait_until(server, RETRY_WAIT, |e| {
                if e.state == ServerState::Failed
                    && !asked.swap(true, std::sync::atomic::Ordering::Relaxed)
                    && let Some(retry) = &e.retry_now
                {
                    retry.notify_one();
                }
                fresh(e) || e.retry_now.is_none()
            })
            .await
            .ok_or_else(|| format!("server `{server}` was removed"))?;
        match (&entry.handle, fresh(&entry)) {
            (Some(handle), true) => Ok(handle.clone()),
            _ => Err(format!(
                "server `{server}` was not ready again within {}s",
                RETRY_WAIT.as_secs()
            )),
        }
    }
}

/// What the gateway decided before a backend call, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// The call went to the backend.
    Allowed,
    /// The tool is held back by trust (changed, new under review, or blocked by the scan).
    Quarantined,
    /// No such server or tool.
    Unknown,
    /// The caller's API key may not use it.
    Denied,
    /// The server is not running (failed, disabled, the config did not load).
    Unavailable,
    /// The user confirmed it when asked; the call went to the backend.
    Confirmed,
    /// A `policy:` rule denies it.
    PolicyDenied,
    /// It needs the user's confirmation, which did not come.
    NotConfirmed,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Quarantined => "quarantined",
            Decision::Unknown => "unknown",
            Decision::Denied => "denied",
            Decision::Unavailable => "unavailable",
            Decision::Confirmed => "confirmed",
            Decision::PolicyDenied => "denied_by_policy",
            Decision::NotConfirmed => "not_confirmed",
        }
    }
}

impl Gateway {
    /// `name`'s entry, if it exists and the caller's scope lets it see that backend. A
    /// backend outside the scope is refused with the scope, not reported as unknown.
    fn visible_server<'a>(
        &self,
        snap: &'a Snapshot,
        name: &str,
    ) -> Result<&'a ServerEntry, String> {
        let Some(scope) = &self.scope else {
            return known_server(snap, name);
        };
        if snap.server(name).is_none() {
            // Suggest only what the key may see: the names of other backends stay private.
            let visible: Vec<&str> = snap
                .servers
                .keys()
                .map(String::as_str)
                .filter(|n| scope.allows_backend(n))
                .collect();
            return Err(format!(
                "unknown server `{name}`{}; servers: {}",
                did_you_mean(&suggest(name, visible.iter().copied())),
                visible.join(", ")
            ));
        }
        if !scope.allows_backend(name) {
            return Err(format!(
                "API key `{}` may not use server `{name}` (its scope: {})",
                scope.key,
                scope.describe()
            ));
        }
        known_server(snap, name)
    }
}

fn known_server<'a>(snap: &'a Snapshot, name: &str) -> Result<&'a ServerEntry, String> {
    snap.server(name).map(|s| &**s).ok_or_else(|| {
        let suggestions = suggest(name, snap.servers.keys().map(String::as_str));
        let known: Vec<&str> = snap.servers.keys().map(String::as_str).collect();
        format!(
            "unknown server `{name}`{}; servers: {}",
            did_you_mean(&suggestions),
            if known.is_empty() {
                "none configured".to_owned()
            } else {
                known.join(", ")
            }
        )
    })
}

fn unknown_tool(snap: &Snapshot, entry: &ServerEntry, tool: &str) -> String {
    let mut message = format!(
        "server `{}` has no tool `{tool}`{}",
        entry.name,
        did_you_mean(&suggest(tool, entry.tools.iter().map(|t| t.name.as_ref())))
    );
    let elsewhere: Vec<&str> = snap
        .servers
        .values()
        .filter(|s| s.name != entry.name && s.tool(tool).is_some())
        .map(|s| s.name.as_str())
        .collect();
    if !elsewhere.is_empty() {
        message.push_str(&format!("; `{tool}` exists on: {}", elsewhere.join(", ")));
    }
    message.push_str("; gateway_search_tools finds tools by what they do");
    message
}

/// `text` cut at `max` characters, line breaks kept (instructions are often Markdown).
fn clip_keeping_lines(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The first line of `text`, cut at `max` characters.
fn summary(text: &str, max: usize) -> String {
    clip(text.trim().lines().next().unwrap_or(""), max)
}

/// `text` with runs of whitespace folded to one space, cut at `max` characters.
fn clip(text: &str, max: usize) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match folded.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &folded[..cut]),
        None => folded,
    }
}
