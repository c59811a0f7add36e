//! The API's contract, generated from the code so that it cannot drift from it: the
//! OpenAPI 3.1 document of every route (`GET /api/openapi.json`, collected from the same
//! registrations that build the router) and the JSON Schema of the realtime frames
//! (`GET /api/schema/realtime.json`, from the shared wire types).

use std::sync::LazyLock;

use axum::{body::Bytes, http::header, response::IntoResponse};
use hatchery_shared::{api::ErrorBody, realtime::Envelope};
use serde_json::{Value, json};
use utoipa::{
    Modify, OpenApi, PartialSchema, ToSchema,
    openapi::{
        self, RefOr, Response,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use crate::auth::SESSION_COOKIE;

/// The document's fixed parts; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hatchery API",
        description = "Agents, their chats, runs, schedules, triggers, rooms and logs. \
            Authenticate with an API token (`Authorization: Bearer hat_…`) or the session \
            cookie the sign-in sets. Every error answers with an `ErrorBody`. Lists are \
            keyset pages: pass `next_cursor` back as `cursor`. Live updates come over the \
            WebSocket at `/api/ws`, whose frames `/api/schema/realtime.json` describes."
    ),
    tags(
        (name = "auth", description = "Signing in and out, the first admin, sign-up, passwords."),
        (name = "users", description = "Accounts (admins)."),
        (name = "tokens", description = "The caller's API tokens."),
        (name = "agents", description = "Agents and the models that answer them."),
        (name = "threads", description = "Chat threads and their messages; posting starts a run."),
        (name = "runs", description = "Runs of agents: lists, one run, cancel, run now."),
        (name = "schedules", description = "When agents run on their own."),
        (name = "triggers", description = "Signed webhooks that start runs, and their deliveries."),
        (name = "rooms", description = "Several agents and people in one conversation."),
        (name = "usage", description = "Tokens and cost, and the daily caps."),
        (name = "logs", description = "The audit log and the system log."),
        (name = "realtime", description = "The WebSocket and topics' events over HTTP."),
        (name = "health", description = "Liveness, readiness and metrics."),
        (name = "contract", description = "This document and the realtime frames' schema."),
    ),
    modifiers(&Conventions),
    security(("token" = []), ("session" = [])),
)]
struct Fixed;

/// Routes of the contract documents themselves.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .routes(routes!(realtime_json))
}

/// The OpenAPI document, built once.
static OPENAPI_JSON: LazyLock<Bytes> =
    LazyLock::new(|| Bytes::from(serde_json::to_vec(&openapi()).expect("the document serializes")));

/// The realtime schema, built once.
static REALTIME_JSON: LazyLock<Bytes> = LazyLock::new(|| {
    Bytes::from(serde_json::to_vec(&realtime_schema()).expect("the schema serializes"))
});

/// The OpenAPI 3.1 document of the whole API.
pub fn openapi() -> openapi::OpenApi {
    let (_, document) = super::routes().split_for_parts();
    finish_operations(document)
}

/// The fixed parts every router's document is merged into.
pub fn base() -> openapi::OpenApi {
    Fixed::openapi()
}

/// Adds what every operation shares: the ways to authenticate and the error body.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
        ErrorBody::schemas(&mut schemas);
        components.schemas.extend(schemas);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token, made on the Tokens page or with POST /api/tokens.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session cookie that signing in sets; changes also need a same-origin `Origin`.",
            ))),
        );
    }
}

/// Finishes every operation: a `default` answer, the error body, so that any status the
/// operation does not list is documented as an error; and a summary without the route the
/// handler's doc comment starts with (`` `GET /api/agents`: agents, newest first``), which
/// the document already says.
fn finish_operations(mut doc: openapi::OpenApi) -> openapi::OpenApi {
    let error = Response::builder()
        .description("An error: its code, a sentence, and what is wrong with each field.")
        .content(
            "application/json",
            openapi::content::Content::new(Some(RefOr::Ref(openapi::Ref::from_schema_name(
                ErrorBody::name(),
            )))),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation.summary = operation.summary.as_deref().and_then(summary_of);
            operation
                .responses
                .responses
                .entry("default".to_owned())
                .or_insert_with(|| RefOr::T(error.clone()));
        }
    }
    doc
}

/// A handler's first doc paragraph without the route it starts with, as a sentence; `None` when
/// nothing else is left.
fn summary_of(line: &str) -> Option<String> {
    let rest = match line.strip_prefix('`').and_then(|line| line.split_once('`')) {
        Some((_, rest)) => rest.trim_start_matches([':', '.', ' ']),
        None => line,
    };
    let mut chars = rest.chars();
    let first = chars.next()?;
    Some(
        first
            .to_uppercase()
            .chain(chars)
            .collect::<String>()
            .replace('\n', " "),
    )
}

/// The JSON Schema (2020-12) of a realtime frame, either way, with a definition for the
/// envelope and for every message type's payload.
pub fn realtime_schema() -> Value {
    let mut schemas = Vec::new();
    Envelope::schemas(&mut schemas);
    let mut defs = serde_json::Map::new();
    defs.insert(Envelope::name().into_owned(), to_json(&Envelope::schema()));
    for (name, schema) in schemas {
        defs.insert(name, to_json(&schema));
    }
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "/api/schema/realtime.json",
        "title": "Hatchery realtime frame",
        "description": "One WebSocket text frame of /api/ws, either way: the envelope with the \
            message type in `type` and its payload in `data`.",
        "$ref": "#/$defs/Envelope",
        "$defs": defs,
    });
    point_refs_at_defs(&mut schema);
    schema
}

/// A schema as JSON.
fn to_json(schema: &RefOr<openapi::Schema>) -> Value {
    serde_json::to_value(schema).expect("a schema serializes")
}

/// Rewrites the OpenAPI references (`#/components/schemas/X`) to this document's `$defs`.
fn point_refs_at_defs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(target) if key == "$ref" => {
                        if let Some(name) = target.strip_prefix("#/components/schemas/") {
                            *target = format!("#/$defs/{name}");
                        }
                    }
                    _ => point_refs_at_defs(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(point_refs_at_defs),
        _ => {}
    }
}

/// `GET /api/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "contract",
    operation_id = "contract_openapi_json",
    security(()),
    responses((status = 200, description = "This document: OpenAPI 3.1, every route of the API.", content_type = "application/json", body = Object)),
)]
async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON.clone(),
    )
}

/// `GET /api/schema/realtime.json`.
#[utoipa::path(
    get,
    path = "/api/schema/realtime.json",
    tag = "contract",
    operation_id = "contract_realtime_json",
    security(()),
    responses((status = 200, description = "The JSON Schema (2020-12) of every WebSocket frame and message type.", content_type = "application/schema+json", body = Object)),
)]
async fn realtime_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        REALTIME_JSON.clone(),
    )
}
