//! `qrca roster FILE --kind T|C|H [--json]`. Work in progress (issue 4).
use crate::workflow::Kind;
use std::path::{Path, PathBuf};

pub fn run(file: &Path, kind: Kind, json: bool, config: Option<PathBuf>) -> anyhow::Result<u8> {
    let _ = (file, kind, json, config);
    anyhow::bail!("qrca roster is not built yet")
}
