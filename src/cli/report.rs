//! `qrca report --ward CODE`: queue the ward officers' report of refused attempts now,
//! whatever the hour (SPEC §3), when there is anything not yet reported.
//!
//! Owns only the admin's words; the decision and the queueing are `daemon::report`'s.
//! While `qrca run` holds the database the daemon runs it (`cli::control`), on its own
//! config, and sends the report at once; otherwise it opens the database itself and
//! the daemon sends the report when it next runs.

use super::{load_config, time};
use crate::config::Config;
use crate::daemon::report;
use crate::store::Store;
use std::io::Write;
use std::path::PathBuf;

pub fn run(ward: &str, config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let request = super::control::Request::Report {
        ward: ward.to_owned(),
    };
    super::control::in_daemon_or_here(&config.service.state_dir, &request, |store, out, err| {
        execute(store, &config, ward, out, err)
    })
}

/// The command on an open store, printing to `out` and `err`; the exit code. The
/// daemon runs the same through its control socket.
pub fn execute(
    store: &Store,
    config: &Config,
    ward: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let Some(ward) = config.ward(ward) else {
        writeln!(err, "qrca: {}", super::no_such_ward(config, ward))?;
        return Ok(2);
    };
    match report::queue_now(store, config, ward, jiff::Timestamp::now())? {
        None => writeln!(
            out,
            "nothing to report for {}: no refused attempt since the last report",
            ward.code()
        )?,
        Some(q) => writeln!(
            out,
            "queued the report of {} refused attempt(s) for the officers of {} (outbox entry {}, from {} to {}); the daemon sends it",
            q.refusals,
            q.ward,
            q.outbox_id,
            time(q.first),
            time(q.last)
        )?,
    }
    Ok(0)
}
