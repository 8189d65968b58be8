//! What an admin asks of a ward's database, below both the command line and the
//! daemon: the command line prints these answers, and the daemon gives the same ones
//! over its control socket while it holds the database (sled locks it to one
//! process), so the two can never differ.
//!
//! - [`protocol`]: the control socket's one-line JSON request and response, and
//!   [`protocol::answer`], which runs a request on an open store.
//! - [`cases`], [`outbox`], [`revocations`], [`holders`], [`permits`]: the read
//!   models, each a function of the store that writes what the admin reads (ID and
//!   phone numbers masked, text from mail cleaned of control characters).
//! - [`report`]: the officers' daily report of refused attempts, which the daemon
//!   queues when due and `qrca report` queues now.
//! - [`reissue`]: the key-compromise drill's permits, re-issued under the new key.
//! - [`feed`]: the ward's signed revocation list for the city (SPEC §9), which the
//!   daemon queues when it changed and at least daily.
//!
//! It reads the store and queues mail through it; it never sends, and knows neither
//! clap's command line nor the socket server.

use clap::Subcommand;

pub mod backup;
pub mod cases;
pub mod feed;
pub mod holders;
pub mod outbox;
pub mod permits;
pub mod print;
pub mod protocol;
pub mod reissue;
pub mod report;
pub mod revocations;

#[derive(Debug, Clone, Subcommand, serde::Serialize, serde::Deserialize)]
pub enum CasesCommand {
    /// One line per case: code, kind, stage, rows pending/approved/issued, last change.
    List,
    /// One case and its audit trail.
    Show { code: String },
}

#[derive(Debug, Clone, Subcommand, serde::Serialize, serde::Deserialize)]
pub enum OutboxCommand {
    /// One line per mail: id, case, mail, status, attempts, last change, recipients.
    List,
    /// Put a dead or retrying mail back in line to be sent.
    Retry { id: u64 },
}

#[derive(Debug, Clone, Subcommand, serde::Serialize, serde::Deserialize)]
pub enum PrintCommand {
    /// One line per print sheet: id, case, batch, pages, status, last change, and why
    /// a waiting one waits.
    List,
    /// Try a waiting sheet again now.
    Retry { id: u64 },
}

/// Text from mail, spreadsheets and QR codes with control characters replaced, so
/// that a crafted name cannot move the cursor or recolour the admin's terminal.
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The sentence for a `--ward` the config does not have, naming the wards it has.
pub(crate) fn no_such_ward(config: &crate::config::Config, ward: &str) -> String {
    let known: Vec<&str> = config.wards.iter().map(|w| w.code()).collect();
    format!(
        "there is no ward {:?} in the config; its wards are {}",
        clean(ward),
        known.join(", ")
    )
}

/// A time as the admin commands print it.
pub(crate) fn time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}
