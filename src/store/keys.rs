//! Key encodings of the store's trees, in one place so readers and writers agree.
//!
//! Owns the byte layout of keys only; it must not touch sled. Numbers are big-endian
//! so that sled's byte order is numeric order.

use crate::workflow::Kind;

pub(crate) const META: &str = "meta";
pub(crate) const CASES: &str = "cases";
pub(crate) const OUTBOX: &str = "outbox";
pub(crate) const OUTBOX_DUE: &str = "outbox_due";
pub(crate) const OUTBOX_UNREADABLE: &str = "outbox_unreadable";
pub(crate) const AUDIT: &str = "audit";
pub(crate) const SEEN: &str = "seen";
pub(crate) const SEEN_MSGID: &str = "seen_msgid";
pub(crate) const TOKENS: &str = "tokens";
pub(crate) const SERIALS: &str = "serials";
pub(crate) const PERMITS: &str = "permits";
pub(crate) const REFUSALS: &str = "refusals";
pub(crate) const REVISIONS: &str = "revisions";
pub(crate) const HOLDERS: &str = "holders";
pub(crate) const SENT: &str = "sent";
pub(crate) const UNREPORTED: &str = "unreported";
pub(crate) const REVOKED: &str = "revoked";
/// The print queue (`prints.rs`): job id BE → the job.
pub(crate) const PRINTS: &str = "prints";
/// Write sets not yet published to the standby (`journal.rs`): this machine's own.
pub(crate) const JOURNAL_OUT: &str = "journal_out";

/// The `meta` key holding the schema version (u32 big-endian).
pub(crate) const SCHEMA_VERSION_KEY: &[u8] = b"schema_version";

/// The `meta` key of a ward's daily report mark: `report/<ward code>`.
pub(crate) fn report(ward: &str) -> String {
    format!("report/{ward}")
}

/// The `meta` key marking the ward's permits re-issued under a new key after `kid`
/// was compromised: `reissue/<ward code>/<kid>`.
pub(crate) fn reissue(ward: &str, kid: &str) -> String {
    format!("reissue/{ward}/{kid}")
}

/// The `meta` key of what the ward last sent the city: `trustfeed/<ward code>`.
pub(crate) fn trust_feed(ward: &str) -> String {
    format!("trustfeed/{ward}")
}

/// `<ward>\0<refusal id BE>` → nothing: a refusal not yet in a daily report. Written in
/// the commit that records the refusal and removed in the transaction that queues the
/// report naming it, so each refusal is reported exactly once whatever the clocks say.
pub(crate) fn unreported(ward: &str, refusal: u64) -> Vec<u8> {
    let mut key = unreported_prefix(ward);
    key.extend_from_slice(&refusal.to_be_bytes());
    key
}

pub(crate) fn unreported_prefix(ward: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(ward.len() + 9);
    key.extend_from_slice(ward.as_bytes());
    key.push(0);
    key
}

/// `<ward code>/<kind letter>`.
pub(crate) fn serial(ward: &str, kind: Kind) -> String {
    format!("{ward}/{}", kind.letter())
}

/// Case code, a 0x00 separator (so `X-0001` never prefixes `X-00010`), then the
/// sequence number: a prefix scan on `audit_prefix` returns one case's trail in order.
pub(crate) fn audit(case: &str, seq: u64) -> Vec<u8> {
    let mut key = audit_prefix(case);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

pub(crate) fn audit_prefix(case: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(case.len() + 9);
    key.extend_from_slice(case.as_bytes());
    key.push(0);
    key
}

/// `<ward>\0<ID number>\0<permit id>` → the permit's last valid day (`YYYY-MM-DD`):
/// who holds a permit of the ward, for the roster check "already holds an active
/// permit" (SPEC §4). A prefix scan on `holder_prefix` lists one person's permits.
pub(crate) fn holder(ward: &str, id_number: &str, permit: &str) -> Vec<u8> {
    let mut key = holder_prefix(ward, id_number);
    key.extend_from_slice(permit.as_bytes());
    key
}

/// `<ward>\0<permit id>` → the revocation (`store::RevokedPermit`, JSON): the ward's
/// revocation list, read without the cases (`Store::revoked_permits`).
pub(crate) fn revoked(ward: &str, permit: &str) -> Vec<u8> {
    let mut key = revoked_prefix(ward);
    key.extend_from_slice(permit.as_bytes());
    key
}

pub(crate) fn revoked_prefix(ward: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(ward.len() + 24);
    key.extend_from_slice(ward.as_bytes());
    key.push(0);
    key
}

pub(crate) fn holder_prefix(ward: &str, id_number: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(ward.len() + id_number.len() + 20);
    key.extend_from_slice(ward.as_bytes());
    key.push(0);
    key.extend_from_slice(id_number.as_bytes());
    key.push(0);
    key
}

/// `<account>\0<YYYYMMDDHH>` (the UTC hour) → the recipients of the mails the account's
/// server accepted in that hour (u32 BE): the buckets of the rolling 24-hour quota
/// (`Store::sent_within`). Keys sort by hour within an account. Before issue 15 the
/// key ended in the local day, `<YYYY-MM-DD>`, and counted messages: such a key sorts
/// before every hour of the same or a later year (`-` < `0`), so it is never read as a
/// bucket of the window and goes with the account's stale buckets (`Store::sent_stale`)
/// at its next count; no migration step is needed (the schema version stays).
pub(crate) fn sent(account: &str, at: jiff::Timestamp) -> Vec<u8> {
    let mut key = sent_prefix(account);
    key.extend_from_slice(hour(at).as_bytes());
    key
}

/// The key every bucket of `account` starts with.
pub(crate) fn sent_prefix(account: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(account.len() + 11);
    key.extend_from_slice(account.as_bytes());
    key.push(0);
    key
}

/// `YYYYMMDDHH` of `at`, in UTC (a rolling window knows no time zone).
fn hour(at: jiff::Timestamp) -> String {
    at.strftime("%Y%m%d%H").to_string()
}

/// The hours of the quota window at `now`: the hour `now` is in and the 24 before it.
/// A mail counts for at least 24 hours and less than 25, never less: Gmail's window is
/// 24 hours to the second, and an account that sent its limit must not send more.
pub(crate) const SENT_WINDOW_HOURS: i64 = 24;

/// The first key of the window at `now` (`sent(account, now - 24 h)`): the account's
/// buckets from it on are counted, those before it are stale.
pub(crate) fn sent_window_start(account: &str, now: jiff::Timestamp) -> Vec<u8> {
    let start = now
        .checked_sub(jiff::SignedDuration::from_hours(SENT_WINDOW_HOURS))
        .unwrap_or(now);
    sent(account, start)
}

/// `answers\0<ward>\0<YYYY-MM-DD>\0<sender, lower case>` → the mails the ward answered
/// that sender with that day (u32 BE), in the `sent` tree beside the accounts' counts
/// (an account address never starts with `answers\0`).
pub(crate) fn answers(ward: &str, day: jiff::civil::Date, sender: &str) -> Vec<u8> {
    let mut key = b"answers\0".to_vec();
    key.extend_from_slice(ward.as_bytes());
    key.push(0);
    key.extend_from_slice(day.to_string().as_bytes());
    key.push(0);
    key.extend_from_slice(sender.to_lowercase().as_bytes());
    key
}

/// The `outbox_due` key of an entry due at `at`: the time in microseconds since the
/// epoch with its sign bit flipped (so that sled's byte order is time order, before
/// 1970 included), then the entry id. The value is empty. Sub-microsecond parts are
/// floored: a key never sorts after its entry's due time, so a range scan up to
/// `due(now, u64::MAX)` finds every entry due by `now` (and the caller checks the
/// entry itself for the few within the same microsecond that are not yet due).
pub(crate) fn due(at: jiff::Timestamp, id: u64) -> [u8; 16] {
    let micros = at.as_nanosecond().div_euclid(1000);
    // A Timestamp spans ±10,000 years: about ±3.2e17 µs, well inside an i64.
    let micros = i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX });
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&((micros as u64) ^ (1 << 63)).to_be_bytes());
    key[8..].copy_from_slice(&id.to_be_bytes());
    key
}

/// The `outbox_due` key of a pending entry: due at once, whatever the clock says
/// (`OutboxStatus::due_at`), so pending entries sort first, by id.
pub(crate) fn due_now(id: u64) -> [u8; 16] {
    due(jiff::Timestamp::MIN, id)
}

/// The entry id of an `outbox_due` key; `None` when the key has the wrong length.
pub(crate) fn due_id(key: &[u8]) -> Option<u64> {
    let id: [u8; 8] = key.get(8..)?.try_into().ok()?;
    (key.len() == 16).then(|| u64::from_be_bytes(id))
}

pub(crate) fn id(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// A `sent` counter after `n` more: the old value ([`count`]) plus `n`.
pub(crate) fn counted(old: Option<&[u8]>, n: u32) -> [u8; 4] {
    count(old).saturating_add(n).to_be_bytes()
}

/// The value of a `sent` counter: none is 0, and an unreadable one is full
/// (`u32::MAX`), never 0: a counter that cannot be read must not let an account
/// send past its quota or a sender past its limit. It is logged; the next day has a
/// new key.
pub(crate) fn count(value: Option<&[u8]>) -> u32 {
    match value {
        None => 0,
        Some(bytes) => decode_u32(bytes).unwrap_or_else(|| {
            tracing::error!(
                found = bytes.len(),
                "a sent counter in the database is unreadable (expected 4 bytes); counted as full"
            );
            u32::MAX
        }),
    }
}

/// A u32 stored big-endian; `None` when the value has the wrong length.
pub(crate) fn decode_u32(bytes: &[u8]) -> Option<u32> {
    let arr: [u8; 4] = bytes.try_into().ok()?;
    Some(u32::from_be_bytes(arr))
}

/// A key for error messages: text as text, anything else as hex.
pub(crate) fn printable(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if !s.contains('\0') => s.to_owned(),
        _ => key.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_counter_is_full_not_empty() {
        assert_eq!(count(None), 0);
        assert_eq!(count(Some(&7u32.to_be_bytes())), 7);
        assert_eq!(count(Some(b"xyz")), u32::MAX);
        assert_eq!(counted(Some(b"xyz"), 1), u32::MAX.to_be_bytes());
        assert_eq!(counted(None, 2), 2u32.to_be_bytes());
    }

    #[test]
    fn audit_keys_of_one_case_do_not_prefix_another() {
        let a = audit("THD-T-0001", 5);
        assert!(a.starts_with(&audit_prefix("THD-T-0001")));
        assert!(!a.starts_with(&audit_prefix("THD-T-000")));
        assert!(audit("X", 1) < audit("X", 256));
    }

    #[test]
    fn due_keys_sort_by_time_then_id() {
        let t = |s: &str| {
            s.parse::<jiff::Timestamp>()
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let early = due(t("1969-12-31T23:59:59Z"), 9);
        let epoch = due(t("1970-01-01T00:00:00Z"), 1);
        let a = due(t("2021-09-08T02:30:00Z"), 7);
        let b = due(t("2021-09-08T02:30:00.000001Z"), 3);
        let c = due(t("2021-09-08T02:30:00.000001Z"), 4);
        assert!(early < epoch && epoch < a && a < b && b < c);
        // A key is never past its time: within one microsecond of `now` the scan may
        // find an entry not yet due (the caller checks the entry), but never misses one.
        let bound = due(t("2021-09-08T02:30:00.0000011Z"), u64::MAX);
        assert!(due(t("2021-09-08T02:30:00.0000019Z"), 5) <= bound);
        assert_eq!(due_id(&c), Some(4));
        assert_eq!(due_id(&c[..15]), None);
    }

    #[test]
    fn u32_round_trip_and_bad_length() {
        assert_eq!(decode_u32(&7u32.to_be_bytes()), Some(7));
        assert_eq!(decode_u32(&[1, 2, 3]), None);
        assert_eq!(
            serial("hoankiem.tranhungdao", Kind::H),
            "hoankiem.tranhungdao/H"
        );
        assert_eq!(printable(&[0x41, 0x00, 0x01]), "410001");
    }
}
