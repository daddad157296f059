//! The semantic channel's model against its reference: token ids from Hugging Face
//! `tokenizers` and embeddings from an exact numpy forward pass
//! (`tests/fixtures/embed/make_reference.py`), on texts with accents, CJK, control
//! characters, URLs, identifiers, over-long words and over-long inputs.

use std::path::Path;

use mcp_gateway::search::embed::{Embedder, dot};
use serde_json::Value;

use crate::support::model_dir;

fn reference() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/embed/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn embeddings_match_the_reference_implementation() {
    let model = Embedder::load(&model_dir()).unwrap();
    let reference = reference();
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    let mut worst = 1.0f32;
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want_ids: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(model.token_ids(text), want_ids, "token ids of {text:?}");
        let want: Vec<f32> = case["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let got = model.embed(text);
        assert_eq!(got.len(), 384);
        let cosine = dot(&got, &want) / dot(&want, &want).sqrt();
        worst = worst.min(cosine);
        assert!(cosine >= 0.999, "cosine {cosine} for {text:?}");
    }
    eprintln!(
        "worst cosine with the reference over {} texts: {worst:.6}",
        cases.len()
    );
}

#[test]
fn paraphrases_are_closer_than_unrelated_text() {
    let model = Embedder::load(&model_dir()).unwrap();
    let texts = [
        "what time is it in Tokyo".to_owned(),
        "get the current time in a given timezone".to_owned(),
        "create a pull request on GitHub".to_owned(),
    ];
    let v = model.embed_all(&texts, 128, 2);
    assert_eq!(v.len(), 3);
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.2);
}
