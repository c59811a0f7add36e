//! The conversation a step sends to the model, made from the thread so that providers always
//! accept it and its size stays bounded: every tool call has a result (one the thread lacks,
//! say from a run that was cut off, is answered with an error), a result without its call is
//! left out, and only the newest messages that fit in a byte budget are sent, a call and its
//! results kept or dropped together.

use hatchery_shared::api::threads::{MessageRole, ThreadMessage};

use super::provider::{ChatMessage, ToolCall};

/// The output given to a call that the thread has no result for.
pub const NO_RESULT: &str =
    "error: this tool call has no result (its run was cut off before the tool finished)";

/// The thread's `history` (oldest first) as the model is sent it: the newest whole turns
/// that fit in `budget` bytes of text (the newest always, however large).
pub fn conversation(history: &[ThreadMessage], budget: usize) -> Vec<ChatMessage> {
    let turns = turns(history);
    let mut kept = 0;
    let mut bytes = 0;
    for turn in turns.iter().rev() {
        let size: usize = turn.iter().map(size_of_message).sum();
        if kept > 0 && bytes + size > budget {
            break;
        }
        bytes += size;
        kept += 1;
    }
    turns[turns.len() - kept..].concat()
}

/// The history cut into turns: a message on its own, or an assistant message that calls
/// tools followed by one result per call (in the order of the calls).
fn turns(history: &[ThreadMessage]) -> Vec<Vec<ChatMessage>> {
    let mut turns = Vec::new();
    let mut rest = history.iter().peekable();
    while let Some(message) = rest.next() {
        match message.role {
            // A result whose call is not just before it: nothing to pair it with.
            MessageRole::Tool => {}
            MessageRole::Assistant if !message.tool_calls.is_empty() => {
                let mut results = Vec::new();
                while let Some(result) = rest.next_if(|next| next.role == MessageRole::Tool) {
                    results.push(result);
                }
                let mut turn = vec![chat_message(message)];
                for call in &message.tool_calls {
                    let output = results
                        .iter()
                        .find(|result| result.tool_call_id.as_deref() == Some(call.id.as_str()))
                        .map_or(NO_RESULT, |result| result.content.as_str());
                    turn.push(ChatMessage {
                        role: MessageRole::Tool.as_str().to_owned(),
                        content: Some(output.to_owned()),
                        tool_calls: Vec::new(),
                        tool_call_id: Some(call.id.clone()),
                    });
                }
                turns.push(turn);
            }
            _ => turns.push(vec![chat_message(message)]),
        }
    }
    turns
}

fn size_of_message(message: &ChatMessage) -> usize {
    message.content.as_ref().map_or(0, String::len)
        + message
            .tool_calls
            .iter()
            .map(|call| call.name.len() + call.arguments.len())
            .sum::<usize>()
}

/// A stored message as the provider's conversation has it.
fn chat_message(message: &ThreadMessage) -> ChatMessage {
    ChatMessage {
        role: message.role.as_str().to_owned(),
        content: Some(message.content.clone()),
        tool_calls: message
            .tool_calls
            .iter()
            .map(|call| ToolCall {
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            })
            .collect(),
        tool_call_id: message.tool_call_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use hatchery_shared::api::threads::ToolCallView;

    use super::*;

    fn message(role: MessageRole, content: &str) -> ThreadMessage {
        serde_json::from_value(serde_json::json!({
            "id": "m", "thread_id": "t", "role": role, "content": content,
            "tool_call_id": null, "tool_name": null, "prompt_tokens": null,
            "completion_tokens": null, "cut_off": false, "created_at": "",
        }))
        .expect("a message")
    }

    fn calling(ids: &[&str]) -> ThreadMessage {
        ThreadMessage {
            tool_calls: ids
                .iter()
                .map(|id| ToolCallView {
                    id: (*id).into(),
                    name: "calculator".into(),
                    arguments: "{}".into(),
                })
                .collect(),
            ..message(MessageRole::Assistant, "")
        }
    }

    fn result(id: &str, output: &str) -> ThreadMessage {
        ThreadMessage {
            tool_call_id: Some(id.into()),
            ..message(MessageRole::Tool, output)
        }
    }

    fn shape(messages: &[ChatMessage]) -> Vec<String> {
        messages
            .iter()
            .map(|message| match &message.tool_call_id {
                Some(id) => format!("tool {id}: {}", message.content.as_deref().unwrap_or("")),
                None => format!(
                    "{} {}",
                    message.role,
                    message.content.as_deref().unwrap_or("")
                ),
            })
            .collect()
    }

    #[test]
    fn every_call_gets_a_result_and_stray_results_are_dropped() {
        let history = [
            result("orphan", "from a call cut off by the limit"),
            message(MessageRole::User, "add these"),
            calling(&["a", "b"]),
            result("b", "5"),
            message(MessageRole::User, "and now?"),
        ];
        assert_eq!(
            shape(&conversation(&history, usize::MAX)),
            [
                "user add these".to_owned(),
                "assistant ".to_owned(),
                format!("tool a: {NO_RESULT}"),
                "tool b: 5".to_owned(),
                "user and now?".to_owned(),
            ]
        );
    }

    #[test]
    fn only_the_newest_turns_that_fit_are_sent_with_calls_kept_whole() {
        let long = "x".repeat(1_000);
        let history = [
            message(MessageRole::User, &long),
            message(MessageRole::Assistant, &long),
            message(MessageRole::User, "short question"),
            calling(&["a"]),
            result("a", &"y".repeat(500)),
            message(MessageRole::Assistant, "short answer"),
        ];
        let sent = conversation(&history, 1_200);
        assert_eq!(
            shape(&sent)[0],
            "user short question",
            "the long turns no longer fit"
        );
        assert_eq!(sent.len(), 4);

        let tiny = conversation(&history, 10);
        assert_eq!(
            shape(&tiny),
            ["assistant short answer"],
            "the newest always"
        );
        let without_answer = conversation(&history[..5], 100);
        assert_eq!(
            without_answer.len(),
            2,
            "a call and its result are kept together even over the budget"
        );
    }
}
