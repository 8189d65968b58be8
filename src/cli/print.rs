//! `qrca print [list | retry ID]`: the print queue (issue 15), from the daemon while it
//! holds the database, else from the database here; `admin::print` lists and retries.

use super::load_config;
use crate::admin::{PrintCommand, print::execute, protocol::Request};
use std::path::PathBuf;

pub fn run(config: Option<PathBuf>, command: Option<PrintCommand>) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let request = Request::Print(command.clone());
    super::control::in_daemon_or_here(&config.service.state_dir, &request, |store, out, err| {
        execute(store, command, out, err)
    })
}
