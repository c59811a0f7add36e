//! The agent runner's building blocks: LLM providers that stream replies, and the built-in
//! tools agents may call. (The run loop, threads and the chat page build on these.)

pub mod provider;
pub mod reply;
pub mod tools;
