//! The built-in local model: a small Llama-architecture chat model read from a GGUF file
//! and run on the CPU inside the server, so that agents answer with no provider configured.

pub mod generate;
pub mod llama;
pub mod provider;
pub mod tokenizer;
pub mod weights;

/// The variable that sets how many threads the model's matrix kernels use.
const THREADS: &str = "RAYON_NUM_THREADS";

/// Starts this program again in its place (same process, same arguments) with
/// `RAYON_NUM_THREADS` set to the cores it may run on, unless it is set already. The model's
/// kernels read that variable on every matrix product and, when it is unset, count the cores
/// again from `/proc` each time, which costs about a tenth of the decoding speed; and the
/// environment of a running program cannot be changed safely. Call it first thing in `main`.
/// Returns only if the variable was set, or with the reason the program could not start
/// again.
pub fn fix_thread_count() -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;

    if std::env::var_os(THREADS).is_some() {
        return Ok(());
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut arguments = std::env::args_os();
    let mut again = std::process::Command::new(std::env::current_exe()?);
    if let Some(name) = arguments.next() {
        again.arg0(name);
    }
    Err(again.args(arguments).env(THREADS, cores.to_string()).exec())
}

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
