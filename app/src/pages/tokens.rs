//! `/account/tokens`: personal API tokens — create one (its secret is shown once), see them,
//! revoke them.

use gloo_net::http::Method;
use hatchery_shared::api::{
    Page,
    accounts::{ApiToken, CreatedApiToken, NewApiToken},
};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{self, Failure},
    components::form::{FormError, TextField},
    pages::agents::short_time,
    session::SignedIn,
};

/// `/account/tokens`.
#[component]
pub fn TokensPage() -> impl IntoView {
    view! {
        <Title text="API tokens" />
        <SignedIn>
            <Tokens />
        </SignedIn>
    }
}

#[component]
fn Tokens() -> impl IntoView {
    let tokens = RwSignal::new(Vec::<ApiToken>::new());
    let failure = RwSignal::new(None::<Failure>);
    let name = RwSignal::new(String::new());
    let created = RwSignal::new(None::<CreatedApiToken>);

    let load = api::get_now::<Page<ApiToken>>("/api/tokens?limit=200".into());
    Effect::new(move || match load.value().get() {
        Some(Ok(page)) => tokens.set(page.items),
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });
    let create = Action::new_local(move |_: &()| {
        let body = NewApiToken {
            name: name.get_untracked(),
        };
        async move { api::send::<CreatedApiToken>(Method::POST, "/api/tokens", &body).await }
    });
    Effect::new(move || match create.value().get() {
        Some(Ok(token)) => {
            tokens.update(|list| list.insert(0, token.token.clone()));
            created.set(Some(token));
            name.set(String::new());
            failure.set(None);
        }
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });
    let revoke = Action::new_local(|id: &String| {
        let path = format!("/api/tokens/{id}");
        let id = id.clone();
        async move { api::call(Method::DELETE, &path).await.map(|()| id) }
    });
    Effect::new(move || match revoke.value().get() {
        Some(Ok(id)) => tokens.update(|list| list.retain(|token| token.id != id)),
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });

    view! {
        <header class="page-header">
            <h1>"API tokens"</h1>
            <p class="muted">"For scripts: send one as " <code>"Authorization: Bearer …"</code> "."</p>
        </header>
        <section class="card narrow">
            <form on:submit=move |event| {
                event.prevent_default();
                create.dispatch(());
            }>
                <TextField label="Token name" name="name" value=name failure hint="What it is for, e.g. CI." />
                <button class="button primary" type="submit">"Create token"</button>
            </form>
            {move || created.get().map(|token| view! {
                <div class="secret" role="status" data-testid="new-token">
                    <p>"Copy this token now: it will not be shown again."</p>
                    <code>{token.secret}</code>
                </div>
            })}
            <FormError failure />
        </section>
        <section class="card">
            {move || if tokens.with(Vec::is_empty) {
                view! { <p class="muted">"No tokens yet."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead>
                            <tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Token"</th>
                                <th scope="col">"Created"</th>
                                <th scope="col">"Last used"</th>
                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr>
                        </thead>
                        <tbody>
                            <For each=move || tokens.get() key=|token| token.id.clone() let:token>
                                <tr>
                                    <td>{token.name.clone()}</td>
                                    <td><code>{format!("{}…", token.prefix)}</code></td>
                                    <td>{short_time(&token.created_at)}</td>
                                    <td>{token.last_used_at.as_deref().map_or_else(|| "Never".to_owned(), short_time)}</td>
                                    <td class="actions">
                                        <button
                                            class="button small danger"
                                            on:click=move |_| {
                                                revoke.dispatch(token.id.clone());
                                            }
                                        >
                                            "Revoke"
                                        </button>
                                    </td>
                                </tr>
                            </For>
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
    }
}
