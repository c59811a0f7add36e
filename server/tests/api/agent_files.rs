//! Agents kept as files in `HATCHERY_AGENTS_DIR`: loaded for the admin, edits picked up
//! without a restart (by the watcher, and before a run even when it has not seen them), a
//! bad file keeping the previous version with the reason shown, deletion disabling the
//! agent, the API refusing to change them, and an exported agent reading back the same.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use hatchery_shared::api::{
    Page,
    agents::{Agent, AgentStatus, Tool},
    rooms::{MemberRole, Room},
    runs::Run,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    fake_llm::{FakeLlm, Scripted},
    helpers::{TestApp, TestData, eventually, spawn_app_on_configured},
};

const REVIEWER: &str = "---\nname: Reviewer\nmodel: test-model\ntemperature: 0.2\n\
                        tools: [calculator]\nroom_role: critic\n---\n\nYou review.\n";

/// A server whose agents directory is `agents` under its data directory, created with
/// `files` (`[(file name, content)]`) before it starts; `base_url` is its provider.
async fn with_agent_files(files: &[(&str, &str)], base_url: Option<String>) -> (TestApp, PathBuf) {
    let data = TestData::new();
    let dir = data.path().join("agents");
    fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
    let agents_dir = dir.clone();
    let app = spawn_app_on_configured(data, move |config| {
        config.agents_dir = Some(agents_dir);
        config.runner.provider =
            base_url.map(|base_url| hatchery_server::runner::provider::OpenAiConfig {
                base_url,
                api_key: None,
                timeout: Duration::from_secs(5),
            });
    })
    .await;
    (app, fs::canonicalize(dir).unwrap())
}

/// The agent kept as the file `name` of `dir`, once `check` holds for it.
async fn file_agent(
    app: &TestApp,
    dir: &Path,
    name: &str,
    what: &str,
    check: impl Fn(&Agent) -> bool,
) -> Agent {
    let path = dir.join(name).display().to_string();
    eventually(what, async || {
        let page: Page<Agent> = app
            .json(Method::GET, "/api/agents?scope=all", Some("admin"), None)
            .await;
        page.items
            .into_iter()
            .find(|agent| agent.file.as_ref().is_some_and(|file| file.path == path))
            .filter(|agent| check(agent))
    })
    .await
}

#[tokio::test]
async fn a_file_is_an_agent_of_the_admin_that_follows_its_file() {
    let (app, dir) = with_agent_files(&[("reviewer.md", REVIEWER)], None).await;
    let file = dir.join("reviewer.md");

    let agent = file_agent(&app, &dir, "reviewer.md", "the file's agent", |_| true).await;
    assert_eq!(agent.owner_id, "root", "owned by the admin");
    assert_eq!(agent.name, "Reviewer");
    assert_eq!(agent.model, "test-model");
    assert_eq!(agent.temperature, 0.2);
    assert_eq!(agent.tools, vec![Tool::Calculator]);
    assert_eq!(agent.system_instructions, "You review.");
    let source = agent.file.clone().unwrap();
    assert_eq!(source.error, None);
    assert_eq!(source.room_role, Some(MemberRole::Critic));

    // Read-only through the API.
    let path = format!("/api/agents/{}", agent.id);
    let patched = app
        .call(
            Method::PATCH,
            &path,
            Some("admin"),
            Some(json!({"name": "Other"})),
        )
        .await;
    assert_eq!(patched.status(), 409);
    let body: Value = patched.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reviewer.md"),
        "{body}"
    );
    let deleted = app.call(Method::DELETE, &path, Some("admin"), None).await;
    assert_eq!(deleted.status(), 409);

    // Its role hint applies when it joins a room without a role.
    let room: Room = app
        .json(
            Method::POST,
            "/api/rooms",
            Some("admin"),
            Some(json!({"name": "Review", "members": [{"agent_id": agent.id}]})),
        )
        .await;
    assert_eq!(room.members[0].role, MemberRole::Critic);

    // An edit is picked up without a restart.
    fs::write(&file, REVIEWER.replace("You review.", "You review twice.")).unwrap();
    let edited = file_agent(&app, &dir, "reviewer.md", "the edit", |agent| {
        agent.system_instructions == "You review twice."
    })
    .await;
    assert_eq!(edited.id, agent.id, "the same agent");

    // A file that does not parse keeps the previous version, saying why.
    fs::write(&file, "---\nname: Reviewer\ntemprature: 0.5\n---\nBroken.").unwrap();
    let broken = file_agent(&app, &dir, "reviewer.md", "the reason", |agent| {
        agent.file.as_ref().unwrap().error.is_some()
    })
    .await;
    let reason = broken.file.unwrap().error.unwrap();
    assert!(reason.contains("temprature"), "{reason}");
    assert_eq!(broken.system_instructions, "You review twice.");
    assert_eq!(broken.temperature, 0.2);

    // Settings that do not validate are refused the same way, each field named.
    fs::write(&file, "---\ntemperature: 9\n---\nToo hot.").unwrap();
    let invalid = file_agent(&app, &dir, "reviewer.md", "the invalid setting", |agent| {
        agent
            .file
            .as_ref()
            .unwrap()
            .error
            .as_ref()
            .is_some_and(|error| error.contains("temperature:"))
    })
    .await;
    assert_eq!(invalid.system_instructions, "You review twice.");

    // Deleting the file disables the agent; its history stays; putting it back enables it.
    fs::remove_file(&file).unwrap();
    let disabled = file_agent(&app, &dir, "reviewer.md", "the deletion", |agent| {
        agent.status == AgentStatus::Disabled
    })
    .await;
    assert!(
        disabled.file.unwrap().error.unwrap().contains("deleted"),
        "the reason is shown"
    );
    let threads = format!("/api/agents/{}/threads", agent.id);
    let kept = app.call(Method::GET, &threads, Some("admin"), None).await;
    assert_eq!(kept.status(), 200, "its history is still there");
    fs::write(&file, REVIEWER).unwrap();
    let back = file_agent(&app, &dir, "reviewer.md", "the file back", |agent| {
        agent.status == AgentStatus::Idle && agent.file.as_ref().unwrap().error.is_none()
    })
    .await;
    assert_eq!(back.id, agent.id);
    assert_eq!(back.system_instructions, "You review.");
}

#[tokio::test]
async fn an_edit_is_in_force_for_the_very_next_run() {
    let fake = FakeLlm::start(vec![
        Scripted::tokens(&["one"], Duration::ZERO),
        Scripted::tokens(&["two"], Duration::ZERO),
    ])
    .await;
    let (app, dir) = with_agent_files(
        &[("helper.md", "---\nmodel: test-model\n---\nBe brief.")],
        Some(fake.base_url.clone()),
    )
    .await;
    let agent = file_agent(&app, &dir, "helper.md", "the file's agent", |_| true).await;
    assert_eq!(agent.name, "helper", "named by its file");
    let thread: Value = app
        .json(
            Method::POST,
            &format!("/api/agents/{}/threads", agent.id),
            Some("admin"),
            Some(json!({})),
        )
        .await;
    let messages = format!("/api/threads/{}/messages", thread["id"].as_str().unwrap());
    let say = async |text: &str| {
        let posted: Value = app
            .json(
                Method::POST,
                &messages,
                Some("admin"),
                Some(json!({ "content": text })),
            )
            .await;
        let run = posted["run"]["id"].as_str().unwrap().to_owned();
        ended_as_admin(&app, &run).await;
    };
    say("Hi").await;
    // Written and used at once, before the watcher's debounce has passed: the check of the
    // file's time before the run reads it.
    fs::write(
        dir.join("helper.md"),
        "---\nmodel: test-model\n---\nBe very brief.",
    )
    .unwrap();
    say("Again").await;
    let sent = fake.received();
    assert_eq!(sent[0].1["messages"][0]["content"], "Be brief.");
    assert_eq!(sent[1].1["messages"][0]["content"], "Be very brief.");
}

/// Waits until the admin's run `id` ended.
async fn ended_as_admin(app: &TestApp, id: &str) {
    eventually("the run's end", async || {
        let run: Run = app
            .json(Method::GET, &format!("/api/runs/{id}"), Some("admin"), None)
            .await;
        run.status.is_final().then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_exported_agent_reads_back_the_same_from_the_directory() {
    let (app, dir) = with_agent_files(&[], None).await;
    let created: Agent = app
        .json(
            Method::POST,
            "/api/agents",
            Some("alice"),
            Some(json!({
                "name": "Night watch: \"ops\"",
                "model": "gpt-4o",
                "temperature": 1.1,
                "tools": ["http_request", "current_time"],
                "schedule": "30 6 * * 1-5",
                "time_zone": "Europe/Paris",
                "schedule_memory_runs": 4,
                "system_instructions": "Watch.\n\n---\nReport anything odd.",
                "task_instructions": "Check the dashboards.\nSum up.",
            })),
        )
        .await;
    let response = app
        .call(
            Method::GET,
            &format!("/api/agents/{}/export", created.id),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"night-watch-ops.md\""
    );
    let text = response.text().await.unwrap();
    fs::write(dir.join("night-watch-ops.md"), &text).unwrap();

    let read = file_agent(
        &app,
        &dir,
        "night-watch-ops.md",
        "the exported agent",
        |_| true,
    )
    .await;
    assert_ne!(read.id, created.id);
    assert_eq!(read.name, created.name);
    assert_eq!(read.model, created.model);
    assert_eq!(read.temperature, created.temperature);
    assert_eq!(read.tools, created.tools);
    assert_eq!(read.schedule, created.schedule);
    assert_eq!(read.time_zone, created.time_zone);
    assert_eq!(read.schedule_memory_runs, created.schedule_memory_runs);
    assert_eq!(read.system_instructions, created.system_instructions);
    assert_eq!(read.task_instructions, created.task_instructions);
    assert_eq!(read.status, created.status);

    // Another user's agent cannot be exported.
    let theirs = app
        .call(
            Method::GET,
            &format!("/api/agents/{}/export", created.id),
            Some("bob"),
            None,
        )
        .await;
    assert_eq!(theirs.status(), 404);
}
