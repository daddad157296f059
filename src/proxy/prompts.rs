//! Prompts, completion and log levels across backends. Prompts are listed from the
//! registry (each backend's list is kept current by its actor) under exposed names
//! `<server>__<prompt>`, which the gateway builds with the same rules as flat tool names;
//! `prompts/get` and `completion/complete` turn the exposed name (or namespaced URI)
//! back into the backend's own before forwarding.

// Logging and resources/subscribe are deprecated by SEP-2577 / 2026-07-28, yet
// initialize-era clients and backends use them, and the gateway passes them on.
#![allow(deprecated)]

use rmcp::model::{
    ClientRequest, CompleteRequest, CompleteRequestParams, CompleteResult, GetPromptRequest,
    GetPromptRequestParams, GetPromptResponse, LoggingLevel, Prompt, Reference, ResultType,
    ServerResult, SetLevelRequest, SetLevelRequestParams,
};

use super::rewrite::Rewriter;
use super::{Namespace, PromptNames, ProxyError, ready};
use crate::failsafe::Failsafe;
use crate::registry::{ServerState, Snapshot};
use crate::target::{CallError, Caller};

/// Every prompt of every ready backend, under its exposed name.
pub fn list(snap: &Snapshot, names: &PromptNames) -> Vec<Prompt> {
    names
        .iter()
        .filter_map(|(exposed, (server, prompt))| {
            let entry = snap.server(server)?;
            let mut def = entry.prompts.iter().find(|p| p.name == *prompt)?.clone();
            def.name = exposed.clone();
            Some(def)
        })
        .collect()
}

/// `(server, prompt)` for an exposed name, or an error with the closest names.
fn resolve<'a>(
    names: &'a PromptNames,
    exposed: &str,
    suggest: impl Fn(&str) -> String,
) -> Result<&'a (String, String), ProxyError> {
    names.get(exposed).ok_or_else(|| ProxyError::UnknownPrompt {
        name: exposed.to_owned(),
        suggestion: suggest(exposed),
    })
}

/// `prompts/get`: the backend's prompt, its resource URIs in the client's form. An
/// `InputRequiredResult` passes through untouched.
pub async fn get(
    snap: &Snapshot,
    limits: &Failsafe,
    ns: &Namespace,
    names: &PromptNames,
    mut params: GetPromptRequestParams,
    suggest: impl Fn(&str) -> String,
    caller: Caller,
) -> Result<GetPromptResponse, ProxyError> {
    let (server, prompt) = resolve(names, &params.name, suggest)?;
    let (_, handle) = ready(snap, server)?;
    params.name = prompt.clone();
    let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(params));
    match limits.request(server, handle, request, caller).await? {
        ServerResult::GetPromptResult(mut result) => {
            Rewriter { ns, server }.prompt(&mut result);
            // A 2025-era backend sends no `resultType`; 2026-07-28 clients require it.
            result.result_type.get_or_insert(ResultType::COMPLETE);
            Ok(GetPromptResponse::Complete(result))
        }
        ServerResult::InputRequiredResult(result) => Ok(GetPromptResponse::InputRequired(result)),
        _ => Err(CallError::Unexpected {
            backend: server.clone(),
        }
        .into()),
    }
}

/// `completion/complete` for a prompt argument or a resource-template variable, the
/// reference un-namespaced; the values come back as the backend gave them.
pub async fn complete(
    snap: &Snapshot,
    limits: &Failsafe,
    ns: &Namespace,
    names: &PromptNames,
    mut params: CompleteRequestParams,
    suggest: impl Fn(&str) -> String,
    caller: Caller,
) -> Result<CompleteResult, ProxyError> {
    let server = match &mut params.r#ref {
        Reference::Prompt(p) => {
            let (server, prompt) = resolve(names, &p.name, suggest)?;
            p.name = prompt.clone();
            server.clone()
        }
        Reference::Resource(r) => {
            let (server, original) = ns.unwrap(&r.uri)?;
            r.uri = original;
            server.to_owned()
        }
        // A kind of reference rmcp does not know yet cannot be routed.
        _ => {
            return Err(ProxyError::NotOffered {
                backend: "any".to_owned(),
                what: "completion for this kind of reference",
            });
        }
    };
    let (entry, handle) = ready(snap, &server)?;
    let offers = entry
        .server
        .as_ref()
        .is_some_and(|s| s.capabilities.completions.is_some());
    if !offers {
        // Nothing to complete from is an empty answer, as a server without
        // completions would give for each of its arguments.
        return Ok(CompleteResult::default());
    }
    let request = ClientRequest::CompleteRequest(CompleteRequest::new(params));
    match limits.request(&server, handle, request, caller).await? {
        ServerResult::CompleteResult(mut result) => {
            result.result_type.get_or_insert(ResultType::COMPLETE);
            Ok(result)
        }
        _ => Err(CallError::Unexpected { backend: server }.into()),
    }
}

/// `logging/setLevel` to every ready backend that logs; the backends that refused.
/// Sent in turn: backends answer it at once, and there are few.
pub async fn set_level(snap: &Snapshot, level: LoggingLevel, caller: Caller) -> Vec<String> {
    let mut refused = Vec::new();
    let logging = snap
        .servers
        .values()
        .filter(|e| e.state == ServerState::Ready)
        .filter(|e| {
            e.server
                .as_ref()
                .is_some_and(|s| s.capabilities.logging.is_some())
        });
    for entry in logging {
        let Some(handle) = &entry.handle else {
            continue;
        };
        let request =
            ClientRequest::SetLevelRequest(SetLevelRequest::new(SetLevelRequestParams::new(level)));
        if let Err(e) = handle.request(request, caller.clone()).await {
            tracing::warn!(backend = %entry.name, "logging/setLevel failed: {e}");
            refused.push(entry.name.clone());
        }
    }
    refused
}
