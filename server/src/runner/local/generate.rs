//! Generating a reply with the local model: the conversation in the model's chat template
//! (ChatML), one forward pass over the prompt, then one token at a time until the end of
//! the turn, the token cap, or the caller stops it.

use candle_transformers::{generation::LogitsProcessor, utils::apply_repeat_penalty};

use super::{llama::Session, weights::Model};

/// How a reply is sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// The most tokens a reply may have.
    pub max_tokens: usize,
    /// 0 picks the likeliest token every time (greedy).
    pub temperature: f64,
    /// How much less likely a token already in the reply's recent past becomes (1 is none).
    pub repeat_penalty: f32,
    /// How many recent tokens the penalty looks at.
    pub repeat_window: usize,
    /// The random seed for sampling.
    pub seed: u64,
}

/// How a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The model ended its turn.
    EndOfTurn,
    /// The reply reached [`Sampling::max_tokens`].
    TokenCap,
    /// The caller asked to stop.
    Stopped,
}

/// What a generation produced besides its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Tokens of the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated (the end-of-turn token included).
    pub completion_tokens: usize,
    /// Why it ended.
    pub ending: Ending,
}

/// The end-of-turn token of the ChatML template.
pub const END_OF_TURN: &str = "<|im_end|>";

/// One message in the ChatML template.
pub fn turn(role: &str, text: &str) -> String {
    format!("<|im_start|>{role}\n{text}{END_OF_TURN}\n")
}

/// The opening of the assistant's turn, which ends a prompt.
pub fn assistant_turn() -> &'static str {
    "<|im_start|>assistant\n"
}

/// Generates the reply to `prompt` (token ids), handing each new piece of text to `piece`,
/// which returns false to stop. Blocks: run it off the async threads.
pub fn generate(
    model: &Model,
    prompt: &[u32],
    sampling: Sampling,
    mut piece: impl FnMut(&str) -> bool,
) -> candle_core::Result<Generated> {
    let mut session = Session::new(model.weights.clone());
    let end_of_turn = model.tokenizer.id(END_OF_TURN);
    let temperature = (sampling.temperature > 0.0).then_some(sampling.temperature);
    let mut sampler = LogitsProcessor::new(sampling.seed, temperature, None);
    let mut reply: Vec<u32> = Vec::new();
    let mut sent = 0;
    let mut input = prompt.to_vec();
    let ending = loop {
        if reply.len() >= sampling.max_tokens {
            break Ending::TokenCap;
        }
        let logits = session.forward(&input)?;
        let logits = if sampling.repeat_penalty == 1.0 {
            logits
        } else {
            let recent = &reply[reply.len().saturating_sub(sampling.repeat_window)..];
            apply_repeat_penalty(&logits, sampling.repeat_penalty, recent)?
        };
        let token = sampler.sample(&logits)?;
        reply.push(token);
        if Some(token) == end_of_turn {
            break Ending::EndOfTurn;
        }
        // A token may end in the middle of a character: its text waits for the next one.
        let text = model.tokenizer.decode(&reply);
        if !text.ends_with('\u{fffd}') && text.len() > sent {
            let keep_going = piece(&text[sent..]);
            sent = text.len();
            if !keep_going {
                break Ending::Stopped;
            }
        }
        input = vec![token];
    };
    Ok(Generated {
        prompt_tokens: prompt.len(),
        completion_tokens: reply.len(),
        ending,
    })
}
