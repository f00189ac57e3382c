//! What the dlib importers ([`import`](super::import) for the face ResNet,
//! [`sp_file`](super::sp_file) for the shape predictor) produce: named tensors, their
//! safetensors file, and the import errors.

use std::collections::HashMap;

use super::resnet::CONFIG_KEY;
use super::serialize::DatError;

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The bytes are not a valid dlib serialization.
    #[error("not a readable dlib model: {0}")]
    Dat(#[from] DatError),
    /// A readable network that is not the face ResNet layout.
    #[error("not dlib's face ResNet layout: layer {index}: expected {expected}, found {found}")]
    Layout {
        /// The layer's position, input first.
        index: usize,
        /// What the layout needs there.
        expected: String,
        /// What the file has.
        found: String,
    },
    /// A shape predictor whose levels or trees differ in size.
    #[error("the shape predictor's cascade is not uniform: {0}")]
    NotUniform(String),
    /// Writing the output failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The safetensors encoder failed.
    #[error("could not encode safetensors: {0}")]
    Safetensors(String),
}

/// Values of one output tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 32-bit unsigned indices.
    U32(Vec<u32>),
}

/// A converted model: named tensors and a JSON description of its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// `"resnet"` or `"shape_predictor"`.
    pub kind: &'static str,
    /// Tensors by safetensors key, with their shapes.
    pub tensors: Vec<(String, Vec<usize>, Values)>,
    /// The model's configuration as JSON (also stored in the safetensors metadata).
    pub config_json: String,
}

impl Converted {
    /// The safetensors file: the tensors plus the `config` metadata entry (one entry only, so
    /// the bytes are the same on every run).
    pub fn to_safetensors(&self) -> Result<Vec<u8>, ImportError> {
        let bytes: Vec<Vec<u8>> = self.tensors.iter().map(|t| le_bytes(&t.2)).collect();
        let mut views = Vec::new();
        for ((name, shape, values), data) in self.tensors.iter().zip(&bytes) {
            let dtype = match values {
                Values::F32(_) => safetensors::Dtype::F32,
                Values::U32(_) => safetensors::Dtype::U32,
            };
            let view = safetensors::tensor::TensorView::new(dtype, shape.clone(), data)
                .map_err(|e| ImportError::Safetensors(e.to_string()))?;
            views.push((name.clone(), view));
        }
        let meta = HashMap::from([(CONFIG_KEY.to_owned(), self.config_json.clone())]);
        safetensors::serialize(views, Some(meta))
            .map_err(|e| ImportError::Safetensors(e.to_string()))
    }
}

fn le_bytes(values: &Values) -> Vec<u8> {
    match values {
        Values::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        Values::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}
