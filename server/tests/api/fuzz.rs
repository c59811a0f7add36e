//! The WebSocket protocol against generated frames over real connections (property-based,
//! with a fixed seed): whatever a client sends, every reply is a valid frame of the
//! protocol, a connection ends only with a documented close code, and the server goes on
//! serving everyone.

use std::time::Duration;

use hatchery_shared::realtime::{Message, MessageType};
use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, TestRunner},
};
use serde_json::{Value, json};

use crate::{helpers::spawn_app, ws::Next};

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,20}".prop_map(Value::from),
        "(ops|user:[a-z]{1,4}|agent:[a-z0-9]{1,8}|thread:x|room:y|[a-z:]{0,10})"
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::hash_map("[a-z_]{1,8}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// An envelope-shaped frame with any version, type, request id and data; or any text.
fn client_frame() -> impl Strategy<Value = String> {
    let types = prop_oneof![
        Just("ping"),
        Just("pong"),
        Just("subscribe"),
        Just("unsubscribe"),
        Just("hello"),
        Just("subscribed"),
        Just("notice"),
        Just("nonsense"),
    ];
    let topics = prop::collection::vec(
        (json_value(), prop::option::of(json_value()))
            .prop_map(|(topic, since)| json!({"topic": topic, "since": since})),
        0..6,
    );
    let data = prop_oneof![
        topics.prop_map(|topics| json!({ "topics": topics })),
        json_value(),
    ];
    prop_oneof![
        4 => (prop_oneof![Just(json!(1)), json_value()], types, json_value(), data).prop_map(
            |(v, kind, req, data)| json!({"v": v, "type": kind, "req": req, "data": data})
                .to_string()
        ),
        1 => any::<String>(),
    ]
}

/// What the server may answer a client's frames with.
const REPLIES: [MessageType; 6] = [
    MessageType::Error,
    MessageType::Subscribed,
    MessageType::SubscribeError,
    MessageType::Unsubscribed,
    MessageType::Pong,
    MessageType::Notice,
];

/// The close codes a client's frames may lead to: too large, protocol violation, slow
/// consumer.
const CLOSES: [u16; 3] = [1009, 4400, 4409];

#[tokio::test]
async fn generated_frames_get_protocol_replies_or_a_documented_close() {
    let app = spawn_app().await;
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let cases = prop::collection::vec(client_frame(), 1..8);
    for case in 0..80 {
        let frames = cases.new_tree(&mut runner).unwrap().current();
        let mut ws = app.ws("admin").await;
        let mut open = true;
        for frame in &frames {
            open &= ws.try_send_raw(frame.clone()).await;
        }
        // A ping of known id marks the end of the replies to the case's frames.
        let mark = format!("end-of-case-{case}");
        open &= ws
            .try_send_raw(json!({"v": 1, "type": "ping", "req": mark, "data": {}}).to_string())
            .await;
        loop {
            match ws.next_or_end(Duration::from_secs(5)).await {
                Next::Frame(frame) => {
                    let kind = frame.message.message_type();
                    assert!(REPLIES.contains(&kind), "case {case} {frames:?}: {frame:?}");
                    if matches!(frame.message, Message::Pong(_))
                        && frame.req.as_deref() == Some(&mark)
                    {
                        break;
                    }
                }
                Next::Ended(ended) => {
                    assert!(
                        matches!(ended, crate::ws::Ended::Closed(code) if CLOSES.contains(&code)),
                        "case {case} {frames:?}: ended {ended:?}"
                    );
                    break;
                }
                Next::Silent => {
                    panic!("case {case} {frames:?}: no answer to the ping (open: {open})")
                }
            }
        }
    }
    assert_eq!(app.healthz().await.status(), 200);
    let mut after = app.ws("admin").await;
    after
        .send(Message::Ping(hatchery_shared::realtime::Empty {}))
        .await;
    after.expect(MessageType::Pong).await;
}
