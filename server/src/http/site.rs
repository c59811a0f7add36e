//! The server-rendered Leptos site, its static files (the WASM bundle, CSS, assets), and
//! the HTML 404 page for paths outside `/api`. Each page is rendered with its data, which
//! it reads from the REST API in this process as the person who asked for the page; the
//! answers travel with the HTML, so that the browser does not ask again while it hydrates.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{ConnectInfo, Request, State},
    http::{Extensions, HeaderMap, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use hatchery_app::{
    App,
    api::{PAGE_DATA_ID, ServerApi},
    session::SESSION_PATH,
    shell,
};
use leptos::{
    nonce::use_nonce,
    prelude::{provide_context, use_context},
};
use leptos_axum::{
    LeptosRoutes, ResponseOptions, file_and_error_handler_with_context, generate_route_list,
};
use tower::ServiceExt;

use super::AppState;

/// The largest answer a page may read from the API while it renders, and the largest page.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The most answer bytes sent along with one page; answers beyond it are not sent, and the
/// browser asks for them itself.
const MAX_PAGE_DATA_BYTES: usize = 4 * 1024 * 1024;

/// The request headers that say who the caller is, passed on to the API.
const CREDENTIALS: [header::HeaderName; 3] = [
    header::COOKIE,
    header::AUTHORIZATION,
    header::HeaderName::from_static("x-request-id"),
];

/// Routes that render the site's pages, with static files and the 404 page as fallback.
/// Pages read their data through `api`.
pub fn router(state: &AppState, api: Router) -> Router<AppState> {
    let routes = generate_route_list(App);
    let session_api = api.clone();
    let provide_api = move || {
        provide_context(server_api(api.clone()));
        forbid_other_scripts();
    };
    Router::new()
        .leptos_routes_with_context(state, routes, provide_api.clone(), {
            let options = state.leptos.clone();
            move || shell(options.clone())
        })
        .route_layer(middleware::from_fn_with_state(session_api, ask_who_calls))
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            provide_api,
            shell,
        ))
        .layer(middleware::from_fn(send_answers_with_page))
}

/// Sets the page's Content-Security-Policy: scripts only from this site or inline with the
/// nonce Leptos gives this render (its hydration scripts carry it), WebAssembly allowed,
/// connections only to this site, and no framing by any other page.
fn forbid_other_scripts() {
    let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>()) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = header::HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The API's answers to one page's `GET`s, by path: `(status, body)`.
#[derive(Clone, Default)]
struct PageAnswers(Arc<Mutex<PageAnswersInner>>);

#[derive(Default)]
struct PageAnswersInner {
    answers: BTreeMap<String, (u16, String)>,
    bytes: usize,
}

impl PageAnswers {
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        inner.answers.get(path).cloned()
    }

    /// Keeps an answer, unless the page's answers would grow past their limit.
    fn keep(&self, path: String, status: u16, body: String) {
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let size = path.len() + body.len();
        if inner.bytes + size <= MAX_PAGE_DATA_BYTES && !inner.answers.contains_key(&path) {
            inner.bytes += size;
            inner.answers.insert(path, (status, body));
        }
    }

    /// The answers as the `<script>` element the browser reads them from.
    fn script(&self) -> String {
        let inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let json = serde_json::to_string(&inner.answers).unwrap_or_else(|_| "{}".to_owned());
        // Inside <script>, nothing may look like a closing tag.
        let json = json.replace('<', "\\u003c");
        format!(r#"<script id="{PAGE_DATA_ID}" type="application/json">{json}</script>"#)
    }
}

/// Gives the page being rendered a place for its API answers, and sends them with its HTML.
async fn send_answers_with_page(mut request: Request, next: Next) -> Response {
    let answers = PageAnswers::default();
    request.extensions_mut().insert(answers.clone());
    let response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(html) = to_bytes(body, MAX_BODY_BYTES).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the page is too large").into_response();
    };
    let html = String::from_utf8_lossy(&html);
    let html = match html.rfind("</body>") {
        Some(end) => format!("{}{}{}", &html[..end], answers.script(), &html[end..]),
        None => html.into_owned(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(html))
}

/// Asks the API who the caller is before a page renders, so that the session is known from
/// the first render on (answered from the page's answers). A page behind sign-in is then
/// built once, where it stays: were it built only once the session came, inside a
/// `<Suspense>` waiting for it, Leptos could build it during a check of that `<Suspense>`'s
/// children and throw it away with the loads it had started, and the page would wait for
/// them forever.
async fn ask_who_calls(State(api): State<Router>, request: Request, next: Next) -> Response {
    if let Some(answers) = request.extensions().get::<PageAnswers>() {
        let caller = Caller::of(request.headers(), request.extensions());
        ask(&api, answers, &caller, SESSION_PATH.to_owned()).await;
    }
    next.run(request).await
}

/// The REST API as the page being rendered calls it: each `GET` goes through `api` in this
/// process, as the caller of the page (see [`ask`]).
fn server_api(api: Router) -> ServerApi {
    let page_request = use_context::<Parts>();
    let answers = page_request
        .as_ref()
        .and_then(|parts| parts.extensions.get::<PageAnswers>().cloned())
        .unwrap_or_default();
    let caller = page_request
        .as_ref()
        .map(|parts| Caller::of(&parts.headers, &parts.extensions))
        .unwrap_or_default();
    ServerApi::new(move |path| {
        let (api, answers, caller) = (api.clone(), answers.clone(), caller.clone());
        Box::pin(async move { ask(&api, &answers, &caller, path).await })
    })
}

/// `GET path` through `api` as `caller`. A path asked for twice while rendering a page gets
/// the first answer again.
async fn ask(api: &Router, answers: &PageAnswers, caller: &Caller, path: String) -> (u16, Vec<u8>) {
    if let Some((status, body)) = answers.get(&path) {
        return (status, body.into_bytes());
    }
    let Some(request) = caller.request(&path) else {
        return (StatusCode::BAD_REQUEST.as_u16(), Vec::new());
    };
    let response = match api.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let Ok(body) = to_bytes(response.into_body(), MAX_BODY_BYTES).await else {
        return (StatusCode::BAD_GATEWAY.as_u16(), Vec::new());
    };
    if let Ok(text) = std::str::from_utf8(&body) {
        answers.keep(path, status, text.to_owned());
    }
    (status, body.to_vec())
}

/// Who asked for a page: the request headers that say so (cookies, `Authorization`, the
/// request id) and the client's address, passed on to the API.
#[derive(Clone, Default)]
struct Caller {
    headers: HeaderMap,
    peer: Option<ConnectInfo<SocketAddr>>,
}

impl Caller {
    fn of(headers: &HeaderMap, extensions: &Extensions) -> Self {
        let mut credentials = HeaderMap::new();
        for name in CREDENTIALS {
            if let Some(value) = headers.get(&name) {
                credentials.insert(name, value.clone());
            }
        }
        Self {
            headers: credentials,
            peer: extensions.get::<ConnectInfo<SocketAddr>>().copied(),
        }
    }

    /// `GET path` as this caller; `None` if `path` is not a valid URI.
    fn request(&self, path: &str) -> Option<Request> {
        let mut request = Request::get(path).body(Body::empty()).ok()?;
        *request.headers_mut() = self.headers.clone();
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(peer);
        }
        Some(request)
    }
}
