//! One module per page.

pub mod agent_form;
pub mod agents;
pub mod chat;
pub mod dashboard;
pub mod not_found;
pub mod setup;
pub mod sign_in;
pub mod tokens;
pub mod unavailable;
pub mod users;
