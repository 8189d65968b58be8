//! `qrca cases [list | show CODE]`: what the database holds about cases (SPEC §6),
//! from the daemon while it holds the database, else from the database here; the
//! words are `admin::cases`'s.

use crate::admin::{CasesCommand, cases::execute, protocol::Request};
use std::path::PathBuf;

pub fn run(config: Option<PathBuf>, command: Option<CasesCommand>) -> anyhow::Result<u8> {
    let state_dir = state_dir(config)?;
    let request = Request::Cases(command.clone());
    super::control::in_daemon_or_here(&state_dir, &request, |store, out, err| {
        execute(store, command, out, err)
    })
}

/// Where the database lives: the validated config's `service.state_dir`.
///
/// The signing keys need not exist yet: this command only reads the database, and an
/// admin may well list cases before `qrca keys generate` has run for every ward.
fn state_dir(config: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    Ok(super::load_config(config, true)?.service.state_dir)
}
