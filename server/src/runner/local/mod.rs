//! The built-in local model: a small Llama-architecture chat model read from a GGUF file
//! and run on the CPU inside the server, so that agents answer with no provider configured.

pub mod generate;
pub mod provider;
pub mod tokenizer;
pub mod weights;

/// The default model, as the test command fetches it (`HATCHERY_LOCAL_MODEL` names
/// another), loaded once for all tests.
#[cfg(test)]
pub(crate) fn test_model() -> &'static weights::Model {
    static MODEL: std::sync::OnceLock<weights::Model> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| {
        let path = std::env::var_os("HATCHERY_LOCAL_MODEL").map_or_else(
            || provider::LocalConfig::default().model_file,
            std::path::PathBuf::from,
        );
        weights::load(&path).unwrap()
    })
}

#[cfg(test)]
mod tests {
    use super::{
        generate::{Ending, Sampling, assistant_turn, generate, turn},
        test_model as model,
    };

    #[test]
    fn text_survives_a_round_trip_through_the_tokenizer() {
        let tokenizer = &model().tokenizer;
        let text = "Hello, wörld! 12345 naïve café — 東京 🙂\n  indented";
        let ids = tokenizer.encode(text);
        assert!(ids.len() > 10);
        assert_eq!(tokenizer.decode(&ids), text);
        let turn = tokenizer.encode("<|im_start|>user\nhi<|im_end|>");
        assert_eq!(turn.first(), Some(&1), "a control token is one token");
        assert_eq!(turn.last(), Some(&2));
        assert_eq!(
            tokenizer.encode("2024"),
            tokenizer
                .encode("2")
                .into_iter()
                .chain(tokenizer.encode("024"))
                .collect::<Vec<_>>(),
            "digits one by one"
        );
    }

    #[test]
    fn the_model_answers_a_short_question_and_ends_its_turn() {
        let model = model();
        let prompt = [
            turn("system", "You are a helpful assistant."),
            turn(
                "user",
                "What is the capital of France? Answer in one sentence.",
            ),
            assistant_turn().to_owned(),
        ]
        .concat();
        let ids = model.tokenizer.encode(&prompt);
        let mut reply = String::new();
        let started = std::time::Instant::now();
        let generated = generate(
            model,
            &ids,
            Sampling {
                max_tokens: 64,
                temperature: 0.0,
                repeat_penalty: 1.1,
                repeat_window: 64,
                seed: 1,
            },
            |piece| {
                reply.push_str(piece);
                true
            },
        )
        .unwrap();
        eprintln!("{reply:?} {generated:?} in {:?}", started.elapsed());
        assert_eq!(generated.ending, Ending::EndOfTurn);
        assert!(generated.completion_tokens < 64);
        assert_eq!(generated.prompt_tokens, ids.len());
        assert!(!reply.trim().is_empty());
        assert!(!reply.contains('\u{fffd}'));
        assert!(reply.contains("Paris"), "{reply}");
    }
}
