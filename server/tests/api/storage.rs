//! The database: created and migrated on an empty data directory, kept across restarts.

use sqlx::Connection as _;

use crate::helpers::{TestData, spawn_app, spawn_app_on};

#[tokio::test]
async fn an_empty_data_directory_gets_a_database_with_every_migration_applied() {
    let data = TestData::new();
    assert!(!data.path().join("hatchery.db").exists());

    let app = spawn_app_on(data).await;

    assert_eq!(
        app.data.path().join("hatchery.db").exists(),
        !app.data.is_postgres(),
        "the SQLite file is created, and only for SQLite"
    );
    let installation = app.store.installation().await.unwrap();
    let newest = app
        .data
        .migrations()
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap();
    assert_eq!(installation.schema_version, newest);
    assert_eq!(installation.id.len(), 32, "a random 128-bit id in hex");
}

#[tokio::test]
async fn a_restart_keeps_the_database_and_does_not_migrate_again() {
    let app = spawn_app().await;
    let before = app.store.installation().await.unwrap();

    let data = app.shutdown().await;
    let app = spawn_app_on(data).await;

    let after = app.store.installation().await.unwrap();
    assert_eq!(after, before);
}

#[tokio::test]
async fn two_installations_get_different_ids() {
    let (one, two) = (spawn_app().await, spawn_app().await);

    let (one, two) = (
        one.store.installation().await.unwrap(),
        two.store.installation().await.unwrap(),
    );

    assert_ne!(one.id, two.id);
}

#[tokio::test]
async fn committed_writes_reach_the_sqlite_file_itself_in_the_background() {
    let app = spawn_app().await;
    if app.data.is_postgres() {
        return;
    }
    for n in 0..20 {
        let created = app
            .call(
                reqwest::Method::POST,
                "/api/agents",
                Some("alice"),
                Some(serde_json::json!({ "name": format!("Copied {n}") })),
            )
            .await;
        assert_eq!(created.status(), 201);
    }

    // A copy of the database file without its write-ahead log, as a plain file backup
    // would take it, holds the agents once the background checkpoint has run.
    let copy = app.data.path().join("copy.db");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        std::fs::copy(app.data.path().join("hatchery.db"), &copy).unwrap();
        let mut connection =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", copy.display()))
                .await
                .unwrap();
        let copied: i64 =
            sqlx::query_scalar("SELECT count(*) FROM agents WHERE name LIKE 'Copied %'")
                .fetch_one(&mut connection)
                .await
                .unwrap_or(0);
        connection.close().await.unwrap();
        std::fs::remove_file(&copy).unwrap();
        if copied == 20 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the file alone holds {copied} of 20 agents after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app.metric("hatchery_sqlite_wal_bytes").await == 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the log's size is in /metrics after a checkpoint"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
