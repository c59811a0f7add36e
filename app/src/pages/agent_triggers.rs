//! The agent page's Triggers tab: webhook triggers with their URL, creating one (its
//! secret shown once, with a `curl` command that signs a test request), rotating the
//! secret, deleting, and each trigger's deliveries.

use gloo_net::http::Method;
use hatchery_shared::api::{
    Page,
    triggers::{Delivery, NewTrigger, Trigger, TriggerWithSecret},
};
use leptos::prelude::*;
use leptos_router::components::A;

use super::agents::short_time;
use crate::{
    api::{self, Failure},
    components::form::{FormError, TextField},
};

/// The agent's triggers, edited in place as they are created, rotated and deleted.
type Triggers = api::Load<Page<Trigger>>;

/// The Triggers tab of the agent `agent_id`.
#[component]
pub fn TriggersTab(agent_id: String) -> impl IntoView {
    let failure = RwSignal::new(None::<Failure>);
    let revealed = RwSignal::new(None::<TriggerWithSecret>);
    let name = RwSignal::new(String::new());
    let path = format!("/api/agents/{agent_id}/triggers");
    let triggers: Triggers = api::load(move || path.clone());

    let id = agent_id.clone();
    let create = Action::new(move |_: &()| {
        let path = format!("/api/agents/{id}/triggers");
        let body = NewTrigger {
            name: Some(name.get_untracked()).filter(|name| !name.trim().is_empty()),
        };
        async move { api::send::<TriggerWithSecret, _>(Method::POST, &path, &body).await }
    });
    Effect::new(move || match create.value().get() {
        Some(Ok(created)) => {
            triggers.edit(|page| page.items.insert(0, created.trigger.clone()));
            revealed.set(Some(created));
            name.set(String::new());
        }
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });

    view! {
        <section class="card" aria-labelledby="triggers-heading">
            <h2 id="triggers-heading">"Webhook triggers"</h2>
            <p class="muted">
                "A signed POST to a trigger's URL runs the agent's task with the request's body as input."
            </p>
            <form class="inline-form" novalidate on:submit=move |event| {
                event.prevent_default();
                failure.set(None);
                create.dispatch(());
            }>
                <TextField label="Trigger name" name="name" value=name failure hint="Such as GitHub or Stripe." />
                <button class="button primary" type="submit">"Create trigger"</button>
            </form>
            <FormError failure />
            {move || revealed.get().map(|shown| view! { <SecretPanel shown revealed /> })}
            <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading…"</p> }>
                {move || triggers.get().map(|loaded| match loaded {
                    Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                    Ok(page) if page.items.is_empty() => {
                        view! { <p class="empty" data-testid="triggers-empty">"No triggers yet."</p> }.into_any()
                    }
                    Ok(page) => view! {
                        <ul class="triggers" data-testid="triggers">
                            <For
                                each=move || page.items.clone()
                                key=|trigger| (trigger.id.clone(), trigger.rotated_at.clone())
                                children=move |trigger| view! { <TriggerItem trigger triggers revealed /> }
                            />
                        </ul>
                    }
                    .into_any(),
                })}
            </Transition>
        </section>
    }
}

/// The page's origin (`https://hatchery.example`), known in the browser only.
fn origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|window| window.location().origin().ok())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

/// A shell command that signs `{"event":"test"}` with `secret` and sends it to `url`.
pub fn curl_example(url: &str, secret: &str) -> String {
    format!(
        "SECRET='{secret}'\n\
         BODY='{{\"event\":\"test\"}}'\n\
         TS=$(date +%s)\n\
         SIG=$(printf '%s.%s' \"$TS\" \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" -r | cut -d' ' -f1)\n\
         curl -X POST '{url}' \\\n  \
         -H 'Content-Type: application/json' \\\n  \
         -H \"X-Hatchery-Timestamp: $TS\" \\\n  \
         -H \"X-Hatchery-Signature: sha256=$SIG\" \\\n  \
         -d \"$BODY\""
    )
}

/// The secret of a trigger just created or rotated, its URL and the `curl` example.
#[component]
fn SecretPanel(
    shown: TriggerWithSecret,
    revealed: RwSignal<Option<TriggerWithSecret>>,
) -> impl IntoView {
    let url = format!("{}{}", origin(), shown.trigger.path);
    let example = curl_example(&url, &shown.secret);
    view! {
        <div class="secret-panel" role="status" data-testid="trigger-secret">
            <p><strong>"Copy the secret now: it is not shown again."</strong></p>
            <CopyField label="URL" value=url.clone() testid="trigger-url" />
            <CopyField label="Secret" value=shown.secret.clone() testid="secret-value" />
            <label for="curl-example">"Send a signed test request"</label>
            <pre id="curl-example" class="code" data-testid="curl-example">{example.clone()}</pre>
            <button class="button small" on:click=move |_| copy(&example)>"Copy command"</button>
            <button class="button small" on:click=move |_| revealed.set(None)>"Done"</button>
        </div>
    }
}

/// A read-only value with a Copy button.
#[component]
fn CopyField(label: &'static str, value: String, testid: &'static str) -> impl IntoView {
    let id = format!("copy-{testid}");
    let copied = value.clone();
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <div class="copy-field">
                <input id=id readonly value=value data-testid=testid />
                <button type="button" class="button small" on:click=move |_| copy(&copied)>"Copy"</button>
            </div>
        </div>
    }
}

/// Puts `text` on the clipboard.
fn copy(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        // The promise settles on its own; a refusal leaves the value on screen to copy.
        let _ = window.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

#[component]
fn TriggerItem(
    trigger: Trigger,
    triggers: Triggers,
    revealed: RwSignal<Option<TriggerWithSecret>>,
) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let showing = RwSignal::new(false);
    let failure = RwSignal::new(None::<String>);
    let id = trigger.id.clone();
    let rotate = Action::new(move |_: &()| {
        let path = format!("/api/triggers/{id}/rotate");
        async move { api::send::<TriggerWithSecret, _>(Method::POST, &path, &()).await }
    });
    Effect::new(move || match rotate.value().get() {
        Some(Ok(rotated)) => {
            triggers.edit(|page| {
                let list = &mut page.items;
                if let Some(slot) = list.iter_mut().find(|t| t.id == rotated.trigger.id) {
                    *slot = rotated.trigger.clone();
                }
            });
            revealed.set(Some(rotated));
        }
        Some(Err(err)) => failure.set(Some(err.message)),
        None => {}
    });
    let id = trigger.id.clone();
    let delete = Action::new(move |_: &()| {
        let path = format!("/api/triggers/{id}");
        async move { api::call(Method::DELETE, &path).await }
    });
    let id = trigger.id.clone();
    Effect::new(move || match delete.value().get() {
        Some(Ok(())) => triggers.edit(|page| page.items.retain(|t| t.id != id)),
        Some(Err(err)) => failure.set(Some(err.message)),
        None => {}
    });
    // The server does not know the page's origin: the URL is completed once hydrated.
    let origin = RwSignal::new(String::new());
    Effect::new(move || origin.set(self::origin()));
    let path = trigger.path.clone();
    let url = move || format!("{}{path}", origin.get());
    let deliveries_of = trigger.id.clone();
    view! {
        <li class="trigger" data-trigger=trigger.id.clone()>
            <div class="trigger-head">
                <strong>{trigger.name.clone()}</strong>
                <code>{url.clone()}</code>
                <span class="muted">"created " {short_time(&trigger.created_at)}</span>
                {trigger.previous_secret_valid_until.clone().map(|until| view! {
                    <span class="muted">"old secret valid until " {short_time(&until)}</span>
                })}
            </div>
            <div class="actions">
                <button class="button small" on:click=move |_| copy(&url())>"Copy URL"</button>
                <button class="button small" on:click=move |_| showing.update(|on| *on = !*on)>
                    {move || if showing.get() { "Hide deliveries" } else { "Deliveries" }}
                </button>
                <button class="button small" on:click=move |_| { rotate.dispatch(()); }>"Rotate secret"</button>
                <Show
                    when=move || confirming.get()
                    fallback=move || view! {
                        <button class="button small danger" on:click=move |_| confirming.set(true)>"Delete"</button>
                    }
                >
                    <span>"Delete this trigger?"</span>
                    <button class="button small danger" on:click=move |_| { delete.dispatch(()); }>"Yes, delete"</button>
                    <button class="button small" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </Show>
            </div>
            {move || failure.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <Show when=move || showing.get()>
                <Deliveries trigger_id=deliveries_of.clone() />
            </Show>
        </li>
    }
}

/// The latest deliveries of a trigger, with a Refresh button.
#[component]
fn Deliveries(trigger_id: String) -> impl IntoView {
    let path = format!("/api/triggers/{trigger_id}/deliveries?limit=50");
    let load = api::load::<Page<Delivery>>(move || path.clone());
    view! {
        <div class="deliveries" data-testid="deliveries">
            <button class="button small" on:click=move |_| load.refetch()>"Refresh"</button>
            <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading…"</p> }>
            {move || load.get().map(|loaded| match loaded {
                Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                Ok(page) if page.items.is_empty() => {
                    view! { <p class="muted">"No deliveries yet."</p> }.into_any()
                }
                Ok(page) => view! {
                    <table class="table">
                        <thead>
                            <tr>
                                <th scope="col">"Received"</th>
                                <th scope="col">"Outcome"</th>
                                <th scope="col">"Status"</th>
                                <th scope="col">"Run"</th>
                                <th scope="col">"Error"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {page.items.into_iter().map(|delivery| view! {
                                <tr>
                                    <td>{short_time(&delivery.received_at)}</td>
                                    <td>{delivery.outcome.as_str()}</td>
                                    <td>{delivery.status_code}</td>
                                    <td>{delivery.run_id.map(|run| view! { <A href=format!("/runs/{run}")>{run}</A> })}</td>
                                    <td>{delivery.error.unwrap_or_default()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any(),
            })}
            </Transition>
        </div>
    }
}
