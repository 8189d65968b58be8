//! qrca: a ward office's travel-permit daemon, driven by email.
//!
//! The modules, from the pure centre outwards (dependencies point inwards):
//! - [`workflow`]: the pure core. `step(case, event, ctx) -> (case', effects)`; data types.
//! - [`config`]: `RawConfig` (TOML) → validated `Config`; account-name folding.
//! - [`inbound`]: MIME into `Mail`, the reply's own words, commands and registrations.
//! - [`roster`]: spreadsheets and CSV into a checked `Roster` (SPEC §4).
//! - [`store`]: sled. Cases, outbox, audit, seen-markers, tokens, serials, in one
//!   transaction per inbound message.
//! - [`daemon`]: taking one message in exactly once; the watchers and the outbox worker.
//! - [`engine`]: one inbound event through the core into the store (the only place
//!   that joins the clock, the RNG, the store and `step`).
//! - [`keys`]: ward signing keys on disk.
//! - [`transport`]: mail servers: TLS, IMAP (login, XOAUTH2, fetch, move, IDLE).
//! - [`permit`]: the signed QR payload, trust lists, and the permit PDFs (SPEC §5).
//! - [`outbound`]: outbox entries rendered into the RFC 5322 messages sent (templates,
//!   attachments, splitting).
//! - [`admin`]: what an admin asks of the database (cases, outbox, revocations, the
//!   register, the daily report), printed by `cli` and served by `daemon` alike.
//! - [`demo`]: `qrca demo`, all three flows through the real core and store.
//! - [`city`]: the city's side of the trust network: ward keys, revocation lists,
//!   the signed merged lists and the checkpoint page (issue 13).
//! - [`replica`]: the journal a standby PC follows: its key file, and one entry sealed
//!   into a mail for IMAP APPEND and opened back (issue 14).
//! - [`cli`]: the command line; `main.rs` only parses and dispatches.

pub mod admin;
pub mod city;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod engine;
pub mod inbound;
pub mod keys;
pub mod outbound;
pub mod permit;
pub mod replica;
pub mod roster;
pub mod store;
pub mod transport;
pub mod workflow;
