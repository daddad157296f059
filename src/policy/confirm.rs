//! Asking the user before a call: an `elicitation/create` request (form mode, one boolean
//! `confirm` field) to the client, naming the server, the tool and the arguments.
//!
//! Only an explicit yes lets the call through. Everything else — decline, cancel, an
//! unticked box, a client that cannot be asked, an error — means no backend call.

use std::time::Duration;

use rmcp::model::{
    ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, JsonObject,
    ProtocolVersion,
};
use rmcp::service::ElicitationMode;

use crate::target::Caller;

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

/// Asks the user of `caller` to confirm calling `tool` on `server` with `arguments`.
///
/// With no peer the call comes from the terminal (`mcp-gateway call`), where the user typed
/// the server, tool and arguments themselves: that is the confirmation.
pub async fn ask(
    caller: &Caller,
    server: &str,
    tool: &str,
    arguments: &JsonObject,
    reason: &str,
) -> Confirmation {
    let Some(peer) = &caller.peer else {
        return Confirmation::Confirmed;
    };
    let params = match question(server, tool, arguments, reason) {
        Ok(params) => params,
        Err(e) => return Confirmation::Unavailable(format!("cannot build the question: {e}")),
    };
    // A 2026-07-28 client is asked inside an `InputRequiredResult` (see `mrtr`).
    if let Some(round) = &caller.round {
        return match round.elicit(params, ANSWER_WAIT, &caller.cancelled).await {
            Ok(result) => read(&result),
            Err(e) => Confirmation::Unavailable(format!("asking the user failed: {e}")),
        };
    }
    // An initialize-era client has peer info; a 2026-07-28 client never sends
    // `initialize`, and that revision forbids requests from the server to the client.
    let version = peer.peer_info().map(|i| i.protocol_version.clone());
    if version
        .as_ref()
        .is_none_or(|v| *v >= ProtocolVersion::V_2026_07_28)
    {
        return Confirmation::Unavailable(
            "this client speaks MCP 2026-07-28, where a server may not send requests \
             (such as elicitation) to the client, and this request is not a tool call the \
             gateway can answer with an InputRequiredResult"
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
    let answer = tokio::select! {
        a = peer.create_elicitation_with_timeout(params, Some(ANSWER_WAIT)) => a,
        () = caller.cancelled.cancelled() => {
            return Confirmation::Declined("the client cancelled the call".into());
        }
    };
    match answer {
        Ok(result) => read(&result),
        Err(e) => Confirmation::Unavailable(format!("asking the user failed: {e}")),
    }
}

/// The form: one required box to tick.
fn question(
    server: &str,
    tool: &str,
    arguments: &JsonObject,
    reason: &str,
) -> Result<ElicitRequestParams, String> {
    let schema = ElicitationSchema::builder()
        .required_bool_with(FIELD, |b| {
            b.title(format!("Run {tool} on {server}"))
                .description("Tick to let this call through; anything else stops it.")
        })
        .build()?;
    Ok(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: message(server, tool, arguments, reason),
        requested_schema: schema,
    })
}

/// Only an accepted form with the box ticked is a yes.
fn read(result: &ElicitResult) -> Confirmation {
    match result.action {
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
