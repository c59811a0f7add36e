//! `/admin/users`: admins see every account, create new ones, disable or enable them, and
//! revoke their API tokens.

use gloo_net::http::Method;
use hatchery_shared::api::{
    Page,
    accounts::{NewAccount, Role, User, UserPatch},
};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::{self, Failure},
    components::form::{FormError, TextField},
    pages::agents::short_time,
    session::{SignedIn, use_session},
};

/// `/admin/users`.
#[component]
pub fn UsersPage() -> impl IntoView {
    let session = use_session();
    view! {
        <Title text="Users" />
        <SignedIn>
            {move || match session.user() {
                Some(user) if user.role == Role::Admin => view! { <Users /> }.into_any(),
                _ => view! { <p class="form-error" role="alert">"Only admins manage users."</p> }.into_any(),
            }}
        </SignedIn>
    }
}

#[component]
fn Users() -> impl IntoView {
    let failure = RwSignal::new(None::<Failure>);
    let email = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let admin = RwSignal::new(false);

    let users = api::load::<Page<User>>(|| "/api/users?limit=200".to_owned());
    let create = Action::new(move |_: &()| {
        let body = NewAccount {
            email: email.get_untracked(),
            display_name: display_name.get_untracked(),
            password: password.get_untracked(),
            role: Some(if admin.get_untracked() {
                Role::Admin
            } else {
                Role::User
            }),
        };
        async move { api::send::<User, _>(Method::POST, "/api/users", &body).await }
    });
    let done = RwSignal::new(None::<String>);
    let set_disabled = Action::new(move |(id, disabled): &(String, bool)| {
        let path = format!("/api/users/{id}");
        let body = UserPatch {
            disabled: *disabled,
        };
        async move { api::send::<User, _>(Method::PATCH, &path, &body).await }
    });
    Effect::new(move || match set_disabled.value().get() {
        Some(Ok(changed)) => {
            let verb = if changed.disabled {
                "disabled"
            } else {
                "enabled"
            };
            done.set(Some(format!("{} is {verb}.", changed.display_name)));
            users.edit(|page| {
                for user in &mut page.items {
                    if user.id == changed.id {
                        *user = changed.clone();
                    }
                }
            });
        }
        Some(Err(err)) => done.set(Some(err.message)),
        None => {}
    });
    let revoke_tokens = Action::new(move |user: &User| {
        let path = format!("/api/users/{}/tokens", user.id);
        let name = user.display_name.clone();
        async move { api::call(Method::DELETE, &path).await.map(|()| name) }
    });
    Effect::new(move || match revoke_tokens.value().get() {
        Some(Ok(name)) => done.set(Some(format!("Every API token of {name} is revoked."))),
        Some(Err(err)) => done.set(Some(err.message)),
        None => {}
    });
    Effect::new(move || match create.value().get() {
        Some(Ok(user)) => {
            users.edit(|page| page.items.insert(0, user));
            for field in [email, display_name, password] {
                field.set(String::new());
            }
            admin.set(false);
            failure.set(None);
        }
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });

    view! {
        <header class="page-header">
            <h1>"Users"</h1>
        </header>
        <section class="card narrow">
            <h2>"Add a user"</h2>
            <form on:submit=move |event| {
                event.prevent_default();
                create.dispatch(());
            }>
                <TextField label="Email" name="email" kind="email" value=email failure />
                <TextField label="Name" name="display_name" value=display_name failure />
                <TextField label="Password" name="password" kind="password" value=password failure autocomplete="new-password" />
                <label class="checkbox">
                    <input type="checkbox" prop:checked=move || admin.get() on:change=move |event| admin.set(event_target_checked(&event)) />
                    "Admin"
                </label>
                <FormError failure />
                <button class="button primary" type="submit">"Add user"</button>
            </form>
        </section>
        <section class="card">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Email"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <Transition>
                        <For
                            each=move || users.get().and_then(Result::ok).map(|page| page.items).unwrap_or_default()
                            key=|user| (user.id.clone(), user.disabled)
                            let:user
                        >
                            <tr>
                                <td>{user.display_name.clone()}</td>
                                <td>{user.email.clone()}</td>
                                <td>{user.role.as_str()}</td>
                                <td>{short_time(&user.created_at)}</td>
                                <td>{if user.disabled { "disabled" } else { "active" }}</td>
                                <td class="actions">
                                    <button class="button" type="button" on:click={
                                        let (id, disabled) = (user.id.clone(), user.disabled);
                                        move |_| { set_disabled.dispatch((id.clone(), !disabled)); }
                                    }>{if user.disabled { "Enable" } else { "Disable" }}</button>
                                    <button class="button" type="button" on:click={
                                        let user = user.clone();
                                        move |_| { revoke_tokens.dispatch(user.clone()); }
                                    }>"Revoke tokens"</button>
                                </td>
                            </tr>
                        </For>
                    </Transition>
                </tbody>
            </table>
            {move || done.get().map(|message| view! { <p class="form-success" role="status">{message}</p> })}
            <Transition>
                {move || users.failure().map(|message| view! {
                    <p class="form-error" role="alert">"Cannot load the users: " {message}</p>
                })}
            </Transition>
        </section>
    }
}
