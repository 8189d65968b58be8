//! Inbound mail: what the daemon reads from the outside world, turned into typed data.
//!
//! - [`reply`]: the reply's own words (quoted text, attributions, signatures removed).
//! - [`commands`]: reply commands (SPEC §3) and registration bodies (SPEC §2).
//! - [`mail`]: MIME → `Mail` (mail-parser), with the flags the daemon must obey.
//! - [`gate`]: `Mail` → the engine's event (ward, case, sender, meaning), or a reason to drop it.
//!
//! Everything here is pure: bytes or text in, typed values or reasons out. It must not
//! touch the store, the network or the clock.

pub mod commands;
pub mod gate;
pub mod mail;
pub mod reply;
