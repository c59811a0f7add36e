//! The signed-in user, from `GET /api/auth/session` (answered while the server renders the
//! first page, so it arrives with the HTML) and shared through context; [`SignedIn`] keeps a
//! page's content behind sign-in.

use hatchery_shared::api::accounts::{SessionInfo, User};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::{
    api,
    realtime::{WsClient, use_ws_client},
};

/// Where the server says who the caller is. The server answers it before it renders a page,
/// so that the session is known from the first render, there and while the page hydrates.
pub const SESSION_PATH: &str = "/api/auth/session";

/// The tab's session: what the server said about the caller, once it answered.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    info: api::Load<SessionInfo>,
    ws: StoredValue<WsClient>,
}

/// Where a page stands with the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// The server has not answered yet (or the page is rendered on the server).
    Loading,
    /// The server could not say.
    Failed(String),
    /// No account exists yet: the first-run page creates the admin.
    SetupNeeded,
    /// Nobody is signed in.
    SignedOut,
    /// Someone is signed in.
    SignedIn(User),
}

impl Session {
    /// Creates the tab's session and provides it through context. Needs the tab's
    /// [`WsClient`], which it reconnects when the caller changes.
    pub fn provide() -> Self {
        let session = Self {
            info: api::load(|| SESSION_PATH.to_owned()),
            ws: StoredValue::new(use_ws_client()),
        };
        provide_context(session);
        session
    }

    /// After signing in, up or out: asks the server who the caller is now, and reconnects
    /// the WebSocket as them.
    pub fn changed(&self) {
        self.info.refetch();
        self.ws.with_value(WsClient::restart);
    }

    /// Where the caller stands (tracked; known from the first render of a page the server
    /// sent, see [`SESSION_PATH`]).
    pub fn access(&self) -> Access {
        match self.info.get() {
            None => Access::Loading,
            Some(Err(failure)) => Access::Failed(failure.message),
            Some(Ok(info)) => match info.user {
                Some(user) => Access::SignedIn(user),
                None if info.setup_needed => Access::SetupNeeded,
                None => Access::SignedOut,
            },
        }
    }

    /// The signed-in user, if any (tracked).
    pub fn user(&self) -> Option<User> {
        match self.access() {
            Access::SignedIn(user) => Some(user),
            _ => None,
        }
    }

    /// The signed-in user's id as it is now, untracked: for what a page sets up once, inside
    /// [`SignedIn`] (which builds the page again when the user changes).
    pub fn user_id_now(&self) -> String {
        untrack(|| self.user())
            .map(|user| user.id)
            .unwrap_or_default()
    }

    /// How the server authenticates, once it said (tracked).
    pub fn mode(&self) -> Option<hatchery_shared::api::accounts::AuthMode> {
        match self.info.get() {
            Some(Ok(info)) => Some(info.mode),
            _ => None,
        }
    }

    /// Whether anyone may create an account on this server (tracked).
    pub fn signup_open(&self) -> bool {
        matches!(self.info.get(), Some(Ok(info)) if info.signup_open)
    }
}

/// The tab's session, provided by the app.
pub fn use_session() -> Session {
    use_context::<Session>().expect("Session::provide() runs in App")
}

/// Whenever the caller's access changes, navigates to the page `route` names for it, if any.
pub fn route_by_access(route: fn(&Access) -> Option<&'static str>) {
    let session = use_session();
    let navigate = use_navigate();
    Effect::new(move || {
        if let Some(path) = route(&session.access()) {
            navigate(path, Default::default());
        }
    });
}

/// Shows `children` to a signed-in user; sends everyone else to sign in (or, on first run,
/// to create the admin).
#[component]
pub fn SignedIn(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    route_by_access(|access| match access {
        Access::SetupNeeded => Some("/setup"),
        Access::SignedOut => Some("/sign-in"),
        _ => None,
    });
    // The page is built once per change of access, so that its loads are created once. The
    // session is known from the first render (see `SESSION_PATH`): no `<Suspense>` waits for
    // it here, since one would build the page while checking its children and could throw
    // the page away with the loads it started.
    let access = Memo::new(move |_| session.access());
    move || match access.get() {
        Access::SignedIn(_) => children().into_any(),
        Access::Failed(message) => view! {
            <p class="form-error" role="alert">{message}</p>
        }
        .into_any(),
        _ => view! { <p class="muted" aria-busy="true">"Loading…"</p> }.into_any(),
    }
}
