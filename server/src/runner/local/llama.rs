//! The Llama-architecture transformer, shaped for decoding one token at a time on a few CPU
//! cores: the query, key and value projections are one matrix, as are the gate and up
//! projections, so each layer makes four parallel matrix products instead of seven; the
//! attention cache grows in place; and grouped query heads read their shared key and value
//! heads without copies.

use std::sync::Arc;

use candle_core::{
    D, DType, Device, Module, Result, Tensor,
    quantized::{GgmlDType, QMatMul, QTensor, gguf_file},
};
use candle_nn::{Embedding, kv_cache::KvCache};
use candle_transformers::quantized_nn::RmsNorm;

/// The sizes the model file declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Query heads.
    pub heads: usize,
    /// Key and value heads, each shared by `heads / kv_heads` query heads.
    pub kv_heads: usize,
    /// Values per head.
    pub head_dim: usize,
    /// The width of the feed-forward layer.
    pub ffn: usize,
    /// The longest context it was trained for, in tokens.
    pub context_length: usize,
}

#[derive(Debug)]
struct Layer {
    attention_norm: RmsNorm,
    /// The query, key and value projections, stacked in that order.
    qkv: QMatMul,
    attention_output: QMatMul,
    ffn_norm: RmsNorm,
    /// The gate and up projections, stacked in that order.
    gate_up: QMatMul,
    down: QMatMul,
}

/// The weights, read once and shared by every [`Session`].
#[derive(Debug)]
pub struct Weights {
    sizes: Sizes,
    embeddings: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
    /// Rotary position embedding per position, `(context_length, rope_dim / 2)`.
    cos: Tensor,
    sin: Tensor,
}

impl Weights {
    /// Reads the weights of a Llama-architecture GGUF file.
    pub fn from_gguf<R: std::io::Read + std::io::Seek>(
        content: &gguf_file::Content,
        reader: &mut R,
    ) -> Result<Self> {
        let number = |key: &str| -> Result<usize> {
            match content.metadata.get(key) {
                Some(value) => Ok(value.to_u32()? as usize),
                None => candle_core::bail!("the file does not say its {key}"),
            }
        };
        let float = |key: &str, default: f32| {
            content
                .metadata
                .get(key)
                .and_then(|value| value.to_f32().ok())
                .unwrap_or(default)
        };
        let heads = number("llama.attention.head_count")?;
        let kv_heads = number("llama.attention.head_count_kv")?;
        let hidden = number("llama.embedding_length")?;
        if heads == 0 || kv_heads == 0 || heads % kv_heads != 0 || hidden % heads != 0 {
            candle_core::bail!("{heads} heads with {kv_heads} key heads do not fit {hidden}");
        }
        let sizes = Sizes {
            heads,
            kv_heads,
            head_dim: hidden / heads,
            ffn: number("llama.feed_forward_length")?,
            context_length: number("llama.context_length").unwrap_or(2048),
        };
        let eps = f64::from(float("llama.attention.layer_norm_rms_epsilon", 1e-5));
        let rope_dim = number("llama.rope.dimension_count").unwrap_or(sizes.head_dim);
        let (cos, sin) = rotations(
            rope_dim,
            float("llama.rope.freq_base", 10_000.0),
            sizes.context_length,
        )?;

        let mut tensor = |name: &str| content.tensor(reader, name, &Device::Cpu);
        let embedding = tensor("token_embd.weight")?;
        let embeddings = Embedding::new(embedding.dequantize(&Device::Cpu)?, hidden);
        // Small models read their output scores off the embedding matrix.
        let output = if content.tensor_infos.contains_key("output.weight") {
            tensor("output.weight")?
        } else {
            embedding
        };
        let norm = RmsNorm::from_qtensor(tensor("output_norm.weight")?, eps)?;
        let mut layers = Vec::new();
        for layer in 0..number("llama.block_count")? {
            let mut part = |name: &str| tensor(&format!("blk.{layer}.{name}.weight"));
            layers.push(Layer {
                attention_norm: RmsNorm::from_qtensor(part("attn_norm")?, eps)?,
                qkv: stacked(vec![part("attn_q")?, part("attn_k")?, part("attn_v")?])?,
                attention_output: stacked(vec![part("attn_output")?])?,
                ffn_norm: RmsNorm::from_qtensor(part("ffn_norm")?, eps)?,
                gate_up: stacked(vec![part("ffn_gate")?, part("ffn_up")?])?,
                down: stacked(vec![part("ffn_down")?])?,
            });
        }
        Ok(Self {
            sizes,
            embeddings,
            layers,
            norm,
            output: QMatMul::from_qtensor(fast(output)?)?,
            cos,
            sin,
        })
    }

    /// The sizes the model file declares.
    pub fn sizes(&self) -> Sizes {
        self.sizes
    }
}

/// `tensor`, re-encoded as Q8_0 if the CPU kernels have no fast path for its encoding
/// (Q4_1, Q5_0 and Q5_1 are about three times slower than Q8_0).
fn fast(tensor: QTensor) -> Result<QTensor> {
    match tensor.dtype() {
        GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 => {
            QTensor::quantize(&tensor.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)
        }
        _ => Ok(tensor),
    }
}

/// One matrix of the rows of `parts` in order, so that one product computes them all.
fn stacked(mut parts: Vec<QTensor>) -> Result<QMatMul> {
    let encodings: Vec<GgmlDType> = parts.iter().map(QTensor::dtype).collect();
    let matrix = match parts.len() {
        1 => fast(parts.remove(0))?,
        _ if encodings.windows(2).all(|pair| pair[0] == pair[1]) => {
            // Rows are whole blocks, so the blocks of matrices laid one after another are the
            // blocks of the stacked matrix.
            let mut data = Vec::new();
            let mut rows = 0;
            for part in &parts {
                data.extend_from_slice(&part.data()?);
                rows += part.shape().dims2()?.0;
            }
            let columns = parts[0].shape().dims2()?.1;
            let storage = candle_core::quantized::QStorage::from_data(
                data.into(),
                &Device::Cpu,
                encodings[0],
            )?;
            fast(QTensor::new(storage, (rows, columns))?)?
        }
        _ => {
            let rows = parts
                .iter()
                .map(|part| part.dequantize(&Device::Cpu))
                .collect::<Result<Vec<_>>>()?;
            QTensor::quantize(&Tensor::cat(&rows, 0)?, GgmlDType::Q8_0)?
        }
    };
    QMatMul::from_qtensor(matrix)
}

/// The cosines and sines of the rotary position embedding for every position.
fn rotations(rope_dim: usize, base: f32, positions: usize) -> Result<(Tensor, Tensor)> {
    let inverse: Vec<f32> = (0..rope_dim)
        .step_by(2)
        .map(|i| 1.0 / base.powf(i as f32 / rope_dim as f32))
        .collect();
    let inverse = Tensor::new(inverse.as_slice(), &Device::Cpu)?;
    let angles = Tensor::arange(0, positions as u32, &Device::Cpu)?
        .to_dtype(DType::F32)?
        .reshape((positions, 1))?
        .matmul(&inverse.reshape((1, ()))?)?;
    Ok((angles.cos()?, angles.sin()?))
}

/// One conversation with the model: the weights and the attention cache of the tokens read
/// so far.
#[derive(Debug)]
pub struct Session {
    weights: Arc<Weights>,
    caches: Vec<KvCache>,
    position: usize,
}

/// Positions the attention cache grows by.
const CACHE_STEP: usize = 256;

impl Session {
    /// A conversation with nothing read yet.
    pub fn new(weights: Arc<Weights>) -> Self {
        let caches = (0..weights.layers.len())
            .map(|_| KvCache::new(2, CACHE_STEP))
            .collect();
        Self {
            weights,
            caches,
            position: 0,
        }
    }

    /// Reads `tokens` after those read before and returns the scores of every token of the
    /// vocabulary for the one that follows (`vocabulary` values).
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Tensor> {
        let weights = &*self.weights;
        let count = tokens.len();
        if self.position + count > weights.sizes.context_length {
            candle_core::bail!(
                "{} tokens exceed the model's context of {}",
                self.position + count,
                weights.sizes.context_length
            );
        }
        let mask = (count > 1)
            .then(|| causal_mask(count, self.position))
            .transpose()?;
        let mut x = weights
            .embeddings
            .forward(&Tensor::new(tokens, &Device::Cpu)?.unsqueeze(0)?)?;
        for (layer, cache) in weights.layers.iter().zip(&mut self.caches) {
            let attended = attention(weights, layer, cache, &x, self.position, mask.as_ref())?;
            x = (attended + x)?;
            let normed = layer.ffn_norm.forward(&x)?;
            let gate_up = layer.gate_up.forward(&normed)?;
            let ffn = weights.sizes.ffn;
            let gated = (candle_nn::ops::silu(&gate_up.narrow(D::Minus1, 0, ffn)?)?
                * gate_up.narrow(D::Minus1, ffn, ffn)?)?;
            x = (layer.down.forward(&gated)? + x)?;
        }
        self.position += count;
        let last = weights.norm.forward(&x.narrow(1, count - 1, 1)?)?;
        weights.output.forward(&last)?.flatten_all()
    }
}

/// Self-attention of one layer over `x` `(1, tokens, hidden)`, appending its keys and values
/// to `cache`.
fn attention(
    weights: &Weights,
    layer: &Layer,
    cache: &mut KvCache,
    x: &Tensor,
    position: usize,
    mask: Option<&Tensor>,
) -> Result<Tensor> {
    let Sizes {
        heads,
        kv_heads,
        head_dim,
        ..
    } = weights.sizes;
    let count = x.dim(1)?;
    let qkv = layer.qkv.forward(&layer.attention_norm.forward(x)?)?;
    let split = |start: usize, heads: usize| {
        qkv.narrow(D::Minus1, start * head_dim, heads * head_dim)?
            .reshape((1, count, heads, head_dim))?
            .transpose(1, 2)?
            .contiguous()
    };
    let cos = weights.cos.narrow(0, position, count)?;
    let sin = weights.sin.narrow(0, position, count)?;
    let q = candle_nn::rotary_emb::rope_i(&split(0, heads)?, &cos, &sin)?;
    let k = candle_nn::rotary_emb::rope_i(&split(heads, kv_heads)?, &cos, &sin)?;
    let (k, v) = cache.append(&k, &split(heads + kv_heads, kv_heads)?)?;
    // The query heads that share a key head, one after another, as rows of one product.
    let group = heads / kv_heads;
    let q = q.reshape((1, kv_heads, group * count, head_dim))?;
    let scores = (q.matmul(&k.t()?)? / (head_dim as f64).sqrt())?;
    let scores = match mask {
        Some(mask) => {
            let past = k.dim(2)?;
            scores
                .reshape((1, kv_heads, group, count, past))?
                .broadcast_add(mask)?
                .reshape((1, kv_heads, group * count, past))?
        }
        None => scores,
    };
    let weights_of = candle_nn::ops::softmax_last_dim(&scores)?;
    let attended = weights_of
        .matmul(&v.contiguous()?)?
        .reshape((1, heads, count, head_dim))?
        .transpose(1, 2)?
        .reshape((1, count, heads * head_dim))?;
    layer.attention_output.forward(&attended)
}

/// `(count, position + count)`: 0 where a new token may look, minus infinity at the tokens
/// after it.
fn causal_mask(count: usize, position: usize) -> Result<Tensor> {
    let past = position + count;
    let mask: Vec<f32> = (0..count)
        .flat_map(|row| {
            (0..past).map(move |column| {
                if column > position + row {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    Tensor::from_vec(mask, (count, past), &Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::local::test_model;

    #[test]
    fn a_prompt_read_at_once_scores_the_next_token_as_one_read_token_by_token() {
        let model = test_model();
        let tokens = model
            .tokenizer
            .encode("The sea was calm, and the lighthouse");

        let at_once = Session::new(model.weights.clone())
            .forward(&tokens)
            .unwrap();
        let mut session = Session::new(model.weights.clone());
        let mut one_by_one = None;
        for token in &tokens {
            one_by_one = Some(session.forward(&[*token]).unwrap());
        }
        let one_by_one = one_by_one.unwrap();

        let difference = (at_once - one_by_one)
            .unwrap()
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(difference < 1e-2, "the scores differ by up to {difference}");
    }

    #[test]
    fn a_session_refuses_tokens_beyond_the_context() {
        let model = test_model();
        let context = model.weights.sizes().context_length;
        let mut session = Session::new(model.weights.clone());
        session.position = context - 1;

        let err = session.forward(&[1, 2]).unwrap_err();

        assert!(
            err.to_string().contains("exceed the model's context"),
            "{err}"
        );
    }
}
