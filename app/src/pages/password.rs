//! `/account/password`: change one's own password; every other session of the account ends.

use gloo_net::http::Method;
use hatchery_shared::api::accounts::PasswordChange;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{self, Failure},
    components::form::{FormError, TextField},
    session::SignedIn,
};

/// `/account/password`.
#[component]
pub fn PasswordPage() -> impl IntoView {
    view! {
        <Title text="Password" />
        <SignedIn>
            <ChangePassword />
        </SignedIn>
    }
}

#[component]
fn ChangePassword() -> impl IntoView {
    let failure = RwSignal::new(None::<Failure>);
    let current_password = RwSignal::new(String::new());
    let new_password = RwSignal::new(String::new());
    let changed = RwSignal::new(false);
    let change = Action::new(move |_: &()| {
        let body = PasswordChange {
            current_password: current_password.get_untracked(),
            new_password: new_password.get_untracked(),
        };
        async move { api::send::<(), _>(Method::POST, "/api/auth/password", &body).await }
    });
    Effect::new(move || match change.value().get() {
        Some(Ok(())) => {
            current_password.set(String::new());
            new_password.set(String::new());
            failure.set(None);
            changed.set(true);
        }
        Some(Err(err)) => {
            changed.set(false);
            failure.set(Some(err));
        }
        None => {}
    });
    view! {
        <header class="page-header">
            <h1>"Password"</h1>
        </header>
        <section class="card narrow">
            <form on:submit=move |event| {
                event.prevent_default();
                change.dispatch(());
            }>
                <TextField label="Current password" name="current_password" kind="password" value=current_password failure autocomplete="current-password" />
                <TextField label="New password" name="new_password" kind="password" value=new_password failure autocomplete="new-password" />
                <FormError failure />
                {move || changed.get().then(|| view! {
                    <p class="form-success" role="status">"Password changed. Your other sessions were signed out."</p>
                })}
                <button class="button primary" type="submit">"Change password"</button>
            </form>
        </section>
    }
}
