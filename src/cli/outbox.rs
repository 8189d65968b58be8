//! `qrca outbox [list | retry ID]`: the mails waiting, sent and given up (SPEC §6),
//! from the daemon while it holds the database, else from the database here; the
//! listing and the one change an admin may make (putting a mail back in line) are
//! `admin::outbox`'s.

use super::load_config;
use crate::admin::{OutboxCommand, outbox::execute, protocol::Request};
use std::path::PathBuf;

pub fn run(config: Option<PathBuf>, command: Option<OutboxCommand>) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let request = Request::Outbox(command.clone());
    super::control::in_daemon_or_here(&config.service.state_dir, &request, |store, out, err| {
        execute(store, command, out, err)
    })
}
