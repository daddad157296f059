//! Property-style robustness tests for the parsers of untrusted input (capability YAML and
//! OpenAPI documents): thousands of random mutations of real documents must produce a value
//! or an error, never a panic or a hang. A tiny xorshift keeps them reproducible without a
//! fuzzing dependency.

#![cfg(test)]
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::openapi::{self, Options};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const CAPABILITY: &str = include_str!("../../capabilities/security/osv_query.yaml");
const PIECES: &[&str] = &[
    "{",
    "}",
    "{x}",
    "{env.HOME}",
    "{keychain.a}",
    ":",
    "- ",
    "\n",
    "  ",
    "'",
    "\"",
    "#",
    "&a",
    "*a",
    "null",
    "1e999",
    "sha256: 00\n",
    "\u{feff}",
    "é",
    "\t",
    "[",
    "]",
    "?",
    "..",
];

#[test]
fn mutated_capability_files_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..1500 {
        let mut text = CAPABILITY.to_owned();
        for _ in 0..=rng.below(4) {
            let mut at = rng.below(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(3) {
                0 => text.insert_str(at, PIECES[rng.below(PIECES.len())]),
                1 => {
                    let mut end = (at + rng.below(40)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(at..end, "");
                }
                _ => {
                    let line = text[at..].lines().next().unwrap_or("").to_owned();
                    text.insert_str(at, &line);
                }
            }
        }
        let _ = super::load::load_text(&text);
    }
}

fn mutate(value: &mut Value, rng: &mut Rng, depth: usize) {
    let replacements = [
        json!(null),
        json!(1),
        json!("{x}"),
        json!([]),
        json!({}),
        json!({"$ref": "#/components/schemas/Pet"}),
        json!({"$ref": "#/paths"}),
        json!({"$ref": "#/nowhere"}),
        json!({"$ref": "http://remote/x"}),
    ];
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.below(keys.len())];
            if depth > 0 && rng.below(3) > 0 {
                mutate(map.get_mut(key).unwrap(), rng, depth - 1);
            } else {
                map.insert(
                    key.clone(),
                    replacements[rng.below(replacements.len())].clone(),
                );
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = rng.below(items.len());
            mutate(&mut items[i], rng, depth.saturating_sub(1));
        }
        other => *other = replacements[rng.below(replacements.len())].clone(),
    }
}

#[test]
fn mutated_openapi_documents_never_panic() {
    let docs = [
        include_str!("../../tests/fixtures/openapi/petstore-swagger2.json"),
        include_str!("../../tests/fixtures/openapi/petstore-3.0.yaml"),
        include_str!("../../tests/fixtures/openapi/petstore-3.1.yaml"),
    ];
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let options = Options {
        base_url: None,
        ..Options::default()
    };
    for text in docs {
        let doc = openapi::parse(text).unwrap();
        for _ in 0..300 {
            let mut doc = doc.clone();
            for _ in 0..=rng.below(3) {
                mutate(&mut doc, &mut rng, 8);
            }
            let _ = openapi::import(&doc, &options);
        }
    }
}

#[test]
fn self_referencing_refs_terminate() {
    let doc = json!({
        "openapi": "3.0.0",
        "servers": [{"url": "https://x.example"}],
        "paths": {"/a": {"$ref": "#/paths/~1a", "get": {"parameters": [{"$ref": "#/p"}]}}},
        "p": {"$ref": "#/p"}
    });
    let report = openapi::import(&doc, &Options::default()).unwrap();
    assert!(report.generated.len() + report.skipped.len() <= 1);
}
