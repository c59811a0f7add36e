//! `/healthz`, `/readyz` and the request id every response carries.

use hatchery_shared::health::{CheckStatus, Health, Readiness};
use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_answers_ok_with_the_server_version() {
    let app = spawn_app().await;

    let response = app.healthz().await;

    assert_eq!(response.status(), StatusCode::OK);
    let health: Health = response.json().await.unwrap();
    assert_eq!(health.status, CheckStatus::Ok);
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn readyz_is_ok_when_the_database_answers() {
    let app = spawn_app().await;

    let response = app.readyz().await;

    assert_eq!(response.status(), StatusCode::OK);
    let readiness: Readiness = response.json().await.unwrap();
    assert_eq!(readiness.status, CheckStatus::Ok);
    assert_eq!(readiness.database.status, CheckStatus::Ok);
    assert!(readiness.database.schema_version.is_some());
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_gone_while_healthz_stays_ok() {
    let app = spawn_app().await;
    assert_eq!(app.readyz().await.status(), StatusCode::OK);

    app.store.close().await;

    let response = app.readyz().await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let readiness: Readiness = response.json().await.unwrap();
    assert_eq!(readiness.status, CheckStatus::Unavailable);
    assert_eq!(readiness.database.status, CheckStatus::Unavailable);
    assert_eq!(readiness.database.schema_version, None);
    assert_eq!(app.healthz().await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_without_an_id_gets_a_fresh_uuid_v7() {
    let app = spawn_app().await;

    let first = app.healthz().await;
    let second = app.healthz().await;

    let id = |response: &reqwest::Response| {
        let text = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        uuid::Uuid::parse_str(&text).expect("a UUID")
    };
    let (first, second) = (id(&first), id(&second));
    assert_eq!(first.get_version_num(), 7);
    assert_ne!(first, second, "each request gets its own id");
}

#[tokio::test]
async fn a_usable_request_id_from_the_caller_is_echoed_back() {
    let app = spawn_app().await;

    let response = app
        .send(
            app.client
                .get(app.url("/readyz"))
                .header("x-request-id", "trace-42.a_b:c"),
        )
        .await
        .unwrap();

    assert_eq!(response.headers()["x-request-id"], "trace-42.a_b:c");
}

#[tokio::test]
async fn an_unusable_request_id_is_replaced() {
    let app = spawn_app().await;

    for junk in ["x".repeat(129), "has spaces".into(), "quote\"d".into()] {
        let response = app
            .send(
                app.client
                    .get(app.url("/healthz"))
                    .header("x-request-id", &junk),
            )
            .await
            .unwrap();

        let echoed = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(echoed, junk);
        assert!(
            uuid::Uuid::parse_str(echoed).is_ok(),
            "{echoed} is not a fresh id"
        );
    }
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404_in_the_error_format() {
    let app = spawn_app().await;

    let response = app.get("/api/nothing/here").await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers()["x-request-id"].to_str().is_ok());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        body["error"]["message"],
        "no API endpoint at /api/nothing/here"
    );
}
