//! The database: created and migrated on an empty data directory, kept across restarts.

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
