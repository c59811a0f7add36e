//! Loading a GGUF model file: checks that it is a Llama-architecture model, and re-encodes
//! the weights the CPU kernels are slow on (Q4_1) as Q8_0, about three times faster.

use std::{
    fs::File,
    io::{BufReader, Cursor},
    path::{Path, PathBuf},
};

use candle_core::{
    Device,
    quantized::{GgmlDType, QTensor, gguf_file},
};
use candle_transformers::models::quantized_llama::ModelWeights;

use super::tokenizer::{Tokenizer, TokenizerError};

/// Why a model file could not be loaded, worded for the person who set it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// There is no file at the path.
    #[error(
        "the local model file {0} does not exist; run scripts/setup.sh to fetch the default model or set HATCHERY_LOCAL_MODEL"
    )]
    Missing(PathBuf),
    /// The file is not a GGUF file, or is cut short or damaged.
    #[error("the local model file {path} is not a readable GGUF file: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file holds a model of another architecture.
    #[error(
        "the local model file {path} holds a {architecture} model; only Llama-architecture models are supported"
    )]
    Architecture {
        /// The file.
        path: PathBuf,
        /// The architecture it names.
        architecture: String,
    },
    /// The file's tokenizer could not be built.
    #[error("the local model file {path} has no usable tokenizer: {source}")]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// Why.
        source: TokenizerError,
    },
}

/// A loaded model: its weights (cloned per generation, sharing the tensors) and tokenizer.
#[derive(Debug, Clone)]
pub struct Model {
    /// The weights, with an empty attention cache.
    pub weights: ModelWeights,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// The longest context it was trained for, in tokens.
    pub context_length: usize,
}

/// Loads the model in the GGUF file at `path`, on the CPU.
pub fn load(path: &Path) -> Result<Model, LoadError> {
    let corrupt = |err: &dyn std::fmt::Display| LoadError::Corrupt {
        path: path.to_owned(),
        message: err.to_string(),
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::Missing(path.to_owned()));
        }
        Err(err) => return Err(corrupt(&err)),
    };
    let mut reader = BufReader::new(file);
    let content = gguf_file::Content::read(&mut reader).map_err(|err| corrupt(&err))?;
    let architecture = content
        .metadata
        .get("general.architecture")
        .and_then(|value| value.to_string().ok())
        .cloned()
        .unwrap_or_else(|| "unnamed".into());
    if architecture != "llama" {
        return Err(LoadError::Architecture {
            path: path.to_owned(),
            architecture,
        });
    }
    let tokenizer =
        Tokenizer::from_gguf(&content.metadata).map_err(|source| LoadError::Tokenizer {
            path: path.to_owned(),
            source,
        })?;
    let context_length = content
        .metadata
        .get("llama.context_length")
        .and_then(|value| value.to_u32().ok())
        .map_or(2048, |length| length as usize);
    let fast = reencoded(&content, &mut reader).map_err(|err| corrupt(&err))?;
    let mut fast = Cursor::new(fast);
    let content = gguf_file::Content::read(&mut fast).map_err(|err| corrupt(&err))?;
    let weights =
        ModelWeights::from_gguf(content, &mut fast, &Device::Cpu).map_err(|err| corrupt(&err))?;
    Ok(Model {
        weights,
        tokenizer,
        context_length,
    })
}

/// The model file again, in memory, with its Q4_1 tensors re-encoded as Q8_0 (candle has
/// fast CPU kernels for Q8_0 and none for Q4_1).
fn reencoded(
    content: &gguf_file::Content,
    reader: &mut BufReader<File>,
) -> candle_core::Result<Vec<u8>> {
    let mut tensors: Vec<(&str, QTensor)> = Vec::with_capacity(content.tensor_infos.len());
    for name in content.tensor_infos.keys() {
        let tensor = content.tensor(reader, name, &Device::Cpu)?;
        let tensor = if tensor.dtype() == GgmlDType::Q4_1 {
            QTensor::quantize(&tensor.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)?
        } else {
            tensor
        };
        tensors.push((name, tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(name, value)| (name.as_str(), value))
        .collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(name, t)| (*name, t)).collect();
    let mut bytes = Cursor::new(Vec::new());
    gguf_file::write(&mut bytes, &metadata, &tensors)?;
    Ok(bytes.into_inner())
}
