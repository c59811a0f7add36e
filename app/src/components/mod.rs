//! Pieces of the interface used by several pages.

pub mod connection_indicator;
pub mod debug_overlay;
pub mod layout;
pub mod notices;
