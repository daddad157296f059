//! `mcp-gateway search` and `mcp-gateway call`: the gateway's engine for a person at a
//! terminal. Starts the backends, waits for them with a progress line, prints the result.
#![allow(clippy::print_stdout)] // these commands print their results for a person

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use serde_json::{Value, json};

use super::engine::Engine;
use crate::backend::Caller;
use crate::config::Config;
use crate::gateway::Outcome;
use crate::gateway::meta::MetaTool;
use crate::registry::{ServerState, Snapshot};

/// How long `search` waits for tool embeddings before answering with words only.
const SEMANTIC_LIMIT: Duration = Duration::from_secs(300);

pub(super) async fn search(
    config: Config,
    query: &str,
    limit: usize,
    server: Option<String>,
    as_json: bool,
    wait: Duration,
) -> anyhow::Result<ExitCode> {
    let engine = Engine::start(&config)?;
    engine.settle(wait).await;
    // A first search waits for the index to catch up and starts the semantic channel;
    // the answer printed is the one after the tools' embeddings are ready.
    let _ = engine
        .gateway
        .call_meta(
            MetaTool::SearchTools,
            as_object(json!({ "query": query, "limit": 1 })),
            Caller::default(),
        )
        .await;
    engine.wait_semantic(SEMANTIC_LIMIT).await;
    let snap = engine.gateway.registry().snapshot();
    let mut args = json!({ "query": query, "limit": limit });
    if let Some(server) = server {
        args["server"] = json!(server);
    }
    let outcome = engine
        .gateway
        .call_meta(MetaTool::SearchTools, as_object(args), Caller::default())
        .await;
    engine.stop().await;
    let value = match outcome {
        Outcome::Structured(value) => value,
        Outcome::Failed(message) => bail!(message),
        Outcome::Backend(_) => bail!("unexpected backend result from search"),
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let matches = value["matches"].as_array().cloned().unwrap_or_default();
    if matches.is_empty() {
        println!("no tools match `{query}`");
    }
    for m in &matches {
        println!(
            "{:>7.3}  {}/{}\n         {}",
            m["score"].as_f64().unwrap_or(0.0),
            m["server"].as_str().unwrap_or(""),
            m["tool"].as_str().unwrap_or(""),
            m["description"].as_str().unwrap_or("")
        );
    }
    report_unready(&snap, wait);
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn call(
    config: Config,
    server: &str,
    tool: &str,
    arguments: &str,
    as_json: bool,
    wait: Duration,
) -> anyhow::Result<ExitCode> {
    let arguments: Value =
        serde_json::from_str(arguments).context("ARGUMENTS must be a JSON object")?;
    let Some(arguments) = as_object(arguments) else {
        bail!("ARGUMENTS must be a JSON object");
    };
    let engine = Engine::start(&config)?;
    engine.settle_one(server, wait).await;
    let still_starting = engine
        .gateway
        .registry()
        .snapshot()
        .server(server)
        .is_some_and(|s| s.state == ServerState::Starting);
    if still_starting {
        engine.stop().await;
        bail!("backend `{server}` is {}", super::engine::slow_start(wait));
    }
    let outcome = engine
        .gateway
        .invoke(
            server,
            tool,
            arguments,
            Caller::default(),
            crate::policy::Route::Invoke,
        )
        .await;
    engine.stop().await;
    let result = match outcome {
        Outcome::Backend(result) => result,
        Outcome::Failed(message) => bail!(message),
        Outcome::Structured(value) => CallToolResult::structured(value),
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print_result(&result);
    }
    Ok(if result.is_error == Some(true) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_result(result: &CallToolResult) {
    for block in &result.content {
        match block {
            ContentBlock::Text(t) => println!("{}", t.text),
            ContentBlock::Image(i) => {
                println!("[image {}, {} bytes base64]", i.mime_type, i.data.len());
            }
            ContentBlock::Audio(a) => {
                println!("[audio {}, {} bytes base64]", a.mime_type, a.data.len());
            }
            other => println!(
                "{}",
                serde_json::to_string_pretty(other).unwrap_or_default()
            ),
        }
    }
    if let Some(structured) = &result.structured_content
        && result.content.is_empty()
    {
        println!(
            "{}",
            serde_json::to_string_pretty(structured).unwrap_or_default()
        );
    }
}

fn as_object(value: Value) -> Option<JsonObject> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn report_unready(snap: &Snapshot, wait: Duration) {
    for s in snap.servers.values() {
        match s.state {
            ServerState::Failed => eprintln!(
                "note: backend `{}` failed: {}",
                s.name,
                s.last_error.as_deref().unwrap_or("unknown error")
            ),
            ServerState::Starting => eprintln!(
                "note: backend `{}` is {}; its tools are not in these results",
                s.name,
                super::engine::slow_start(wait)
            ),
            _ => {}
        }
    }
}
