//! `qrca report --ward CODE`: queue the ward officers' report of refused attempts now,
//! whatever the hour (SPEC §3), when there is anything not yet reported.
//!
//! The decision, the queueing and the words are `admin::report`'s. While `qrca run`
//! holds the database the daemon runs it, on its own config, and sends the report at
//! once; otherwise this process opens the database and the daemon sends the report
//! when it next runs.

use super::load_config;
use crate::admin::{protocol::Request, report};
use std::path::PathBuf;

pub fn run(ward: &str, config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let request = Request::Report {
        ward: ward.to_owned(),
    };
    super::control::in_daemon_or_here(&config.service.state_dir, &request, |store, out, err| {
        report::execute(store, &config, ward, out, err)
    })
}
