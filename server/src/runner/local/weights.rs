//! Loading a GGUF model file: checks that it is a Llama-architecture model with a usable
//! tokenizer, then reads its weights (see [`Weights::from_gguf`]).

use std::{
    fs::File,
    io::BufReader,
    path::{Path, PathBuf},
    sync::Arc,
};

use candle_core::quantized::gguf_file;

use super::{
    llama::Weights,
    tokenizer::{Tokenizer, TokenizerError},
};

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

/// A loaded model: its weights (shared by every generation) and tokenizer.
#[derive(Debug, Clone)]
pub struct Model {
    /// The weights.
    pub weights: Arc<Weights>,
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
    let weights = Weights::from_gguf(&content, &mut reader).map_err(|err| corrupt(&err))?;
    Ok(Model {
        context_length: weights.sizes().context_length,
        weights: Arc::new(weights),
        tokenizer,
    })
}
