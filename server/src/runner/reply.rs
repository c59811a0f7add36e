//! A reply assembled from its stream: the text so far, the tool calls put together from
//! their pieces, and the usage the provider reported.

use std::collections::BTreeMap;

use super::provider::{StreamEvent, ToolCall};

/// What a reply has said so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// The text, concatenated.
    pub text: String,
    /// Tool calls by their index in the reply.
    calls: BTreeMap<u32, ToolCall>,
    /// Prompt tokens, once reported.
    pub prompt_tokens: u64,
    /// Completion tokens, once reported.
    pub completion_tokens: u64,
}

impl Reply {
    /// Adds one event of the stream.
    pub fn apply(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Token(text) => self.text.push_str(text),
            StreamEvent::ToolCallDelta {
                index,
                id,
                name,
                arguments,
            } => {
                let call = self.calls.entry(*index).or_insert_with(|| ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
                if let Some(id) = id {
                    call.id.clone_from(id);
                }
                if let Some(name) = name {
                    call.name.push_str(name);
                }
                call.arguments.push_str(arguments);
            }
            StreamEvent::Usage {
                prompt_tokens,
                completion_tokens,
            } => {
                self.prompt_tokens = *prompt_tokens;
                self.completion_tokens = *completion_tokens;
            }
        }
    }

    /// The tool calls, in the order the model made them.
    pub fn tool_calls(&self) -> Vec<ToolCall> {
        self.calls.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(index: u32, id: Option<&str>, name: Option<&str>, arguments: &str) -> StreamEvent {
        StreamEvent::ToolCallDelta {
            index,
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
            arguments: arguments.to_owned(),
        }
    }

    #[test]
    fn text_and_interleaved_tool_calls_are_put_together() {
        let mut reply = Reply::default();
        for event in [
            StreamEvent::Token("Let me ".into()),
            StreamEvent::Token("check.".into()),
            delta(0, Some("call_a"), Some("calculator"), "{\"expr"),
            delta(1, Some("call_b"), Some("current_time"), "{}"),
            delta(0, None, None, "ession\":\"2+2\"}"),
            StreamEvent::Usage {
                prompt_tokens: 12,
                completion_tokens: 7,
            },
        ] {
            reply.apply(&event);
        }
        assert_eq!(reply.text, "Let me check.");
        let calls = reply.tool_calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].id, "call_a");
        assert_eq!(calls[0].arguments, "{\"expression\":\"2+2\"}");
        assert_eq!(calls[1].name, "current_time");
        assert_eq!((reply.prompt_tokens, reply.completion_tokens), (12, 7));
    }
}
