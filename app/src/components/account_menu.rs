//! The account menu in the top bar: who is signed in, their pages, and sign-out.

use gloo_net::http::Method;
use hatchery_shared::api::accounts::{AuthMode, Role};
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_navigate};

use crate::{api, session::use_session};

/// The signed-in user's name with a menu (API tokens, users for admins, sign out), or a
/// sign-in link.
#[component]
pub fn AccountMenu() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let sign_out = Action::new(|_: &()| api::call(Method::POST, "/api/auth/sign-out"));
    Effect::new(move || {
        if let Some(Ok(())) = sign_out.value().get() {
            // Leave the page first, so that nothing on it asks for data it may no longer see.
            navigate("/sign-in", Default::default());
            session.changed();
        }
    });

    view! {
        <Transition>
            {move || match session.user() {
                None => view! { <A href="/sign-in" attr:class="account">"Sign in"</A> }.into_any(),
                Some(user) => {
                    let admin = user.role == Role::Admin;
                    let developer = session.mode() == Some(AuthMode::Disabled);
                    view! {
                        <details class="account" data-testid="account-menu">
                            <summary>{user.display_name}</summary>
                            <div class="menu" role="menu">
                                <A href="/account/tokens" attr:role="menuitem">"API tokens"</A>
                                <A href="/account/password" attr:role="menuitem">"Password"</A>
                                {admin.then(|| view! { <A href="/admin/users" attr:role="menuitem">"Users"</A> })}
                                {(!developer).then(|| view! {
                                    <button
                                        type="button"
                                        role="menuitem"
                                        on:click=move |_| {
                                            sign_out.dispatch(());
                                        }
                                    >
                                        "Sign out"
                                    </button>
                                })}
                            </div>
                        </details>
                    }
                    .into_any()
                }
            }}
        </Transition>
    }
}
