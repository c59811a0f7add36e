//! A page's state that arrives with the HTML and then follows a topic: loaded together with
//! the topic's position at that moment, so that the browser follows the topic from there
//! (the events in between are replayed) instead of loading the state again.

use hatchery_shared::realtime::{Envelope, StreamPosition, Topic, TopicEvents};
use serde::de::DeserializeOwned;

use crate::{
    api::{self, Failure, Load},
    realtime::use_live_state,
};

/// A state and the position of its topic just before it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Live<T> {
    /// The state.
    pub state: T,
    /// Where the topic's stream stood before the state was read: every event after it may
    /// be missing from the state, none before it is.
    pub position: StreamPosition,
}

/// A [`Live`] state, loaded (see [`api::load_with`]).
pub type LiveLoad<T> = Load<Live<T>>;

/// Loads `GET path()`, with the position of `topic` read first.
pub fn load<T>(topic: Topic, path: impl Fn() -> String + Send + Sync + 'static) -> LiveLoad<T>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    load_with(topic, path, |path| api::get::<T>(&path))
}

/// Loads what `fetch(source())` answers, with the position of `topic` read first; it loads
/// again whenever `source()` changes.
pub fn load_with<S, T, Fut>(
    topic: Topic,
    source: impl Fn() -> S + Send + Sync + 'static,
    fetch: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> LiveLoad<T>
where
    S: Clone + Send + Sync + 'static,
    T: Send + Sync + 'static,
    Fut: Future<Output = Result<T, Failure>> + Send + 'static,
{
    // An epoch that never matches: the answer is the stream's position, without events.
    let position_path = format!("/api/topics/{topic}/events?epoch=&after=0&limit=1");
    api::load_with(source, move |source| {
        let position = api::get::<TopicEvents>(&position_path);
        let state = fetch(source);
        async move {
            let position = position.await?;
            let state = state.await?;
            Ok(Live {
                state,
                position: StreamPosition {
                    epoch: position.epoch,
                    seq: position.seq,
                },
            })
        }
    })
}

/// Keeps `resource` current with `topic` for as long as the calling component lives:
/// `on_event` applies each event; when events were lost, the resource loads again. A state
/// that came with the page is followed from its position; one still loading is loaded again
/// once the subscription is live, so that nothing published meanwhile is missed.
pub fn follow<T>(resource: LiveLoad<T>, topic: Topic, on_event: impl Fn(&Envelope) + 'static)
where
    T: Send + Sync + 'static,
{
    let loaded_at = resource.with_untracked(|loaded| match loaded {
        Some(Ok(live)) => Some(live.position.clone()),
        _ => None,
    });
    use_live_state(topic, loaded_at, on_event, move || resource.refetch());
}

/// Changes the state of `resource` in place, if it has loaded (an event applied).
pub fn edit<T>(resource: LiveLoad<T>, edit: impl FnOnce(&mut T))
where
    T: Send + Sync + 'static,
{
    resource.edit(|live| edit(&mut live.state));
}

/// The state of `resource`, `None` while it loads (tracked; read it inside `<Suspense>` or
/// `<Transition>`).
pub fn state<T>(resource: LiveLoad<T>) -> Option<Result<T, Failure>>
where
    T: Clone + Send + Sync + 'static,
{
    resource.get().map(|loaded| loaded.map(|live| live.state))
}
