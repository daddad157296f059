//! Asking the user before a call: an `elicitation/create` request (form mode, one boolean
//! `confirm` field) to the client, naming the server, the tool and the arguments.
//!
//! Only an explicit yes lets the call through. Everything else — decline, cancel, an
//! unticked box, a client that cannot be asked, an error — means no backend call.

use std::time::Duration;

use rmcp::model::{
    ElicitRequestParams, ElicitationAction, ElicitationSchema, JsonObject, ProtocolVersion,
};
use rmcp::service::ElicitationMode;
use rmcp::{Peer, RoleServer};
use tokio_util::sync::CancellationToken;

/// How long the user has to answer. A person reads and decides; a client that never
/// answers must not hold the call forever.
const ANSWER_WAIT: Duration = Duration::from_secs(300);
/// Longest argument text shown to the user, in characters.
const ARGUMENTS_CHARS: usize = 2000;
/// The form's one field.
pub const FIELD: &str = "confirm";

/// What asking produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    Confirmed,
    /// The user said no (or did not say yes); the text says how.
    Declined(String),
    /// The user could not be asked; the text says why.
    Unavailable(String),
}

/// Asks the user of `peer` to confirm calling `tool` on `server` with `arguments`.
///
/// With no peer the call comes from the terminal (`mcp-gateway call`), where the user typed
/// the server, tool and arguments themselves: that is the confirmation.
pub async fn ask(
    peer: Option<&Peer<RoleServer>>,
    server: &str,
    tool: &str,
    arguments: &JsonObject,
    reason: &str,
    cancelled: &CancellationToken,
) -> Confirmation {
    let Some(peer) = peer else {
        return Confirmation::Confirmed;
    };
    // An initialize-era client has peer info; a 2026-07-28 client never sends
    // `initialize`, and that revision forbids requests from the server to the client.
    let version = peer.peer_info().map(|i| i.protocol_version.clone());
    if version
        .as_ref()
        .is_none_or(|v| *v >= ProtocolVersion::V_2026_07_28)
    {
        return Confirmation::Unavailable(
            "this client speaks MCP 2026-07-28, where a server may not send requests \
             (such as elicitation) to the client during a call"
                .into(),
        );
    }
    if !peer
        .supported_elicitation_modes()
        .contains(&ElicitationMode::Form)
    {
        return Confirmation::Unavailable(
            "the client did not declare the `elicitation` capability (form mode), so the \
             gateway cannot ask the user"
                .into(),
        );
    }
    let schema = ElicitationSchema::builder()
        .required_bool_with(FIELD, |b| {
            b.title(format!("Run {tool} on {server}"))
                .description("Tick to let this call through; anything else stops it.")
        })
        .build();
    let schema = match schema {
        Ok(s) => s,
        Err(e) => return Confirmation::Unavailable(format!("cannot build the question: {e}")),
    };
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: message(server, tool, arguments, reason),
        requested_schema: schema,
    };
    let answer = tokio::select! {
        a = peer.create_elicitation_with_timeout(params, Some(ANSWER_WAIT)) => a,
        () = cancelled.cancelled() => {
            return Confirmation::Declined("the client cancelled the call".into());
        }
    };
    match answer {
        Ok(result) => match result.action {
            ElicitationAction::Accept => {
                let yes = result
                    .content
                    .as_ref()
                    .and_then(|c| c.get(FIELD))
                    .and_then(serde_json::Value::as_bool)
                    == Some(true);
                if yes {
                    Confirmation::Confirmed
                } else {
                    Confirmation::Declined(format!("the user did not tick `{FIELD}`"))
                }
            }
            ElicitationAction::Decline => Confirmation::Declined("the user declined".into()),
            ElicitationAction::Cancel => Confirmation::Declined("the user cancelled".into()),
            // A newer answer this build does not know is not a yes.
            _ => Confirmation::Declined("the client gave no clear yes".into()),
        },
        Err(e) => Confirmation::Unavailable(format!("asking the user failed: {e}")),
    }
}

/// What the user reads: who is called, with what, and why the gateway asks.
fn message(server: &str, tool: &str, arguments: &JsonObject, reason: &str) -> String {
    let args = serde_json::to_string_pretty(arguments).unwrap_or_default();
    let args = match args.char_indices().nth(ARGUMENTS_CHARS) {
        Some((cut, _)) => format!("{}… (cut)", &args[..cut]),
        None => args,
    };
    format!(
        "Allow the call to tool `{tool}` on server `{server}`?\n\
         Arguments: {args}\n\
         Asked because {reason}."
    )
}
