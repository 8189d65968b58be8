//! Which ID numbers already hold an active permit of a ward: the check `qrca roster`
//! makes on a list before it is mailed, answered from the ward's database.

use crate::store::Store;
use std::collections::HashMap;
use std::io::Write;

/// Writes, as a JSON object, each of `ids` that holds an active permit of `ward` on
/// `today` → that permit (the daemon's answer to [`super::protocol::Request::Holders`]).
pub fn execute(
    store: &Store,
    ward: &str,
    ids: &[String],
    today: jiff::civil::Date,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let mut held = HashMap::new();
    for id in ids {
        if let Some(permit) = store.active_permits(ward, id, today)?.into_iter().next() {
            held.insert(id.clone(), permit);
        }
    }
    serde_json::to_writer(&mut *out, &held)?;
    Ok(0)
}
