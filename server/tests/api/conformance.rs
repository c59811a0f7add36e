//! Checks that what the server really sends matches its published contract: every answer
//! the helpers receive against the OpenAPI document (the operation's schema for that
//! status, or its `default` error), and every WebSocket frame either way against the
//! realtime JSON Schema. Validators are compiled once per schema and shared by all tests.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
};

use serde_json::{Value, json};

/// The OpenAPI document, as the server serves it.
pub static OPENAPI: LazyLock<Value> = LazyLock::new(|| {
    serde_json::to_value(hatchery_server::http::openapi()).expect("the document serializes")
});

/// The realtime frame schema, compiled.
static FRAME: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    jsonschema::validator_for(&hatchery_server::http::realtime_schema())
        .expect("the realtime schema compiles")
});

/// Compiled response schemas by `METHOD template status`.
static RESPONSES: LazyLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
    LazyLock::new(Mutex::default);

/// Panics unless `text` is a frame the realtime schema allows.
pub fn check_frame(text: &str) {
    let frame: Value = serde_json::from_str(text).expect("a frame is JSON");
    if let Some(error) = FRAME.iter_errors(&frame).next() {
        panic!(
            "the frame {text} does not match /api/schema/realtime.json: {error} at {}",
            error.instance_path()
        );
    }
}

/// The documented path template that `path` (without its query) falls under, literal
/// segments winning over parameters; `None` for a path the API does not have.
pub fn template_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let paths = OPENAPI["paths"]
        .as_object()
        .expect("the document has paths");
    paths
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') {
                    continue;
                }
                if part != segment {
                    return None;
                }
                literal += 1;
            }
            Some((literal, template.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, template)| template)
}

/// Panics unless an answer of `status` with `content_type` and `body` to `method path` is
/// one the document describes. Paths the API does not have (its JSON 404) are left alone.
pub fn check_response(method: &str, path: &str, status: u16, content_type: &str, body: &[u8]) {
    let path = path.split('?').next().unwrap_or(path);
    let Some(template) = template_of(path) else {
        return;
    };
    let method = method.to_ascii_lowercase();
    let operation = &OPENAPI["paths"][template][&method];
    if operation.is_null() {
        // Answered 405 by the router: not an operation of the API.
        assert_eq!(
            status, 405,
            "{method} {template} answered {status} but is not documented"
        );
        return;
    }
    let (key, answer) = match &operation["responses"][status.to_string()] {
        Value::Null => ("default".to_owned(), &operation["responses"]["default"]),
        answer => (status.to_string(), answer),
    };
    assert!(
        !answer.is_null(),
        "{method} {template} answered {status}, which its document does not list"
    );
    let Some(content) = answer["content"].as_object() else {
        assert!(
            body.is_empty(),
            "{method} {template} {status} has no documented body but sent {}",
            String::from_utf8_lossy(body)
        );
        return;
    };
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let Some((documented, described)) = content
        .iter()
        .find(|(documented, _)| documented.split(';').next().unwrap_or_default().trim() == media)
    else {
        panic!(
            "{method} {template} {status} sent {content_type}, the document says {:?}",
            content.keys().collect::<Vec<_>>()
        );
    };
    if !documented.ends_with("json") {
        return;
    }
    let instance: Value = serde_json::from_slice(body).unwrap_or_else(|err| {
        panic!("{method} {template} {status} sent JSON that does not parse: {err}")
    });
    let validator = validator(&format!("{method} {template} {key}"), &described["schema"]);
    if let Some(error) = validator.iter_errors(&instance).next() {
        panic!(
            "{method} {template} answered {status} with a body its document does not allow: {error} at {}\nbody: {instance}",
            error.instance_path()
        );
    }
}

/// The compiled validator of a response schema, in the document's components.
fn validator(key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
    let mut compiled = RESPONSES
        .lock()
        .expect("no test panicked holding the cache");
    compiled
        .entry(key.to_owned())
        .or_insert_with(|| {
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": OPENAPI["components"],
                "allOf": [schema],
            });
            Arc::new(jsonschema::validator_for(&root).expect("a response schema compiles"))
        })
        .clone()
}
