//! `/api-docs`: the API reference for people, drawn from the OpenAPI document the server
//! generates (`/api/openapi.json`): operations grouped by tag, each opening to its
//! parameters, request body and answers, and every schema with its fields, linked by name.
//! A filter narrows the operations by path or words.

use leptos::prelude::*;
use leptos_meta::Title;
use serde_json::Value;

use crate::{api, markdown::to_safe_html};

/// The methods an operation may have, in the order they are listed.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `/api-docs`.
#[component]
pub fn ApiDocsPage() -> impl IntoView {
    let document = api::load::<Value>(|| "/api/openapi.json".to_owned());
    let filter = RwSignal::new(String::new());
    view! {
        <Title text="API" />
        <h1>"API"</h1>
        <p class="muted">
            "Every route of this server's REST API, from its "
            <a href="/api/openapi.json">"OpenAPI 3.1 document"</a>
            ". Live updates come over the WebSocket at "
            <code>"/api/ws"</code>
            ", whose frames "
            <a href="/api/schema/realtime.json">"this JSON Schema"</a>
            " describes."
        </p>
        <input
            type="search"
            class="api-filter"
            aria-label="Filter operations"
            placeholder="Filter by path or words"
            bind:value=filter
        />
        <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading the API…"</p> }>
            {move || document.get().map(|loaded| match loaded {
                Err(err) => view! {
                    <p class="form-error" role="alert">"Cannot load the API document: " {err.message}</p>
                }
                .into_any(),
                Ok(document) => reference(&document, filter),
            })}
        </Transition>
    }
}

/// The operations by tag, then the schemas.
fn reference(document: &Value, filter: RwSignal<String>) -> AnyView {
    let tags = document["tags"].as_array().cloned().unwrap_or_default();
    let groups = tags
        .iter()
        .map(|tag| {
            let name = tag["name"].as_str().unwrap_or_default().to_owned();
            let operations = operations_of(document, &name);
            let haystacks: Vec<String> = operations
                .iter()
                .map(|(method, path, operation)| haystack(method, path, operation))
                .collect();
            let hidden = move || filter.with(|wanted| !haystacks.iter().any(|text| shows(text, wanted)));
            view! {
                <section class="card api-tag" hidden=hidden aria-labelledby=format!("tag-{name}")>
                    <h2 id=format!("tag-{name}")>{name.clone()}</h2>
                    <p class="muted">{text(&tag["description"])}</p>
                    {operations
                        .into_iter()
                        .map(|(method, path, operation)| operation_view(&method, &path, &operation, filter))
                        .collect_view()}
                </section>
            }
        })
        .collect_view();
    let schemas = document["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    view! {
        <div class="api-reference">
            {groups}
            <section class="card" aria-labelledby="schemas-heading">
                <h2 id="schemas-heading">"Schemas"</h2>
                {schemas
                    .iter()
                    .map(|(name, schema)| view! {
                        <div class="api-schema" id=format!("schema-{name}")>
                            <h3>{name.clone()}</h3>
                            {description(&schema["description"])}
                            {schema_body(schema)}
                        </div>
                    })
                    .collect_view()}
            </section>
        </div>
    }
    .into_any()
}

/// The operations tagged `tag`: (method, path, operation), in the document's order.
fn operations_of(document: &Value, tag: &str) -> Vec<(String, String, Value)> {
    let Some(paths) = document["paths"].as_object() else {
        return Vec::new();
    };
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.into_iter().filter_map(move |method| {
                let operation = &item[method];
                let tagged = operation["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.iter().any(|name| name == tag));
                tagged.then(|| (method.to_owned(), path.clone(), operation.clone()))
            })
        })
        .collect()
}

/// One operation, closed to its method, path and summary; open, to everything else.
fn operation_view(
    method: &str,
    path: &str,
    operation: &Value,
    filter: RwSignal<String>,
) -> AnyView {
    let summary = text(&operation["summary"]);
    let haystack = haystack(method, path, operation);
    let hidden = move || filter.with(|wanted| !shows(&haystack, wanted));
    let parameters = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let responses = operation["responses"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let public = operation["security"].as_array().is_some_and(|schemes| {
        schemes
            .iter()
            .all(|scheme| scheme.as_object().is_some_and(|s| s.is_empty()))
    });
    view! {
        <details class="api-operation" hidden=hidden data-operation=format!("{} {path}", method.to_uppercase())>
            <summary>
                <span class=format!("api-method api-{method}")>{method.to_uppercase()}</span>
                <code class="api-path">{path.to_owned()}</code>
                <span class="api-summary" inner_html=to_safe_html(&summary)></span>
                {public.then(|| view! { <span class="badge">"no sign-in"</span> })}
            </summary>
            {description(&operation["description"])}
            {(!parameters.is_empty()).then(|| view! {
                <h4>"Parameters"</h4>
                <table class="api-fields">
                    <tbody>
                        {parameters.iter().map(|parameter| view! {
                            <tr>
                                <td><code>{text(&parameter["name"])}</code></td>
                                <td class="muted">{text(&parameter["in"])}</td>
                                <td>{type_view(&parameter["schema"])}</td>
                                <td>{parameter["required"].as_bool().unwrap_or(false).then_some("required")}</td>
                                <td inner_html=to_safe_html(&text(&parameter["description"]))></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {operation["requestBody"].is_object().then(|| view! {
                <h4>"Request body"</h4>
                {content_view(&operation["requestBody"]["content"])}
            })}
            <h4>"Answers"</h4>
            <table class="api-fields">
                <tbody>
                    {responses.iter().map(|(status, answer)| view! {
                        <tr>
                            <td><strong>{status.clone()}</strong></td>
                            <td inner_html=to_safe_html(&text(&answer["description"]))></td>
                            <td>{content_view(&answer["content"])}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </details>
    }
    .into_any()
}

/// What the filter searches in an operation: its method, path, summary and description,
/// in lower case.
fn haystack(method: &str, path: &str, operation: &Value) -> String {
    format!(
        "{method} {path} {} {}",
        text(&operation["summary"]),
        text(&operation["description"])
    )
    .to_lowercase()
}

/// Whether an operation with `haystack` shows under the filter `wanted`.
fn shows(haystack: &str, wanted: &str) -> bool {
    let wanted = wanted.trim().to_lowercase();
    wanted.is_empty() || haystack.contains(&wanted)
}

/// A body's media types and their schemas.
fn content_view(content: &Value) -> AnyView {
    let Some(content) = content.as_object() else {
        return ().into_any();
    };
    content
        .iter()
        .map(|(media, body)| {
            view! {
                <div class="api-content">
                    <span class="muted">{media.clone()}</span>" "{type_view(&body["schema"])}
                </div>
            }
        })
        .collect_view()
        .into_any()
}

/// A schema's fields, enum values or variants, as its entry in the Schemas list shows them.
fn schema_body(schema: &Value) -> AnyView {
    if let Some(properties) = schema["properties"].as_object() {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        return view! {
            <table class="api-fields">
                <tbody>
                    {properties.iter().map(|(name, field)| view! {
                        <tr>
                            <td><code>{name.clone()}</code></td>
                            <td>{type_view(field)}</td>
                            <td>{required.contains(&name.as_str()).then_some("required")}</td>
                            <td inner_html=to_safe_html(&text(&field["description"]))></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any();
    }
    for combined in ["oneOf", "allOf", "anyOf"] {
        if let Some(variants) = schema[combined].as_array() {
            let joined = if combined == "allOf" {
                "all of"
            } else {
                "one of"
            };
            return view! {
                <p class="muted">{joined}</p>
                <ul class="api-variants">
                    {variants.iter().map(|variant| view! {
                        <li>{description(&variant["description"])}{type_view(variant)}{schema_body(variant)}</li>
                    }).collect_view()}
                </ul>
            }
            .into_any();
        }
    }
    view! { <p>{type_view(schema)}</p> }.into_any()
}

/// A schema's type in a line: a link to a named schema, a list of one, the values of an
/// enum, and so on.
fn type_view(schema: &Value) -> AnyView {
    if let Some(target) = schema["$ref"].as_str() {
        let name = target.rsplit('/').next().unwrap_or(target).to_owned();
        let href = format!("#schema-{name}");
        return view! { <a class="api-type" href=href>{name}</a> }.into_any();
    }
    if let Some(values) = schema["enum"].as_array() {
        let values = values
            .iter()
            .map(|value| value.to_string())
            .collect::<Vec<_>>()
            .join(" | ");
        return view! { <code class="api-type">{values}</code> }.into_any();
    }
    for combined in ["oneOf", "anyOf", "allOf"] {
        if let Some(variants) = schema[combined].as_array() {
            return variants
                .iter()
                .enumerate()
                .map(
                    |(index, variant)| view! { {(index > 0).then_some(" | ")}{type_view(variant)} },
                )
                .collect_view()
                .into_any();
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let nullable = types.contains(&"null");
    let main = types
        .into_iter()
        .find(|kind| *kind != "null")
        .unwrap_or("any");
    let shown = match main {
        "array" => view! { "list of " {type_view(&schema["items"])} }.into_any(),
        "object" if schema["additionalProperties"].is_object() => {
            view! { "map of " {type_view(&schema["additionalProperties"])} }.into_any()
        }
        other => view! { <code class="api-type">{other.to_owned()}</code> }.into_any(),
    };
    view! { {shown}{nullable.then_some(" or null")} }.into_any()
}

/// A description as Markdown, when there is one.
fn description(value: &Value) -> Option<AnyView> {
    let text = value.as_str()?;
    Some(view! { <div class="markdown" inner_html=to_safe_html(text)></div> }.into_any())
}

/// A string of the document, or nothing.
fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}
