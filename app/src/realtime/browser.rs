//! The socket itself (browser only): connect, reconnect with jittered backoff, heartbeat
//! watchdog, and routing of frames to the topic manager.
//!
//! Invariant: at most one socket exists at a time. A new one is only opened from the empty
//! slot, the reconnect timer is dropped (cancelled) whenever a socket opens, and a socket
//! this side gives up on has its handlers removed before it is closed.

use std::{
    cell::{Cell, RefCell},
    rc::{Rc, Weak},
    time::Duration,
};

use gloo_timers::callback::{Interval, Timeout};
use hatchery_shared::realtime::{
    CloseCode, Empty, Envelope, Message, Reconnect, Subscribe, Unsubscribe, parse_frame,
};
use leptos::prelude::*;
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use super::{
    ConnectionState,
    backoff::Backoff,
    frame_log::{Direction, FrameLog, FrameRecord},
    topics::{EventHandler, InterestId, Resync, ResyncHandler, TopicManager},
};

/// How long to wait for any frame before `hello` told the heartbeat (25 s + 10 s).
const FIRST_WINDOW: Duration = Duration::from_secs(35);
/// Added to the server's heartbeat to get the silence after which the client reconnects.
const GRACE: Duration = Duration::from_secs(10);

/// A live socket and the callbacks it calls (dropped together).
struct Socket {
    ws: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Detaches this side's handlers and closes the socket.
    fn abandon(self) {
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

/// The client's mutable core, shared by the socket callbacks and timers.
pub(super) struct Core {
    url: String,
    state: RwSignal<ConnectionState>,
    user_id: RwSignal<Option<String>>,
    frames: RwSignal<FrameLog>,
    socket: RefCell<Option<Socket>>,
    retry: RefCell<Option<Timeout>>,
    countdown: RefCell<Option<Interval>>,
    watchdog: RefCell<Option<Timeout>>,
    /// Silence allowed before the watchdog reconnects.
    window: Cell<Duration>,
    backoff: Cell<Backoff>,
    topics: RefCell<TopicManager>,
    next_req: Cell<u64>,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

impl Core {
    /// Creates the core and opens the first socket.
    pub(super) fn start(
        state: RwSignal<ConnectionState>,
        user_id: RwSignal<Option<String>>,
        frames: RwSignal<FrameLog>,
    ) -> Rc<Self> {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_default();
        let core = Rc::new(Self {
            url: format!("{scheme}://{host}/api/ws"),
            state,
            user_id,
            frames,
            socket: RefCell::new(None),
            retry: RefCell::new(None),
            countdown: RefCell::new(None),
            watchdog: RefCell::new(None),
            window: Cell::new(FIRST_WINDOW),
            backoff: Cell::new(Backoff::default()),
            topics: RefCell::new(TopicManager::default()),
            next_req: Cell::new(0),
        });
        core.connect();
        core
    }

    /// Opens a socket unless one exists.
    fn connect(self: &Rc<Self>) {
        if self.socket.borrow().is_some() {
            return;
        }
        self.retry.take();
        self.countdown.take();
        self.state.set(ConnectionState::Connecting);
        let ws = match WebSocket::new(&self.url) {
            Ok(ws) => ws,
            Err(_) => return self.schedule_reconnect(false),
        };
        let weak = Rc::downgrade(self);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let weak = weak.clone();
            move |event: MessageEvent| {
                if let (Some(core), Some(text)) = (weak.upgrade(), event.data().as_string()) {
                    core.on_text(&text);
                }
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            if let Some(core) = Weak::upgrade(&weak) {
                core.on_close(event.code());
            }
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        *self.socket.borrow_mut() = Some(Socket {
            ws,
            _on_message: on_message,
            _on_close: on_close,
        });
        self.window.set(FIRST_WINDOW);
        self.arm_watchdog();
    }

    /// Drops the current socket, if any, and connects again at once: after signing in or out,
    /// so that the connection carries the new identity.
    pub(super) fn restart(self: &Rc<Self>) {
        if let Some(socket) = self.socket.borrow_mut().take() {
            socket.abandon();
        }
        self.watchdog.take();
        self.backoff.set(Backoff::default());
        self.connect();
    }

    /// Reconnects if nothing is heard for the current window.
    fn arm_watchdog(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let millis = u32::try_from(self.window.get().as_millis()).unwrap_or(u32::MAX);
        *self.watchdog.borrow_mut() = Some(Timeout::new(millis, move || {
            if let Some(core) = weak.upgrade() {
                leptos::logging::warn!("realtime: nothing heard from the server; reconnecting");
                if let Some(socket) = core.socket.borrow_mut().take() {
                    socket.abandon();
                }
                core.schedule_reconnect(false);
            }
        }));
    }

    fn on_text(self: &Rc<Self>, text: &str) {
        self.arm_watchdog();
        let parsed = parse_frame(text);
        self.log(Direction::In, parsed.as_ref().ok(), text.len());
        let Ok(envelope) = parsed else {
            leptos::logging::warn!("realtime: unreadable frame from the server");
            return;
        };
        match &envelope.message {
            Message::Hello(hello) => {
                let mut backoff = self.backoff.get();
                backoff.reset();
                self.backoff.set(backoff);
                self.window
                    .set(Duration::from_millis(hello.heartbeat_ms) + GRACE);
                self.arm_watchdog();
                self.user_id.set(Some(hello.user_id.clone()));
                self.state.set(ConnectionState::Open);
                let topics = self.topics.borrow().subscriptions();
                if !topics.is_empty() {
                    self.send(Message::Subscribe(Subscribe { topics }));
                }
            }
            Message::Ping(_) => self.send(Message::Pong(Empty {})),
            Message::Subscribed(subscribed) => {
                let resyncs = self.topics.borrow_mut().on_subscribed(subscribed);
                resyncs.iter().for_each(|resync| resync());
            }
            Message::SubscribeError(error) => {
                leptos::logging::warn!(
                    "realtime: cannot follow {}: {}",
                    error.topic,
                    error.message
                );
            }
            Message::Error(error) => {
                leptos::logging::warn!("realtime: the server refused a frame: {}", error.message);
            }
            _ => {
                let handlers = self.topics.borrow_mut().on_event(&envelope);
                handlers.iter().for_each(|handler| handler(&envelope));
            }
        }
    }

    fn on_close(self: &Rc<Self>, code: u16) {
        self.socket.borrow_mut().take();
        self.watchdog.take();
        match CloseCode::from_code(code).map(CloseCode::reconnect) {
            Some(Reconnect::SignIn) => self.state.set(ConnectionState::SignedOut),
            Some(Reconnect::Stop) => self.state.set(ConnectionState::Refused),
            Some(Reconnect::LongBackoff) => self.schedule_reconnect(true),
            Some(Reconnect::Backoff) | None => self.schedule_reconnect(false),
        }
    }

    /// Starts the reconnect timer (the only one: a new one replaces and cancels the old).
    fn schedule_reconnect(self: &Rc<Self>, long: bool) {
        let mut backoff = self.backoff.get();
        let delay = backoff.next_delay(js_sys::Math::random(), long);
        self.backoff.set(backoff);
        let due = now_ms() + delay.as_secs_f64() * 1000.0;
        let remaining = move || ConnectionState::Reconnecting {
            in_secs: ((due - now_ms()) / 1000.0).ceil().max(0.0) as u32,
        };
        self.state.set(remaining());
        let state = self.state;
        *self.countdown.borrow_mut() = Some(Interval::new(250, move || state.set(remaining())));
        let weak = Rc::downgrade(self);
        let millis = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
        *self.retry.borrow_mut() = Some(Timeout::new(millis, move || {
            if let Some(core) = weak.upgrade() {
                core.connect();
            }
        }));
    }

    /// Sends a message when the connection is open (after `hello`); otherwise it is dropped,
    /// and the next `hello` resubscribes everything anyway.
    fn send(&self, message: Message) {
        if self.state.get_untracked() != ConnectionState::Open {
            return;
        }
        let socket = self.socket.borrow();
        let Some(socket) = socket.as_ref() else {
            return;
        };
        self.next_req.set(self.next_req.get() + 1);
        let mut envelope = Envelope::new(message, String::new(), Some(now_ms() as u64));
        envelope.req = Some(format!("c{}", self.next_req.get()));
        let text = envelope.to_json();
        self.log(Direction::Out, Some(&envelope), text.len());
        let _ = socket.ws.send_with_str(&text);
    }

    fn log(&self, direction: Direction, envelope: Option<&Envelope>, bytes: usize) {
        let record = FrameRecord::new(now_ms(), direction, envelope, bytes);
        self.frames.update(|log| log.push(record));
    }

    /// Registers interest in a topic, subscribing when it is the first.
    pub(super) fn add_interest(
        &self,
        topic: &str,
        on_event: EventHandler,
        on_resync: ResyncHandler,
        resync: Resync,
    ) -> InterestId {
        let (id, subscribe) = self
            .topics
            .borrow_mut()
            .add(topic, on_event, on_resync, resync);
        if let Some(topic) = subscribe {
            self.send(Message::Subscribe(Subscribe {
                topics: vec![topic],
            }));
        }
        id
    }

    /// Drops an interest, unsubscribing when it was the last.
    pub(super) fn remove_interest(&self, id: InterestId) {
        let last = self.topics.borrow_mut().remove(id);
        if let Some(topic) = last {
            self.send(Message::Unsubscribe(Unsubscribe {
                topics: vec![topic],
            }));
        }
    }
}
