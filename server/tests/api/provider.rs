//! The OpenAI-compatible provider against the fake provider: streaming, tool calls, usage,
//! and every error a person must be able to act on.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hatchery_server::runner::{
    provider::{ChatMessage, ChatRequest, OpenAiCompatible, OpenAiConfig, Provider, ProviderError},
    reply::Reply,
    tools,
};
use hatchery_shared::api::agents::Tool;

use serde_json::json;

use crate::fake_llm::{
    FakeLlm, Scripted, content_chunk, finish_chunk, tool_call_chunk, usage_chunk,
};

fn provider(fake: &FakeLlm, timeout: Duration) -> OpenAiCompatible {
    OpenAiCompatible::new(OpenAiConfig {
        base_url: fake.base_url.clone(),
        api_key: Some("sk-test".to_owned().into()),
        timeout,
    })
}

/// A request saying hello, offering `tools`.
pub(crate) fn request(tools: &[Tool]) -> ChatRequest {
    ChatRequest {
        model: "test-model".into(),
        temperature: 0.2,
        messages: vec![ChatMessage {
            role: "user".into(),
            content: Some("hello".into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }],
        tools: tools.iter().map(|tool| tools::spec(*tool)).collect(),
    }
}

/// Reads a whole reply: the assembled reply, when each event arrived, and how it ended.
pub(crate) async fn read_all(
    provider: &OpenAiCompatible,
    request: ChatRequest,
) -> Result<(Reply, Vec<Instant>), ProviderError> {
    let mut stream = provider.stream(request).await?;
    let mut reply = Reply::default();
    let mut times = Vec::new();
    while let Some(event) = stream.next().await {
        reply.apply(&event?);
        times.push(Instant::now());
    }
    Ok((reply, times))
}

#[tokio::test]
async fn tokens_stream_as_they_come_with_usage() {
    let fake = FakeLlm::start(vec![Scripted::tokens(
        &["Hel", "lo", " there"],
        Duration::from_millis(150),
    )])
    .await;
    let (reply, times) = read_all(&provider(&fake, Duration::from_secs(5)), request(&[]))
        .await
        .unwrap();
    assert_eq!(reply.text, "Hello there");
    assert_eq!((reply.prompt_tokens, reply.completion_tokens), (11, 3));
    assert!(
        times[1] - times[0] >= Duration::from_millis(100),
        "tokens arrive one by one, not all at the end"
    );

    let (headers, body) = &fake.received()[0];
    assert_eq!(headers["authorization"], "Bearer sk-test");
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert!(body.get("tools").is_none(), "no tools, no tools field");
}

#[tokio::test]
async fn tool_calls_arrive_in_pieces_and_are_put_together() {
    let fake = FakeLlm::start(vec![Scripted::Stream {
        chunks: vec![
            (
                Duration::ZERO,
                tool_call_chunk(0, Some("call_1"), Some("calculator"), "{\"expres"),
            ),
            (
                Duration::ZERO,
                tool_call_chunk(1, Some("call_2"), Some("current_time"), "{}"),
            ),
            (
                Duration::ZERO,
                tool_call_chunk(0, None, None, "sion\": \"6*7\"}"),
            ),
            (Duration::ZERO, usage_chunk(20, 9)),
        ],
        done: true,
    }])
    .await;
    let (reply, _) = read_all(
        &provider(&fake, Duration::from_secs(5)),
        request(&[Tool::Calculator, Tool::CurrentTime]),
    )
    .await
    .unwrap();
    let calls = reply.tool_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].name, "calculator");
    assert_eq!(
        tools::call(
            &calls[0].name,
            &calls[0].arguments,
            &[Tool::Calculator],
            &Default::default()
        )
        .await,
        Ok("42".into())
    );
    let sent = &fake.received()[0].1;
    assert_eq!(sent["tools"][0]["type"], "function");
    assert_eq!(sent["tools"][0]["function"]["name"], "calculator");
}

#[tokio::test]
async fn refusals_say_what_to_do() {
    let error = |status: u16, headers: Vec<(&'static str, String)>, body: &str| Scripted::Error {
        status,
        headers,
        body: body.into(),
    };
    let fake = FakeLlm::start(vec![
        error(
            401,
            vec![],
            r#"{"error": {"message": "Incorrect API key provided"}}"#,
        ),
        error(429, vec![("retry-after", "3".into())], "slow down"),
        error(503, vec![], r#"{"error": {"message": "overloaded"}}"#),
        error(404, vec![], r#"{"error": {"message": "model not found"}}"#),
    ])
    .await;
    let provider = provider(&fake, Duration::from_secs(5));
    let unauthorized = read_all(&provider, request(&[])).await.unwrap_err();
    assert_eq!(unauthorized, ProviderError::Unauthorized(401));
    assert!(unauthorized.to_string().contains("HATCHERY_LLM_API_KEY"));
    assert!(!unauthorized.is_retryable());
    let limited = read_all(&provider, request(&[])).await.unwrap_err();
    assert_eq!(
        limited,
        ProviderError::RateLimited(Some(Duration::from_secs(3)))
    );
    assert!(limited.is_retryable());
    let server = read_all(&provider, request(&[])).await.unwrap_err();
    assert!(
        matches!(&server, ProviderError::Server { status: 503, message } if message == "overloaded")
    );
    let rejected = read_all(&provider, request(&[])).await.unwrap_err();
    assert!(
        rejected.to_string().contains("model not found"),
        "{rejected}"
    );
}

#[tokio::test]
async fn a_stream_cut_off_or_garbled_is_malformed() {
    let fake = FakeLlm::start(vec![
        Scripted::Stream {
            chunks: vec![(Duration::ZERO, content_chunk("half a rep"))],
            done: false,
        },
        Scripted::Stream {
            chunks: vec![(Duration::ZERO, "{not json".into())],
            done: true,
        },
    ])
    .await;
    let provider = provider(&fake, Duration::from_secs(5));
    let cut = read_all(&provider, request(&[])).await.unwrap_err();
    assert!(
        matches!(cut, ProviderError::Malformed(ref m) if m.contains("before the reply was finished")),
        "{cut}"
    );
    let garbled = read_all(&provider, request(&[])).await.unwrap_err();
    assert!(matches!(garbled, ProviderError::Malformed(_)), "{garbled}");
}

#[tokio::test]
async fn silence_and_an_absent_provider_fail_in_time() {
    let fake = FakeLlm::start(vec![Scripted::Stream {
        chunks: vec![
            (Duration::ZERO, content_chunk("then")),
            (Duration::from_secs(5), content_chunk("nothing")),
        ],
        done: true,
    }])
    .await;
    let started = Instant::now();
    let silent = read_all(&provider(&fake, Duration::from_millis(300)), request(&[]))
        .await
        .unwrap_err();
    assert_eq!(silent, ProviderError::Timeout(Duration::from_millis(300)));
    assert!(started.elapsed() < Duration::from_secs(2));

    let nowhere = OpenAiCompatible::new(OpenAiConfig {
        base_url: "http://127.0.0.1:9/v1".into(),
        api_key: None,
        timeout: Duration::from_secs(2),
    });
    let unreachable = read_all(&nowhere, request(&[])).await.unwrap_err();
    assert!(
        matches!(unreachable, ProviderError::Unreachable { .. }),
        "{unreachable}"
    );
}

#[tokio::test]
async fn every_valid_answer_shape_is_read() {
    let unindexed_calls = json!({"choices": [{"index": 0, "delta": {"tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "calculator", "arguments": "{\"expression\": \"2+3\"}"}},
        {"id": "call_b", "type": "function", "function": {"name": "current_time", "arguments": "{}"}},
    ]}}]});
    let fake = FakeLlm::start(vec![
        // No `[DONE]` after the finishing chunk, and no usage at all.
        Scripted::Stream {
            chunks: vec![
                (Duration::ZERO, content_chunk("Hi")),
                (Duration::ZERO, finish_chunk("stop")),
            ],
            done: false,
        },
        // Usage in a chunk of its own after the finishing one, still no `[DONE]`.
        Scripted::Stream {
            chunks: vec![
                (Duration::ZERO, content_chunk("Hey")),
                (Duration::ZERO, finish_chunk("stop")),
                (Duration::ZERO, usage_chunk(5, 1)),
            ],
            done: false,
        },
        // Whole tool calls in one chunk, without `index`.
        Scripted::Stream {
            chunks: vec![
                (Duration::ZERO, unindexed_calls.to_string()),
                (Duration::ZERO, finish_chunk("tool_calls")),
            ],
            done: true,
        },
        // One JSON completion answering a stream request.
        Scripted::Json(json!({
            "id": "chatcmpl-1", "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null,
                "tool_calls": [{"id": "call_c", "type": "function",
                    "function": {"name": "calculator", "arguments": "{\"expression\": \"6*7\"}"}}],
            }}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38},
        })),
        Scripted::Json(
            json!({"choices": [{"message": {"role": "assistant", "content": "Plain"}}]}),
        ),
    ])
    .await;
    let provider = provider(&fake, Duration::from_secs(5));
    let tools = [Tool::Calculator, Tool::CurrentTime];

    let (no_done, _) = read_all(&provider, request(&[])).await.unwrap();
    assert_eq!(no_done.text, "Hi");
    assert_eq!((no_done.prompt_tokens, no_done.completion_tokens), (0, 0));

    let (late_usage, _) = read_all(&provider, request(&[])).await.unwrap();
    assert_eq!(late_usage.text, "Hey");
    assert_eq!(
        (late_usage.prompt_tokens, late_usage.completion_tokens),
        (5, 1)
    );

    let (whole_calls, _) = read_all(&provider, request(&tools)).await.unwrap();
    let calls = whole_calls.tool_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        (calls[0].id.as_str(), calls[0].name.as_str()),
        ("call_a", "calculator")
    );
    assert_eq!(calls[0].arguments, r#"{"expression": "2+3"}"#);
    assert_eq!(
        (calls[1].id.as_str(), calls[1].name.as_str()),
        ("call_b", "current_time")
    );

    let (json_calls, _) = read_all(&provider, request(&tools)).await.unwrap();
    let calls = json_calls.tool_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        tools::call(
            &calls[0].name,
            &calls[0].arguments,
            &tools,
            &Default::default()
        )
        .await,
        Ok("42".into())
    );
    assert_eq!(
        (json_calls.prompt_tokens, json_calls.completion_tokens),
        (30, 8)
    );

    let (plain, _) = read_all(&provider, request(&[])).await.unwrap();
    assert_eq!(plain.text, "Plain");
}
