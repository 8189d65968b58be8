//! `qrca cases`. Work in progress.
use super::CasesCommand;
use std::path::PathBuf;

pub fn run(config: Option<PathBuf>, command: Option<CasesCommand>) -> anyhow::Result<u8> {
    let _ = (config, command);
    anyhow::bail!("qrca cases is not built yet")
}
