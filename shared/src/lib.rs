//! Types that cross the wire between Hatchery's server and its browser client.
//!
//! This crate depends on serde alone so that it compiles for the host and for
//! `wasm32-unknown-unknown`: a change to the protocol is a change here, and both sides
//! stop compiling until they agree.

pub mod api;
pub mod health;
pub mod realtime;

/// The version of this Hatchery build, shared by the server and the browser bundle.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
