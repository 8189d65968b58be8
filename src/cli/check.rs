//! `qrca check`. Work in progress.
use std::path::PathBuf;

pub fn run(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let _ = config;
    anyhow::bail!("qrca check is not built yet")
}
