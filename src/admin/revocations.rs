//! SPEC §5's revocation list of the ward's database, as `qrca keys revocations` prints
//! it: every revoked permit, from the cases themselves (`permit::issue::revocations`).

use crate::permit::issue;
use crate::store::Store;
use std::io::Write;

/// The revocation list of an open store, printed to `out`. The daemon runs the same
/// through its control socket.
pub fn execute(store: &Store, out: &mut dyn Write) -> anyhow::Result<u8> {
    let list = issue::revocations(&store.cases()?);
    writeln!(out, "{}", list.to_json_pretty())?;
    Ok(0)
}
