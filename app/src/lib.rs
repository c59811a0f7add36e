//! Hatchery's user interface: the page shell, the layout and the pages, written once and
//! rendered on the server (`ssr`) and hydrated in the browser (`hydrate`).

pub mod api;
mod components;
pub mod live;
pub mod markdown;
pub mod paged;
mod pages;
pub mod realtime;
pub mod session;

pub use pages::agent_triggers::curl_example;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use crate::{
    components::layout::Layout,
    pages::{
        agent_page::AgentPage,
        agents::AgentsPage,
        api_docs::ApiDocsPage,
        chat::ChatPage,
        dashboard::Dashboard,
        logs::LogsPage,
        not_found::NotFound,
        password::PasswordPage,
        rooms::{RoomPage, RoomsPage},
        run::RunPage,
        runs::RunsPage,
        setup::Setup,
        sign_in::SignIn,
        tokens::TokensPage,
        usage::UsagePage,
        users::UsersPage,
    },
    session::Session,
};

/// The HTML document around the app, rendered on the server for every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: routes inside the shared layout. Every page is rendered on the server
/// once its data has loaded (`SsrMode::Async`), so that it arrives whole.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    realtime::WsClient::provide();
    Session::provide();
    mark_hydrated();

    view! {
        <Stylesheet id="leptos" href="/pkg/hatchery.css" />
        <Title formatter=|page: String| format!("{page} · Hatchery") />
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") ssr=SsrMode::Async view=Dashboard />
                    <Route path=StaticSegment("sign-in") ssr=SsrMode::Async view=SignIn />
                    <Route path=StaticSegment("setup") ssr=SsrMode::Async view=Setup />
                    <Route path=StaticSegment("agents") ssr=SsrMode::Async view=AgentsPage />
                    <Route path=(StaticSegment("agents"), ParamSegment("id")) ssr=SsrMode::Async view=AgentPage />
                    <Route path=(StaticSegment("agents"), ParamSegment("id"), StaticSegment("chat")) ssr=SsrMode::Async view=ChatPage />
                    <Route path=(StaticSegment("account"), StaticSegment("tokens")) ssr=SsrMode::Async view=TokensPage />
                    <Route path=(StaticSegment("account"), StaticSegment("password")) ssr=SsrMode::Async view=PasswordPage />
                    <Route path=(StaticSegment("admin"), StaticSegment("users")) ssr=SsrMode::Async view=UsersPage />
                    <Route path=StaticSegment("runs") ssr=SsrMode::Async view=RunsPage />
                    <Route path=(StaticSegment("runs"), ParamSegment("id")) ssr=SsrMode::Async view=RunPage />
                    <Route path=StaticSegment("usage") ssr=SsrMode::Async view=UsagePage />
                    <Route path=StaticSegment("rooms") ssr=SsrMode::Async view=RoomsPage />
                    <Route path=(StaticSegment("rooms"), ParamSegment("id")) ssr=SsrMode::Async view=RoomPage />
                    <Route path=StaticSegment("logs") ssr=SsrMode::Async view=LogsPage />
                    <Route path=StaticSegment("api-docs") ssr=SsrMode::Async view=ApiDocsPage />
                </Routes>
            </Layout>
        </Router>
    }
}

/// Sets `data-hydrated` on `<body>` once the browser bundle has taken over the page, so
/// tests (and people debugging) can tell a live page from server-rendered HTML, and lets go
/// of the data the page came with.
fn mark_hydrated() {
    Effect::new(|| {
        api::page_hydrated();
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
