//! The audit log over the API: a record for each change, written with it and absent when
//! it fails; who may read which records; filters, time ranges and pages. Who may read the
//! system log (its records are tested with the real binary, in `process`).

use hatchery_server::store::{Audit, AuditFilter};
use hatchery_shared::api::{
    Page,
    audit::{AuditAction, AuditRecord},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, eventually, spawn_app};

/// The records `who` reads at `/api/audit?{query}`, newest first, with the next cursor.
async fn audit(app: &TestApp, who: &str, query: &str) -> Page<AuditRecord> {
    let response = app
        .call(Method::GET, &format!("/api/audit?{query}"), Some(who), None)
        .await;
    assert_eq!(response.status(), 200, "GET /api/audit?{query}");
    response.json().await.unwrap()
}

/// Now, as `from=` takes it: the records made from now on, not those of the test accounts.
fn from_now() -> String {
    format!(
        "from={}",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
}

/// The actions of `records`, oldest first.
fn actions(records: &Page<AuditRecord>) -> Vec<AuditAction> {
    records
        .items
        .iter()
        .rev()
        .map(|record| record.action)
        .collect()
}

async fn create_agent(app: &TestApp, who: &str, name: &str) -> String {
    let agent: Value = app
        .json(
            Method::POST,
            "/api/agents",
            Some(who),
            Some(json!({ "name": name })),
        )
        .await;
    agent["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_change_to_an_agent_is_recorded_with_who_what_and_from_where() {
    let app = spawn_app().await;
    let id = create_agent(&app, "alice", "Scout").await;
    let response = app
        .call(
            Method::PATCH,
            &format!("/api/agents/{id}"),
            Some("alice"),
            Some(json!({ "model": "other-model", "temperature": 0.5, "name": "Scout" })),
        )
        .await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let response = app
        .call(
            Method::DELETE,
            &format!("/api/agents/{id}"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(response.status(), 204);

    let records = audit(&app, "alice", &format!("target_id={id}")).await;
    assert_eq!(
        actions(&records),
        [
            AuditAction::AgentCreated,
            AuditAction::AgentUpdated,
            AuditAction::AgentDeleted
        ]
    );
    let updated = &records.items[1];
    assert_eq!(updated.actor_user_id.as_deref(), Some("alice"));
    assert!(updated.actor_token_id.is_some(), "done with an API token");
    assert_eq!(updated.target_kind, "agent");
    assert_eq!(updated.summary, "model, temperature", "only what changed");
    assert_eq!(updated.client_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(updated.request_id.as_deref(), Some(request_id.as_str()));
}

#[tokio::test]
async fn a_change_that_fails_leaves_no_record() {
    let app = spawn_app().await;
    let id = create_agent(&app, "alice", "Scout").await;
    let refused = app
        .call(
            Method::PATCH,
            &format!("/api/agents/{id}"),
            Some("alice"),
            Some(json!({ "temperature": 9 })),
        )
        .await;
    assert_eq!(refused.status(), 422);
    for expected in [201, 422] {
        let room = app
            .call(
                Method::POST,
                "/api/rooms",
                Some("alice"),
                Some(json!({ "name": "Ops" })),
            )
            .await;
        assert_eq!(room.status(), expected, "the name is taken the second time");
    }
    let records = audit(&app, "alice", "actor=alice").await;
    assert_eq!(
        actions(&records),
        [AuditAction::AgentCreated, AuditAction::RoomCreated]
    );
}

/// A caller that stops waiting (a client that hangs up) at any point of an audited change
/// leaves the change with its record or neither, and the connection it used never goes
/// back to the pool inside the transaction: the next changes go through.
#[tokio::test]
async fn a_change_given_up_midway_is_made_with_its_record_or_not_at_all() {
    let app = spawn_app().await;
    let mut agents = Vec::new();
    for n in 0..100 {
        agents.push(create_agent(&app, "alice", &format!("Doomed {n}")).await);
    }
    // From not waiting at all to waiting twice as long as a delete takes here and now.
    let spare = create_agent(&app, "alice", "Spare").await;
    let record = Audit::by_system(AuditAction::AgentDeleted, "given up or not");
    let started = std::time::Instant::now();
    assert!(app.store.delete_agent(&spare, &record).await.unwrap());
    let step = started.elapsed() / 50;
    for (n, id) in (0u32..).zip(&agents) {
        let _ = tokio::time::timeout(step * n, app.store.delete_agent(id, &record)).await;
    }
    // What the database was told before a caller stopped waiting may still be running.
    let (deleted, kept) = eventually(
        "each agent deleted with its record, or neither",
        async || {
            let mut deleted = 0;
            for id in &agents {
                let gone = app.store.agent(id).await.unwrap().is_none();
                let filter = AuditFilter {
                    target_id: Some(id.clone()),
                    action: Some(AuditAction::AgentDeleted),
                    ..AuditFilter::default()
                };
                let recorded = !app
                    .store
                    .audit_records(&filter, None, 1)
                    .await
                    .unwrap()
                    .is_empty();
                if gone != recorded {
                    return None;
                }
                deleted += usize::from(gone);
            }
            Some((deleted, agents.len() - deleted))
        },
    )
    .await;
    assert!(deleted > 0 && kept > 0, "{deleted} deleted, {kept} kept");

    let id = create_agent(&app, "alice", "Survivor").await;
    let renamed = app
        .json::<Value>(
            Method::PATCH,
            &format!("/api/agents/{id}"),
            Some("alice"),
            Some(json!({ "name": "Survivor 2" })),
        )
        .await;
    assert_eq!(renamed["name"], "Survivor 2");
    let records = audit(&app, "alice", &format!("target_id={id}")).await;
    assert_eq!(
        actions(&records),
        [AuditAction::AgentCreated, AuditAction::AgentUpdated]
    );
}

#[tokio::test]
async fn sign_ins_and_failed_ones_are_recorded_without_the_password() {
    let app = spawn_app().await;
    let from = from_now();
    assert_eq!(
        app.sign_in("alice@example.com", "wrong password 1")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.sign_in("nobody@example.com", "wrong password 1")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.sign_in("alice@example.com", PASSWORD).await.status(),
        200
    );

    let mine = audit(&app, "alice", &from).await;
    assert_eq!(
        actions(&mine),
        [AuditAction::SignInFailed, AuditAction::SignedIn],
        "alice sees what happened to her account, not the unknown email"
    );
    assert_eq!(mine.items[0].actor_user_id.as_deref(), Some("alice"));
    let failed = audit(&app, "admin", "action=sign_in_failed").await;
    assert_eq!(failed.items.len(), 2);
    assert_eq!(failed.items[0].target_kind, "email");
    assert_eq!(failed.items[0].target_id, "nobody@example.com");
    let text = serde_json::to_string(&failed).unwrap();
    assert!(!text.contains("wrong password 1"), "{text}");
}

#[tokio::test]
async fn people_read_the_records_about_themselves_and_admins_read_all() {
    let app = spawn_app().await;
    let from = from_now();
    let alices = create_agent(&app, "alice", "Alice's").await;
    create_agent(&app, "bob", "Bob's").await;
    let by_admin = app
        .call(
            Method::PATCH,
            "/api/users/alice",
            Some("admin"),
            Some(json!({ "disabled": false })),
        )
        .await;
    assert_eq!(by_admin.status(), 200);

    let alice = audit(&app, "alice", &from).await;
    assert_eq!(
        actions(&alice),
        [AuditAction::AgentCreated, AuditAction::UserUpdated],
        "her agent, and what an admin did to her account"
    );
    assert_eq!(alice.items[0].actor_user_id.as_deref(), Some("root"));
    let bob_about_alice = audit(&app, "bob", &format!("target_id={alices}")).await;
    assert!(bob_about_alice.items.is_empty());
    let bob_as_alice = audit(&app, "bob", "actor=alice").await;
    assert!(bob_as_alice.items.is_empty());
    let everything = audit(&app, "admin", "action=agent_created").await;
    assert_eq!(everything.items.len(), 2);
}

#[tokio::test]
async fn records_come_in_pages_filtered_by_action_kind_and_time() {
    let app = spawn_app().await;
    let before = chrono::Utc::now();
    for n in 0..5 {
        create_agent(&app, "alice", &format!("Agent {n}")).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let middle = chrono::Utc::now();
    let thread: Value = app
        .json(
            Method::POST,
            &format!(
                "/api/agents/{}/threads",
                create_agent(&app, "alice", "Last").await
            ),
            Some("alice"),
            Some(json!({ "title": "Plans" })),
        )
        .await;

    let first = audit(&app, "alice", "action=agent_created&limit=4").await;
    assert_eq!(first.items.len(), 4);
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = audit(
        &app,
        "alice",
        &format!("action=agent_created&limit=4&cursor={cursor}"),
    )
    .await;
    assert_eq!(second.items.len(), 2);
    assert!(second.next_cursor.is_none());
    let mut ids: Vec<_> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|r| &r.id)
        .collect();
    assert!(ids.is_sorted_by(|a, b| a > b), "newest first, no repeats");
    ids.dedup();
    assert_eq!(ids.len(), 6);

    let threads = audit(&app, "alice", "target_kind=thread").await;
    assert_eq!(threads.items.len(), 1);
    assert_eq!(threads.items[0].target_id, thread["id"].as_str().unwrap());
    let since = audit(
        &app,
        "alice",
        &format!("from={}", middle.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
    )
    .await;
    assert_eq!(
        actions(&since),
        [AuditAction::AgentCreated, AuditAction::ThreadCreated]
    );
    let until = audit(
        &app,
        "alice",
        &format!(
            "from={}&to={}",
            before.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            middle.format("%Y-%m-%dT%H:%M:%S%.6fZ")
        ),
    )
    .await;
    assert_eq!(until.items.len(), 5);
}

#[tokio::test]
async fn a_bad_filter_is_a_clear_error() {
    let app = spawn_app().await;
    let response = app
        .call(
            Method::GET,
            "/api/audit?from=yesterday",
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["fields"]["from"].is_string(), "{body}");
    let response = app
        .call(
            Method::GET,
            "/api/audit?action=exploded",
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(response.status(), 400);
    let response = app.call(Method::GET, "/api/audit", None, None).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn only_admins_read_the_system_log() {
    let app = spawn_app().await;
    let refused = app
        .call(Method::GET, "/api/logs", Some("alice"), None)
        .await;
    assert_eq!(refused.status(), 403);
    let page: Page<Value> = app
        .json(
            Method::GET,
            "/api/logs?level=warn&category=runner",
            Some("admin"),
            None,
        )
        .await;
    assert!(page.next_cursor.is_none());
    let bad = app
        .call(Method::GET, "/api/logs?level=loud", Some("admin"), None)
        .await;
    assert_eq!(bad.status(), 400);
}
