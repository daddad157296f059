//! The BERT encoder forward pass (all-MiniLM-L6-v2 shape: 6 layers, 384 wide, 12 heads),
//! in f32 on the CPU. Matrix products go through ndarray (matrixmultiply's SIMD kernels);
//! everything else is a few loops over rows. One text at a time: inputs are short, and
//! callers parallelise across texts.

use half::f16;
use ndarray::{Array1, Array2, ArrayView2, Axis, s};

use super::EmbedError;
use super::safetensors::Tensors;

const LAYER_NORM_EPS: f32 = 1e-12;

struct Linear {
    /// `[in, out]`, row-major: PyTorch stores `[out, in]`, but the matrix product packs
    /// its right operand on every call, and packing reads this layout contiguously. A query
    /// is a few dozen tokens, so that packing is a fixed cost the layout cuts by a quarter
    /// of the whole embedding time.
    weight: Array2<f32>,
    bias: Array1<f32>,
}

impl Linear {
    fn load(t: &Tensors, name: &str) -> Result<Self, EmbedError> {
        Ok(Self {
            weight: t
                .matrix(&format!("{name}.weight"))?
                .reversed_axes()
                .as_standard_layout()
                .into_owned(),
            bias: t.vector(&format!("{name}.bias"))?,
        })
    }

    fn forward(&self, x: &ArrayView2<f32>) -> Array2<f32> {
        let mut y = x.dot(&self.weight);
        y += &self.bias;
        y
    }
}

struct LayerNorm {
    weight: Array1<f32>,
    bias: Array1<f32>,
}

impl LayerNorm {
    fn load(t: &Tensors, name: &str) -> Result<Self, EmbedError> {
        Ok(Self {
            weight: t.vector(&format!("{name}.weight"))?,
            bias: t.vector(&format!("{name}.bias"))?,
        })
    }

    fn forward(&self, x: &mut Array2<f32>) {
        for mut row in x.rows_mut() {
            let n = row.len() as f32;
            let mean = row.sum() / n;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
            let inv = 1.0 / (var + LAYER_NORM_EPS).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
                *v = (*v - mean) * inv * w + b;
            }
        }
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

pub struct Bert {
    /// Half precision: the table is over half the weights (30,522 × 384), and each row is
    /// only ever read once per token, widened as it is copied. f16 keeps its values to about
    /// three decimal digits, which leaves the embeddings at cosine 0.999999 with the
    /// reference (`tests/it/search_embed.rs`), and the gateway 23 MB smaller.
    words: Array2<f16>,
    positions: Array2<f32>,
    token_type: Array1<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
}

impl Bert {
    pub fn load(t: &Tensors, layers: usize, heads: usize) -> Result<Self, EmbedError> {
        let types = t.matrix("embeddings.token_type_embeddings.weight")?;
        let layers = (0..layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    query: Linear::load(t, &format!("{p}.attention.self.query"))?,
                    key: Linear::load(t, &format!("{p}.attention.self.key"))?,
                    value: Linear::load(t, &format!("{p}.attention.self.value"))?,
                    attention_out: Linear::load(t, &format!("{p}.attention.output.dense"))?,
                    attention_norm: LayerNorm::load(t, &format!("{p}.attention.output.LayerNorm"))?,
                    intermediate: Linear::load(t, &format!("{p}.intermediate.dense"))?,
                    output: Linear::load(t, &format!("{p}.output.dense"))?,
                    output_norm: LayerNorm::load(t, &format!("{p}.output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>, EmbedError>>()?;
        let bert = Self {
            words: t
                .matrix("embeddings.word_embeddings.weight")?
                .mapv(f16::from_f32),
            positions: t.matrix("embeddings.position_embeddings.weight")?,
            token_type: types.row(0).to_owned(),
            embedding_norm: LayerNorm::load(t, "embeddings.LayerNorm")?,
            layers,
            heads,
        };
        if bert.hidden() % heads != 0 {
            return Err(EmbedError::Format(
                "hidden size not divisible by heads".into(),
            ));
        }
        Ok(bert)
    }

    pub fn hidden(&self) -> usize {
        self.words.ncols()
    }

    pub fn vocab_size(&self) -> usize {
        self.words.nrows()
    }

    pub fn max_positions(&self) -> usize {
        self.positions.nrows()
    }

    /// The last hidden state, one row per token. `ids` must be in the vocabulary and no
    /// longer than [`Self::max_positions`].
    pub fn forward(&self, ids: &[u32]) -> Array2<f32> {
        let n = ids.len();
        let hidden = self.hidden();
        let mut x = Array2::<f32>::zeros((n, hidden));
        for (i, &id) in ids.iter().enumerate() {
            let mut row = x.row_mut(i);
            row.zip_mut_with(&self.words.row(id as usize), |v, w| *v = w.to_f32());
            row += &self.positions.row(i);
            row += &self.token_type;
        }
        self.embedding_norm.forward(&mut x);
        for layer in &self.layers {
            x = self.layer(layer, x);
        }
        x
    }

    fn layer(&self, layer: &Layer, x: Array2<f32>) -> Array2<f32> {
        let view = x.view();
        let q = layer.query.forward(&view);
        let k = layer.key.forward(&view);
        let v = layer.value.forward(&view);
        let dh = self.hidden() / self.heads;
        let scale = 1.0 / (dh as f32).sqrt();
        let mut context = Array2::<f32>::zeros(x.raw_dim());
        for h in 0..self.heads {
            let cols = s![.., h * dh..(h + 1) * dh];
            let mut scores = q.slice(cols).dot(&k.slice(cols).t());
            for mut row in scores.rows_mut() {
                let max = row.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                row.mapv_inplace(|v| ((v - max) * scale).exp());
                let sum = row.sum();
                row /= sum;
            }
            context.slice_mut(cols).assign(&scores.dot(&v.slice(cols)));
        }
        let mut attended = layer.attention_out.forward(&context.view());
        attended += &x;
        layer.attention_norm.forward(&mut attended);
        let mut inner = layer.intermediate.forward(&attended.view());
        inner.mapv_inplace(gelu);
        let mut out = layer.output.forward(&inner.view());
        out += &attended;
        layer.output_norm.forward(&mut out);
        out
    }
}

/// Mean of the token rows, L2-normalised (sentence-transformers' pooling for this model).
pub fn mean_pool_normalized(states: &Array2<f32>) -> Vec<f32> {
    let Some(mean) = states.mean_axis(Axis(0)) else {
        return vec![0.0; states.ncols()];
    };
    let norm = mean.dot(&mean).sqrt().max(1e-12);
    mean.iter().map(|v| v / norm).collect()
}

/// BERT's exact GELU, `x·Φ(x)`. In `f32`: it runs on every element of every intermediate
/// layer, and `f64` exponentials were a tenth of an embedding's time.
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// The error function to about 1.2e-7 (Numerical Recipes' Chebyshev fit of erfc).
fn erf(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204
                                + t * (1.488_515_9 + t * (-0.822_152_2 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 { 1.0 - erfc } else { erfc - 1.0 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn erf_matches_known_values() {
        for (x, want) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (-2.0, -0.995_322_265),
        ] {
            assert!(
                (f64::from(super::erf(x as f32)) - want).abs() < 3e-7,
                "erf({x})"
            );
        }
    }
}
