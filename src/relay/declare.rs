//! The client capabilities declared to backends: a mirror of the real client's
//! sampling, elicitation and roots — sub-capabilities included (sampling `tools` and
//! `context`, elicitation `form`/`url`, roots `listChanged`) — and nothing else, so a
//! backend never asks for something the client cannot give.

// Sampling and roots are deprecated by SEP-2577, yet initialize-era clients use them.
#![allow(deprecated)]

use rmcp::model::ClientCapabilities;

/// What a backend is told the client can do. `experimental` and `extensions` are left
/// out: the gateway relays no request they could stand for.
pub(super) fn mirror(client: &ClientCapabilities) -> ClientCapabilities {
    let mut declared = ClientCapabilities::default();
    declared.sampling.clone_from(&client.sampling);
    declared.elicitation.clone_from(&client.elicitation);
    declared.roots.clone_from(&client.roots);
    declared
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn caps(value: serde_json::Value) -> ClientCapabilities {
        serde_json::from_value(value).unwrap_or_default()
    }

    #[test]
    fn exactly_what_the_client_declared() {
        let client = caps(json!({
            "sampling": {"tools": {}},
            "elicitation": {"form": {}, "url": {}},
            "roots": {"listChanged": true},
            "experimental": {"x": {}},
            "extensions": {"io.example/y": {}},
        }));
        let declared = serde_json::to_value(mirror(&client)).unwrap_or_default();
        assert_eq!(
            declared,
            json!({
                "sampling": {"tools": {}},
                "elicitation": {"form": {}, "url": {}},
                "roots": {"listChanged": true},
            })
        );
    }

    #[test]
    fn never_more_than_the_client_declared() {
        let client = caps(json!({"elicitation": {}, "roots": {}}));
        let declared = serde_json::to_value(mirror(&client)).unwrap_or_default();
        assert_eq!(declared, json!({"elicitation": {}, "roots": {}}));
        let none = serde_json::to_value(mirror(&caps(json!({})))).unwrap_or_default();
        assert_eq!(none, json!({}));
    }
}
