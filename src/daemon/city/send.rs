//! The city's outbox sent over SMTP from its one account, and the publisher: whether
//! the merged lists and the checkpoint page are due, and if so, queued with the new
//! mark in one transaction.
//!
//! A message's Message-ID comes from its entry (`<id.qrca-city@<domain>>`), so a
//! resend after a crash is the same message. (Not on a `.qrca` domain: a ward daemon
//! drops those as its own.) Retries back off from a minute to an hour; a message the
//! server refuses for good is dead, and said so at error.

use super::CityDaemon;
use crate::city::publish;
use crate::city::store::{CityStoreError, OutboxEntry, OutboxStatus};
use jiff::{SignedDuration, Timestamp};

/// After this many failed attempts an entry is given up.
const MAX_ATTEMPTS: u32 = 20;

/// Sends every due entry; returns how many went.
pub async fn send_due(city: &CityDaemon, now: Timestamp) -> Result<usize, CityStoreError> {
    let mut sent = 0;
    for entry in city.store.due_outbox(now)? {
        let message = match message(city, &entry) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(outbox = entry.id, error = %e, "the city's mail cannot be built; it is given up");
                city.store.update_outbox(
                    entry.id,
                    OutboxStatus::Dead {
                        error: e.to_string(),
                    },
                )?;
                continue;
            }
        };
        let to = entry.mail.to.clone();
        let status = match crate::daemon::smtp::submit(&city.account, &to, &message).await {
            Ok(refused) => {
                for r in refused {
                    tracing::warn!(outbox = entry.id, recipient = %r.recipient, reason = %r.reason, "a recipient was refused");
                }
                sent += 1;
                tracing::info!(outbox = entry.id, subject = %entry.mail.subject, recipients = to.len(), "sent");
                OutboxStatus::Sent {
                    at: Timestamp::now(),
                }
            }
            Err(e) if e.permanent() || entry.attempts + 1 >= MAX_ATTEMPTS => {
                tracing::error!(outbox = entry.id, error = %e, "the city's mail is given up");
                OutboxStatus::Dead {
                    error: e.to_string(),
                }
            }
            Err(e) => {
                let wait = SignedDuration::from_mins(1i64 << entry.attempts.min(6))
                    .min(SignedDuration::from_hours(1));
                tracing::warn!(outbox = entry.id, error = %e, retry_in_min = wait.as_mins(), "the city's mail will be tried again");
                OutboxStatus::Retry {
                    at: now + wait,
                    error: e.to_string(),
                }
            }
        };
        city.store.update_outbox(entry.id, status)?;
    }
    Ok(sent)
}

/// The RFC 5322 message of an entry: From the city account, To its one recipient or
/// Bcc its several (checkpoint teams do not learn each other's addresses), marked
/// automatic, with the entry's fixed Message-ID.
pub fn message(city: &CityDaemon, entry: &OutboxEntry) -> anyhow::Result<Vec<u8>> {
    use lettre::message::header::{ContentType, HeaderName, HeaderValue};
    use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
    let from = &city.account.address;
    let domain = from.rsplit_once('@').map_or("city", |(_, d)| d);
    let mut builder = lettre::Message::builder()
        .from(Mailbox::new(
            Some(city.rules.city_name.clone()),
            from.parse()?,
        ))
        .subject(entry.mail.subject.clone())
        .message_id(Some(format!("<{}.qrca-city@{domain}>", entry.id)))
        .date(jiff_to_system(entry.created))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".to_owned(),
        ));
    match entry.mail.to.as_slice() {
        [one] => builder = builder.to(one.parse()?),
        many => {
            builder = builder.to(Mailbox::new(
                Some(city.rules.city_name.clone()),
                from.parse()?,
            ));
            for address in many {
                builder = builder.bcc(address.parse()?);
            }
        }
    }
    if let Some(id) = &entry.mail.in_reply_to {
        builder = builder.in_reply_to(id.clone()).references(id.clone());
    }
    let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(entry.mail.body.clone()));
    for file in &entry.mail.attachments {
        let kind = if file.name.ends_with(".html") {
            ContentType::parse("text/html; charset=utf-8")?
        } else {
            ContentType::parse("application/json")?
        };
        parts = parts.singlepart(
            Attachment::new(file.name.clone())
                .body(crate::outbound::exact_body(file.bytes.clone()), kind),
        );
    }
    Ok(builder.multipart(parts)?.formatted())
}

fn jiff_to_system(at: Timestamp) -> std::time::SystemTime {
    std::time::SystemTime::try_from(at).unwrap_or(std::time::UNIX_EPOCH)
}

/// Queues the publication when it is due at `now` (the lists changed and the last is
/// old enough, or it is a day old); returns the outbox id, or `None` when not due or
/// when there are no checkpoint addresses.
pub fn publish_due(city: &CityDaemon, now: Timestamp) -> Result<Option<u64>, CityStoreError> {
    if city.publish.checkpoints.is_empty() {
        return Ok(None);
    }
    let wards = city.store.wards()?;
    let lists = publish::lists(&wards);
    let files = publish::sign(&lists, &city.kid, &city.key);
    let last = city.store.mark()?;
    if !publish::is_due(last.as_ref(), &files.fingerprint, now, &city.publish) {
        return Ok(None);
    }
    let page = publish::page(&lists, now, &city.publish);
    let mail = publish::mail(&files, &page, now, &city.publish);
    let mark = publish::Mark {
        fingerprint: files.fingerprint.clone(),
        at: now,
    };
    city.store.queue_publication(&mail, &mark).map(Some)
}
