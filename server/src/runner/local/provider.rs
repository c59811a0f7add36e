//! The local model as a [`Provider`]: it renders the conversation in the model's chat
//! template (dropping the oldest turns that do not fit its context), generates on a
//! blocking thread, and streams the text, then the usage counted by its tokenizer, through
//! the same path as any provider. Dropping the stream stops the generation at its next
//! token.

use std::{path::PathBuf, pin::Pin, sync::Arc};

use tokio::sync::{OnceCell, mpsc};

use super::{
    generate::{Sampling, assistant_turn, generate, turn},
    weights::{Model, load},
};
use crate::runner::provider::{
    ChatMessage, ChatRequest, Provider, ProviderError, ReplyStream, StreamEvent,
};

pub use hatchery_shared::api::agents::LOCAL_MODEL;

/// The default model's file, in the models directory.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// How the local model runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// The GGUF file (`HATCHERY_LOCAL_MODEL`, default the default model in
    /// `HATCHERY_MODELS_DIR`).
    pub model_file: PathBuf,
    /// The most tokens of one reply (`HATCHERY_LOCAL_MAX_TOKENS`, default 512).
    pub max_tokens: usize,
    /// Replies generated at once (`HATCHERY_LOCAL_CONCURRENCY`, default 1): the runs
    /// allowed at once while the local model answers, so that more wait as `queued`.
    pub concurrency: usize,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            model_file: default_models_dir().join(DEFAULT_MODEL_FILE),
            max_tokens: 512,
            concurrency: 1,
        }
    }
}

/// Where model files are kept for every data directory unless `HATCHERY_MODELS_DIR` says
/// otherwise: the user's cache directory, such as `~/.cache/hatchery/models`.
pub fn default_models_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("hatchery/models")
}

/// Pieces of text that may wait between the generating thread and the run.
const PIECES_IN_FLIGHT: usize = 64;

/// The local model, loaded on first use.
#[derive(Debug)]
pub struct LocalModel {
    config: LocalConfig,
    model: OnceCell<Result<Arc<Model>, String>>,
}

impl LocalModel {
    /// The local model of `config`; its file is read when the first reply is asked for.
    pub fn new(config: LocalConfig) -> Self {
        Self {
            config,
            model: OnceCell::new(),
        }
    }

    async fn model(&self) -> Result<Arc<Model>, ProviderError> {
        let path = self.config.model_file.clone();
        self.model
            .get_or_init(|| async move {
                let loaded = tokio::task::spawn_blocking(move || load(&path)).await;
                match loaded {
                    Ok(Ok(model)) => Ok(Arc::new(model)),
                    Ok(Err(err)) => {
                        tracing::error!(error = %err, "the local model did not load");
                        Err(err.to_string())
                    }
                    Err(err) => Err(format!("loading the model failed: {err}")),
                }
            })
            .await
            .clone()
            .map_err(ProviderError::LocalModel)
    }

    async fn start(&self, request: ChatRequest) -> Result<ReplyStream, ProviderError> {
        let model = self.model().await?;
        let max_tokens = self.config.max_tokens;
        let prompt = prompt_within(&model, &request.messages, max_tokens);
        let sampling = Sampling {
            max_tokens,
            temperature: request.temperature,
            repeat_penalty: 1.1,
            repeat_window: 64,
            seed: rand_seed(),
        };
        let (pieces, received) = mpsc::channel(PIECES_IN_FLIGHT);
        tokio::task::spawn_blocking(move || {
            let generated = generate(&model, &prompt, sampling, |piece| {
                pieces
                    .blocking_send(Ok(StreamEvent::Token(piece.to_owned())))
                    .is_ok()
            });
            let last = match generated {
                Ok(generated) => Ok(StreamEvent::Usage {
                    prompt_tokens: generated.prompt_tokens as u64,
                    completion_tokens: generated.completion_tokens as u64,
                }),
                Err(err) => Err(ProviderError::LocalModel(err.to_string())),
            };
            let _ = pieces.blocking_send(last);
        });
        Ok(Box::pin(futures_util::stream::unfold(
            received,
            |mut received| async move { Some((received.recv().await?, received)) },
        )))
    }
}

impl Provider for LocalModel {
    fn stream(
        &self,
        request: ChatRequest,
    ) -> Pin<Box<dyn Future<Output = Result<ReplyStream, ProviderError>> + Send + '_>> {
        Box::pin(self.start(request))
    }
}

/// A seed for sampling that differs between replies.
fn rand_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// The prompt's token ids: the system messages, then the newest other messages that fit
/// in the model's context with room for a reply of `max_tokens` (at least the last one,
/// its start cut if it alone is too long).
fn prompt_within(model: &Model, messages: &[ChatMessage], max_tokens: usize) -> Vec<u32> {
    let encoded = |message: &ChatMessage| {
        let text = message.content.as_deref().filter(|text| !text.is_empty())?;
        Some(model.tokenizer.encode(&turn(&message.role, text)))
    };
    let (system, others): (Vec<&ChatMessage>, Vec<&ChatMessage>) = messages
        .iter()
        .partition(|message| message.role == "system");
    let mut ids: Vec<u32> = system.into_iter().filter_map(encoded).flatten().collect();
    let opening = model.tokenizer.encode(assistant_turn());
    let budget = model
        .context_length
        .saturating_sub(max_tokens + opening.len() + ids.len());
    let mut newest: Vec<Vec<u32>> = Vec::new();
    let mut used = 0;
    for turn in others.into_iter().rev().filter_map(encoded) {
        if used + turn.len() > budget {
            if newest.is_empty() {
                newest.push(turn[turn.len().saturating_sub(budget)..].to_vec());
            }
            break;
        }
        used += turn.len();
        newest.push(turn);
    }
    ids.extend(newest.into_iter().rev().flatten());
    ids.extend(opening);
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::local::test_model;

    fn message(role: &str, text: &str) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: Some(text.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    #[test]
    fn a_long_conversation_keeps_its_instructions_and_newest_turns_within_the_context() {
        let model = test_model();
        let mut messages = vec![message("system", "You are a lighthouse keeper.")];
        for n in 0..200 {
            let role = if n % 2 == 0 { "user" } else { "assistant" };
            messages.push(message(
                role,
                &format!("Turn {n}: {}", "the sea is calm ".repeat(10)),
            ));
        }
        let max_tokens = model.context_length - 400;

        let ids = prompt_within(model, &messages, max_tokens);

        assert!(ids.len() <= 400, "{} tokens", ids.len());
        let text = model.tokenizer.decode(&ids);
        assert!(
            text.starts_with("system\nYou are a lighthouse keeper."),
            "{text}"
        );
        assert!(text.contains("Turn 199:") && text.contains("Turn 198:"));
        assert!(!text.contains("Turn 0:") && !text.contains("Turn 100:"));
        assert!(ids.ends_with(&model.tokenizer.encode(assistant_turn())));
    }

    #[test]
    fn a_short_conversation_is_sent_whole() {
        let model = test_model();
        let messages = [message("system", "Be brief."), message("user", "Hi")];

        let ids = prompt_within(model, &messages, 512);

        let whole = [
            turn("system", "Be brief."),
            turn("user", "Hi"),
            assistant_turn().to_owned(),
        ];
        assert_eq!(ids, model.tokenizer.encode(&whole.concat()));
    }
}
