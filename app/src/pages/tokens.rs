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
    let failure = RwSignal::new(None::<Failure>);
    let name = RwSignal::new(String::new());
    let created = RwSignal::new(None::<CreatedApiToken>);

    let tokens = api::load::<Page<ApiToken>>(|| "/api/tokens?limit=200".to_owned());
    let create = Action::new(move |_: &()| {
        let body = NewApiToken {
            name: name.get_untracked(),
        };
        async move { api::send::<CreatedApiToken, _>(Method::POST, "/api/tokens", &body).await }
    });
    Effect::new(move || match create.value().get() {
        Some(Ok(token)) => {
            tokens.edit(|page| page.items.insert(0, token.token.clone()));
            created.set(Some(token));
            name.set(String::new());
            failure.set(None);
        }
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });
    let revoke = Action::new(|id: &String| {
        let path = format!("/api/tokens/{id}");
        let id = id.clone();
        async move { api::call(Method::DELETE, &path).await.map(|()| id) }
    });
    Effect::new(move || match revoke.value().get() {
        Some(Ok(id)) => tokens.edit(|page| page.items.retain(|token| token.id != id)),
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
            <Transition>
            {move || tokens.get().map(|loaded| match loaded {
                Err(err) => view! {
                    <p class="form-error" role="alert">"Cannot load the tokens: " {err.message}</p>
                }
                .into_any(),
                Ok(page) if page.items.is_empty() => view! { <p class="muted">"No tokens yet."</p> }.into_any(),
                Ok(page) => view! {
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
                            <For each=move || page.items.clone() key=|token| token.id.clone() let:token>
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
                .into_any(),
            })}
            </Transition>
        </section>
    }
}
