//! [`Owned<T>`]: the object named by the path's `{id}`, loaded once the caller is known to
//! be allowed to manage it. Another user's object answers 404, exactly like a missing one,
//! so that a refusal never tells whether it exists.

use std::future::Future;

use axum::{
    extract::{FromRequestParts, Path},
    http::request::Parts,
};

use super::{ApiError, AppState};
use crate::{
    auth::Identity,
    store::{AgentRow, RoomRow, RunRow, Store, StoreError, ThreadRow, TriggerRow},
};

/// An object the caller may manage, from the `{id}` of the request's path.
#[derive(Debug, Clone)]
pub struct Owned<T>(pub T);

/// Something with an owner that a path can name by id.
pub trait Ownable: Sized + Send {
    /// What it is called in a "there is no … {id}" answer.
    const NAME: &'static str;

    /// The object `id`, if it exists.
    fn load(
        store: &Store,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self>, StoreError>> + Send;

    /// The user who owns it (for a thread, a run or a trigger: its agent's owner).
    fn owner_id(&self) -> &str;
}

impl<T: Ownable> FromRequestParts<AppState> for Owned<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let identity = Identity::from_request_parts(parts, state).await?;
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|err| ApiError::BadRequest(err.body_text()))?;
        match T::load(&state.store, &id).await? {
            Some(object) if identity.may_manage(object.owner_id()) => Ok(Self(object)),
            _ => Err(ApiError::NotFound(format!("there is no {} {id}", T::NAME))),
        }
    }
}

/// [`Ownable`] for rows that carry their `owner_id`, each loaded by the store's method of
/// the name given.
macro_rules! ownable {
    ($($row:ty => $name:literal by $load:ident;)*) => {$(
        impl Ownable for $row {
            const NAME: &'static str = $name;

            async fn load(store: &Store, id: &str) -> Result<Option<Self>, StoreError> {
                store.$load(id).await
            }

            fn owner_id(&self) -> &str {
                &self.owner_id
            }
        }
    )*};
}

ownable! {
    AgentRow => "agent" by agent;
    ThreadRow => "thread" by thread;
    RunRow => "run" by run;
    TriggerRow => "trigger" by trigger;
    RoomRow => "room" by room;
}
