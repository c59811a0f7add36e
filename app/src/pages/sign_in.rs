//! The sign-in page, which also creates an account when sign-up is open (and then signs
//! into it).

use gloo_net::http::Method;
use hatchery_shared::api::accounts::{NewAccount, SignIn as SignInBody, User};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api,
    components::form::{FormError, TextField},
    session::{Access, route_by_access, use_session},
};

/// `/sign-in`.
#[component]
pub fn SignIn() -> impl IntoView {
    let session = use_session();
    let signing_up = RwSignal::new(false);
    let email = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let failure = RwSignal::new(None);

    let submit = Action::new(move |_: &()| async move {
        let credentials = SignInBody {
            email: email.get_untracked(),
            password: password.get_untracked(),
        };
        if !signing_up.get_untracked() {
            return api::send::<User, _>(Method::POST, "/api/auth/sign-in", &credentials).await;
        }
        // Sign-up answers the same whether or not the email had an account; signing in
        // tells the person (and only with the account's own password) which it was.
        let body = NewAccount {
            email: credentials.email.clone(),
            display_name: display_name.get_untracked(),
            password: credentials.password.clone(),
            role: None,
        };
        api::send::<(), _>(Method::POST, "/api/auth/sign-up", &body).await?;
        api::send::<User, _>(Method::POST, "/api/auth/sign-in", &credentials)
            .await
            .map_err(|failure| match failure.status {
                401 => api::Failure {
                    message: "This email already has an account, and this is not its \
                              password. Sign in with it instead."
                        .into(),
                    ..failure
                },
                _ => failure,
            })
    });
    let pending = submit.pending();
    Effect::new(move || match submit.value().get() {
        Some(Ok(_)) => {
            failure.set(None);
            session.changed();
        }
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });
    // Once signed in (now or already), go to the dashboard; on first run, to the setup.
    route_by_access(|access| match access {
        Access::SignedIn(_) => Some("/"),
        Access::SetupNeeded => Some("/setup"),
        _ => None,
    });

    view! {
        <Title text=move || if signing_up.get() { "Create an account" } else { "Sign in" } />
        <section class="card narrow">
            <h1>{move || if signing_up.get() { "Create an account" } else { "Sign in" }}</h1>
            <form on:submit=move |event| {
                event.prevent_default();
                submit.dispatch(());
            }>
                <TextField label="Email" name="email" kind="email" value=email failure autocomplete="username" />
                <Show when=move || signing_up.get()>
                    <TextField label="Name" name="display_name" value=display_name failure autocomplete="name" />
                </Show>
                <TextField
                    label="Password"
                    name="password"
                    kind="password"
                    value=password
                    failure
                    autocomplete=if signing_up.get_untracked() { "new-password" } else { "current-password" }
                />
                <FormError failure />
                <button class="button primary" type="submit" disabled=move || pending.get()>
                    {move || match (pending.get(), signing_up.get()) {
                        (true, _) => "Please wait…",
                        (false, true) => "Create account",
                        (false, false) => "Sign in",
                    }}
                </button>
            </form>
            <Transition>
                <Show when=move || session.signup_open()>
                    <p class="muted">
                        <button
                            class="link"
                            type="button"
                            on:click=move |_| {
                                failure.set(None);
                                signing_up.update(|up| *up = !*up);
                            }
                        >
                            {move || if signing_up.get() { "I have an account: sign in" } else { "No account yet? Create one" }}
                        </button>
                    </p>
                </Show>
            </Transition>
        </section>
    }
}
