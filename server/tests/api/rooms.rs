//! Rooms end to end, against a fake provider scripted per agent (by its instructions) over
//! real sockets: rounds in order and at once, rounds continuing and ending when all pass,
//! critics, interruption, pause, resume and stop, caps, restart recovery, and ownership.

use std::time::{Duration, Instant};

use hatchery_server::runner::Price;
use hatchery_shared::{
    api::{
        Page,
        rooms::{AuthorKind, Room, RoomMessage, RoomMessageKind, RoomState},
        runs::{Run, RunTrigger},
    },
    realtime::{Message, MessageType, SubscribeErrorCode},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    fake_llm::{FakeLlm, Scripted},
    helpers::{TestApp, eventually, spawn_app_on_configured},
    runs::with_provider_at,
};

/// A short reply of `text`, a word per chunk, quickly.
fn says(text: &str) -> Scripted {
    let words: Vec<String> = text.split(' ').map(|word| format!("{word} ")).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Scripted::tokens(&words, Duration::from_millis(5))
}

/// A long reply: `count` words, one every `every`.
fn rambles(count: usize, every: Duration) -> Scripted {
    let words: Vec<String> = (0..count).map(|n| format!("w{n} ")).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Scripted::tokens(&words, every)
}

/// Creates alice's agent `name`, whose instructions name it (the fake's route key).
async fn agent(app: &TestApp, name: &str) -> String {
    let agent: Value = app
        .json(
            Method::POST,
            "/api/agents",
            Some("alice"),
            Some(json!({
                "name": name,
                "model": "test-model",
                "system_instructions": format!("You are agent {name}."),
            })),
        )
        .await;
    agent["id"].as_str().unwrap().to_owned()
}

/// The run that produced `message`.
async fn run_of(app: &TestApp, message: &RoomMessage) -> Run {
    let id = message
        .run_id
        .as_ref()
        .expect("an agent's message has a run");
    app.json(Method::GET, &format!("/api/runs/{id}"), Some("alice"), None)
        .await
}

/// Creates alice's room with `members` (`[(agent id, role)]`) and `settings`.
async fn room(app: &TestApp, members: &[(&str, &str)], settings: Value) -> Room {
    let members: Vec<Value> = members
        .iter()
        .map(|(id, role)| json!({"agent_id": id, "role": role}))
        .collect();
    let response = app
        .call(
            Method::POST,
            "/api/rooms",
            Some("alice"),
            Some(json!({"name": "Debate", "members": members, "settings": settings})),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// Alice's agents Ada and Bob, and a room with both as participants (in that order) and
/// `settings`.
async fn ada_and_bob(app: &TestApp, settings: Value) -> Room {
    let (ada, bob) = (agent(app, "Ada").await, agent(app, "Bob").await);
    room(
        app,
        &[(&ada, "participant"), (&bob, "participant")],
        settings,
    )
    .await
}

/// Alice says `text` in room `id`; the message as stored.
async fn say(app: &TestApp, id: &str, text: &str) -> RoomMessage {
    let response = app
        .call(
            Method::POST,
            &format!("/api/rooms/{id}/messages"),
            Some("alice"),
            Some(json!({ "content": text })),
        )
        .await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    response.json().await.unwrap()
}

/// The room's messages, oldest first.
async fn conversation(app: &TestApp, id: &str) -> Vec<RoomMessage> {
    let page: Page<RoomMessage> = app
        .json(
            Method::GET,
            &format!("/api/rooms/{id}/messages?limit=200"),
            Some("alice"),
            None,
        )
        .await;
    page.items.into_iter().rev().collect()
}

async fn read_room(app: &TestApp, id: &str) -> Room {
    app.json(
        Method::GET,
        &format!("/api/rooms/{id}"),
        Some("alice"),
        None,
    )
    .await
}

/// Posts `action` (`pause`, `resume`, `stop`) to room `id`; the answer.
async fn act(app: &TestApp, id: &str, action: &str) -> reqwest::Response {
    app.call(
        Method::POST,
        &format!("/api/rooms/{id}/{action}"),
        Some("alice"),
        None,
    )
    .await
}

/// Waits (up to 10 s) until room `id` is idle; its messages then, oldest first.
async fn settled(app: &TestApp, id: &str) -> Vec<RoomMessage> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let room = read_room(app, id).await;
        if room.state == RoomState::Idle {
            return conversation(app, id).await;
        }
        assert!(
            Instant::now() < deadline,
            "the room did not settle: {room:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Each message as `author: text` (critiques as `author on judged: text`).
fn lines(messages: &[RoomMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|message| {
            let judged = message.critique_of.as_ref().map_or(String::new(), |id| {
                let judged = messages.iter().find(|m| &m.id == id).unwrap();
                format!(" on {}", judged.author_name)
            });
            format!(
                "{}{judged}: {}",
                message.author_name,
                message.content.trim()
            )
        })
        .collect()
}

/// What the fake was sent as the last user message of each request of agent `name`.
fn seen_by(fake: &FakeLlm, name: &str) -> Vec<String> {
    fake.received()
        .iter()
        .filter(|(_, body)| {
            body["messages"][0]["content"]
                .as_str()
                .is_some_and(|system| system.contains(&format!("agent {name}.")))
        })
        .map(|(_, body)| {
            let messages = body["messages"].as_array().unwrap();
            messages.last().unwrap()["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_round_goes_in_order_and_critics_judge_each_message_unseen_by_participants() {
    let fake = FakeLlm::routed(vec![
        ("agent Ada.", vec![says("Hello from Ada")]),
        ("agent Bob.", vec![says("Bob agrees")]),
        (
            "agent Cy.",
            vec![says("Ada was polite"), says("Bob was brief")],
        ),
    ])
    .await;
    let app = with_provider_at(&fake.base_url, |_| {}).await;
    let (ada, bob, cy) = (
        agent(&app, "Ada").await,
        agent(&app, "Bob").await,
        agent(&app, "Cy").await,
    );
    let room = room(
        &app,
        &[
            (&ada, "participant"),
            (&cy, "critic"),
            (&bob, "participant"),
        ],
        json!({}),
    )
    .await;
    let mut ws = app.ws("alice").await;
    ws.subscribe(&[(&format!("room:{}", room.id), None)]).await;
    ws.skip_until(MessageType::Subscribed).await;

    let spoken = say(&app, &room.id, "Hi all").await;
    assert_eq!(spoken.author_kind, AuthorKind::Person);
    let messages = settled(&app, &room.id).await;
    assert_eq!(
        lines(&messages),
        [
            "alice: Hi all",
            "Ada: Hello from Ada",
            "Cy on Ada: Ada was polite",
            "Bob: Bob agrees",
            "Cy on Bob: Bob was brief",
        ]
    );
    assert_eq!(messages[2].kind, RoomMessageKind::Critique);
    let bob_saw = seen_by(&fake, "Bob");
    assert!(bob_saw[0].contains("Ada: Hello from Ada"), "{bob_saw:?}");
    assert!(
        !bob_saw[0].contains("Ada was polite"),
        "critiques are hidden from participants: {bob_saw:?}"
    );
    assert!(seen_by(&fake, "Cy")[1].contains("by Bob"));

    // Each turn is a run of its agent, triggered by the room, with its tokens.
    let run = run_of(&app, &messages[1]).await;
    assert_eq!(
        (run.trigger, run.agent_id.as_str()),
        (RunTrigger::Room, ada.as_str())
    );
    assert_eq!(messages[1].completion_tokens, 3);

    // The topic carried the streams, each marked with its agent, and the messages.
    let mut streamed_by = Vec::new();
    let mut created = 0;
    while let Some(frame) = ws.next_within(Duration::from_millis(300)).await {
        match frame.message {
            Message::StreamStart(step) => streamed_by.push(step.agent_id),
            Message::RoomMessageCreated(_) | Message::CritiqueCreated(_) => created += 1,
            _ => {}
        }
    }
    assert_eq!(streamed_by, [ada.clone(), cy.clone(), bob, cy]);
    assert_eq!(created, 5);
}

#[tokio::test]
async fn all_at_once_participants_answer_together_seeing_only_what_came_before() {
    let slow = |text: &str| {
        let mut words: Vec<String> = (0..10).map(|n| format!("{text}{n} ")).collect();
        words.push(String::new());
        Scripted::tokens(
            &words.iter().map(String::as_str).collect::<Vec<_>>(),
            Duration::from_millis(50),
        )
    };
    let fake = FakeLlm::routed(vec![
        ("agent Ada.", vec![slow("a")]),
        ("agent Bob.", vec![slow("b")]),
        ("agent Cat.", vec![slow("c")]),
    ])
    .await;
    let app = with_provider_at(&fake.base_url, |_| {}).await;
    let ids = [
        agent(&app, "Ada").await,
        agent(&app, "Bob").await,
        agent(&app, "Cat").await,
    ];
    let room = room(
        &app,
        &ids.iter()
            .map(|id| (id.as_str(), "participant"))
            .collect::<Vec<_>>(),
        json!({"turn_policy": "all_at_once"}),
    )
    .await;

    say(&app, &room.id, "Go").await;
    let messages = settled(&app, &room.id).await;
    assert_eq!(messages.len(), 4, "{:?}", lines(&messages));
    // Each reply takes over half a second. They went at once: every run started before
    // any ended (one after another, each would start after the previous one ended).
    let time = |text: Option<String>| {
        chrono::DateTime::parse_from_rfc3339(&text.expect("a time of a finished run")).unwrap()
    };
    let mut last_start = None;
    let mut first_end = None;
    for message in &messages[1..] {
        let run = run_of(&app, message).await;
        let (start, end) = (time(run.started_at), time(run.finished_at));
        last_start = last_start.max(Some(start));
        first_end = Some(first_end.map_or(end, |first: chrono::DateTime<_>| first.min(end)));
    }
    assert!(last_start < first_end, "{last_start:?} {first_end:?}");
    for name in ["Ada", "Bob", "Cat"] {
        let seen = &seen_by(&fake, name)[0];
        assert!(seen.ends_with("alice: Go"), "{name} saw {seen:?}");
    }
}

#[tokio::test]
async fn agents_go_on_for_the_rounds_allowed_and_stop_when_all_pass() {
    let fake = FakeLlm::routed(vec![
        ("agent Ada.", vec![says("one"), says("three"), says("PASS")]),
        ("agent Bob.", vec![says("two"), says("four"), says("pass.")]),
    ])
    .await;
    let app = with_provider_at(&fake.base_url, |_| {}).await;
    let room = ada_and_bob(&app, json!({"max_rounds_per_message": 2})).await;

    say(&app, &room.id, "Count").await;
    let messages = settled(&app, &room.id).await;
    assert_eq!(
        lines(&messages),
        [
            "alice: Count",
            "Ada: one",
            "Bob: two",
            "Ada: three",
            "Bob: four"
        ],
        "two rounds, then the agents wait"
    );
    let room_now = read_room(&app, &room.id).await;
    assert_eq!(room_now.turns_taken, 4);

    say(&app, &room.id, "Anything else?").await;
    let messages = settled(&app, &room.id).await;
    let last = lines(&messages[5..]);
    assert_eq!(
        last,
        [
            "alice: Anything else?",
            "Room: Every participant passed; the room waits for a person to write.",
        ],
        "passes are not posted"
    );
}

#[tokio::test]
async fn a_person_cuts_in_the_partial_reply_is_kept_and_the_new_round_sees_the_message() {
    let fake = FakeLlm::routed(vec![
        (
            "agent Ada.",
            // The first reply is cut off; the next ones take 0.4 s.
            vec![
                rambles(300, Duration::from_millis(20)),
                rambles(20, Duration::from_millis(20)),
            ],
        ),
        ("agent Bob.", vec![says("Cats indeed")]),
    ])
    .await;
    let app = with_provider_at(&fake.base_url, |_| {}).await;
    let room = ada_and_bob(&app, json!({})).await;
    let mut ws = app.ws("alice").await;
    ws.subscribe(&[(&format!("room:{}", room.id), None)]).await;
    ws.skip_until(MessageType::Subscribed).await;

    say(&app, &room.id, "Tell me about dogs").await;
    ws.skip_until(MessageType::StreamChunk).await;
    let cut_in = Instant::now();
    say(&app, &room.id, "Actually, cats").await;
    assert!(
        cut_in.elapsed() < Duration::from_secs(1),
        "{:?}",
        cut_in.elapsed()
    );
    // Twice quickly: still one round, after the last message.
    say(&app, &room.id, "Cats only").await;
    let messages = settled(&app, &room.id).await;
    let shown = lines(&messages);
    assert_eq!(shown[0], "alice: Tell me about dogs");
    assert!(shown[1].starts_with("Ada: w0"), "{shown:?}");
    assert!(messages[1].interrupted, "{:?}", messages[1]);
    assert_eq!(shown[2], "alice: Actually, cats");
    let last = shown
        .iter()
        .position(|line| line == "alice: Cats only")
        .unwrap();
    // The round of "Actually, cats" was cut off before it said anything, or mid-reply.
    assert!(
        last == 3 || (last == 4 && messages[3].interrupted),
        "{shown:?}"
    );
    let complete: String = (0..20).map(|n| format!("w{n} ")).collect();
    assert_eq!(
        &shown[last + 1..],
        [
            format!("Ada: {}", complete.trim()),
            "Bob: Cats indeed".to_owned()
        ],
        "{shown:?}"
    );
    let ada_saw = seen_by(&fake, "Ada");
    let final_turn = ada_saw.last().unwrap();
    assert!(
        final_turn.contains("You (Ada) (interrupted): w0")
            && final_turn.ends_with("alice: Cats only"),
        "{final_turn}"
    );
    let run = run_of(&app, &messages[1]).await;
    assert_eq!(
        run.error.as_deref(),
        Some("interrupted by a person in the room")
    );
}

#[tokio::test]
async fn pause_finishes_the_turn_in_flight_resume_goes_on_and_stop_cuts_off() {
    let fake = FakeLlm::routed(vec![
        (
            "agent Ada.",
            vec![says("first"), rambles(300, Duration::from_millis(20))],
        ),
        ("agent Bob.", vec![says("second")]),
    ])
    .await;
    let app = with_provider_at(&fake.base_url, |_| {}).await;
    let room = ada_and_bob(&app, json!({"max_rounds_per_message": 2})).await;
    assert_eq!(act(&app, &room.id, "pause").await.status(), 409);

    say(&app, &room.id, "Go").await;
    let paused: Room = act(&app, &room.id, "pause").await.json().await.unwrap();
    assert_eq!(paused.state, RoomState::Paused);
    // Ada's turn ends however long a busy machine makes it; then Bob has had time to start.
    eventually("Ada's reply", async || {
        let messages = conversation(&app, &room.id).await;
        (messages.len() > 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let messages = conversation(&app, &room.id).await;
    assert_eq!(
        lines(&messages),
        ["alice: Go", "Ada: first"],
        "Ada's turn finished; Bob's did not start"
    );
    assert_eq!(read_room(&app, &room.id).await.state, RoomState::Paused);

    let resumed: Room = act(&app, &room.id, "resume").await.json().await.unwrap();
    assert_eq!(resumed.state, RoomState::Running);
    let mut ws = app.ws("alice").await;
    ws.subscribe(&[(&format!("room:{}", room.id), None)]).await;
    // Alice's own topic may already carry the resumed turn's run.
    ws.skip_until(MessageType::Subscribed).await;
    // Bob speaks, then Ada starts her second round and is stopped mid-reply.
    ws.skip_until(MessageType::RoomMessageCreated).await;
    ws.skip_until(MessageType::StreamChunk).await;
    let stop = Instant::now();
    let stopped: Room = act(&app, &room.id, "stop").await.json().await.unwrap();
    assert!(
        stop.elapsed() < Duration::from_secs(1),
        "{:?}",
        stop.elapsed()
    );
    assert_eq!(stopped.state, RoomState::Idle);
    let messages = conversation(&app, &room.id).await;
    let shown = lines(&messages);
    assert_eq!(&shown[..3], ["alice: Go", "Ada: first", "Bob: second"]);
    assert!(
        shown[3].starts_with("Ada: w0") && messages[3].interrupted,
        "{shown:?}"
    );
    assert_eq!(messages.len(), 4, "no new round after a stop");
}

#[tokio::test]
async fn caps_on_turns_and_cost_stop_the_room_with_a_message() {
    let fake = FakeLlm::routed(vec![
        ("agent Ada.", vec![says("one"), says("again")]),
        ("agent Bob.", vec![says("two")]),
    ])
    .await;
    let app = with_provider_at(&fake.base_url, |config| {
        config.runner.prices.insert(
            "test-model".into(),
            Price {
                input: 100.0,
                output: 100.0,
            },
        );
    })
    .await;
    let room = ada_and_bob(&app, json!({"max_turns": 1})).await;
    say(&app, &room.id, "Go").await;
    let messages = settled(&app, &room.id).await;
    let shown = lines(&messages);
    assert_eq!(&shown[..2], ["alice: Go", "Ada: one"]);
    assert!(
        shown[2].starts_with("Room: The room has taken all 1 of its turns"),
        "{shown:?}"
    );
    assert_eq!(messages.len(), 3);

    // Each turn costs $0.0012 (11 prompt and 1 completion tokens at $100 per million):
    // after Ada's next one the room has spent $0.0024, over a cap of $0.002.
    let response = app
        .call(
            Method::PATCH,
            &format!("/api/rooms/{}", room.id),
            Some("alice"),
            Some(json!({"settings": {"max_turns": 100, "daily_cost_cap_usd": 0.002}})),
        )
        .await;
    assert_eq!(response.status(), 200);
    say(&app, &room.id, "More").await;
    let messages = settled(&app, &room.id).await;
    let shown = lines(&messages);
    assert_eq!(shown[4], "Ada: again");
    assert!(
        shown[5].starts_with("Room: The room's agents spent $0.0024 today"),
        "{shown:?}"
    );
    assert_eq!(messages.len(), 6);
    assert!((read_room(&app, &room.id).await.cost_today_usd - 0.0024).abs() < 1e-9);
}

#[tokio::test]
async fn a_restart_leaves_an_interrupted_room_idle_and_says_so() {
    let fake = FakeLlm::routed(vec![(
        "agent Ada.",
        vec![rambles(500, Duration::from_millis(20))],
    )])
    .await;
    let base_url = fake.base_url.clone();
    let app = with_provider_at(&base_url, |config| {
        config.shutdown_grace = Duration::from_millis(200);
    })
    .await;
    let ada = agent(&app, "Ada").await;
    let room = room(&app, &[(&ada, "participant")], json!({})).await;
    let mut ws = app.ws("alice").await;
    ws.subscribe(&[(&format!("room:{}", room.id), None)]).await;
    ws.skip_until(MessageType::Subscribed).await;
    say(&app, &room.id, "Talk").await;
    ws.skip_until(MessageType::StreamChunk).await;
    drop(ws);

    let data = app.shutdown().await;
    let app = spawn_app_on_configured(data, |config| {
        config.runner.provider = Some(hatchery_server::runner::provider::OpenAiConfig {
            base_url,
            api_key: None,
            timeout: Duration::from_secs(5),
        });
    })
    .await;
    let restarted = read_room(&app, &room.id).await;
    assert_eq!(restarted.state, RoomState::Idle);
    let shown = lines(&conversation(&app, &room.id).await);
    assert_eq!(shown[0], "alice: Talk");
    assert!(
        shown[1].starts_with("Ada: w0"),
        "the partial reply is kept: {shown:?}"
    );
    assert!(
        shown[2].starts_with("Room: The round was interrupted by a restart"),
        "{shown:?}"
    );
}

#[tokio::test]
async fn another_users_room_is_not_found_and_its_topic_refused() {
    let fake = FakeLlm::routed(Vec::new()).await;
    let app = with_provider_at(&fake.base_url, |_| {}).await;
    let ada = agent(&app, "Ada").await;
    let room = room(&app, &[(&ada, "participant")], json!({})).await;
    for (method, path) in [
        (Method::GET, format!("/api/rooms/{}", room.id)),
        (Method::GET, format!("/api/rooms/{}/messages", room.id)),
        (Method::POST, format!("/api/rooms/{}/stop", room.id)),
        (
            Method::DELETE,
            format!("/api/rooms/{}/members/{ada}", room.id),
        ),
    ] {
        let response = app.call(method, &path, Some("bob"), None).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let spoken = app
        .call(
            Method::POST,
            &format!("/api/rooms/{}/messages", room.id),
            Some("bob"),
            Some(json!({"content": "hi"})),
        )
        .await;
    assert_eq!(spoken.status(), 404);
    let mut ws = app.ws("bob").await;
    ws.subscribe(&[(&format!("room:{}", room.id), None)]).await;
    let refused = ws.expect(MessageType::SubscribeError).await;
    let Message::SubscribeError(error) = refused.message else {
        unreachable!()
    };
    assert_eq!(error.code, SubscribeErrorCode::NotFound);

    // Nor may bob put his own agent in alice's room, or alice put bob's in hers.
    let bobs: Value = app
        .json(
            Method::POST,
            "/api/agents",
            Some("bob"),
            Some(json!({"name": "Bobs"})),
        )
        .await;
    let added = app
        .call(
            Method::POST,
            &format!("/api/rooms/{}/members", room.id),
            Some("alice"),
            Some(json!({"agent_id": bobs["id"]})),
        )
        .await;
    assert_eq!(added.status(), 422);
}

#[tokio::test]
async fn rooms_are_validated_named_once_per_owner_and_members_added_cheaply() {
    let fake = FakeLlm::routed(vec![("agent Ada.", vec![says("hi")])]).await;
    let app = with_provider_at(&fake.base_url, |_| {}).await;
    let ada = agent(&app, "Ada").await;
    let bad = app
        .call(
            Method::POST,
            "/api/rooms",
            Some("alice"),
            Some(json!({"name": "", "settings": {"max_rounds_per_message": 0, "turn_policy": "all_at_once"}})),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    let fields = body["error"]["fields"].as_object().unwrap();
    assert!(fields.contains_key("name") && fields.contains_key("settings.max_rounds_per_message"));

    let first = room(&app, &[], json!({})).await;
    assert_eq!(first.settings.pass_marker, "PASS");
    let again = app
        .call(
            Method::POST,
            "/api/rooms",
            Some("alice"),
            Some(json!({"name": "Debate"})),
        )
        .await;
    assert_eq!(again.status(), 422, "one name per owner");

    say(&app, &first.id, "Anyone?").await;
    assert_eq!(
        settled(&app, &first.id).await.len(),
        1,
        "no participant: no turn"
    );
    let with_ada: Room = app
        .json(
            Method::POST,
            &format!("/api/rooms/{}/members", first.id),
            Some("alice"),
            Some(json!({"agent_id": ada})),
        )
        .await;
    assert_eq!(with_ada.members.len(), 1);
    assert_eq!(with_ada.members[0].name, "Ada");
    say(&app, &first.id, "Ada?").await;
    let shown = lines(&settled(&app, &first.id).await);
    assert_eq!(shown.last().unwrap(), "Ada: hi");

    let listed: Page<Room> = app
        .json(Method::GET, "/api/rooms", Some("alice"), None)
        .await;
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].members.len(), 1);
}
