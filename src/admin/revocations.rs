//! SPEC §5's revocation list of the ward's database, as `qrca keys revocations` prints
//! it: every revoked permit, from the cases themselves (`permit::issue::revocations`),
//! and every key the config says was compromised (`permit::issue::revoked_keys`).

use crate::config::Config;
use crate::permit::issue;
use crate::permit::trust::RevocationList;
use crate::store::Store;
use std::io::Write;

/// The revocation list of an open store and the config's compromised keys.
pub fn list(store: &Store, config: &Config) -> anyhow::Result<RevocationList> {
    Ok(issue::revocations(&store.cases()?).with_keys(issue::revoked_keys(config)))
}

/// The revocation list of an open store, printed to `out`. The daemon runs the same
/// through its control socket, with its own config.
pub fn execute(store: &Store, config: &Config, out: &mut dyn Write) -> anyhow::Result<u8> {
    writeln!(out, "{}", list(store, config)?.to_json_pretty())?;
    Ok(0)
}
