//! The API's contract: `/api/openapi.json` describes every route the router has and nothing
//! else, a third-party validator accepts it, `/api/schema/realtime.json` is a JSON Schema
//! covering every message type, and the checks that hold every other test's answers and
//! frames to them do reject what does not match. (Those checks run inside the helpers, on
//! every answer and frame of the whole suite: see `conformance`.)

use std::{collections::HashSet, path::PathBuf, process::Command};

use hatchery_shared::realtime::MessageType;
use reqwest::Method;
use serde_json::{Value, json};
use strum::IntoEnumIterator;

use crate::{
    conformance::{OPENAPI, check_frame, check_response, template_of},
    helpers::spawn_app,
};

/// The methods an API route may have.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every `$ref` in `value`.
fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(target) if key == "$ref" => found.push(target.clone()),
                    _ => refs(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_is_served_whole_and_every_reference_and_parameter_resolves() {
    let app = spawn_app().await;

    let answer = app.get("/api/openapi.json").await;
    assert_eq!(answer.status(), 200);
    let served: Value = answer.json().await.unwrap();
    assert_eq!(served, *OPENAPI, "the server serves the document it builds");
    assert_eq!(served["openapi"], "3.1.0");
    let schemes = &served["components"]["securitySchemes"];
    assert_eq!(schemes["token"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");

    let mut found = Vec::new();
    refs(&served, &mut found);
    for target in &found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{target} points outside the schemas"));
        assert!(
            served["components"]["schemas"][name].is_object(),
            "{target} names no schema"
        );
    }

    let mut operation_ids = HashSet::new();
    let paths = served["paths"].as_object().unwrap();
    for (template, item) in paths {
        let named: HashSet<&str> = template
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for method in METHODS {
            let operation = &item[method];
            if operation.is_null() {
                continue;
            }
            let what = format!("{method} {template}");
            assert!(
                operation_ids.insert(operation["operationId"].as_str().unwrap().to_owned()),
                "{what}: operation ids are unique"
            );
            assert!(operation["tags"][0].is_string(), "{what} has a tag");
            let declared: HashSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|parameter| parameter["in"] == "path")
                .map(|parameter| parameter["name"].as_str().unwrap())
                .collect();
            assert_eq!(
                declared, named,
                "{what} declares each of its path's parameters"
            );
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|status| status.starts_with('2') || status == "101"),
                "{what} documents its success"
            );
            assert_eq!(
                responses["default"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{what} documents its errors"
            );
        }
    }
    assert!(paths.len() > 40, "the document holds the whole API");
    app.shutdown().await;
}

/// Calls each documented path with every method, anonymously, with its parameters made up.
#[tokio::test]
async fn every_documented_operation_is_routed_and_no_other_method_of_its_path_is() {
    let app = spawn_app().await;
    let paths = OPENAPI["paths"].as_object().unwrap();
    for (template, item) in paths {
        let path = template
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let answer = app
                .call(
                    method.to_uppercase().parse::<Method>().unwrap(),
                    &path,
                    None,
                    None,
                )
                .await;
            let status = answer.status().as_u16();
            let body = answer.text().await.unwrap();
            if item[method].is_null() {
                assert_eq!(
                    status, 405,
                    "{method} {template} is routed but not documented"
                );
            } else {
                assert_ne!(
                    status, 405,
                    "{method} {template} is documented but not routed"
                );
                assert!(
                    !body.contains("no API endpoint"),
                    "{method} {template} is documented but not routed: {body}"
                );
            }
        }
    }
    // And a path it does not document is the API's JSON 404, not a page.
    let unknown = app.call(Method::GET, "/api/nothing/here", None, None).await;
    assert_eq!(unknown.status(), 404);
    assert!(template_of("/api/nothing/here").is_none());
    app.shutdown().await;
}

/// Routes reach the router only through the registrations the document is made from: a
/// plain axum route under `server/src/http` would be served without being documented.
#[test]
fn no_route_is_registered_outside_the_documented_routers() {
    let http = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/http");
    for entry in std::fs::read_dir(&http).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let plain: Vec<&str> = source
            .lines()
            .filter(|line| {
                line.contains(".route(\"")
                    || line.replace("OpenApiRouter", "").contains("Router::new()")
            })
            .collect();
        match name {
            // The site's pages and assets, which are not the API.
            "site.rs" => {}
            // The JSON 404 for any other path under /api, and the router joining the API
            // and the site.
            "mod.rs" => assert_eq!(
                plain,
                [
                    "        .route(\"/api\", any(api_not_found))",
                    "        .route(\"/api/{*rest}\", any(api_not_found))",
                    "    Router::new()",
                ],
                "mod.rs adds only the API's 404"
            ),
            _ => assert!(
                plain.is_empty(),
                "{name} routes outside the document: {plain:?}"
            ),
        }
    }
}

#[tokio::test]
async fn a_third_party_validator_accepts_the_openapi_document() {
    let program = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts/tools/.venv/bin/openapi-spec-validator");
    assert!(
        program.exists(),
        "{} is missing: run scripts/setup.sh test",
        program.display()
    );
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&*OPENAPI).unwrap()).unwrap();
    let checked = Command::new(program).arg(&file).output().unwrap();
    assert!(
        checked.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[tokio::test]
async fn the_realtime_schema_is_a_json_schema_of_every_message_type_that_refuses_other_frames() {
    let app = spawn_app().await;
    let answer = app.get("/api/schema/realtime.json").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/schema+json");
    let schema: Value = answer.json().await.unwrap();
    assert_eq!(schema, hatchery_server::http::realtime_schema());
    jsonschema::meta::validate(&schema).expect("a valid JSON Schema 2020-12");

    let documented: HashSet<&str> = schema["$defs"]["Message"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variant| variant["properties"]["type"]["enum"][0].as_str().unwrap())
        .collect();
    let spoken: HashSet<&str> = MessageType::iter().map(MessageType::as_str).collect();
    assert_eq!(documented, spoken, "every message type, and no other");

    check_frame(r#"{"v":1,"type":"ping","data":{}}"#);
    check_frame(
        r#"{"v":1,"type":"notice","data":{"level":"info","text":"hi"},"topic":"ops","seq":3}"#,
    );
    for wrong in [
        r#"{"type":"ping","data":{}}"#,
        r#"{"v":1,"type":"shout","data":{}}"#,
        r#"{"v":1,"type":"notice","data":{"level":"loud","text":"hi"}}"#,
        r#"{"v":1,"type":"subscribed","data":{}}"#,
    ] {
        let refused = std::panic::catch_unwind(|| check_frame(wrong));
        assert!(refused.is_err(), "the schema refuses {wrong}");
    }
    app.shutdown().await;
}

#[test]
fn an_answer_that_differs_from_the_document_is_caught() {
    let agent = || json!({"id": "a1", "owner_id": "u1", "name": "A", "system_instructions": ""});
    for (status, body) in [
        // An agent without most of its fields.
        (200, agent()),
        // An error that is not an ErrorBody.
        (404, json!({"message": "gone"})),
    ] {
        let body = serde_json::to_vec(&body).unwrap();
        let caught = std::panic::catch_unwind(|| {
            check_response("GET", "/api/agents/a1", status, "application/json", &body);
        });
        assert!(
            caught.is_err(),
            "{status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    // A body where the document says there is none, and a status it does not have.
    for (method, path, status) in [
        ("DELETE", "/api/agents/a1", 204),
        ("GET", "/api/agents", 204),
    ] {
        let caught = std::panic::catch_unwind(|| {
            check_response(method, path, status, "application/json", b"{}");
        });
        assert!(caught.is_err(), "{method} {path} {status}");
    }
    // What the document allows passes.
    check_response(
        "GET",
        "/api/agents/a1",
        404,
        "application/json",
        br#"{"error":{"code":"not_found","message":"no such agent"}}"#,
    );
}
