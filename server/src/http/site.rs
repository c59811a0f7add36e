//! The server-rendered Leptos site, its static files (the WASM bundle, CSS, assets), and
//! the HTML 404 page for paths outside `/api`.

use axum::Router;
use hatchery_app::{App, shell};
use leptos_axum::{LeptosRoutes, file_and_error_handler, generate_route_list};

use super::AppState;

/// Routes that render the site's pages, with static files and the 404 page as fallback.
pub fn router(state: &AppState) -> Router<AppState> {
    let routes = generate_route_list(App);
    Router::new()
        .leptos_routes(state, routes, {
            let options = state.leptos.clone();
            move || shell(options.clone())
        })
        .fallback(file_and_error_handler::<AppState, _>(shell))
}
