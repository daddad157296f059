//! Property tests of every parser that reads text someone else wrote: JSON-RPC framing,
//! `gateway.yaml`, capability YAML, and the client config files (JSONC, Codex TOML, their
//! server entries). Arbitrary and mutated input never panics and yields a value or a typed
//! error; framing agrees with a model of it however the bytes arrive; a JSONC edit
//! followed by its undo gives back the file byte for byte.
//!
//! Case counts are small so the suite stays fast in CI; `PROPTEST_CASES=10000` runs more.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use mcp_gateway::capability;
use mcp_gateway::config::{Config, parse_duration, parse_rate};
use mcp_gateway::export::import::{self, Workspace};
use mcp_gateway::export::{Client, jsonc, jsonc_edit, toml as codex_toml};
use mcp_gateway::framing::{Frame, LineReader, Oversized};
use proptest::prelude::*;
use proptest::test_runner::Config as Cases;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, ReadBuf};

/// 64 cases each unless `PROPTEST_CASES` says otherwise.
fn cases() -> Cases {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    Cases::with_cases(n)
}

// ---------------------------------------------------------------- framing

/// Bytes handed out in the given chunk sizes, one chunk per read: every way a pipe
/// may split a message.
struct Chunked {
    data: Vec<u8>,
    at: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let size = self.sizes[self.turn % self.sizes.len()].max(1);
        self.turn += 1;
        let end = (self.at + size)
            .min(self.data.len())
            .min(self.at + buf.remaining());
        let at = self.at;
        buf.put_slice(&self.data[at..end]);
        self.at = end;
        Poll::Ready(Ok(()))
    }
}

#[derive(Debug, PartialEq)]
enum Seen {
    Line(Vec<u8>),
    Oversized(usize),
}

fn read_all(data: Vec<u8>, sizes: Vec<usize>, max: usize) -> (Vec<Seen>, Vec<Oversized>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut reader = LineReader::new(
            Chunked {
                data,
                at: 0,
                sizes,
                turn: 0,
            },
            max,
        );
        let (mut seen, mut over) = (Vec::new(), Vec::new());
        loop {
            match reader.next().await {
                Frame::Line => seen.push(Seen::Line(reader.line().to_vec())),
                Frame::Oversized(o) => {
                    seen.push(Seen::Oversized(o.size));
                    over.push(o);
                }
                Frame::Eof => return (seen, over),
                Frame::Io(e) => panic!("in-memory read failed: {e}"),
            }
        }
    })
}

/// What the reader must make of `lines` (each followed by `\n`) under limit `max`.
fn model(lines: &[Vec<u8>], max: usize) -> Vec<Seen> {
    let mut out = Vec::new();
    for raw in lines {
        // Past the limit while reading (a `\r\n` may take two bytes over it).
        if raw.len() + 1 > max + 2 {
            out.push(Seen::Oversized(raw.len()));
            continue;
        }
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if line.len() > max {
            out.push(Seen::Oversized(raw.len()));
        } else {
            out.push(Seen::Line(line.to_vec()));
        }
    }
    out
}

/// Line bytes drawn mostly from JSON's alphabet, with `\r`, a BOM and invalid UTF-8.
fn line_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"{}[]\":,0123456789 abcidmethod\\".to_vec()),
        1 => Just(b'\r'),
        1 => any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
    ];
    let body = prop::collection::vec(byte, 0..80);
    (any::<bool>(), body).prop_map(|(bom, body)| {
        let mut line = if bom {
            b"\xEF\xBB\xBF".to_vec()
        } else {
            Vec::new()
        };
        line.extend(body);
        line
    })
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~\\\\\"é\u{1F600}]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_\"]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn framing_agrees_with_its_model_however_the_bytes_arrive(
        lines in prop::collection::vec(line_bytes(), 0..8),
        tail in line_bytes(),
        sizes in prop::collection::vec(1usize..70, 1..6),
        max in 0usize..64,
    ) {
        let mut data = Vec::new();
        for line in &lines {
            data.extend_from_slice(line);
            data.push(b'\n');
        }
        // A last line without its newline is never a message.
        data.extend_from_slice(&tail);
        let (seen, _) = read_all(data, sizes, max);
        prop_assert_eq!(seen, model(&lines, max));
    }

    #[test]
    fn an_oversized_message_still_names_its_id_and_kind(
        id in prop_oneof![any::<i64>().prop_map(|n| json!(n)), "[ -~]{0,20}".prop_map(Value::String)],
        params in json_value(),
        method in any::<bool>(),
        sizes in prop::collection::vec(1usize..50, 1..4),
    ) {
        let mut message = serde_json::Map::new();
        message.insert("jsonrpc".into(), json!("2.0"));
        message.insert("params".into(), params);
        message.insert("id".into(), id.clone());
        if method {
            message.insert("method".into(), json!("tools/call"));
        }
        let text = serde_json::to_string(&Value::Object(message)).unwrap();
        let mut data = text.clone().into_bytes();
        data.push(b'\n');
        let (_, over) = read_all(data, sizes, 8);
        prop_assert_eq!(over.len(), 1);
        prop_assert_eq!(over[0].size, text.len());
        prop_assert_eq!(over[0].id.as_ref(), Some(&id), "{}", text);
        prop_assert_eq!(over[0].has_method, method);
    }
}

// ---------------------------------------------------------------- gateway.yaml

const GATEWAY_YAML: &str = "mode: meta
backends:
  fs:
    command: npx
    args: [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"${HOME}/src\"]
    env: { API_KEY: \"${TOKEN}\" }
    timeout: 30s
    max_concurrency: 4
    rate_limit: 10/s
    circuit_breaker: { failures: 3, cool_down: 10s }
  remote:
    url: https://example.com/mcp
    headers: { Authorization: \"Bearer ${TOKEN}\" }
surfaced_tools:
  - { server: fs, tool: read_text_file }
policy:
  confirm_destructive: true
limits:
  max_message_bytes: 4MiB
";

/// A mutation of `text`: bytes cut out, YAML-ish text put in, a line repeated.
fn mutated(text: &'static str) -> impl Strategy<Value = String> {
    let len = text.len();
    let edit = prop_oneof![
        (0..len, 0usize..12).prop_map(|(at, n)| (at, n, String::new())),
        (0..len, "[ :\\-\\[\\]{}#&*!|>'\"%@`,?\n\t a-z0-9${}]{1,8}").prop_map(|(at, s)| (at, 0, s)),
    ];
    prop::collection::vec(edit, 1..5).prop_map(move |edits| {
        let mut out = text.as_bytes().to_vec();
        for (at, cut, put) in edits {
            let at = at.min(out.len());
            let end = (at + cut).min(out.len());
            out.splice(at..end, put.bytes());
        }
        String::from_utf8_lossy(&out).into_owned()
    })
}

fn env(name: &str) -> Option<String> {
    (name == "HOME").then(|| "/home/u".to_owned())
}

fn check_config(text: &str) -> Result<(), TestCaseError> {
    let file = Path::new("/cfg/gateway.yaml");
    match Config::from_yaml_with_env(text, file, &env) {
        Ok(_) => {}
        Err(e) => {
            let message = e.to_string();
            prop_assert!(!message.trim().is_empty());
            if let Some(line) = e.location().and_then(|at| at.line) {
                // YAML breaks lines at `\n`, `\r\n` and a lone `\r`; an error at the end of
                // the input may point one line past the last.
                let breaks = text.replace("\r\n", "\n").matches(['\n', '\r']).count();
                prop_assert!(line >= 1 && line <= breaks + 2, "{}", message);
                prop_assert!(message.starts_with("/cfg/gateway.yaml:"), "{}", message);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn gateway_yaml_mutations_load_or_fail_with_a_position(text in mutated(GATEWAY_YAML)) {
        check_config(&text)?;
    }

    #[test]
    fn gateway_yaml_arbitrary_text_loads_or_fails(text in "(?s).{0,200}") {
        check_config(&text)?;
    }

    #[test]
    fn durations_and_rates_parse_or_say_why(text in "[0-9./ a-z-]{0,12}") {
        let _ = parse_duration(&text);
        if let Err(e) = parse_rate(&text) {
            prop_assert!(e.contains("10/s"), "{}", e);
        }
    }

    #[test]
    fn rates_round_trip(calls in 1u32..100_000, n in 1u64..1000, unit in prop::sample::select(vec!["ms", "s", "m", "h"])) {
        let rate = parse_rate(&format!("{calls}/{n}{unit}")).unwrap();
        prop_assert_eq!(rate.calls, calls);
        let ms = match unit { "ms" => n, "s" => n * 1000, "m" => n * 60_000, _ => n * 3_600_000 };
        prop_assert_eq!(rate.per.as_millis(), u128::from(ms));
    }
}

// ---------------------------------------------------------------- capability YAML

const CAPABILITY: &str = include_str!("../../capabilities/code/github_repository.yaml");

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn capability_yaml_mutations_parse_or_fail(text in mutated(CAPABILITY)) {
        if let Err(e) = capability::parse(&text) {
            prop_assert!(!e.to_string().trim().is_empty());
        }
    }

    #[test]
    fn capability_yaml_arbitrary_text_parses_or_fails(text in "(?s).{0,200}") {
        let _ = capability::parse(&text);
        let _ = capability::load_text(&text);
    }
}

// ---------------------------------------------------------------- client config files

/// A client config file: servers under `mcpServers`, other keys around them, comments,
/// and one of several layouts (indent, line ending, trailing comma).
fn jsonc_file() -> impl Strategy<Value = String> {
    let server = (
        "[a-z][a-z0-9-]{0,8}",
        "[a-z.]{1,10}",
        prop::collection::vec("[a-z-]{1,6}", 0..3),
    );
    (
        prop::collection::vec(server, 0..4),
        prop::sample::select(vec!["  ", "    ", "\t"]),
        prop::sample::select(vec!["\n", "\r\n"]),
        any::<bool>(),
        any::<bool>(),
        "[a-z ]{0,12}",
    )
        .prop_map(|(servers, unit, nl, comments, trailing, note)| {
            let mut out = format!("{{{nl}");
            if comments {
                out.push_str(&format!("{unit}// {note}{nl}"));
            }
            out.push_str(&format!("{unit}\"theme\": \"dark\",{nl}{unit}\"mcpServers\": {{{nl}"));
            let mut seen = std::collections::HashSet::new();
            let servers: Vec<_> = servers.into_iter().filter(|(n, _, _)| seen.insert(n.clone()) && n != "gateway").collect();
            for (i, (name, command, args)) in servers.iter().enumerate() {
                let args: Vec<String> = args.iter().map(|a| format!("\"{a}\"")).collect();
                let comma = if i + 1 < servers.len() || trailing { "," } else { "" };
                out.push_str(&format!(
                    "{unit}{unit}\"{name}\": {{ \"command\": \"{command}\", \"args\": [{}] }}{comma}",
                    args.join(", ")
                ));
                if comments {
                    out.push_str(&format!(" /* {note} */"));
                }
                out.push_str(nl);
            }
            out.push_str(&format!("{unit}}}{nl}}}{nl}"));
            out
        })
}

fn entry() -> jsonc_edit::Entry {
    vec![
        ("command".to_owned(), json!("/usr/bin/mcp-gateway")),
        ("args".to_owned(), json!(["serve"])),
    ]
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn jsonc_arbitrary_text_parses_or_fails_with_a_position(text in "(?s)[ -~\n\t/*{}\\[\\]\",:]{0,120}") {
        match jsonc::parse(&text) {
            Ok(node) => {
                // Where plain JSON reads it too, both read the same value.
                if let Ok(plain) = serde_json::from_str::<Value>(&text) {
                    prop_assert_eq!(node.to_value(), plain);
                }
            }
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                prop_assert!(e.line >= 1 && e.line <= text.split('\n').count(), "{:?}", e);
                prop_assert!(e.column >= 1, "{:?}", e);
            }
        }
        let _ = jsonc_edit::set_member(&text, &["mcpServers"], "gateway", &entry());
        let _ = jsonc_edit::remove_member(&text, &["mcpServers"], "gateway");
    }

    #[test]
    fn jsonc_reads_what_serde_json_writes(value in json_value()) {
        let text = serde_json::to_string_pretty(&value).unwrap();
        prop_assert_eq!(jsonc::parse(&text).unwrap().to_value(), value);
    }

    #[test]
    fn a_jsonc_edit_keeps_everything_else_and_its_undo_is_exact(text in jsonc_file()) {
        let before = jsonc::parse(&text).unwrap().to_value();
        let added = jsonc_edit::set_member(&text, &["mcpServers"], "gateway", &entry()).unwrap();
        let after = jsonc::parse(&added).unwrap().to_value();
        prop_assert_eq!(&after["mcpServers"]["gateway"], &json!({"command": "/usr/bin/mcp-gateway", "args": ["serve"]}));
        let mut without = after.clone();
        without["mcpServers"].as_object_mut().unwrap().remove("gateway");
        prop_assert_eq!(&without, &before);
        // Every comment and line ending of the user's is still there.
        for comment in text.split("//").skip(1).chain(text.split("/*").skip(1)) {
            let comment = comment.split(['\n', '*']).next().unwrap();
            prop_assert!(added.contains(comment));
        }
        prop_assert_eq!(added.contains("\r\n"), text.contains("\r\n"));
        prop_assert_eq!(jsonc_edit::set_member(&added, &["mcpServers"], "gateway", &entry()).unwrap(), added.clone(), "idempotent");
        let removed = jsonc_edit::remove_member(&added, &["mcpServers"], "gateway").unwrap();
        if before["mcpServers"].as_object().is_some_and(|m| !m.is_empty()) {
            prop_assert_eq!(removed, text);
        } else {
            // An empty container's inside whitespace (`{\n  }`) comes back as `{}`.
            prop_assert_eq!(jsonc::parse(&removed).unwrap().to_value(), before);
        }
    }

    #[test]
    fn codex_toml_arbitrary_text_reads_or_fails(text in "(?s)[ -~\n\\[\\]=\"#.]{0,120}") {
        let _ = codex_toml::to_json(&text);
        let _ = codex_toml::set_member(&text, "mcp_servers", "gateway", &entry());
        let _ = codex_toml::remove_member(&text, "mcp_servers", "gateway");
    }

    #[test]
    fn codex_toml_edit_keeps_other_servers(names in prop::collection::btree_set("[a-z][a-z0-9_]{0,6}", 0..4)) {
        let mut text = String::from("model = \"o3\" # mine\n");
        for name in names.iter().filter(|n| *n != "gateway") {
            text.push_str(&format!("\n[mcp_servers.{name}]\ncommand = \"{name}\"\n"));
        }
        let before = codex_toml::to_json(&text).unwrap();
        let added = codex_toml::set_member(&text, "mcp_servers", "gateway", &entry()).unwrap();
        prop_assert!(added.contains("model = \"o3\" # mine"));
        let mut after = codex_toml::to_json(&added).unwrap();
        prop_assert_eq!(&after["mcp_servers"]["gateway"]["command"], &json!("/usr/bin/mcp-gateway"));
        let servers = after["mcp_servers"].as_object_mut().unwrap();
        servers.remove("gateway");
        if servers.is_empty() {
            after.as_object_mut().unwrap().remove("mcp_servers");
        }
        prop_assert_eq!(after, before);
    }

    #[test]
    fn client_server_entries_import_or_say_why(value in json_value(), root in json_value(), key in "[ -~]{0,12}") {
        for client in Client::ALL {
            for workspace in [Workspace::Outside, Workspace::Inside(".")] {
                if let Err(why) = import::from_entry(client, &key, &value, &root, workspace) {
                    prop_assert!(!why.trim().is_empty());
                }
            }
        }
    }
}
