//! The sentence-embedding model (all-MiniLM-L6-v2, pure Rust, in the `minilm` crate of
//! this repository), as the search module uses it.

pub use minilm::{EmbedError, Embedder, MAX_TOKENS, MODEL_ID, dot};

/// Tokens read per text: the model was trained on sequences of 128, and cost grows
/// with length, so tool descriptions beyond it add little.
pub const TEXT_TOKENS: usize = 128;
