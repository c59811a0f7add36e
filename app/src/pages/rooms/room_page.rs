//! A room's page (`/rooms/{id}`): the conversation with each agent's name in its colour,
//! replies streaming in (several at once), critiques folded under the message they judge,
//! the members and what each is doing, Pause / Resume / Stop, the round and turn counters
//! against their caps, the composer (writing while agents speak interrupts them, and the
//! page says so), and the room's members and settings to edit. What it shows is a
//! [`RoomView`] that loads and the room's topic events are applied to.

use gloo_net::http::Method;
use hatchery_shared::{
    api::{
        Page,
        agents::Agent,
        rooms::{
            MemberRole, NewMember, NewRoomMessage, Room, RoomMessage, RoomMessageKind, RoomPatch,
            RoomSettings, RoomState, TurnPolicy,
        },
    },
    realtime::{Message, Topic},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::room_state::{LiveReply, RoomView};
use crate::{
    api,
    components::composer::Composer,
    live::{self, Live},
    markdown::to_safe_html,
    realtime::use_live_state,
    session::SignedIn,
};

/// The messages a room's page shows at first: the newest page of them.
const MESSAGES_SHOWN: u32 = 200;

/// `/rooms/{id}`.
#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|params| params.get("id")).unwrap_or_default();
    view! {
        <Title text="Room" />
        <SignedIn>
            {move || view! { <RoomLoader id=id() /> }}
        </SignedIn>
    }
}

/// The room and its newest messages (oldest first), read together.
async fn read_room(id: String) -> Result<(Room, Vec<RoomMessage>), api::Failure> {
    let room = api::get::<Room>(&format!("/api/rooms/{id}"));
    let page =
        api::get::<Page<RoomMessage>>(&format!("/api/rooms/{id}/messages?limit={MESSAGES_SHOWN}"));
    let room = room.await?;
    let mut messages = page.await?.items;
    messages.reverse();
    Ok((room, messages))
}

/// Loads the room with the position of its topic, then shows it.
#[component]
fn RoomLoader(id: String) -> impl IntoView {
    let source = id.clone();
    let loaded = live::load_with(Topic::room(&id), move || source.clone(), read_room);
    view! {
        <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading the room…"</p> }>
            {move || loaded.get().map(|loaded| match loaded {
                Ok(loaded) => view! { <RoomScreen id=id.clone() loaded /> }.into_any(),
                Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
            })}
        </Transition>
    }
}

/// The room as `loaded`, kept current by its topic. Returns an `AnyView`, as the other
/// large pages do: its full type is too deep for the compiler's limits.
#[component]
fn RoomScreen(id: String, loaded: Live<(Room, Vec<RoomMessage>)>) -> AnyView {
    let (room, messages) = loaded.state;
    let mut initial = RoomView::default();
    initial.loaded(room.clone(), messages);
    let state = RwSignal::new(initial);
    let failure = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let draft = RwSignal::new(String::new());

    let reload = Action::new(move |id: &String| read_room(id.clone()));
    Effect::new(move || match reload.value().get() {
        Some(Ok((room, messages))) => state.update(|s| s.loaded(room, messages)),
        Some(Err(err)) => failure.set(Some(err.message)),
        None => {}
    });
    let room_id = id.clone();
    use_live_state(
        Topic::room(&id),
        Some(loaded.position),
        move |envelope| state.update(|s| s.apply(&envelope.message)),
        move || {
            reload.dispatch(room_id.clone());
        },
    );
    let current = Memo::new(move |_| state.with(|s| s.room().cloned()));
    let revision = Memo::new(move |_| state.with(RoomView::revision));
    let streams = Memo::new(move |_| state.with(|s| s.streaming().cloned().collect::<Vec<_>>()));

    let path = format!("/api/rooms/{id}");
    let send = Action::new(move |_: &()| {
        let path = format!("{path}/messages");
        let body = NewRoomMessage {
            content: draft.get_untracked(),
        };
        async move { api::send::<RoomMessage, _>(Method::POST, &path, &body).await }
    });
    Effect::new(move || match send.value().get() {
        Some(Ok(message)) => {
            draft.set(String::new());
            failure.set(None);
            state.update(|s| s.apply(&Message::RoomMessageCreated(message)));
        }
        Some(Err(err)) => failure.set(Some(err.message)),
        None => {}
    });
    let submit = move || {
        if draft.get_untracked().trim().is_empty() || send.pending().get_untracked() {
            return;
        }
        let replying = state.with_untracked(RoomView::replies_in_flight);
        notice.set((replying > 0).then(|| {
            format!(
                "Your message interrupted {replying} {}.",
                if replying == 1 { "reply" } else { "replies" }
            )
        }));
        send.dispatch(());
    };
    let path = format!("/api/rooms/{id}");
    let control = Action::new(move |action: &&'static str| {
        let path = format!("{path}/{action}");
        async move { api::send::<Room, _>(Method::POST, &path, &()).await }
    });
    Effect::new(move || match control.value().get() {
        Some(Ok(room)) => state.update(|s| s.apply(&Message::RoomUpdated(room))),
        Some(Err(err)) => failure.set(Some(err.message)),
        None => {}
    });

    let heading = move || current.get().map(|room| room.name).unwrap_or_default();
    let counters = move || {
        current.get().map(|room| {
            let settings = &room.settings;
            let cap = settings
                .daily_cost_cap_usd
                .map_or(String::new(), |cap| format!(" of ${cap:.2}"));
            format!(
                "Round {} of {} · turns {} of {} · ${:.4}{cap} today",
                room.round,
                settings.max_rounds_per_message,
                room.turns_taken,
                settings.max_turns,
                room.cost_today_usd
            )
        })
    };
    let room_state = move || current.get().map_or(RoomState::Idle, |room| room.state);
    view! {
        <Title text=heading />
        <header class="page-header">
            <h1>{heading}</h1>
            <span class=move || format!("badge badge-{}", room_state().as_str()) data-testid="room-state">{move || room_state().as_str()}</span>
            <span class="muted" data-testid="room-counters">{counters}</span>
            <span class="room-controls">
                {move || match room_state() {
                    RoomState::Running => view! {
                        <button class="button" on:click=move |_| { control.dispatch("pause"); }>"Pause"</button>
                        <button class="button danger" on:click=move |_| { control.dispatch("stop"); }>"Stop"</button>
                    }.into_any(),
                    RoomState::Paused => view! {
                        <button class="button primary" on:click=move |_| { control.dispatch("resume"); }>"Resume"</button>
                        <button class="button danger" on:click=move |_| { control.dispatch("stop"); }>"Stop"</button>
                    }.into_any(),
                    RoomState::Idle => ().into_any(),
                }}
            </span>
        </header>
        {move || failure.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
        <div class="room">
            <section class="room-conversation" aria-label="Conversation">
                <div class="messages" data-testid="room-messages" aria-live="polite">
                    {move || {
                        // Read, not just tracked: a memo nobody reads is never computed.
                        let _ = revision.get();
                        state.with_untracked(|s| {
                            s.messages()
                                .iter()
                                .filter(|message| RoomView::is_top_level(message))
                                .map(|message| message_view(message, s))
                                .collect_view()
                        })
                    }}
                    {move || streams.get().into_iter().map(|reply| streaming_view(reply, current.get().as_ref())).collect_view()}
                </div>
                {move || notice.get().map(|text| view! { <p class="muted" data-testid="interrupted-note">{text}</p> })}
                <Composer
                    draft
                    placeholder="Write to the room (Enter sends; writing while agents speak interrupts them)"
                    on_send=move |()| submit()
                >
                    <button class="button primary" type="submit">"Send"</button>
                </Composer>
            </section>
            <aside class="room-side">
                <Members id=id.clone() state current failure />
                <Settings id=id.clone() room=room failure state />
            </aside>
        </div>
    }
    .into_any()
}

/// A colour of its own for each agent, from its id.
fn colour(agent_id: &str) -> String {
    let hue = agent_id.bytes().fold(7u32, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u32::from(byte))
    }) % 360;
    format!("color: hsl({hue} 55% 38%)")
}

/// A stored message, with the critiques of it folded under it.
fn message_view(message: &RoomMessage, view: &RoomView) -> AnyView {
    let author_style = message.author_id.as_deref().map(colour).unwrap_or_default();
    let kind = match message.kind {
        RoomMessageKind::System => "system",
        _ => message.author_kind.as_str(),
    };
    let critiques: Vec<RoomMessage> = view.critiques_of(&message.id).cloned().collect();
    let folded = (!critiques.is_empty()).then(|| {
        let count = critiques.len();
        view! {
            <details class="critiques" data-testid="critiques">
                <summary>{format!("{count} {}", if count == 1 { "critique" } else { "critiques" })}</summary>
                {critiques.into_iter().map(|critique| view! {
                    <div class="critique">
                        <strong style=critique.author_id.as_deref().map(colour).unwrap_or_default()>{critique.author_name.clone()}</strong>
                        <div class="markdown" inner_html=to_safe_html(&critique.content)></div>
                    </div>
                }).collect_view()}
            </details>
        }
    });
    view! {
        <article class=format!("room-message {kind}") data-testid="room-message" data-author=message.author_name.clone()>
            <strong class="author" style=author_style>{message.author_name.clone()}</strong>
            <div class="markdown" inner_html=to_safe_html(&message.content)></div>
            {message.interrupted.then(|| view! { <p class="muted cut-off">"(interrupted)"</p> })}
            {folded}
        </article>
    }
    .into_any()
}

/// A reply streaming in.
fn streaming_view(reply: LiveReply, room: Option<&Room>) -> AnyView {
    let name = room
        .and_then(|room| room.members.iter().find(|m| m.agent_id == reply.agent_id))
        .map_or_else(|| "An agent".to_owned(), |member| member.name.clone());
    let author = name.clone();
    view! {
        <article class="room-message agent streaming" data-testid="room-streaming" data-author=author data-run=reply.run_id>
            <strong class="author" style=colour(&reply.agent_id)>{name}</strong>
            <div class="markdown" inner_html=to_safe_html(&reply.text)></div>
        </article>
    }
    .into_any()
}

/// The room's agents with what each is doing, removable, and a form to add one of the
/// caller's agents.
#[component]
fn Members(
    id: String,
    state: RwSignal<RoomView>,
    current: Memo<Option<Room>>,
    failure: RwSignal<Option<String>>,
) -> AnyView {
    let agents = api::load::<Page<Agent>>(|| "/api/agents?limit=200".to_owned());
    let chosen = RwSignal::new(String::new());
    let role = RwSignal::new(MemberRole::Participant);
    let path = format!("/api/rooms/{id}/members");
    let add = Action::new(move |_: &()| {
        let body = NewMember {
            agent_id: chosen.get_untracked(),
            role: Some(role.get_untracked()),
            position: None,
        };
        let path = path.clone();
        async move { api::send::<Room, _>(Method::POST, &path, &body).await }
    });
    let path = format!("/api/rooms/{id}/members");
    let remove = Action::new(move |agent: &String| {
        let path = format!("{path}/{agent}");
        async move { api::send::<Room, _>(Method::DELETE, &path, &()).await }
    });
    for action in [add.value(), remove.value()] {
        Effect::new(move || match action.get() {
            Some(Ok(room)) => state.update(|s| s.apply(&Message::RoomUpdated(room))),
            Some(Err(err)) => failure.set(Some(err.message)),
            None => {}
        });
    }
    let members = move || current.get().map(|room| room.members).unwrap_or_default();
    let addable = move || {
        let members = members();
        agents
            .get()
            .and_then(Result::ok)
            .map(|page| page.items)
            .unwrap_or_default()
            .into_iter()
            .filter(|agent| !members.iter().any(|m| m.agent_id == agent.id))
            .collect::<Vec<_>>()
    };
    view! {
        <section class="card" aria-labelledby="members-heading">
            <h2 id="members-heading">"Members"</h2>
            <ul class="members" data-testid="members">
                {move || members().into_iter().map(|member| {
                    let agent = member.agent_id.clone();
                    let activity = Signal::derive(move || state.with(|s| s.activity(&agent)));
                    let agent = member.agent_id.clone();
                    view! {
                        <li data-member=member.name.clone()>
                            <strong style=colour(&member.agent_id)>{member.name.clone()}</strong>
                            <span class="muted">{format!(" {} ", member.role.as_str())}</span>
                            <span class=move || format!("badge badge-{}", activity.get()) data-testid="activity">{move || activity.get()}</span>
                            <button class="link" on:click=move |_| { remove.dispatch(agent.clone()); }>"Remove"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form class="inline-form" on:submit=move |event| {
                event.prevent_default();
                add.dispatch(());
            }>
                <Transition>
                    <select aria-label="Agent" on:change=move |event| chosen.set(event_target_value(&event))>
                        <option value="">"Choose an agent"</option>
                        {move || addable().into_iter().map(|agent| view! {
                            <option value=agent.id.clone()>{agent.name.clone()}</option>
                        }).collect_view()}
                    </select>
                </Transition>
                <select aria-label="Role" on:change=move |event| {
                    role.set(event_target_value(&event).parse().unwrap_or(MemberRole::Participant));
                }>
                    <option value="participant">"Participant"</option>
                    <option value="critic">"Critic"</option>
                </select>
                <button class="button" type="submit">"Add"</button>
            </form>
        </section>
    }
    .into_any()
}

/// The room's settings, saved whole.
#[component]
fn Settings(
    id: String,
    room: Room,
    failure: RwSignal<Option<String>>,
    state: RwSignal<RoomView>,
) -> AnyView {
    let settings = room.settings;
    let policy = RwSignal::new(settings.turn_policy);
    let rounds = RwSignal::new(settings.max_rounds_per_message.to_string());
    let turns = RwSignal::new(settings.max_turns.to_string());
    let cap = RwSignal::new(
        settings
            .daily_cost_cap_usd
            .map(|cap| cap.to_string())
            .unwrap_or_default(),
    );
    let marker = RwSignal::new(settings.pass_marker);
    let visible = RwSignal::new(settings.critics_visible_to_agents);
    let context = RwSignal::new(settings.context_tokens.to_string());
    let fields = RwSignal::new(None::<api::Failure>);
    let path = format!("/api/rooms/{id}");
    let save = Action::new(move |_: &()| {
        let defaults = RoomSettings::default();
        let body = RoomPatch {
            settings: Some(RoomSettings {
                turn_policy: policy.get_untracked(),
                max_rounds_per_message: rounds.get_untracked().trim().parse().unwrap_or(0),
                max_turns: turns.get_untracked().trim().parse().unwrap_or(0),
                daily_cost_cap_usd: Some(cap.get_untracked())
                    .filter(|cap| !cap.trim().is_empty())
                    .map(|cap| cap.trim().parse().unwrap_or(f64::NAN)),
                pass_marker: marker.get_untracked(),
                critics_visible_to_agents: visible.get_untracked(),
                context_tokens: context
                    .get_untracked()
                    .trim()
                    .parse()
                    .unwrap_or(defaults.context_tokens),
            }),
            ..RoomPatch::default()
        };
        let path = path.clone();
        async move { api::send::<Room, _>(Method::PATCH, &path, &body).await }
    });
    Effect::new(move || match save.value().get() {
        Some(Ok(room)) => {
            fields.set(None);
            state.update(|s| s.apply(&Message::RoomUpdated(room)));
        }
        Some(Err(err)) if !err.fields.is_empty() => fields.set(Some(err)),
        Some(Err(err)) => failure.set(Some(err.message)),
        None => {}
    });
    let error = move |field: &'static str| {
        move || {
            fields
                .get()
                .and_then(|f| f.field(&format!("settings.{field}")))
                .map(|message| view! { <span class="field-error">{message}</span> })
        }
    };
    view! {
        <section class="card" aria-labelledby="settings-heading">
            <h2 id="settings-heading">"Settings"</h2>
            <form class="stacked-form" on:submit=move |event| {
                event.prevent_default();
                save.dispatch(());
            }>
                <label>
                    "Turns"
                    <select on:change=move |event| policy.set(event_target_value(&event).parse().unwrap_or(TurnPolicy::RoundRobin))>
                        <option value="round_robin" selected=move || policy.get() == TurnPolicy::RoundRobin>"One after another"</option>
                        <option value="all_at_once" selected=move || policy.get() == TurnPolicy::AllAtOnce>"All at once"</option>
                    </select>
                </label>
                <label>"Rounds after each message" <input inputmode="numeric" prop:value=move || rounds.get() on:input=move |e| rounds.set(event_target_value(&e)) /> {error("max_rounds_per_message")}</label>
                <label>"Most turns in all" <input inputmode="numeric" prop:value=move || turns.get() on:input=move |e| turns.set(event_target_value(&e)) /> {error("max_turns")}</label>
                <label>"Daily cost cap (USD, empty for none)" <input inputmode="decimal" prop:value=move || cap.get() on:input=move |e| cap.set(event_target_value(&e)) /> {error("daily_cost_cap_usd")}</label>
                <label>"Pass marker" <input prop:value=move || marker.get() on:input=move |e| marker.set(event_target_value(&e)) /> {error("pass_marker")}</label>
                <label>"Context (tokens)" <input inputmode="numeric" prop:value=move || context.get() on:input=move |e| context.set(event_target_value(&e)) /> {error("context_tokens")}</label>
                <label class="checkbox">
                    <input type="checkbox" prop:checked=move || visible.get() on:change=move |e| visible.set(event_target_checked(&e)) />
                    "Participants see the critiques"
                </label>
                <button class="button" type="submit">"Save settings"</button>
            </form>
        </section>
    }
    .into_any()
}
