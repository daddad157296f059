//! Reading f32 tensors from a `.safetensors` file: an 8-byte little-endian header length,
//! a JSON header naming each tensor's dtype, shape and byte range, then the raw data.
//! The format is this small; a crate for it would be more code than it saves.

use std::collections::HashMap;

use ndarray::{Array1, Array2};
use serde::Deserialize;

use super::EmbedError;

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

pub struct Tensors {
    bytes: Vec<u8>,
    data_start: usize,
    entries: HashMap<String, Entry>,
}

impl Tensors {
    pub fn parse(bytes: Vec<u8>) -> Result<Self, EmbedError> {
        let bad = |why: &str| EmbedError::Format(format!("model.safetensors: {why}"));
        let len = bytes
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| bad("too short"))?;
        let header = bytes
            .get(8..8 + len)
            .ok_or_else(|| bad("truncated header"))?;
        let mut raw: HashMap<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
        raw.remove("__metadata__");
        let entries = raw
            .into_iter()
            .map(|(name, v)| {
                serde_json::from_value::<Entry>(v)
                    .map(|e| (name, e))
                    .map_err(|e| bad(&e.to_string()))
            })
            .collect::<Result<HashMap<_, _>, _>>()?;
        Ok(Self {
            bytes,
            data_start: 8 + len,
            entries,
        })
    }

    fn floats(&self, name: &str) -> Result<(&[usize], Vec<f32>), EmbedError> {
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| EmbedError::Format(format!("model.safetensors: no tensor {name}")))?;
        if entry.dtype != "F32" {
            return Err(EmbedError::Format(format!(
                "model.safetensors: {name} is {}, expected F32",
                entry.dtype
            )));
        }
        let [from, to] = entry.data_offsets;
        let count: usize = entry.shape.iter().product();
        let data = self
            .bytes
            .get(self.data_start + from..self.data_start + to)
            .filter(|d| d.len() == count * 4)
            .ok_or_else(|| EmbedError::Format(format!("model.safetensors: {name} out of range")))?;
        let values = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok((&entry.shape, values))
    }

    pub fn matrix(&self, name: &str) -> Result<Array2<f32>, EmbedError> {
        let (shape, values) = self.floats(name)?;
        match *shape {
            [rows, cols] => Array2::from_shape_vec((rows, cols), values)
                .map_err(|e| EmbedError::Format(format!("{name}: {e}"))),
            _ => Err(EmbedError::Format(format!("{name}: not a matrix"))),
        }
    }

    pub fn vector(&self, name: &str) -> Result<Array1<f32>, EmbedError> {
        let (shape, values) = self.floats(name)?;
        match *shape {
            [_] => Ok(Array1::from_vec(values)),
            _ => Err(EmbedError::Format(format!("{name}: not a vector"))),
        }
    }
}
