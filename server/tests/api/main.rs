//! Integration tests: the real server on a random port, a fresh database per test (SQLite,
//! or PostgreSQL when `HATCHERY_TEST_POSTGRES` is set), driven over HTTP. One binary so that it links once.

mod conformance;
mod fake_llm;
mod helpers;

mod accounts;
mod agent_files;
mod agents;
mod audit;
mod authorization;
mod caps;
mod chaos;
mod connections;
mod contract;
mod fuzz;
mod health;
mod history;
mod local_model;
mod metrics;
mod process;
mod provider;
mod realtime;
mod rooms;
mod runs;
mod schedules;
mod schema;
mod site;
mod storage;
mod system_log;
mod third_party_llm;
mod tools;
mod webhooks;
mod ws;
