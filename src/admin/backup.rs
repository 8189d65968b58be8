//! `qrca backup` and `qrca restore` (issue 14): the whole database and its kept
//! documents in one file, consistent (read while no transaction runs), made by the
//! running daemon through the control socket or on a database the command line opened;
//! restored only into an empty database (both PCs new: a standby is set up from the
//! journal instead).
//!
//! The file: the line `qrca-backup-v1`, then the store's snapshot (`Store::snapshot`,
//! a write set numbered as the last one it holds). It holds personal data: the command
//! line writes it owner-only.

use crate::store::Store;
use std::io::Write;

const MAGIC: &[u8] = b"qrca-backup-v1\n";

/// The backup's bytes, and a line about it on `out`.
pub fn execute(store: &Store, out: &mut dyn Write) -> anyhow::Result<(u8, Option<Vec<u8>>)> {
    let (seq, snapshot) = store.snapshot()?;
    let cases = store.cases()?.len();
    writeln!(
        out,
        "backup of {cases} case(s) up to write set {seq}: {} bytes",
        snapshot.len() + MAGIC.len()
    )?;
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&snapshot);
    Ok((0, Some(bytes)))
}

/// Restores `bytes` (a backup file named `shown`) into `store`, which must be empty.
pub fn restore(store: &Store, shown: &str, bytes: &[u8]) -> anyhow::Result<String> {
    let Some(snapshot) = bytes.strip_prefix(MAGIC) else {
        anyhow::bail!("{shown} is not a qrca backup (it does not start with qrca-backup-v1)");
    };
    let seq = snapshot
        .get(4..12)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| anyhow::anyhow!("{shown} is cut short"))?;
    let held = store.cases()?.len();
    if held > 0 || store.journal_seq()? > 0 {
        anyhow::bail!(
            "the database at {} already holds {held} case(s); restore goes only into an empty \
             state directory (a second PC is set up with qrca standby instead)",
            store.path().display()
        );
    }
    store
        .apply_snapshot(seq, snapshot)
        .map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    Ok(format!(
        "restored {} case(s) up to write set {seq} from {shown}",
        store.cases()?.len()
    ))
}
