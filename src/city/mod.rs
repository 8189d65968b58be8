//! The city's side of the trust network (issue 13, SPEC §9): the admin account that
//! enrols each ward's key, keeps each ward's signed revocation list, and publishes the
//! merged lists signed by the city key, with the checkpoint page, to the checkpoints.
//!
//! - `model`: the city's data (wards, keys and their states, codes, lists, decisions).
//! - `core`: the pure decision on one inbound mail (no I/O, clock or randomness).
//! - `publish`: the pure publication: merged lists, their signatures, the page, and
//!   whether one is due.
//! - `store`: the city's sled database; one transaction per inbound mail, with its
//!   seen-marker, and one per publication, with its mark.
//! - `import`: the spreadsheet of wards (`qrca city wards import`).
//! - `intake`: one raw mail taken in exactly once (parse, decide, commit).
//! - `rules`: what the core and the publication are given from the config.
//! - `admin`: the admin's commands (status, page, lists, wards import), answered the
//!   same on the socket of `qrca city run` and on a database the command line opened.
//!
//! `qrca city run` (the IMAP and SMTP loop) is a wiring of these with the ward daemon's
//! transports: parse a mail, `core::decide`, `store::commit_mail`, then move it; and a
//! publisher that asks `publish::is_due` and commits with `store::queue_publication`.
//! This module must not know the command line.

pub mod admin;
pub mod core;
pub mod import;
pub mod intake;
pub mod model;
pub mod publish;
pub mod rules;
pub mod store;
