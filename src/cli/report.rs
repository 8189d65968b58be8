//! `qrca report --ward CODE`: queue the ward officers' report of refused attempts now,
//! whatever the hour (SPEC §3), when there is anything not yet reported.
//!
//! Owns only the admin's words; the decision and the queueing are `daemon::report`'s.
//! It opens the database, so it runs while the daemon is stopped; the daemon sends the
//! queued report when it next runs.

use super::{clean, load_config, time};
use crate::daemon::report;
use crate::store::Store;
use std::io::Write;
use std::path::PathBuf;

pub fn run(ward: &str, config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let Some(ward) = config.ward(ward) else {
        let known: Vec<&str> = config.wards.iter().map(|w| w.code()).collect();
        anyhow::bail!(
            "there is no ward {:?} in the config; its wards are {}",
            clean(ward),
            known.join(", ")
        );
    };
    let store = Store::open(&config.service.state_dir)?;
    let mut out = std::io::stdout().lock();
    match report::queue_now(&store, &config, ward, jiff::Timestamp::now())? {
        None => writeln!(
            out,
            "nothing to report for {}: no refused attempt since the last report",
            ward.code()
        )?,
        Some(q) => writeln!(
            out,
            "queued the report of {} refused attempt(s) for the officers of {} (outbox entry {}, covering up to {}); the daemon sends it",
            q.refusals,
            q.ward,
            q.outbox_id,
            time(q.covered_until)
        )?,
    }
    Ok(0)
}
