//! Frames as they go on the wire. An event is encoded as a WebSocket text frame once, when it
//! is published, and every connection it goes to (and every replay of it) writes those same
//! bytes: no connection frames or copies it again. Encoding is tungstenite's.

use hatchery_shared::realtime::CloseCode;
use tungstenite::{
    Bytes,
    protocol::frame::{
        CloseFrame, Frame, FrameHeader,
        coding::{Data, OpCode},
    },
};

/// An encoded WebSocket frame (server to client, so unmasked). Cheap to clone: the bytes
/// are shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    bytes: Bytes,
    /// Where the payload starts, after the header.
    payload_at: u8,
}

impl WireFrame {
    /// A whole text message: an event or a reply, as JSON.
    pub fn text(text: String) -> Self {
        let header = FrameHeader {
            opcode: OpCode::Data(Data::Text),
            ..FrameHeader::default()
        };
        let length = text.len() as u64;
        let mut bytes = Vec::with_capacity(header.len(length) + text.len());
        header
            .format(length, &mut bytes)
            .expect("writing to a Vec does not fail");
        let payload_at = u8::try_from(bytes.len()).expect("a frame header is at most 14 bytes");
        bytes.extend_from_slice(text.as_bytes());
        Self {
            bytes: bytes.into(),
            payload_at,
        }
    }

    /// The close frame for `code`, with its name as the reason.
    pub fn close(code: CloseCode) -> Self {
        let frame = Frame::close(Some(CloseFrame {
            code: code.code().into(),
            reason: code.name().into(),
        }));
        let mut bytes = Vec::new();
        frame
            .format(&mut bytes)
            .expect("writing to a Vec does not fail");
        Self::encoded(bytes.into())
    }

    /// Bytes that are already whole frames (the protocol's own answers, such as pongs).
    pub fn encoded(bytes: Bytes) -> Self {
        Self {
            bytes,
            payload_at: 0,
        }
    }

    /// What is left of the frame after its first `offset` bytes were written.
    pub fn after(&self, offset: usize) -> Self {
        Self::encoded(self.bytes.slice(offset..))
    }

    /// The frame as written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        self.bytes.len()
    }

    /// The text a [`Self::text`] frame carries (an event kept in history is read back from it).
    pub fn text_payload(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes[usize::from(self.payload_at)..]).ok()
    }
}

#[cfg(test)]
mod tests {
    use tungstenite::protocol::frame::{FrameSocket, coding::Control};

    use super::*;

    /// Reads back the frames in `bytes` with tungstenite's own parser.
    fn parse(bytes: &[u8]) -> Vec<Frame> {
        let mut socket = FrameSocket::new(std::io::Cursor::new(bytes.to_vec()));
        std::iter::from_fn(|| socket.read(None).ok().flatten()).collect()
    }

    #[test]
    fn a_text_frame_reads_back_as_its_text_at_every_length_format() {
        for size in [0, 125, 126, 65_535, 65_536] {
            let text = "x".repeat(size);
            let frame = WireFrame::text(text.clone());

            let parsed = parse(frame.as_bytes());

            assert_eq!(parsed.len(), 1, "{size}");
            assert_eq!(parsed[0].header().opcode, OpCode::Data(Data::Text));
            assert!(parsed[0].header().is_final);
            assert_eq!(parsed[0].payload(), text.as_bytes());
            assert_eq!(frame.text_payload(), Some(text.as_str()));
        }
    }

    #[test]
    fn a_close_frame_carries_its_code_and_name() {
        let frame = WireFrame::close(CloseCode::SlowConsumer);

        let parsed = parse(frame.as_bytes());

        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].header().opcode, OpCode::Control(Control::Close));
        let (code, reason) = parsed[0].payload().split_at(2);
        assert_eq!(
            u16::from_be_bytes([code[0], code[1]]),
            CloseCode::SlowConsumer.code()
        );
        assert_eq!(reason, CloseCode::SlowConsumer.name().as_bytes());
    }
}
