//! Speed of the built-in local model on this machine's CPU: loading the default model file,
//! the time to the first token of a short chat prompt, decoding speed and peak memory.
//!
//! ```text
//! cargo bench -p hatchery-server --bench local_model -- [--runs 3] [--tokens 128]
//! ```
//! `HATCHERY_LOCAL_MODEL` names another GGUF file; `RAYON_NUM_THREADS` sets the threads
//! (the default is one per core, as in the server).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::time::{Duration, Instant};

use hatchery_server::runner::local::{
    generate::{Sampling, assistant_turn, generate, turn},
    provider::LocalConfig,
    weights::load,
};
use support::Args;

fn main() {
    if let Err(err) = hatchery_server::runner::local::fix_thread_count() {
        eprintln!("local_model: the model's thread count is not fixed: {err}");
    }
    let args = Args::parse("local_model");
    let runs = args.number("runs", 3);
    let tokens = usize::try_from(args.number("tokens", 128)).unwrap_or(128);
    let file = std::env::var_os("HATCHERY_LOCAL_MODEL")
        .map_or_else(|| LocalConfig::default().model_file, Into::into);

    let mut loads = Vec::new();
    let mut firsts = Vec::new();
    let mut speeds = Vec::new();
    for run in 1..=runs {
        let started = Instant::now();
        let model = load(&file).expect("the model loads");
        let loaded = started.elapsed();
        let prompt = [
            turn("system", "You are a helpful assistant."),
            turn("user", "Tell me about the sea."),
            assistant_turn().to_owned(),
        ]
        .concat();
        let ids = model.tokenizer.encode(&prompt);
        let started = Instant::now();
        let mut first = None;
        let generated = generate(
            &model,
            &ids,
            Sampling {
                max_tokens: tokens,
                temperature: 0.0,
                // No penalty: decoding runs to the cap instead of ending its turn early.
                repeat_penalty: 1.0,
                repeat_window: 0,
                seed: 1,
            },
            |_| {
                first.get_or_insert_with(|| started.elapsed());
                true
            },
        )
        .expect("it generates");
        let total = started.elapsed();
        let first = first.unwrap_or(total);
        let decoding = total.saturating_sub(first);
        let speed = (generated.completion_tokens.saturating_sub(1)) as f64 / decoding.as_secs_f64();
        println!(
            "run {run}: load {:.2} s, prompt {} tokens, first token {:.0} ms, {} tokens at {speed:.1} tokens/s ({:?})",
            loaded.as_secs_f64(),
            generated.prompt_tokens,
            first.as_secs_f64() * 1000.0,
            generated.completion_tokens,
            generated.ending,
        );
        loads.push(loaded);
        firsts.push(first);
        speeds.push(speed);
    }
    println!(
        "medians of {runs}: load {:.2} s, first token {:.0} ms, decoding {:.1} tokens/s; peak memory {} MiB",
        median(&mut loads).as_secs_f64(),
        median(&mut firsts).as_secs_f64() * 1000.0,
        median_f64(&mut speeds),
        support::rss_peak_kib(std::process::id()) / 1024,
    );
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn median_f64(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
