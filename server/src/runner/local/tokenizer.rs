//! The model's tokenizer, built from the vocabulary and merges its GGUF file carries: a
//! byte-level BPE (GPT-2 style) that splits digits one by one, with the control tokens
//! (`<|im_start|>` and the like) kept whole.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::{
    AddedToken, DecoderWrapper, ModelWrapper, NormalizerWrapper, PostProcessorWrapper,
    PreTokenizerWrapper, TokenizerImpl,
    decoders::byte_level::ByteLevel as ByteLevelDecoder,
    models::bpe::{BPE, Vocab},
    pre_tokenizers::{byte_level::ByteLevel, digits::Digits, sequence::Sequence},
};

/// The GGUF token type of control tokens.
const CONTROL: i32 = 3;

/// Why a tokenizer could not be built from a model file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenizerError {
    /// A key it needs is missing or of the wrong type.
    #[error("{0} is missing or not a list of the right kind")]
    Missing(&'static str),
    /// The vocabulary and merges do not make a BPE model.
    #[error("{0}")]
    Invalid(String),
}

type Inner = TokenizerImpl<
    ModelWrapper,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// Text to token ids and back.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    inner: Inner,
    ids: HashMap<String, u32>,
}

/// The strings of a GGUF list value.
fn strings<'a>(
    metadata: &'a HashMap<String, Value>,
    key: &'static str,
) -> Result<Vec<&'a str>, TokenizerError> {
    let values = metadata
        .get(key)
        .and_then(|value| value.to_vec().ok())
        .ok_or(TokenizerError::Missing(key))?;
    values
        .iter()
        .map(|value| value.to_string().map(String::as_str))
        .collect::<Result<_, _>>()
        .map_err(|_| TokenizerError::Missing(key))
}

impl Tokenizer {
    /// The tokenizer described by a GGUF file's metadata (`tokenizer.ggml.*`).
    pub fn from_gguf(metadata: &HashMap<String, Value>) -> Result<Self, TokenizerError> {
        let tokens = strings(metadata, "tokenizer.ggml.tokens")?;
        let merges = strings(metadata, "tokenizer.ggml.merges")?
            .into_iter()
            .map(|merge| {
                merge
                    .split_once(' ')
                    .map(|(left, right)| (left.to_owned(), right.to_owned()))
                    .ok_or_else(|| {
                        TokenizerError::Invalid(format!("a merge without a space: {merge}"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let types: Vec<i32> = metadata
            .get("tokenizer.ggml.token_type")
            .and_then(|value| value.to_vec().ok())
            .map(|values| values.iter().map(|v| v.to_i32().unwrap_or(1)).collect())
            .unwrap_or_default();
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(id, token)| ((*token).to_owned(), id as u32))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|err| TokenizerError::Invalid(err.to_string()))?;
        let mut inner = Inner::new(bpe.into());
        inner.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ]))));
        inner.with_decoder(Some(ByteLevelDecoder::default()));
        let control: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, kind)| **kind == CONTROL)
            .map(|(token, _)| AddedToken::from((*token).to_owned(), true))
            .collect();
        inner
            .add_special_tokens(control)
            .map_err(|err| TokenizerError::Invalid(err.to_string()))?;
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(id, token)| ((*token).to_owned(), id as u32))
            .collect();
        Ok(Self { inner, ids })
    }

    /// The ids of `text`, control tokens written in it included.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.inner
            .encode_fast(text, false)
            .map(|encoding| encoding.get_ids().to_vec())
            .unwrap_or_default()
    }

    /// The text of `ids`, control tokens left out.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, true).unwrap_or_default()
    }

    /// The id of a token written exactly so (such as `<|im_end|>`).
    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }
}
