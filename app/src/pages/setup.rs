//! The first-run page: creates the admin account while no account exists.

use gloo_net::http::Method;
use hatchery_shared::api::accounts::{NewAccount, User};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{self, Failure},
    components::form::{FormError, TextField},
    session::{Access, route_by_access, use_session},
};

/// `/setup`.
#[component]
pub fn Setup() -> impl IntoView {
    let session = use_session();
    let email = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let failure = RwSignal::new(None);

    let submit = Action::new(move |_: &()| async move {
        if password.get_untracked() != confirm.get_untracked() {
            return Err(Failure {
                status: 0,
                message: "the passwords differ".into(),
                fields: [(
                    "confirm".to_owned(),
                    "type the same password twice".to_owned(),
                )]
                .into(),
            });
        }
        let body = NewAccount {
            email: email.get_untracked(),
            display_name: display_name.get_untracked(),
            password: password.get_untracked(),
            role: None,
        };
        api::send::<User, _>(Method::POST, "/api/auth/setup", &body).await
    });
    let pending = submit.pending();
    Effect::new(move || match submit.value().get() {
        Some(Ok(_)) => session.changed(),
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });
    // The page is for the first run only.
    route_by_access(|access| match access {
        Access::SignedIn(_) => Some("/"),
        Access::SignedOut => Some("/sign-in"),
        _ => None,
    });

    view! {
        <Title text="Welcome" />
        <section class="card narrow">
            <h1>"Create the admin account"</h1>
            <p class="muted">
                "This installation has no accounts yet. The account you create now manages it: "
                "it adds users and sees every agent."
            </p>
            <form on:submit=move |event| {
                event.prevent_default();
                submit.dispatch(());
            }>
                <TextField label="Email" name="email" kind="email" value=email failure autocomplete="username" />
                <TextField label="Name" name="display_name" value=display_name failure autocomplete="name" />
                <TextField
                    label="Password"
                    name="password"
                    kind="password"
                    value=password
                    failure
                    hint="At least 8 characters."
                    autocomplete="new-password"
                />
                <TextField
                    label="Password again"
                    name="confirm"
                    kind="password"
                    value=confirm
                    failure
                    autocomplete="new-password"
                />
                <FormError failure />
                <button class="button primary" type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Creating…" } else { "Create admin account" }}
                </button>
            </form>
        </section>
    }
}
