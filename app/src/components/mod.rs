//! Pieces of the interface used by several pages.

pub mod account_menu;
pub mod bar_chart;
pub mod composer;
pub mod connection_indicator;
pub mod debug_overlay;
pub mod form;
pub mod layout;
pub mod notices;
