//! Integration tests: the real server on a random port, a fresh SQLite database per test,
//! driven over HTTP. One binary so that it links once.

mod helpers;

mod health;
mod process;
mod realtime;
mod site;
mod storage;
mod ws;
