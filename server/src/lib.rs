//! Hatchery's server: configuration, the HTTP application (API and server-rendered site),
//! the real-time hub, and the database. `main.rs` only parses the configuration, sets up logging and runs
//! what this library builds, so tests can run the same server in-process.

pub mod agents;
pub mod application;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod http;
pub mod periodic;
pub mod realtime;
pub mod rooms;
pub mod runner;
pub mod scheduler;
pub mod serve;
pub mod store;
pub mod telemetry;
pub mod webhooks;

pub use application::{Application, StartupError, shutdown_signal};
pub use config::Config;
pub use http::AppState;
