//! The last frames in and out, for the debug overlay (Ctrl+Shift+D).

use std::collections::VecDeque;

use hatchery_shared::realtime::Envelope;

/// How many frames the log keeps.
pub const CAPACITY: usize = 200;

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the server.
    In,
    /// To the server.
    Out,
}

/// What the overlay shows of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRecord {
    /// Milliseconds since the Unix epoch, when the frame was seen.
    pub at_ms: f64,
    /// Which way it went.
    pub direction: Direction,
    /// The message type, or `invalid` for a frame that did not parse.
    pub kind: String,
    /// The topic, if any.
    pub topic: Option<String>,
    /// The sequence number, if any.
    pub seq: Option<u64>,
    /// The frame's size in bytes.
    pub bytes: usize,
}

impl FrameRecord {
    /// The record of a frame, parsed or not.
    pub fn new(
        at_ms: f64,
        direction: Direction,
        envelope: Option<&Envelope>,
        bytes: usize,
    ) -> Self {
        Self {
            at_ms,
            direction,
            kind: envelope
                .map_or("invalid", |e| e.message.message_type().as_str())
                .to_owned(),
            topic: envelope
                .and_then(|e| e.topic.as_ref())
                .map(|t| t.as_str().to_owned()),
            seq: envelope.and_then(|e| e.seq),
            bytes,
        }
    }

    /// Whether the overlay's filter text matches this frame (its type or topic).
    pub fn matches(&self, filter: &str) -> bool {
        let filter = filter.trim();
        filter.is_empty()
            || self.kind.contains(filter)
            || self
                .topic
                .as_deref()
                .is_some_and(|topic| topic.contains(filter))
    }
}

/// A ring of the last [`CAPACITY`] frames, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameLog {
    records: VecDeque<FrameRecord>,
}

impl FrameLog {
    /// Adds a record, forgetting the oldest beyond the capacity.
    pub fn push(&mut self, record: FrameRecord) {
        if self.records.len() == CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// The records, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &FrameRecord> {
        self.records.iter().rev()
    }

    /// How many records the log holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use hatchery_shared::realtime::parse_frame;

    use super::*;

    #[test]
    fn the_log_keeps_the_last_200_newest_first() {
        let mut log = FrameLog::default();
        for i in 0..250 {
            log.push(FrameRecord::new(f64::from(i), Direction::In, None, 10));
        }
        assert_eq!(log.len(), CAPACITY);
        assert_eq!(log.newest_first().next().unwrap().at_ms, 249.0);
        assert_eq!(log.newest_first().last().unwrap().at_ms, 50.0);
    }

    #[test]
    fn records_show_type_topic_and_seq_and_filter_on_type_or_topic() {
        let text = r#"{"v":1,"type":"notice","data":{"level":"info","text":"x"},"topic":"user:7","seq":3}"#;
        let envelope = parse_frame(text).unwrap();
        let record = FrameRecord::new(1.0, Direction::In, Some(&envelope), text.len());
        assert_eq!(
            (record.kind.as_str(), record.topic.as_deref(), record.seq),
            ("notice", Some("user:7"), Some(3))
        );
        assert!(record.matches("user:"));
        assert!(record.matches("noti"));
        assert!(record.matches(" "));
        assert!(!record.matches("ops"));
    }
}
