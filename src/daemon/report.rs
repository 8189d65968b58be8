//! The officers' daily report of refused attempts (SPEC §3: a mail that fails the
//! conditions changes nothing, "and the officers of the ward are told once a day").
//!
//! Owns the decision (pure: [`slot_due`], [`pending`], [`due`]) of whether a ward's
//! report is due at `[service] daily_report_at` and which refusals it covers: every
//! refusal of the ward after the last report's mark (the first report: every one), up
//! to now. At most one report per day's slot; none when there is nothing to report (the
//! mark then stays, so a refusal later that day is reported at the next check). The
//! report is queued as a notice with the new mark in one store transaction
//! (`Store::queue_report`). `run.rs` checks every minute; `qrca report` queues one now.

use crate::config::{Config, Ward};
use crate::store::{RefusalRecord, Store, StoreError};
use crate::workflow::{MailData, OutMail, RefusalNote, Template};
use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;

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

/// The ward's refusals after `reported_until` (all, before the first report) and at or
/// before `now`, oldest first.
pub fn pending<'a>(
    ward: &str,
    reported_until: Option<Timestamp>,
    now: Timestamp,
    refusals: &'a [RefusalRecord],
) -> Vec<&'a RefusalRecord> {
    let mut list: Vec<&RefusalRecord> = refusals
        .iter()
        .filter(|r| r.ward == ward && r.at <= now && reported_until.is_none_or(|u| r.at > u))
        .collect();
    list.sort_by_key(|r| (r.at, r.id));
    list
}

/// The refusals the ward's report covers if it is due at `now`; `None` when it is not
/// due yet, was sent for this day's slot, or there is nothing to report.
pub fn due<'a>(
    ward: &str,
    now: Timestamp,
    tz: &TimeZone,
    at: Time,
    reported_until: Option<Timestamp>,
    refusals: &'a [RefusalRecord],
) -> Option<Vec<&'a RefusalRecord>> {
    if !slot_due(now, tz, at, reported_until) {
        return None;
    }
    let list = pending(ward, reported_until, now, refusals);
    (!list.is_empty()).then_some(list)
}

/// The report to the ward's officers; `None` for a ward without officers.
pub fn report_mail(ward: &Ward, tz: &TimeZone, refusals: &[&RefusalRecord]) -> Option<OutMail> {
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
    /// The new mark: every refusal up to here is reported.
    pub covered_until: Timestamp,
}

/// Queues every ward's report that is due at `now` (see [`due`]).
pub fn queue_due(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<Queued>, StoreError> {
    let tz = &config.service.timezone;
    let at = config.service.daily_report_at;
    let mut marks = Vec::new();
    for ward in &config.wards {
        let until = store.reported_until(ward.code())?;
        if slot_due(now, tz, at, until) {
            marks.push((ward, until));
        }
    }
    if marks.is_empty() {
        return Ok(Vec::new());
    }
    let refusals = store.refusals()?;
    let mut queued = Vec::new();
    for (ward, until) in marks {
        if let Some(list) = due(ward.code(), now, tz, at, until, &refusals)
            && let Some(q) = queue(store, config, ward, &list, now)?
        {
            queued.push(q);
        }
    }
    Ok(queued)
}

/// Queues the ward's report now, whatever the hour, if there is anything to report
/// (`qrca report`).
pub fn queue_now(
    store: &Store,
    config: &Config,
    ward: &Ward,
    now: Timestamp,
) -> Result<Option<Queued>, StoreError> {
    let until = store.reported_until(ward.code())?;
    let refusals = store.refusals()?;
    let list = pending(ward.code(), until, now, &refusals);
    if list.is_empty() {
        return Ok(None);
    }
    queue(store, config, ward, &list, now)
}

fn queue(
    store: &Store,
    config: &Config,
    ward: &Ward,
    list: &[&RefusalRecord],
    now: Timestamp,
) -> Result<Option<Queued>, StoreError> {
    let Some(mail) = report_mail(ward, &config.service.timezone, list) else {
        return Ok(None);
    };
    Ok(store
        .queue_report(ward.code(), &mail, now, now)?
        .map(|outbox_id| Queued {
            ward: ward.code().to_owned(),
            outbox_id,
            refusals: list.len(),
            covered_until: now,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{Refusal, RefusalReason};

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

    fn refusal(id: u64, ward: &str, at: Timestamp) -> RefusalRecord {
        RefusalRecord {
            id,
            ward: ward.into(),
            case: Some("THD-T-0001".into()),
            sender: "ke.gia.mao@gmail.com".into(),
            message_id: format!("<{id}@x>"),
            at,
            refusal: Refusal {
                reason: RefusalReason::WrongAddressee,
                detail: "token of someone else".into(),
            },
        }
    }

    #[test]
    fn a_report_is_due_once_a_day_after_the_hour_when_there_is_something_new() {
        const W: &str = "hoankiem.tranhungdao";
        let seven = jiff::civil::time(7, 0, 0, 0);
        let midnight = jiff::civil::time(0, 0, 0, 0);
        let late = jiff::civil::time(23, 30, 0, 0);
        let refusals = vec![
            refusal(1, W, local(2021, 9, 7, 22, 15)),
            refusal(2, "other.ward", local(2021, 9, 7, 23, 0)),
            refusal(3, W, local(2021, 9, 8, 6, 59)),
            refusal(4, W, local(2021, 9, 8, 9, 30)),
        ];
        // (what, now, hour, last report, the ids reported; empty: none due)
        type Row = (&'static str, Timestamp, Time, Option<Timestamp>, Vec<u64>);
        let table: Vec<Row> = vec![
            (
                "the first report covers everything before it",
                local(2021, 9, 8, 7, 0),
                seven,
                None,
                vec![1, 3],
            ),
            (
                "before the hour: yesterday's report was sent",
                local(2021, 9, 8, 6, 59),
                seven,
                Some(local(2021, 9, 7, 7, 1)),
                vec![],
            ),
            (
                "after the hour: since yesterday's report",
                local(2021, 9, 8, 7, 1),
                seven,
                Some(local(2021, 9, 7, 7, 1)),
                vec![1, 3],
            ),
            (
                "already sent today",
                local(2021, 9, 8, 10, 0),
                seven,
                Some(local(2021, 9, 8, 7, 0)),
                vec![],
            ),
            (
                "nothing to report since the last one",
                local(2021, 9, 8, 7, 5),
                seven,
                Some(local(2021, 9, 8, 6, 59)),
                vec![],
            ),
            (
                "nothing at the hour, then a refusal later that day",
                local(2021, 9, 8, 9, 31),
                seven,
                Some(local(2021, 9, 8, 6, 59)),
                vec![4],
            ),
            (
                "later refusals wait: only what happened up to now",
                local(2021, 9, 8, 8, 0),
                seven,
                Some(local(2021, 9, 7, 22, 15)),
                vec![3],
            ),
            (
                "midnight: 00:00 local is 17:00 UTC the day before",
                local(2021, 9, 8, 0, 0),
                midnight,
                Some(local(2021, 9, 7, 0, 0)),
                vec![1],
            ),
            (
                "just before midnight local, the day's 00:00 report was sent",
                local(2021, 9, 7, 23, 59),
                midnight,
                Some(local(2021, 9, 7, 0, 0)),
                vec![],
            ),
            (
                "23:30 not reached yet at 00:10: yesterday's slot counts",
                local(2021, 9, 8, 0, 10),
                late,
                Some(local(2021, 9, 7, 23, 30)),
                vec![],
            ),
            (
                "23:30 yesterday missed (the daemon was down): due at 00:10",
                local(2021, 9, 8, 0, 10),
                late,
                Some(local(2021, 9, 6, 23, 30)),
                vec![1],
            ),
        ];
        for (what, now, at, last, expected) in table {
            let got: Vec<u64> = due(W, now, &tz(), at, last, &refusals)
                .unwrap_or_default()
                .iter()
                .map(|r| r.id)
                .collect();
            assert_eq!(got, expected, "{what}");
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
