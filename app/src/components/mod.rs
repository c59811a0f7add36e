//! Pieces of the interface used by several pages.

pub mod layout;
