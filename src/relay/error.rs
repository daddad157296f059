//! Why a backend's request could not be relayed, and the JSON-RPC error the backend gets
//! for it: always explicit and explained, never a silent decline or an empty list.

use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::ErrorCode;
use serde_json::json;

/// The code the MCP SDKs use for a request that timed out (`RequestTimeout`).
const REQUEST_TIMEOUT: ErrorCode = ErrorCode(-32001);

/// Why a server→client request got no answer from the client.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(
        "`{method}` cannot be relayed: no MCP client has completed an initialize handshake with \
         the gateway (none is connected yet, or this is a terminal command)"
    )]
    NoClient { method: &'static str },
    #[error(
        "`{method}` cannot be relayed: the client speaks MCP 2026-07-28, where servers may not \
         send requests to clients; the gateway turns a backend's request into an \
         InputRequiredResult only during a tool call, and this one came outside any (at start, \
         or during a prompt, resource or completion request)"
    )]
    ModernClient { method: &'static str },
    #[error(
        "`{method}` cannot be relayed: the client speaks MCP 2026-07-28, where it is asked \
         through an InputRequiredResult, and this request's parameters do not fit that \
         protocol's types"
    )]
    Untyped { method: &'static str },
    #[error(
        "`{method}` cannot be relayed: the client `{client}` did not declare the `{capability}` \
         capability (and the gateway declared none to this backend)"
    )]
    NotDeclared {
        method: &'static str,
        capability: &'static str,
        client: String,
    },
    #[error(
        "`{method}` cannot be relayed: calls from several clients to this backend are in flight, \
         and its request does not say which call it belongs to"
    )]
    Ambiguous { method: &'static str },
    #[error("the client did not answer `{method}` within {timeout:?}")]
    Timeout {
        method: &'static str,
        timeout: Duration,
    },
    #[error("the client went away before answering `{method}`")]
    Closed { method: &'static str },
    #[error("the client answered `{method}` with a result of another kind")]
    Unexpected { method: &'static str },
    #[error("the backend cancelled its `{method}` request")]
    Cancelled { method: &'static str },
    /// The client's own error, passed on as it gave it.
    #[error("the client answered with an error: {0:?}")]
    Client(ErrorData),
}

impl RelayError {
    /// A short machine-readable name for `error.data.reason`.
    fn reason(&self) -> &'static str {
        match self {
            RelayError::NoClient { .. } => "no_client",
            RelayError::ModernClient { .. } => "client_protocol_2026_07_28",
            RelayError::Untyped { .. } => "not_an_input_request",
            RelayError::NotDeclared { .. } => "client_capability_not_declared",
            RelayError::Ambiguous { .. } => "client_ambiguous",
            RelayError::Timeout { .. } => "client_timeout",
            RelayError::Closed { .. } => "client_closed",
            RelayError::Unexpected { .. } => "unexpected_response",
            RelayError::Cancelled { .. } => "cancelled",
            RelayError::Client(_) => "client_error",
        }
    }
}

impl From<RelayError> for ErrorData {
    fn from(error: RelayError) -> ErrorData {
        let reason = error.reason();
        let message = format!("mcp-gateway: {error}");
        let data = Some(json!({"reason": reason}));
        match error {
            RelayError::Client(error) => error,
            // What a client without the feature answers: it has no such method.
            RelayError::NoClient { .. }
            | RelayError::ModernClient { .. }
            | RelayError::Untyped { .. }
            | RelayError::NotDeclared { .. } => {
                ErrorData::new(ErrorCode::METHOD_NOT_FOUND, message, data)
            }
            RelayError::Timeout { .. } => ErrorData::new(REQUEST_TIMEOUT, message, data),
            RelayError::Closed { .. }
            | RelayError::Ambiguous { .. }
            | RelayError::Unexpected { .. }
            | RelayError::Cancelled { .. } => ErrorData::internal_error(message, data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_is_explained_on_the_wire() {
        let modern = ErrorData::from(RelayError::ModernClient {
            method: "roots/list",
        });
        assert_eq!(modern.code, ErrorCode::METHOD_NOT_FOUND);
        assert!(modern.message.contains("2026-07-28"), "{}", modern.message);
        assert!(modern.message.contains("roots/list"), "{}", modern.message);
        assert_eq!(
            modern.data,
            Some(json!({"reason": "client_protocol_2026_07_28"}))
        );
        let missing = ErrorData::from(RelayError::NotDeclared {
            method: "sampling/createMessage",
            capability: "sampling.tools",
            client: "claude-code".into(),
        });
        assert!(
            missing
                .message
                .contains("`claude-code` did not declare the `sampling.tools`"),
            "{}",
            missing.message
        );
        let late = ErrorData::from(RelayError::Timeout {
            method: "elicitation/create",
            timeout: Duration::from_secs(600),
        });
        assert_eq!(late.code, REQUEST_TIMEOUT);
        // The client's own error is the client's.
        let own = ErrorData::invalid_params("user rejected", None);
        assert_eq!(ErrorData::from(RelayError::Client(own.clone())), own);
    }
}
