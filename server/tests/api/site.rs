//! The server-rendered site: pages with the layout, and the HTML 404 page.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_dashboard_is_rendered_on_the_server_with_the_navigation_and_version() {
    let app = spawn_app().await;

    let response = app.get("/").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    for label in ["Dashboard", "Agents", "Runs", "Rooms", "Logs"] {
        assert!(
            html.contains(&format!(">{label}</a>")),
            "no {label} link in the navigation"
        );
    }
    assert!(html.contains(concat!("v", env!("CARGO_PKG_VERSION"))));
    assert!(
        html.contains("/pkg/hatchery.js"),
        "the page loads the bundle"
    );
}

#[tokio::test]
async fn a_section_not_yet_available_says_so() {
    let app = spawn_app().await;

    let response = app.get("/rooms").await;

    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("Rooms are not available in this version yet"));
}

#[tokio::test]
async fn an_unknown_page_is_a_404_with_the_layout() {
    let app = spawn_app().await;

    let response = app.get("/no/such/page").await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(
        html.contains(">Dashboard</a>"),
        "the 404 page keeps the navigation"
    );
}
