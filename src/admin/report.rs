//! The officers' daily report of refused attempts (SPEC §3: a mail that fails the
//! conditions changes nothing, "and the officers of the ward are told once a day").
//!
//! Owns the decision (pure: [`last_slot`], [`slot_due`], [`due`]) of whether a ward's
//! report is due: once `[service] daily_report_at` has passed since the ward's last
//! report, when any refusal is owed. At most one report per day's slot; none when
//! nothing is owed (a refusal later that day is then reported at the next check, so
//! the officers hear of an attack the same day). Which refusals a report names is the
//! store's exact index (`Store::unreported_refusals`), not a time window, and the
//! report is queued together with taking them out of it (`Store::queue_report`).
//! `daemon::run` checks at start and every minute; `qrca report` queues one now
//! ([`execute`], in the daemon over its control socket or on the database here).

use super::time;
use crate::config::{Config, Ward};
use crate::store::{RefusalRecord, Store, StoreError};
use crate::workflow::{MailData, OutMail, RefusalNote, Template};
use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use std::io::Write;

/// The latest instant at or before `now` whose wall-clock time in `tz` is `at`: today's
/// slot once it has passed, else yesterday's. `None` only at the ends of time.
pub fn last_slot(now: Timestamp, tz: &TimeZone, at: Time) -> Option<Timestamp> {
    let today = now.to_zoned_datetime(tz.clone()).date();
    let slot = |day: jiff::civil::Date| {
        day.to_datetime(at)
            .to_zoned_datetime(tz.clone())
            .ok()
            .map(|z| z.timestamp())
    };
    match slot(today)? {
        s if s <= now => Some(s),
        _ => slot(today.yesterday().ok()?),
    }
}

/// Whether the day's report time has passed since the last report (`reported_until`;
/// `None`: never reported).
pub fn slot_due(
    now: Timestamp,
    tz: &TimeZone,
    at: Time,
    reported_until: Option<Timestamp>,
) -> bool {
    match (last_slot(now, tz, at), reported_until) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(slot), Some(until)) => until < slot,
    }
}

/// Whether the ward's report is due at `now`: the day's report time has passed since
/// the last report, and `owed` refusals (more than none) wait for one.
pub fn due(
    now: Timestamp,
    tz: &TimeZone,
    at: Time,
    reported_until: Option<Timestamp>,
    owed: usize,
) -> bool {
    owed > 0 && slot_due(now, tz, at, reported_until)
}

/// The report to the ward's officers naming `refusals`; `None` for a ward without
/// officers.
pub fn report_mail(ward: &Ward, tz: &TimeZone, refusals: &[RefusalRecord]) -> Option<OutMail> {
    if ward.rules.officers.is_empty() {
        return None;
    }
    let notes = refusals
        .iter()
        .map(|r| RefusalNote {
            at: r.at.to_zoned_datetime(tz.clone()).datetime(),
            sender: r.sender.clone(),
            case: r.case.clone(),
            reason: r.refusal.reason,
        })
        .collect();
    Some(OutMail {
        template: Template::DailyReport,
        to: ward.rules.officers.clone(),
        cc: Vec::new(),
        reply_token: None,
        attachments: Vec::new(),
        data: Box::new(MailData {
            refusals: notes,
            ..MailData::default()
        }),
    })
}

/// A report queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub ward: String,
    pub outbox_id: u64,
    /// How many refusals it names.
    pub refusals: usize,
    /// When the first and the last of them happened.
    pub first: Timestamp,
    pub last: Timestamp,
}

/// Queues every ward's report that is due at `now` (see [`due`]).
pub fn queue_due(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<Queued>, StoreError> {
    let mut queued = Vec::new();
    for ward in &config.wards {
        if let Some(q) = queue(store, config, ward, now, When::Due)? {
            queued.push(q);
        }
    }
    Ok(queued)
}

/// Queues the ward's report now, whatever the hour, if any refusal is still unreported
/// (`qrca report`).
pub fn queue_now(
    store: &Store,
    config: &Config,
    ward: &Ward,
    now: Timestamp,
) -> Result<Option<Queued>, StoreError> {
    queue(store, config, ward, now, When::Now)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum When {
    /// Only if the day's report is due.
    Due,
    /// Whatever the hour.
    Now,
}

/// How often to look again when another report named some of the refusals first (the
/// daily check and `qrca report` at the same moment): then the mark has moved, or
/// what is left is new.
const RACES: usize = 3;

fn queue(
    store: &Store,
    config: &Config,
    ward: &Ward,
    now: Timestamp,
    when: When,
) -> Result<Option<Queued>, StoreError> {
    let tz = &config.service.timezone;
    for _ in 0..RACES {
        let owed = store.unreported_refusals(ward.code())?;
        if when == When::Due {
            let until = store.reported_until(ward.code())?;
            if !due(now, tz, config.service.daily_report_at, until, owed.len()) {
                return Ok(None);
            }
        }
        let (Some(first), Some(last)) = (owed.first(), owed.last()) else {
            return Ok(None);
        };
        let Some(mail) = report_mail(ward, tz, &owed) else {
            return Ok(None);
        };
        let ids: Vec<u64> = owed.iter().map(|r| r.id).collect();
        if let Some(outbox_id) = store.queue_report(ward.code(), &mail, &ids, now)? {
            return Ok(Some(Queued {
                ward: ward.code().to_owned(),
                outbox_id,
                refusals: owed.len(),
                first: first.at,
                last: last.at,
            }));
        }
    }
    Ok(None)
}

/// The command on an open store, printing to `out` and `err`; the exit code. The
/// daemon runs the same through its control socket.
pub fn execute(
    store: &Store,
    config: &Config,
    ward: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let Some(ward) = config.ward(ward) else {
        writeln!(err, "qrca: {}", super::no_such_ward(config, ward))?;
        return Ok(2);
    };
    match queue_now(store, config, ward, jiff::Timestamp::now())? {
        None => writeln!(
            out,
            "nothing to report for {}: no refused attempt since the last report",
            ward.code()
        )?,
        Some(q) => writeln!(
            out,
            "queued the report of {} refused attempt(s) for the officers of {} (outbox entry {}, from {} to {}); the daemon sends it",
            q.refusals,
            q.ward,
            q.outbox_id,
            time(q.first),
            time(q.last)
        )?,
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Ho_Chi_Minh").unwrap_or_else(|e| panic!("{e}"))
    }

    /// A local wall-clock time in Hà Nội as an instant.
    fn local(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
        jiff::civil::date(y, mo, d)
            .at(h, mi, 0, 0)
            .to_zoned_datetime(tz())
            .unwrap_or_else(|e| panic!("{e}"))
            .timestamp()
    }

    #[test]
    fn a_report_is_due_once_a_day_after_the_hour_when_refusals_are_owed() {
        let seven = jiff::civil::time(7, 0, 0, 0);
        let midnight = jiff::civil::time(0, 0, 0, 0);
        let late = jiff::civil::time(23, 30, 0, 0);
        // (what, now, hour, last report, refusals owed, due)
        type Row = (
            &'static str,
            Timestamp,
            Time,
            Option<Timestamp>,
            usize,
            bool,
        );
        let table: Vec<Row> = vec![
            (
                "the first report, once the hour has passed",
                local(2021, 9, 8, 7, 0),
                seven,
                None,
                2,
                true,
            ),
            (
                "the first report waits for something to report",
                local(2021, 9, 8, 7, 0),
                seven,
                None,
                0,
                false,
            ),
            (
                "before the hour: yesterday's report was sent",
                local(2021, 9, 8, 6, 59),
                seven,
                Some(local(2021, 9, 7, 7, 1)),
                2,
                false,
            ),
            (
                "after the hour: since yesterday's report",
                local(2021, 9, 8, 7, 1),
                seven,
                Some(local(2021, 9, 7, 7, 1)),
                2,
                true,
            ),
            (
                "already sent today",
                local(2021, 9, 8, 10, 0),
                seven,
                Some(local(2021, 9, 8, 7, 0)),
                1,
                false,
            ),
            (
                "nothing owed at the hour",
                local(2021, 9, 8, 7, 5),
                seven,
                Some(local(2021, 9, 7, 7, 0)),
                0,
                false,
            ),
            (
                "nothing at the hour, then a refusal later that day",
                local(2021, 9, 8, 9, 31),
                seven,
                Some(local(2021, 9, 7, 7, 0)),
                1,
                true,
            ),
            (
                "midnight: 00:00 local is 17:00 UTC the day before",
                local(2021, 9, 8, 0, 0),
                midnight,
                Some(local(2021, 9, 7, 0, 0)),
                1,
                true,
            ),
            (
                "just before midnight local, the day's 00:00 report was sent",
                local(2021, 9, 7, 23, 59),
                midnight,
                Some(local(2021, 9, 7, 0, 0)),
                1,
                false,
            ),
            (
                "23:30 not reached yet at 00:10: yesterday's slot counts",
                local(2021, 9, 8, 0, 10),
                late,
                Some(local(2021, 9, 7, 23, 30)),
                1,
                false,
            ),
            (
                "23:30 yesterday missed (the daemon was down): due at 00:10",
                local(2021, 9, 8, 0, 10),
                late,
                Some(local(2021, 9, 6, 23, 30)),
                1,
                true,
            ),
        ];
        for (what, now, at, last, owed, expected) in table {
            assert_eq!(due(now, &tz(), at, last, owed), expected, "{what}");
        }
    }

    #[test]
    fn the_slot_is_in_the_ward_s_time_zone() {
        // 07:00 in Hà Nội is 00:00 UTC.
        let now: Timestamp = "2021-09-08T00:30:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            last_slot(now, &tz(), jiff::civil::time(7, 0, 0, 0)),
            Some(
                "2021-09-08T00:00:00Z"
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}"))
            )
        );
        assert_eq!(
            last_slot(now, &tz(), jiff::civil::time(8, 0, 0, 0)),
            Some(
                "2021-09-07T01:00:00Z"
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}"))
            )
        );
    }
}
