//! `qrca intake FILE.eml --account ADDRESS`: take in one mail saved as a file exactly
//! as the daemon takes in a mail read on that account (parse, gate, the core, one
//! commit), and say what became of it. For a mail got back from the quarantine folder
//! once the fault is fixed, and for the tests that feed hostile mail through the whole
//! intake in a child process under a memory limit.
//!
//! Owns only the admin's words. The daemon must be stopped (sled lets one process hold
//! the database); the mail's answers wait in the outbox for the daemon.

use super::{clean, load_config};
use crate::daemon::intake::{self, Position, Taken};
use crate::engine::Processed;
use crate::store::Store;
use crate::store::blobs::Blobs;
use anyhow::Context;
use sha2::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn run(file: &Path, account: &str, config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, false)?;
    if config.account(account).is_none() {
        anyhow::bail!(
            "{} is not an account of any ward in the config",
            clean(account)
        );
    }
    let raw = read_bounded(file, &config, account)?;
    let store = Store::open(&config.service.state_dir)?;
    let blobs = Blobs::new(&config.service.state_dir);
    // IMAP never gives UIDVALIDITY 0 (RFC 3501 §2.3.1.1), so a file's position cannot
    // be a real message's; the UID comes from the bytes, so two files are two messages.
    let digest = sha2::Sha256::digest(&raw);
    let at = Position {
        account: account.to_owned(),
        uidvalidity: 0,
        uid: u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]),
    };
    let taken = intake::take_in(&store, &blobs, &config, &at, &raw, jiff::Timestamp::now())
        .with_context(|| format!("cannot take in {}", file.display()))?;
    let mut out = std::io::stdout().lock();
    match taken {
        Taken::Processed(Processed::Applied {
            case, outbox_ids, ..
        }) => writeln!(
            out,
            "applied: case {} (revision {}); {} mail(s) queued in the outbox",
            case.code,
            case.revision,
            outbox_ids.len()
        )?,
        Taken::Processed(Processed::Refused(refusal)) => writeln!(
            out,
            "refused ({:?}): {}",
            refusal.reason,
            clean(&refusal.detail)
        )?,
        Taken::Processed(Processed::Ignored) => writeln!(out, "ignored")?,
        Taken::Processed(Processed::AlreadySeen) => {
            writeln!(out, "already taken in before: nothing changed")?
        }
        Taken::Ignored(reason) => writeln!(out, "not taken in: {}", clean(&reason))?,
    }
    Ok(0)
}

/// The file's bytes, refused when larger than the account's `max_message_bytes` (the
/// daemon does not fetch such a mail's body either).
fn read_bounded(
    file: &Path,
    config: &crate::config::Config,
    account: &str,
) -> anyhow::Result<Vec<u8>> {
    let limit = config
        .account(account)
        .map_or(0, |(_, a)| a.mail.max_message_bytes);
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > limit {
        anyhow::bail!(
            "{} is {size} bytes, over the account's max_message_bytes ({limit}); the daemon would not read it either",
            file.display()
        );
    }
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}
