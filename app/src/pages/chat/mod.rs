//! The chat page of an agent (`/agents/{id}/chat?thread=…`): its threads in a sidebar
//! (new, rename, delete), the selected thread's messages with the reply streaming in as it
//! is written, tool calls as cards, Stop, and errors where they happened. What a thread
//! shows is a [`ThreadState`] that loads and events are applied to; the components here
//! only read it.

mod thread_state;

use gloo_net::http::Method;
use hatchery_shared::{
    api::{
        Page,
        agents::Agent,
        runs::{NewMessage, Posted, Run},
        threads::{MessageRole, NewThread, Thread, ThreadMessage, ThreadPatch},
    },
    realtime::{Message, Topic},
};
use leptos::{html::Div, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use self::thread_state::ThreadState;
use crate::{
    api,
    components::composer::Composer,
    live::{self, Live},
    markdown::to_safe_html,
    realtime::use_live_state,
    session::SignedIn,
};

/// `/agents/{id}/chat`.
#[component]
pub fn ChatPage() -> impl IntoView {
    let params = use_params_map();
    let agent_id = move || params.with(|params| params.get("id")).unwrap_or_default();
    view! {
        <Title text="Chat" />
        <SignedIn>
            {move || view! { <Chat agent_id=agent_id() /> }}
        </SignedIn>
    }
}

/// The agent's threads, edited in place as they are created, renamed and deleted.
type Threads = api::Load<Page<Thread>>;

#[component]
fn Chat(agent_id: String) -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let selected = Memo::new(move |_| query.with(|query| query.get("thread")));
    let failure = RwSignal::new(None::<String>);
    let id = agent_id.clone();
    let agent = api::load::<Agent>(move || format!("/api/agents/{id}"));
    let id = agent_id.clone();
    let threads: Threads = api::load(move || format!("/api/agents/{id}/threads?limit=200"));

    let chat_path = format!("/agents/{agent_id}/chat");
    let open = {
        let navigate = navigate.clone();
        let chat_path = chat_path.clone();
        move |thread: &str| navigate(&format!("{chat_path}?thread={thread}"), Default::default())
    };
    let id = agent_id.clone();
    let create = Action::new(move |_: &()| {
        let path = format!("/api/agents/{id}/threads");
        async move { api::send::<Thread, _>(Method::POST, &path, &NewThread::default()).await }
    });
    let open_created = open.clone();
    Effect::new(move || match create.value().get() {
        Some(Ok(thread)) => {
            threads.edit(|page| page.items.insert(0, thread.clone()));
            open_created(&thread.id);
        }
        Some(Err(err)) => failure.set(Some(err.message)),
        None => {}
    });
    let id = agent_id.clone();
    let run_now = Action::new(move |_: &()| {
        let path = format!("/api/agents/{id}/run");
        async move { api::send::<Posted, _>(Method::POST, &path, &()).await }
    });
    let open_run = open.clone();
    Effect::new(move || match run_now.value().get() {
        Some(Ok(posted)) => {
            threads.refetch();
            open_run(&posted.run.thread_id);
        }
        Some(Err(err)) => failure.set(Some(err.message)),
        None => {}
    });

    let heading = move || match agent.get() {
        Some(Ok(agent)) => agent.name,
        _ => String::new(),
    };
    let load_failure = move || agent.failure().or_else(|| threads.failure());
    let agent_for_view = agent_id.clone();
    view! {
        <header class="page-header chat-header">
            <h1><Transition>{heading}</Transition></h1>
            <button class="button" on:click=move |_| { run_now.dispatch(()); }>"Run now"</button>
        </header>
        <Transition>
            {move || failure.get().or_else(load_failure).map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
        </Transition>
        <div class="chat">
            <nav class="threads" aria-label="Threads">
                <button class="button primary" on:click=move |_| { create.dispatch(()); }>"New chat"</button>
                <ul>
                    <Transition>
                        <For
                            each=move || threads.get().and_then(Result::ok).map(|page| page.items).unwrap_or_default()
                            key=|thread| (thread.id.clone(), thread.title.clone())
                            let:thread
                        >
                            <ThreadItem thread threads selected chat_path=chat_path.clone() />
                        </For>
                    </Transition>
                </ul>
            </nav>
            {move || match selected.get() {
                Some(thread) => view! { <ThreadView thread_id=thread agent_id=agent_for_view.clone() /> }.into_any(),
                None => view! {
                    <section class="thread-view empty">
                        <p class="muted">"Pick a thread, or start a new chat."</p>
                    </section>
                }
                .into_any(),
            }}
        </div>
    }
}

/// One thread in the sidebar, with rename and delete. Returns an `AnyView` for the reason
/// `AgentRow` in `agents.rs` does: its full type is too deep for release builds.
#[component]
fn ThreadItem(
    thread: Thread,
    threads: Threads,
    selected: Memo<Option<String>>,
    chat_path: String,
) -> AnyView {
    let editing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let title = RwSignal::new(thread.title.clone());
    let id = thread.id.clone();
    let rename = Action::new(move |_: &()| {
        let path = format!("/api/threads/{id}");
        let body = ThreadPatch {
            title: title.get_untracked(),
        };
        async move { api::send::<Thread, _>(Method::PATCH, &path, &body).await }
    });
    Effect::new(move || {
        if let Some(Ok(renamed)) = rename.value().get() {
            editing.set(false);
            threads.edit(|page| {
                if let Some(slot) = page.items.iter_mut().find(|t| t.id == renamed.id) {
                    *slot = renamed.clone();
                }
            });
        }
    });
    let id = thread.id.clone();
    let delete = Action::new(move |_: &()| {
        let path = format!("/api/threads/{id}");
        async move { api::call(Method::DELETE, &path).await }
    });
    let id = thread.id.clone();
    Effect::new(move || {
        if let Some(Ok(())) = delete.value().get() {
            threads.edit(|page| page.items.retain(|t| t.id != id));
        }
    });
    let id = thread.id.clone();
    let current = move || selected.get().as_deref() == Some(id.as_str());
    let href = format!("{chat_path}?thread={}", thread.id);
    view! {
        <li class:current=current>
            <Show
                when=move || editing.get()
                fallback=move || view! {
                    <a href=href.clone()>{thread.title.clone()}</a>
                    <span class="thread-actions">
                        <Show
                            when=move || confirming.get()
                            fallback=move || view! {
                                <button class="link" on:click=move |_| editing.set(true)>"Rename"</button>
                                <button class="link" on:click=move |_| confirming.set(true)>"Delete"</button>
                            }
                        >
                            <button class="link danger" on:click=move |_| { delete.dispatch(()); }>"Delete it"</button>
                            <button class="link" on:click=move |_| confirming.set(false)>"Keep"</button>
                        </Show>
                    </span>
                }
            >
                <form on:submit=move |event| {
                    event.prevent_default();
                    rename.dispatch(());
                }>
                    <input
                        aria-label="Thread title"
                        prop:value=move || title.get()
                        on:input=move |event| title.set(event_target_value(&event))
                    />
                    <button class="button small" type="submit">"Save"</button>
                </form>
            </Show>
        </li>
    }    .into_any()
}

/// A thread's conversation, once its messages have loaded.
#[component]
fn ThreadView(thread_id: String, agent_id: String) -> impl IntoView {
    let first = format!("/api/threads/{thread_id}/messages?limit=200");
    let history = live::load_with(
        Topic::thread(&thread_id),
        move || first.clone(),
        |first| api::get_all::<ThreadMessage>(&first),
    );
    view! {
        <Transition fallback=|| view! { <section class="thread-view"><p class="muted" aria-busy="true">"Loading…"</p></section> }>
            {move || history.get().map(|loaded| match loaded {
                Ok(loaded) => view! {
                    <Conversation thread_id=thread_id.clone() agent_id=agent_id.clone() loaded />
                }
                .into_any(),
                Err(err) => view! {
                    <section class="thread-view">
                        <p class="form-error" role="alert">{err.message}</p>
                    </section>
                }
                .into_any(),
            })}
        </Transition>
    }
}

/// A thread's messages as `loaded`, kept current by its topic, the reply streaming in, and
/// the composer.
#[component]
fn Conversation(
    thread_id: String,
    agent_id: String,
    loaded: Live<Vec<ThreadMessage>>,
) -> impl IntoView {
    let mut initial = ThreadState::new(thread_id.clone());
    initial.loaded(loaded.state);
    let state = RwSignal::new(initial);
    let draft = RwSignal::new(String::new());
    let failure = RwSignal::new(None::<String>);
    let stick = RwSignal::new(true);
    let scroller = NodeRef::<Div>::new();
    // Each part of the view follows only its part of the state: a streamed token must not
    // render the stored messages again.
    let active_run = Memo::new(move |_| state.with(|s| s.active_run().map(str::to_owned)));
    let messages_revision = Memo::new(move |_| state.with(ThreadState::messages_revision));
    let streaming = Memo::new(move |_| state.with(|s| s.streaming().cloned()));
    let run_error = Memo::new(move |_| state.with(|s| s.run_error().map(str::to_owned)));

    // Every page of the thread, oldest first, when events were lost.
    let first = format!("/api/threads/{thread_id}/messages?limit=200");
    let reload = Action::new(move |_: &()| api::get_all::<ThreadMessage>(&first));
    Effect::new(move || match reload.value().get() {
        Some(Ok(all)) => state.update(|s| s.loaded(all)),
        Some(Err(err)) => failure.set(Some(err.message)),
        None => {}
    });
    use_live_state(
        Topic::thread(&thread_id),
        Some(loaded.position),
        move |envelope| state.update(|s| s.apply(&envelope.message)),
        move || {
            reload.dispatch(());
        },
    );
    // The reply in progress, asked for again when its end may have been missed.
    let recheck = Action::new(|run: &String| {
        let path = format!("/api/runs/{run}");
        async move { api::get::<Run>(&path).await }
    });
    Effect::new(move || {
        if let Some(Ok(run)) = recheck.value().get() {
            state.update(|s| s.run_changed(&run));
        }
    });
    use_live_state(
        Topic::agent(&agent_id),
        None,
        move |envelope| {
            if let Message::RunUpdated(_) = &envelope.message {
                state.update(|s| s.apply(&envelope.message));
            }
        },
        move || {
            if let Some(run) = active_run.get_untracked() {
                recheck.dispatch(run);
            }
        },
    );

    let id = thread_id.clone();
    let send = Action::new(move |_: &()| {
        let path = format!("/api/threads/{id}/messages");
        let body = NewMessage {
            content: draft.get_untracked(),
        };
        async move { api::send::<Posted, _>(Method::POST, &path, &body).await }
    });
    Effect::new(move || match send.value().get() {
        Some(Ok(posted)) => {
            draft.set(String::new());
            failure.set(None);
            state.update(|s| s.posted(&posted));
        }
        Some(Err(err)) => failure.set(Some(err.message)),
        None => {}
    });
    let stop = Action::new(|run: &String| {
        let path = format!("/api/runs/{run}/cancel");
        async move { api::call(Method::POST, &path).await }
    });
    // A message written while the last reply is finishing is sent as soon as it has ended.
    let waiting = RwSignal::new(false);
    let submit = move || {
        if draft.get_untracked().trim().is_empty() || send.pending().get_untracked() {
            return;
        }
        if active_run.get_untracked().is_some() {
            waiting.set(true);
        } else {
            send.dispatch(());
        }
    };
    Effect::new(move || {
        if waiting.get() && active_run.get().is_none() {
            waiting.set(false);
            send.dispatch(());
        }
    });

    // Follows the end of the conversation unless the reader has scrolled up. Where the view
    // last put itself tells a reader's move up at once, before its scroll event arrives,
    // so that a token coming in between does not pull them back down.
    let followed_to = StoredValue::new(0);
    let below = move || {
        scroller.get().map_or(0, |e| {
            e.scroll_height() - e.scroll_top() - e.client_height()
        })
    };
    Effect::new(move || {
        state.track();
        let Some(element) = scroller.get() else {
            return;
        };
        if element.scroll_top() + 1 < followed_to.get_value() && below() > 1 {
            stick.set(false);
        }
        if stick.get_untracked() {
            element.set_scroll_top(element.scroll_height());
            followed_to.set_value(element.scroll_top());
        }
    });
    let on_scroll = move |_| {
        if let Some(element) = scroller.get() {
            let at_end = below() < 40;
            stick.set(at_end);
            if at_end {
                followed_to.set_value(element.scroll_top());
            }
        }
    };

    view! {
        <section class="thread-view">
            <div class="messages" node_ref=scroller on:scroll=on_scroll data-testid="messages" aria-live="polite">
                {move || {
                    // Read, not just tracked: a memo nobody reads is never computed.
                    let _ = messages_revision.get();
                    state.with_untracked(|s| {
                    let list = s.messages();
                    list.iter()
                        .filter(|message| message.role != MessageRole::Tool)
                        .map(|message| message_view(message, list))
                        .collect_view()
                    })
                }}
                {move || {
                    streaming
                        .get()
                        .map(|s| view! {
                            <article class="message assistant streaming" data-testid="streaming" data-run=s.run_id>
                                <div class="markdown" inner_html=to_safe_html(&s.text)></div>
                                {s.tools
                                    .into_iter()
                                    .map(|tool| tool_card(tool.name, tool.arguments, tool.output, true))
                                    .collect_view()}
                            </article>
                        })
                }}
                {move || run_error.get().map(|error| view! {
                    <p class="form-error" role="alert" data-testid="run-error">{error}</p>
                })}
            </div>
            {move || failure.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <Composer
                draft
                placeholder="Write a message (Enter sends, Shift+Enter for a new line)"
                on_send=move |()| submit()
            >
                {move || match active_run.get() {
                    Some(run) => view! {
                        <button class="button danger" type="button" on:click=move |_| { stop.dispatch(run.clone()); }>
                            "Stop"
                        </button>
                    }
                    .into_any(),
                    None => view! { <button class="button primary" type="submit">"Send"</button> }.into_any(),
                }}
            </Composer>
        </section>
    }
}

/// One stored message; an assistant's tool calls become cards with their outputs, found
/// among the thread's tool messages.
fn message_view(message: &ThreadMessage, all: &[ThreadMessage]) -> AnyView {
    let role = message.role.as_str();
    let body = match message.role {
        MessageRole::User | MessageRole::System => {
            view! { <p class="plain">{message.content.clone()}</p> }.into_any()
        }
        _ => view! { <div class="markdown" inner_html=to_safe_html(&message.content)></div> }
            .into_any(),
    };
    let cards = message
        .tool_calls
        .iter()
        .map(|call| {
            let output = all
                .iter()
                .find(|m| m.tool_call_id.as_deref() == Some(call.id.as_str()))
                .map(|m| m.content.clone());
            tool_card(call.name.clone(), call.arguments.clone(), output, false)
        })
        .collect_view();
    view! {
        <article class=format!("message {role}") data-role=role>
            {body}
            {cards}
            {message.cut_off.then(|| view! { <p class="muted cut-off">"(cut off)"</p> })}
        </article>
    }
    .into_any()
}

/// A tool call as a collapsible card: the tool, its arguments and its output (or that it
/// is still running, while the reply streams).
fn tool_card(name: String, arguments: String, output: Option<String>, live: bool) -> impl IntoView {
    let output = output.unwrap_or_else(|| {
        if live {
            "running…".into()
        } else {
            "(no output)".into()
        }
    });
    view! {
        <details class="tool-card" data-testid="tool-card" open=live>
            <summary>"Tool: " <code>{name}</code></summary>
            <p class="muted">"Arguments"</p>
            <pre>{arguments}</pre>
            <p class="muted">"Output"</p>
            <pre>{output}</pre>
        </details>
    }
}
