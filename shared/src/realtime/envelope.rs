//! The envelope around every frame, and parsing a frame from text.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{
    message::{ErrorCode, Message, MessageType},
    topic::Topic,
};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// One frame: the message with its routing and tracing fields.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The protocol version, [`PROTOCOL_VERSION`].
    pub v: u32,
    /// The message (`type` and `data` on the wire).
    #[serde(flatten)]
    pub message: Message,
    /// The topic, on topic events and on replies about one topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Topic>,
    /// The frame's UUIDv7, its trace id: set on the server's replies; empty on topic events
    /// (which `topic`, the epoch and `seq` identify) and, optionally, on clients' frames.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Milliseconds since the Unix epoch, UTC, when the frame was made; on replies, not on
    /// topic events (whose payloads carry the times that matter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    /// The per-topic sequence number of a topic event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The client's request id, echoed on replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<String>,
}

impl Envelope {
    /// A frame around `message` with no topic, seq or req; `id` and `ts` as given.
    pub fn new(message: Message, id: String, ts: Option<u64>) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            message,
            topic: None,
            id,
            ts,
            seq: None,
            req: None,
        }
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }
}

/// Why a frame could not be parsed, with the `error` code to answer it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The code for the `error` reply.
    pub code: ErrorCode,
    /// What was wrong, for people.
    pub message: String,
    /// The frame's `req`, when it could be read, to echo on the reply.
    pub req: Option<String>,
}

/// The loosely typed first reading of a frame, so that each failure gets its own code.
#[derive(Deserialize)]
struct RawFrame<'a> {
    v: Option<u32>,
    #[serde(rename = "type", borrow)]
    kind: Option<&'a str>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    ts: Option<u64>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    req: Option<String>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

/// Parses one frame: bad JSON, another version, an unknown type and data that does not fit
/// its type are told apart.
pub fn parse_frame(text: &str) -> Result<Envelope, FrameError> {
    let raw: RawFrame<'_> = serde_json::from_str(text).map_err(|err| FrameError {
        code: ErrorCode::BadJson,
        message: format!("not a JSON envelope: {err}"),
        req: None,
    })?;
    let fail = |code, message: String| FrameError {
        code,
        message,
        req: raw.req.clone(),
    };
    if raw.v != Some(PROTOCOL_VERSION) {
        return Err(fail(
            ErrorCode::UnsupportedVersion,
            format!("protocol version {PROTOCOL_VERSION} is the only one spoken here"),
        ));
    }
    let kind = raw
        .kind
        .ok_or_else(|| fail(ErrorCode::BadJson, "the envelope has no type".into()))?;
    let message_type: MessageType = kind.parse().map_err(|_| {
        fail(
            ErrorCode::UnknownType,
            format!("unknown message type {kind:?}"),
        )
    })?;
    let data = raw.data.map_or("{}", RawValue::get);
    let message = serde_json::from_str::<Message>(&format!(
        r#"{{"type":"{}","data":{data}}}"#,
        message_type.as_str()
    ))
    .map_err(|err| fail(ErrorCode::BadRequest, format!("bad data for {kind}: {err}")))?;
    let topic = raw
        .topic
        .as_deref()
        .map(Topic::parse)
        .transpose()
        .map_err(|err| fail(ErrorCode::BadRequest, err.0))?;
    Ok(Envelope {
        v: PROTOCOL_VERSION,
        message,
        topic,
        id: raw.id,
        ts: raw.ts,
        seq: raw.seq,
        req: raw.req,
    })
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;
    use crate::realtime::message::{
        Empty, Notice, NoticeLevel, StreamPosition, Subscribe, SubscribeTopic,
    };

    #[test]
    fn an_event_frame_has_the_documented_shape_and_parses_back() {
        let mut frame = Envelope::new(
            Message::Notice(Notice {
                level: NoticeLevel::Info,
                text: "hi".into(),
            }),
            "0192".into(),
            Some(1_719_958_453_123),
        );
        frame.topic = Some(Topic::parse("user:7").unwrap());
        frame.seq = Some(17);

        let json = frame.to_json();

        assert_eq!(
            json,
            r#"{"v":1,"type":"notice","data":{"level":"info","text":"hi"},"topic":"user:7","id":"0192","ts":1719958453123,"seq":17}"#
        );
        assert_eq!(parse_frame(&json).unwrap(), frame);
    }

    #[test]
    fn a_topic_event_without_id_or_time_parses() {
        let frame = parse_frame(
            r#"{"v":1,"type":"notice","data":{"level":"info","text":"hi"},"topic":"ops","seq":3}"#,
        )
        .unwrap();
        assert_eq!(
            (frame.id.as_str(), frame.ts, frame.seq),
            ("", None, Some(3))
        );
    }

    #[test]
    fn a_client_subscribe_parses_with_its_request_id_and_recovery_point() {
        let frame = parse_frame(
            r#"{"v":1,"type":"subscribe","req":"c7","data":{"topics":[{"topic":"thread:42","since":{"epoch":"e1","seq":16}}]}}"#,
        )
        .unwrap();
        assert_eq!(frame.req.as_deref(), Some("c7"));
        assert_eq!(
            frame.message,
            Message::Subscribe(Subscribe {
                topics: vec![SubscribeTopic {
                    topic: "thread:42".into(),
                    since: Some(StreamPosition {
                        epoch: "e1".into(),
                        seq: 16
                    }),
                }]
            })
        );
    }

    #[test]
    fn a_ping_needs_no_data() {
        let frame = parse_frame(r#"{"v":1,"type":"ping"}"#).unwrap();
        assert_eq!(frame.message, Message::Ping(Empty {}));
    }

    #[test]
    fn each_kind_of_bad_frame_gets_its_own_code() {
        for (text, code) in [
            ("{not json", ErrorCode::BadJson),
            (r#"[1,2]"#, ErrorCode::BadJson),
            (r#"{"v":1}"#, ErrorCode::BadJson),
            (r#"{"v":2,"type":"ping"}"#, ErrorCode::UnsupportedVersion),
            (r#"{"type":"ping"}"#, ErrorCode::UnsupportedVersion),
            (r#"{"v":1,"type":"dance"}"#, ErrorCode::UnknownType),
            (
                r#"{"v":1,"type":"subscribe","data":{"topics":"x"}}"#,
                ErrorCode::BadRequest,
            ),
            (
                r#"{"v":1,"type":"ping","topic":"nope:"}"#,
                ErrorCode::BadRequest,
            ),
        ] {
            assert_eq!(parse_frame(text).unwrap_err().code, code, "{text}");
        }
        let err = parse_frame(r#"{"v":1,"type":"dance","req":"r9"}"#).unwrap_err();
        assert_eq!(
            err.req.as_deref(),
            Some("r9"),
            "the reply can be matched to the request"
        );
    }

    #[test]
    fn every_message_type_name_is_the_wire_name() {
        for message_type in MessageType::iter() {
            let json = serde_json::to_string(&message_type).unwrap();
            assert_eq!(json, format!("\"{}\"", message_type.as_str()));
            assert_eq!(
                message_type.as_str().parse::<MessageType>().unwrap(),
                message_type
            );
        }
        assert_eq!(MessageType::SubscribeError.as_str(), "subscribe_error");
    }
}
