//! Making outbound frames: a fresh id (UUIDv7, the trace id) and timestamp on each.

use std::time::{SystemTime, UNIX_EPOCH};

use hatchery_shared::realtime::{Envelope, Message};

/// A new envelope around `message`, stamped with a UUIDv7 id and the current time.
pub fn envelope(message: Message) -> Envelope {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        });
    Envelope::new(message, uuid::Uuid::now_v7().to_string(), ts)
}
