//! One module per page.

pub mod agent_form;
pub mod agent_page;
pub mod agent_schedule;
pub mod agent_triggers;
pub mod agents;
pub mod api_docs;
pub mod chat;
pub mod dashboard;
pub mod logs;
pub mod not_found;
pub mod password;
pub mod rooms;
pub mod run;
pub mod runs;
pub mod setup;
pub mod sign_in;
pub mod tokens;
pub mod usage;
pub mod users;
