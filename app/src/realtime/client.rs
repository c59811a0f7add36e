//! [`WsClient`]: the tab's connection state and frame log as signals, and the handle
//! components use to follow topics. In the browser it owns the socket (see `browser.rs`);
//! on the server it is inert, so pages render the same markup on both sides.

#[cfg(feature = "hydrate")]
use std::rc::Rc;

use hatchery_shared::realtime::{Envelope, StreamPosition, Topic};
use leptos::prelude::*;

use super::{frame_log::FrameLog, topics::Resync};

/// What the connection is doing, for the indicator in the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening the socket, or waiting for `hello`.
    Connecting,
    /// `hello` received: events flow.
    Open,
    /// The socket closed; the next attempt starts in this many seconds.
    Reconnecting {
        /// Whole seconds until the next attempt.
        in_secs: u32,
    },
    /// The server closed with 4401: sign-in is needed; no reconnect.
    SignedOut,
    /// The server refused access (4403); no reconnect.
    Refused,
}

/// The tab's real-time client. Cheap to copy into closures.
#[derive(Clone)]
pub struct WsClient {
    /// The connection's state.
    pub state: RwSignal<ConnectionState>,
    /// The user the server says this connection is, once `hello` arrived.
    pub user_id: RwSignal<Option<String>>,
    /// The last frames in and out, for the debug overlay.
    pub frames: RwSignal<FrameLog>,
    #[cfg(feature = "hydrate")]
    core: send_wrapper::SendWrapper<Rc<super::browser::Core>>,
}

impl WsClient {
    /// Creates the tab's client, provides it through context and, in the browser, connects.
    pub fn provide() -> Self {
        let state = RwSignal::new(ConnectionState::Connecting);
        let user_id = RwSignal::new(None);
        let frames = RwSignal::new(FrameLog::default());
        let client = Self {
            state,
            user_id,
            frames,
            #[cfg(feature = "hydrate")]
            core: send_wrapper::SendWrapper::new(super::browser::Core::start(
                state, user_id, frames,
            )),
        };
        provide_context(client.clone());
        client
    }
}

impl WsClient {
    /// Reconnects at once, as whoever the browser is now signed in as.
    pub fn restart(&self) {
        #[cfg(feature = "hydrate")]
        self.core.restart();
    }
}

/// The tab's client, provided by the app.
pub fn use_ws_client() -> WsClient {
    use_context::<WsClient>().expect("WsClient::provide() runs in App")
}

/// Follows `topic` for as long as the calling component lives: `on_event` gets each new
/// event (never one already seen), `on_resync` runs when events were missed and could not
/// be recovered, so the component refetches its state.
pub fn use_topic(
    topic: Topic,
    on_event: impl Fn(&Envelope) + 'static,
    on_resync: impl Fn() + 'static,
) {
    follow(topic.into(), on_event, on_resync, Resync::OnGap);
}

/// [`use_topic`] for a component that loads its state over REST and keeps it current with
/// the topic's events. A state read at `loaded_at` is followed from there: the events
/// published since are replayed, and `reload` runs only if they cannot be. A state still
/// loading (`None`) is loaded again once the topic's first subscription is live, so that
/// nothing published between the load and the subscription is missed.
pub fn use_live_state(
    topic: Topic,
    loaded_at: Option<StreamPosition>,
    on_event: impl Fn(&Envelope) + 'static,
    reload: impl Fn() + 'static,
) {
    let resync = match loaded_at {
        Some(position) => Resync::After(position),
        None => Resync::AlsoWhenSubscribed,
    };
    follow(topic.into(), on_event, reload, resync);
}

fn follow(
    topic: String,
    on_event: impl Fn(&Envelope) + 'static,
    on_resync: impl Fn() + 'static,
    resync: Resync,
) {
    let client = use_ws_client();
    #[cfg(feature = "hydrate")]
    {
        let core = client.core.clone();
        let id = core.add_interest(&topic, Rc::new(on_event), Rc::new(on_resync), resync);
        let core = send_wrapper::SendWrapper::new(core);
        on_cleanup(move || core.remove_interest(id));
    }
    #[cfg(not(feature = "hydrate"))]
    {
        // Nothing streams into a page rendered on the server.
        let _ = (client, topic, on_event, on_resync, resync);
    }
}
