//! The browser's side of the real-time protocol: one [`WsClient`] per tab, provided through
//! context, and [`use_topic`] for components that follow a topic.

pub mod backoff;
#[cfg(feature = "hydrate")]
mod browser;
mod client;
pub mod frame_log;
pub mod topics;

pub use client::{ConnectionState, WsClient, use_live_state, use_topic, use_ws_client};
