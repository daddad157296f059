//! The client-facing side of everything beyond tools: each request handed to `proxy`
//! with the client's cancellation, and `proxy`'s failures turned into wire errors here
//! (only `gateway` builds those).

// Logging and resources/subscribe are deprecated by SEP-2577 / 2026-07-28, yet
// initialize-era clients and backends use them, and the gateway passes them on.
#![allow(deprecated)]

use std::sync::Arc;

use rmcp::model::{
    CompleteRequestParams, CompleteResult, GetPromptRequestParams, GetPromptResponse,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, LoggingLevel,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ResourcesCapability,
    ServerCapabilities,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};

use super::{Gateway, lock, names};
use crate::proxy::capabilities::Offered;
use crate::proxy::{self, PromptNames, ProxyError, prompts, resources};
use crate::registry::Snapshot;
use crate::target::{CallError, Caller};

/// Longest line a backend gets in the gateway's own instructions, in characters.
const BACKEND_SUMMARY_CHARS: usize = 120;
/// Bytes of backend summaries the gateway's instructions may carry.
const INSTRUCTIONS_BUDGET: usize = 1500;

/// The client a request is served for, with its cancellation.
pub(super) fn caller(context: &RequestContext<RoleServer>) -> Caller {
    Caller {
        progress_token: context.meta.get_progress_token(),
        peer: Some(context.peer.clone()),
        cancelled: context.ct.clone(),
        round: None,
    }
}

/// A `proxy` failure as the client reads it.
fn wire(error: ProxyError) -> ErrorData {
    let message = error.to_string();
    match error {
        // rmcp answers -32602 instead for 2026-07-28 clients, as that revision asks.
        ProxyError::UnknownUri { .. } => ErrorData::resource_not_found(message, None),
        ProxyError::UnknownPrompt { .. } | ProxyError::BadCursor { .. } => {
            ErrorData::invalid_params(message, None)
        }
        ProxyError::NotOffered { .. } => ErrorData::invalid_request(message, None),
        // The backend's own error keeps its code (e.g. -32002 for a missing resource),
        // and says which backend gave it.
        ProxyError::Call(CallError::Backend { backend, error }) => ErrorData::new(
            error.code,
            format!("backend `{backend}`: {}", error.message),
            error.data,
        ),
        ProxyError::NotReady { .. } | ProxyError::Call(_) => {
            ErrorData::internal_error(message, None)
        }
    }
}

impl Gateway {
    /// The registry as this request's caller may see it: every backend, or only those its
    /// API key allows. Prompt names and URI prefixes come from the full snapshot, so they
    /// read the same in every session.
    fn visible(&self, full: &Arc<Snapshot>, context: &RequestContext<RoleServer>) -> Arc<Snapshot> {
        match super::scope_of(context) {
            None => Arc::clone(full),
            Some(scope) => Arc::new(Snapshot {
                servers: full
                    .servers
                    .iter()
                    .filter(|(name, _)| scope.allows_backend(name))
                    .map(|(name, entry)| (name.clone(), Arc::clone(entry)))
                    .collect(),
            }),
        }
    }

    /// Exposed prompt name → `(server, prompt)`, by the flat-name rules.
    fn prompt_names(snap: &Snapshot) -> PromptNames {
        names::flat_names(snap.servers.values().flat_map(|e| {
            e.prompts
                .iter()
                .map(move |p| (e.name.as_str(), p.name.as_str()))
        }))
    }

    fn suggest_prompt(names: &PromptNames) -> impl Fn(&str) -> String + '_ {
        |wanted| names::did_you_mean(&names::suggest(wanted, names.keys().map(String::as_str)))
    }

    /// What the client is offered now: tools, plus the union of the backends' offers.
    pub(super) fn capabilities(&self) -> ServerCapabilities {
        let offered = Offered::of(&self.inner.registry.snapshot());
        let mut caps = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        if offered.resources {
            let mut resources = ResourcesCapability::default();
            resources.list_changed = Some(true);
            resources.subscribe = offered.subscribe.then_some(true);
            caps.resources = Some(resources);
        }
        if offered.prompts {
            let mut prompts = rmcp::model::PromptsCapability::default();
            prompts.list_changed = Some(true);
            caps.prompts = Some(prompts);
        }
        if offered.completions {
            caps.completions = Some(Default::default());
        }
        if offered.logging {
            caps.logging = Some(Default::default());
        }
        // Remember what was said, so a change can be announced.
        *lock(&self.inner.offered) = offered;
        caps
    }

    /// The gateway's own instructions, then a bounded summary of each ready backend's:
    /// the first line of each, so no backend can crowd out the rest.
    pub(super) fn instructions(&self) -> String {
        let mut text = super::INSTRUCTIONS.to_owned();
        let snap = self.inner.registry.snapshot();
        let mut lines = Vec::new();
        for entry in snap.servers.values() {
            let Some(own) = entry
                .server
                .as_ref()
                .and_then(|s| s.instructions.as_deref())
            else {
                continue;
            };
            let first = own
                .lines()
                .map(|l| l.trim().trim_start_matches('#').trim())
                .find(|l| !l.is_empty())
                .unwrap_or_default();
            let first: String = first.chars().take(BACKEND_SUMMARY_CHARS).collect();
            lines.push(format!("- {}: {first}", entry.name));
        }
        if !lines.is_empty() {
            text.push_str(
                "\n\nBackends with their own instructions (gateway_list_servers shows them in full):\n",
            );
            let mut used = 0;
            for line in lines {
                used += line.len() + 1;
                if used > INSTRUCTIONS_BUDGET {
                    text.push_str("- …\n");
                    break;
                }
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    }

    pub(super) async fn proxy_list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: &RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let full = self.inner.registry.snapshot();
        let ns = proxy::namespace(&full);
        let snap = self.visible(&full, context);
        let cursor = request.and_then(|r| r.cursor);
        resources::list(&snap, &ns, cursor, caller(context))
            .await
            .map_err(wire)
    }

    pub(super) async fn proxy_list_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: &RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let full = self.inner.registry.snapshot();
        let ns = proxy::namespace(&full);
        let snap = self.visible(&full, context);
        let cursor = request.and_then(|r| r.cursor);
        resources::templates(&snap, &ns, cursor, caller(context))
            .await
            .map_err(wire)
    }

    pub(super) async fn proxy_read(
        &self,
        request: ReadResourceRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let full = self.inner.registry.snapshot();
        let ns = proxy::namespace(&full);
        let snap = self.visible(&full, context);
        resources::read(&snap, &self.inner.failsafe, &ns, request, caller(context))
            .await
            .map_err(wire)
    }

    pub(super) async fn proxy_subscribe(
        &self,
        uri: &str,
        on: bool,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let full = self.inner.registry.snapshot();
        let ns = proxy::namespace(&full);
        let snap = self.visible(&full, context);
        resources::subscribe(&snap, &ns, uri, on, caller(context))
            .await
            .map_err(wire)
    }

    pub(super) fn proxy_list_prompts(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> ListPromptsResult {
        let full = self.inner.registry.snapshot();
        let names = Self::prompt_names(&full);
        let snap = self.visible(&full, context);
        ListPromptsResult::with_all_items(prompts::list(&snap, &names))
    }

    pub(super) async fn proxy_get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let full = self.inner.registry.snapshot();
        let ns = proxy::namespace(&full);
        let names = Self::prompt_names(&full);
        let snap = self.visible(&full, context);
        let suggest = Self::suggest_prompt(&names);
        prompts::get(
            &snap,
            &self.inner.failsafe,
            &ns,
            &names,
            request,
            suggest,
            caller(context),
        )
        .await
        .map_err(wire)
    }

    pub(super) async fn proxy_complete(
        &self,
        request: CompleteRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let full = self.inner.registry.snapshot();
        let ns = proxy::namespace(&full);
        let names = Self::prompt_names(&full);
        let snap = self.visible(&full, context);
        let suggest = Self::suggest_prompt(&names);
        prompts::complete(
            &snap,
            &self.inner.failsafe,
            &ns,
            &names,
            request,
            suggest,
            caller(context),
        )
        .await
        .map_err(wire)
    }

    pub(super) async fn proxy_set_level(
        &self,
        level: LoggingLevel,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let snap = self.visible(&self.inner.registry.snapshot(), context);
        let refused = prompts::set_level(&snap, level, caller(context)).await;
        if refused.is_empty() {
            return Ok(());
        }
        Err(ErrorData::internal_error(
            format!(
                "the log level was set, except on: {} (see the gateway's log)",
                refused.join(", ")
            ),
            None,
        ))
    }
}
