//! `qrca demo`. Work in progress.
use std::path::PathBuf;

pub fn run(out: Option<PathBuf>) -> anyhow::Result<u8> {
    let _ = out;
    anyhow::bail!("qrca demo is not built yet")
}
