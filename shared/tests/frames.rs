//! The frame parser against arbitrary and mutated frames (property-based): it never panics,
//! a refusal always carries a protocol error code and a message, and whatever it accepts
//! survives being written and read again unchanged.
#![cfg(not(target_arch = "wasm32"))]

use hatchery_shared::realtime::{ErrorCode, parse_frame};
use proptest::prelude::*;

/// Frames a client may send, and some it may not, as mutation seeds.
const VALID: [&str; 7] = [
    r#"{"v":1,"type":"ping","req":"p1","data":{}}"#,
    r#"{"v":1,"type":"pong","data":{}}"#,
    r#"{"v":1,"type":"subscribe","req":"s1","data":{"topics":[{"topic":"ops"}]}}"#,
    r#"{"v":1,"type":"subscribe","req":"s2","data":{"topics":[{"topic":"agent:a1","since":{"epoch":"e","seq":3}}]}}"#,
    r#"{"v":1,"type":"unsubscribe","req":"u1","data":{"topics":["thread:t1"]}}"#,
    r#"{"v":1,"type":"hello","data":{"conn_id":"1","user_id":"u","heartbeat_ms":1,"max_topics":1,"server_version":"1"}}"#,
    r#"{"v":1,"type":"notice","topic":"ops","seq":2,"data":{"level":"info","text":"hi"}}"#,
];

/// One change to a frame: where (a fraction of its length) and what.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(f64),
    Insert(f64, char),
    Truncate(f64),
    Repeat(f64, f64),
    Replace(f64, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        at.clone().prop_map(Mutation::Delete),
        (at.clone(), any::<char>()).prop_map(|(at, c)| Mutation::Insert(at, c)),
        at.clone().prop_map(Mutation::Truncate),
        (at.clone(), at.clone()).prop_map(|(from, to)| Mutation::Repeat(from, to)),
        (
            at,
            prop_oneof![
                Just("null".to_owned()),
                Just("-1".to_owned()),
                Just("1e999".to_owned()),
                Just("\"\\ud800\"".to_owned()),
                Just("[]".to_owned()),
                Just("{}".to_owned()),
                "[a-z:_\\-]{0,12}",
            ]
        )
            .prop_map(|(at, text)| Mutation::Replace(at, text)),
    ]
}

/// The char boundary nearest below `fraction` of `text`.
fn boundary(text: &str, fraction: f64) -> usize {
    let mut at = ((text.len() as f64) * fraction) as usize;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(mut frame: String, mutations: Vec<Mutation>) -> String {
    for mutation in mutations {
        match mutation {
            Mutation::Delete(at) => {
                let at = boundary(&frame, at);
                if at < frame.len() {
                    frame.remove(at);
                }
            }
            Mutation::Insert(at, c) => frame.insert(boundary(&frame, at), c),
            Mutation::Truncate(at) => frame.truncate(boundary(&frame, at)),
            Mutation::Repeat(from, to) => {
                let (from, to) = (
                    boundary(&frame, from.min(to)),
                    boundary(&frame, from.max(to)),
                );
                let piece = frame[from..to].to_owned();
                frame.insert_str(to, &piece);
            }
            Mutation::Replace(at, text) => {
                let at = boundary(&frame, at);
                let end = frame[at..]
                    .find([',', '}', ']'])
                    .map_or(frame.len(), |offset| at + offset);
                frame.replace_range(at..end, &text);
            }
        }
    }
    frame
}

/// Arbitrary text, arbitrary JSON-looking text, and valid frames with a few mutations.
fn frames() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,120}",
        (
            prop::sample::select(VALID.to_vec()),
            prop::collection::vec(mutation(), 1..4)
        )
            .prop_map(|(frame, mutations)| apply(frame.to_owned(), mutations)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn the_parser_never_panics_and_what_it_accepts_round_trips(frame in frames()) {
        match parse_frame(&frame) {
            Ok(envelope) => {
                let again = parse_frame(&envelope.to_json());
                prop_assert_eq!(again.as_ref().ok(), Some(&envelope), "{}", frame);
            }
            Err(err) => {
                prop_assert!(matches!(
                    err.code,
                    ErrorCode::BadJson
                        | ErrorCode::UnsupportedVersion
                        | ErrorCode::UnknownType
                        | ErrorCode::BadRequest
                ));
                prop_assert!(!err.message.is_empty());
            }
        }
    }
}
