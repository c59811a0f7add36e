//! Rooms: the list of the caller's rooms with a form to make one (`/rooms`), and a room's
//! live conversation (`/rooms/{id}`, see [`room_page`]).

mod room_page;
mod room_state;

pub use room_page::RoomPage;

use gloo_net::http::Method;
use hatchery_shared::api::{
    Page,
    rooms::{NewRoom, Room, RoomSettings, TurnPolicy},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_navigate};

use crate::{api, session::SignedIn};

/// `/rooms`.
#[component]
pub fn RoomsPage() -> impl IntoView {
    view! {
        <Title text="Rooms" />
        <header class="page-header">
            <h1>"Rooms"</h1>
        </header>
        <SignedIn>
            <RoomsList />
        </SignedIn>
    }
}

/// The caller's rooms, newest first, and the form that makes a new one.
#[component]
fn RoomsList() -> impl IntoView {
    let rooms = api::load::<Page<Room>>(|| "/api/rooms?limit=200".to_owned());
    let name = RwSignal::new(String::new());
    let policy = RwSignal::new(TurnPolicy::RoundRobin);
    let failure = RwSignal::new(None::<api::Failure>);
    let navigate = use_navigate();
    let create = Action::new(move |_: &()| {
        let body = NewRoom {
            name: name.get_untracked(),
            description: String::new(),
            settings: RoomSettings {
                turn_policy: policy.get_untracked(),
                ..RoomSettings::default()
            },
            members: Vec::new(),
        };
        async move { api::send::<Room, _>(Method::POST, "/api/rooms", &body).await }
    });
    Effect::new(move || match create.value().get() {
        Some(Ok(room)) => navigate(&format!("/rooms/{}", room.id), Default::default()),
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });
    let name_error = move || failure.get().and_then(|f| f.field("name"));
    view! {
        <section class="card" aria-labelledby="rooms-heading">
            <div class="card-header">
                <h2 id="rooms-heading">"Your rooms"</h2>
            </div>
            <p class="muted">
                "A room is a conversation between you and several agents: they answer in turn (or all at once), react to each other, and critics judge what they say. Writing while they speak interrupts them."
            </p>
            <form class="inline-form" on:submit=move |event| {
                event.prevent_default();
                create.dispatch(());
            }>
                <label>
                    "Name"
                    <input
                        required
                        prop:value=move || name.get()
                        on:input=move |event| name.set(event_target_value(&event))
                    />
                </label>
                <label>
                    "Turns"
                    <select on:change=move |event| {
                        policy.set(event_target_value(&event).parse().unwrap_or(TurnPolicy::RoundRobin));
                    }>
                        <option value="round_robin">"One after another"</option>
                        <option value="all_at_once">"All at once"</option>
                    </select>
                </label>
                <button class="button primary" type="submit">"New room"</button>
            </form>
            {move || name_error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            {move || failure.get().filter(|f| f.fields.is_empty()).map(|f| view! { <p class="form-error" role="alert">{f.message}</p> })}
            <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading rooms…"</p> }>
                {move || rooms.get().map(|loaded| match loaded {
                    Ok(page) if page.items.is_empty() => view! {
                        <p class="empty" data-testid="rooms-empty">"No rooms yet."</p>
                    }
                    .into_any(),
                    Ok(page) => view! {
                        <ul class="room-list" data-testid="rooms">
                            {page.items.into_iter().map(|room| view! {
                                <li>
                                    <A href=format!("/rooms/{}", room.id)>{room.name.clone()}</A>
                                    <span class="muted">
                                        {format!(" · {} agents · {}", room.members.len(), room.state.as_str())}
                                    </span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }
                    .into_any(),
                    Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}
