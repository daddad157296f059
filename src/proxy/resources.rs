//! Resources across backends: `resources/list` and `resources/templates/list` paged
//! backend by backend, `resources/read` and `resources/subscribe` routed by the URI's
//! prefix (never by a map filled from listing, so template-expanded URIs and links
//! from tool results read back too).

// Logging and resources/subscribe are deprecated by SEP-2577 / 2026-07-28, yet
// initialize-era clients and backends use them, and the gateway passes them on.
#![allow(deprecated)]

use rmcp::model::{
    ClientRequest, Cursor, ListResourceTemplatesRequest, ListResourceTemplatesResult,
    ListResourcesRequest, ListResourcesResult, PaginatedRequestParams, ReadResourceRequest,
    ReadResourceRequestParams, ReadResourceResponse, ResultType, ServerResult, SubscribeRequest,
    SubscribeRequestParams, UnsubscribeRequest, UnsubscribeRequestParams,
};

use super::rewrite::Rewriter;
use super::{Namespace, ProxyError, ready};
use crate::failsafe::Failsafe;
use crate::registry::{ServerState, Snapshot};
use crate::target::{CallError, Caller};

/// Which list is being paged.
#[derive(Clone, Copy)]
enum Listing {
    Resources,
    Templates,
}

/// One aggregated page: items from one backend at a time.
enum Page {
    Resources(ListResourcesResult),
    Templates(ListResourceTemplatesResult),
}

/// `resources/list` across every ready backend that offers resources.
pub async fn list(
    snap: &Snapshot,
    ns: &Namespace,
    cursor: Option<Cursor>,
    caller: Caller,
) -> Result<ListResourcesResult, ProxyError> {
    let (items, next) = page(snap, ns, cursor, caller, Listing::Resources).await?;
    let mut result = ListResourcesResult::with_all_items(
        items
            .into_iter()
            .filter_map(|p| match p {
                Page::Resources(r) => Some(r.resources),
                Page::Templates(_) => None,
            })
            .flatten()
            .collect(),
    );
    result.next_cursor = next;
    Ok(result)
}

/// `resources/templates/list` across every ready backend that offers resources.
pub async fn templates(
    snap: &Snapshot,
    ns: &Namespace,
    cursor: Option<Cursor>,
    caller: Caller,
) -> Result<ListResourceTemplatesResult, ProxyError> {
    let (items, next) = page(snap, ns, cursor, caller, Listing::Templates).await?;
    let mut result = ListResourceTemplatesResult::with_all_items(
        items
            .into_iter()
            .filter_map(|p| match p {
                Page::Templates(t) => Some(t.resource_templates),
                Page::Resources(_) => None,
            })
            .flatten()
            .collect(),
    );
    result.next_cursor = next;
    Ok(result)
}

/// Backends that offer resources, in name order.
fn offering(snap: &Snapshot) -> Vec<&str> {
    snap.servers
        .values()
        .filter(|e| e.state == ServerState::Ready)
        .filter(|e| {
            e.server
                .as_ref()
                .is_some_and(|s| s.capabilities.resources.is_some())
        })
        .map(|e| e.name.as_str())
        .collect()
}

/// The gateway's cursor: the backend being paged and that backend's own cursor.
fn encode(server: &str, cursor: Option<&str>) -> Cursor {
    serde_json::json!([server, cursor]).to_string()
}

fn decode(cursor: &str) -> Result<(String, Option<String>), ProxyError> {
    serde_json::from_str(cursor).map_err(|_| ProxyError::BadCursor {
        cursor: cursor.to_owned(),
    })
}

/// Pages from backends in name order, starting where `cursor` says, until one gives
/// items (an empty backend does not make an empty page); the next cursor, if any.
async fn page(
    snap: &Snapshot,
    ns: &Namespace,
    cursor: Option<Cursor>,
    caller: Caller,
    listing: Listing,
) -> Result<(Vec<Page>, Option<Cursor>), ProxyError> {
    let servers = offering(snap);
    let (mut at, mut inner) = match cursor {
        None => (0, None),
        Some(c) => {
            let (server, inner) = decode(&c)?;
            // A backend that left since the cursor was made: go on with the next name.
            let at = servers.partition_point(|s| *s < server.as_str());
            let inner = servers.get(at).filter(|s| **s == server).and(inner);
            (at, inner)
        }
    };
    while let Some(server) = servers.get(at).copied() {
        let (_, handle) = ready(snap, server)?;
        let params = inner
            .take()
            .map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
        let request = match listing {
            Listing::Resources => ClientRequest::ListResourcesRequest(match params {
                Some(p) => ListResourcesRequest::with_param(p),
                None => ListResourcesRequest::default(),
            }),
            Listing::Templates => ClientRequest::ListResourceTemplatesRequest(match params {
                Some(p) => ListResourceTemplatesRequest::with_param(p),
                None => ListResourceTemplatesRequest::default(),
            }),
        };
        let rw = Rewriter { ns, server };
        let (page, next, empty) = match handle.request(request, caller.clone()).await {
            Ok(ServerResult::ListResourcesResult(mut r)) => {
                r.resources.iter_mut().for_each(|x| rw.resource(x));
                let (next, empty) = (r.next_cursor.take(), r.resources.is_empty());
                (Page::Resources(r), next, empty)
            }
            Ok(ServerResult::ListResourceTemplatesResult(mut r)) => {
                r.resource_templates.iter_mut().for_each(|x| rw.template(x));
                let (next, empty) = (r.next_cursor.take(), r.resource_templates.is_empty());
                (Page::Templates(r), next, empty)
            }
            Ok(_) => {
                tracing::warn!(backend = server, "unexpected answer to a resource list");
                at += 1;
                continue;
            }
            Err(CallError::Cancelled) => return Err(CallError::Cancelled.into()),
            Err(e) => {
                // One backend's failure must not hide the others' resources.
                tracing::warn!(backend = server, "listing resources failed: {e}");
                at += 1;
                continue;
            }
        };
        let next = match next {
            Some(c) => Some(encode(server, Some(&c))),
            None => servers.get(at + 1).map(|s| encode(s, None)),
        };
        if !empty || next.is_none() {
            return Ok((vec![page], next));
        }
        match next.as_deref().map(decode).transpose()? {
            Some((s, c)) => {
                at = servers.partition_point(|x| *x < s.as_str());
                inner = c;
            }
            None => break,
        }
    }
    Ok((Vec::new(), None))
}

/// `resources/read`, routed by the URI's prefix; the backend's contents come back with
/// their URIs in the client's form. An `InputRequiredResult` passes through untouched.
pub async fn read(
    snap: &Snapshot,
    limits: &Failsafe,
    ns: &Namespace,
    mut params: ReadResourceRequestParams,
    caller: Caller,
) -> Result<ReadResourceResponse, ProxyError> {
    let (server, original) = ns.unwrap(&params.uri)?;
    let (_, handle) = ready(snap, server)?;
    params.uri = original;
    let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params));
    match limits.request(server, handle, request, caller).await? {
        ServerResult::ReadResourceResult(mut result) => {
            Rewriter { ns, server }.read(&mut result);
            // A 2025-era backend sends no `resultType`; 2026-07-28 clients require it
            // (rmcp strips it again for older clients).
            result.result_type.get_or_insert(ResultType::COMPLETE);
            Ok(ReadResourceResponse::Complete(result))
        }
        ServerResult::InputRequiredResult(result) => {
            Ok(ReadResourceResponse::InputRequired(result))
        }
        _ => Err(CallError::Unexpected {
            backend: server.to_owned(),
        }
        .into()),
    }
}

/// `resources/subscribe` or `unsubscribe` for one URI, on the backend that owns it.
pub async fn subscribe(
    snap: &Snapshot,
    ns: &Namespace,
    uri: &str,
    on: bool,
    caller: Caller,
) -> Result<(), ProxyError> {
    let (server, original) = ns.unwrap(uri)?;
    let (entry, handle) = ready(snap, server)?;
    let supports = entry
        .server
        .as_ref()
        .and_then(|s| s.capabilities.resources.as_ref())
        .is_some_and(|r| r.subscribe == Some(true));
    if !supports {
        return Err(ProxyError::NotOffered {
            backend: server.to_owned(),
            what: "resource subscriptions",
        });
    }
    let request = if on {
        ClientRequest::SubscribeRequest(SubscribeRequest::new(SubscribeRequestParams::new(
            original,
        )))
    } else {
        ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(UnsubscribeRequestParams::new(
            original,
        )))
    };
    handle.request(request, caller).await?;
    Ok(())
}
