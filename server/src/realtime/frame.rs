//! Making outbound frames: replies stamped with a fresh id (UUIDv7, the trace id) and the
//! time; topic events as compact as the protocol allows.

use std::time::{SystemTime, UNIX_EPOCH};

use hatchery_shared::realtime::{Envelope, Message, Topic};

/// A new envelope around `message`, stamped with a UUIDv7 id and the current time.
pub fn envelope(message: Message) -> Envelope {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        });
    Envelope::new(message, uuid::Uuid::now_v7().to_string(), Some(ts))
}

/// Event `seq` of `topic`: no id or time, since every subscriber receives it and the topic,
/// its epoch and `seq` already identify it (its payload carries the times that matter).
pub fn event(topic: &Topic, seq: u64, message: Message) -> Envelope {
    let mut envelope = Envelope::new(message, String::new(), None);
    envelope.topic = Some(topic.clone());
    envelope.seq = Some(seq);
    envelope
}
