//! The daemon's moving parts (issue 6): taking one message in, and, around it, the
//! watchers of the ward accounts and the outbox worker.
//!
//! - [`intake`]: one raw message read from an account → parsed, classified, its files
//!   kept, processed by the engine: durable before the caller may move it on the server.

pub mod intake;
