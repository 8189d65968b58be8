//! One inbound event through the core into the store.
//!
//! This is the only place that joins the clock's reading, fresh randomness, the store
//! and `workflow::step`: it finds the case (reply token first, then what the gate
//! matched), reads the next serial, runs the step ([`plan`], which `qrca explain` also
//! calls and which writes nothing), and commits the outcome with the message's
//! seen-marker in one transaction. The documents a mail brings are written
//! only when its step is applied, just before the commit that makes the case refer to
//! them: a stranger's refused or ignored mail leaves nothing on disk. It must not talk
//! to mail servers or render anything: the outbox worker does that from what was
//! committed.

use crate::config::Config;
use crate::store::blobs::{BlobError, Blobs};
use crate::store::{Committed, Notice, Outcome, SeenMarker, Store, StoreError, Update};
use crate::workflow::{
    self, Case, Ctx, Effect, Event, EventBody, Kind, Refusal, RefusalReason, ReplyToken,
};
use jiff::Timestamp;

/// An inbound mail after the gate: which account saw it, which ward it is for, which
/// case the thread or subject names, and what it means.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub seen: SeenMarker,
    /// The ward's config code (the ward of the account the mail arrived on).
    pub ward: String,
    /// The case named by In-Reply-To/References or the subject; a reply token or a
    /// permit id in the event takes precedence (SPEC §2).
    pub case: Option<String>,
    pub event: Event,
    /// More of the same mail for other steps: the decisions of a reply that also
    /// revokes (`event` then holds the revocations), with the case each names.
    pub also: Vec<(Option<String>, Event)>,
}

/// What processing one message did; the state is durable when this is returned.
#[derive(Debug, Clone)]
pub enum Processed {
    Applied {
        case: Box<Case>,
        effects: Vec<Effect>,
        outbox_ids: Vec<u64>,
    },
    Refused(Refusal),
    Ignored,
    /// The message was processed before (same server position or Message-ID).
    AlreadySeen,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("ward {0:?} is not in the config")]
    UnknownWard(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "other messages of ward {ward} (case {}) kept getting committed first; this one was not processed and will be tried again",
        case.as_deref().unwrap_or("new")
    )]
    Contention { ward: String, case: Option<String> },
    #[error("the operating system gave no randomness for a reply token: {0}")]
    Random(String),
    #[error(transparent)]
    Documents(#[from] BlobError),
}

/// The files a mail brings (blob key, bytes), kept only if its step is applied.
pub type Documents<'a> = [(String, &'a [u8])];

impl EngineError {
    /// Whether the same message may be processed again later with a fair chance.
    pub fn is_retryable(&self) -> bool {
        match self {
            EngineError::UnknownWard(_) => false,
            EngineError::Store(e) => e.is_retryable(),
            EngineError::Contention { .. } | EngineError::Random(_) => true,
            // A full or failing disk: the mail waits in INBOX until it is fixed.
            EngineError::Documents(_) => true,
        }
    }
}

/// How many times a step is re-run when another message got there first (the same
/// serial claimed, or the same case changed). Each lost race means another message
/// was committed, so this bounds starvation, not progress.
const ATTEMPTS: usize = 64;

/// Processes one inbound message exactly once: step, then one commit.
pub fn process(
    store: &Store,
    config: &Config,
    inbound: &Inbound,
    now: Timestamp,
) -> Result<Processed, EngineError> {
    process_keeping(store, config, inbound, None, now)
}

/// As [`process`], keeping `documents` in `blobs` (durably) when, and only when, the
/// step is applied, before the commit that makes the case refer to them.
pub fn process_keeping(
    store: &Store,
    config: &Config,
    inbound: &Inbound,
    documents: Option<(&Blobs, &Documents<'_>)>,
    now: Timestamp,
) -> Result<Processed, EngineError> {
    // A cheap early answer; the commit checks again inside its transaction.
    if store.is_seen(&inbound.seen)? {
        return Ok(Processed::AlreadySeen);
    }
    let ward = ward_of(config, inbound)?;
    let limit = answer_limit(config, ward, inbound);
    for _ in 0..ATTEMPTS {
        // Planned afresh on every attempt: a retry means another message changed the
        // case, or opened a case with the serial this one wanted.
        let outcome = plan(store, config, inbound, now)?;
        let mut kept: Vec<(&str, &[u8])> = Vec::new();
        if let (Outcome::Applied { .. }, Some((blobs, documents))) = (&outcome, documents) {
            for (key, bytes) in documents {
                blobs.put(key, bytes)?;
                kept.push((key, bytes));
            }
        }
        let update = Update {
            seen: inbound.seen.clone(),
            outcome,
        };
        // The documents go into the journal with the commit that refers to them.
        match store.commit_with_documents(&update, &kept, now) {
            Ok(Committed::AlreadySeen) => return Ok(Processed::AlreadySeen),
            Ok(Committed::Applied { outbox_ids }) => {
                if limit.is_some()
                    && let Outcome::Applied { effects, .. } = &update.outcome
                    && effects.iter().any(|e| matches!(e, Effect::SendMail(_)))
                {
                    store.note_answer(
                        &ward.rules.code,
                        today(config, now),
                        &inbound.event.sender,
                    )?;
                }
                return Ok(processed(update.outcome, outbox_ids));
            }
            Err(StoreError::SerialTaken { .. } | StoreError::CaseChanged { .. }) => {
                std::thread::yield_now()
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(EngineError::Contention {
        ward: ward.rules.code.clone(),
        case: inbound.case.clone(),
    })
}

/// What processing `inbound` now would commit, without committing it: the rate limit,
/// then the step (or the steps of a mail whose lines go to several cases) on the
/// cases as stored, with the next serial and fresh tokens. The daemon commits this;
/// `qrca explain` prints it and writes nothing. Whether the message was seen before
/// is the caller's to check.
pub fn plan(
    store: &Store,
    config: &Config,
    inbound: &Inbound,
    now: Timestamp,
) -> Result<Outcome, EngineError> {
    let ward = ward_of(config, inbound)?;
    let today = today(config, now);
    let code = case_of(store, inbound)?;
    let sender = &inbound.event.sender;
    if let Some(limit) = answer_limit(config, ward, inbound)
        && store.answers_on(&ward.rules.code, today, sender)? >= limit
    {
        let refusal = Refusal {
            reason: RefusalReason::RateLimited,
            detail: format!(
                "{sender} has had {limit} answers today (answers_per_sender_per_day) and is not the ward's staff; not answered"
            ),
        };
        return Ok(refused(ward, inbound, code, refusal, now));
    }
    let parts = parts_of(store, inbound, code.clone())?;
    if parts.len() > 1 {
        return plan_parts(store, ward, inbound, &parts, today, now);
    }
    let case = match &code {
        Some(code) => store.case(code)?,
        None => None,
    };
    let opening = match &inbound.event.body {
        EventBody::RegisterOrganisation(_) => Some(Kind::T),
        EventBody::RegisterRoster { kind, .. } => Some(*kind),
        _ => None,
    }
    .filter(|_| case.is_none());
    let next_serial = match opening {
        Some(kind) => store.last_serial(&ward.rules.code, kind)? + 1,
        None => 0,
    };
    let result = step_with_tokens(case, &inbound.event, ward, now, today, next_serial)?;
    Ok(match result {
        Ok((new, effects)) => Outcome::Applied {
            claimed_serial: opening.map(|_| new.serial),
            case: new,
            effects,
        },
        Err(refusal) => refused(ward, inbound, code, refusal, now),
    })
}

/// The ward `inbound` is for.
fn ward_of<'c>(
    config: &'c Config,
    inbound: &Inbound,
) -> Result<&'c crate::config::Ward, EngineError> {
    config
        .ward(&inbound.ward)
        .ok_or_else(|| EngineError::UnknownWard(inbound.ward.clone()))
}

/// The date in the service's time zone at `now`.
fn today(config: &Config, now: Timestamp) -> jiff::civil::Date {
    now.to_zoned_datetime(config.service.timezone.clone())
        .date()
}

/// `workflow::step` with the clock's reading and fresh reply tokens from the operating
/// system; an error when the system gave no randomness, so that a step that handed
/// out an empty token is never committed.
fn step_with_tokens(
    case: Option<Case>,
    event: &Event,
    ward: &crate::config::Ward,
    now: Timestamp,
    today: jiff::civil::Date,
    next_serial: u32,
) -> Result<Result<(Case, Vec<Effect>), Refusal>, EngineError> {
    let mut random_failure = None;
    let mut fresh_token = || {
        new_token().unwrap_or_else(|e| {
            random_failure = Some(e);
            ReplyToken(String::new())
        })
    };
    let mut ctx = Ctx {
        now,
        today,
        ward: &ward.rules,
        next_serial,
        fresh_token: &mut fresh_token,
    };
    let result = workflow::step(case, event, &mut ctx);
    match random_failure {
        Some(e) => Err(EngineError::Random(e)),
        None => Ok(result),
    }
}

/// What a commit's outcome means to the caller.
fn processed(outcome: Outcome, outbox_ids: Vec<u64>) -> Processed {
    match outcome {
        Outcome::Applied { case, effects, .. } => Processed::Applied {
            case: Box::new(case),
            effects,
            outbox_ids,
        },
        Outcome::AppliedMany { cases } => {
            let mut cases = cases.into_iter();
            let Some((first, mut effects)) = cases.next() else {
                return Processed::Ignored;
            };
            for (_, more) in cases {
                effects.extend(more);
            }
            Processed::Applied {
                case: Box::new(first),
                effects,
                outbox_ids,
            }
        }
        Outcome::Refused { refusal, .. } => Processed::Refused(refusal),
        Outcome::Ignored { .. } | Outcome::Bounced { .. } => Processed::Ignored,
    }
}

/// The steps one mail asks for, each with its case: the revocations split by the case
/// of each permit (a permit of no case the store knows stays with `code`), then the
/// decisions beside them. One part for every other mail.
fn parts_of(
    store: &Store,
    inbound: &Inbound,
    code: Option<String>,
) -> Result<Vec<(Option<String>, Event)>, StoreError> {
    let mut parts: Vec<(Option<String>, Event)> = Vec::new();
    match &inbound.event.body {
        EventBody::Revoke(list) if !list.is_empty() => {
            for r in list {
                let case = match store.case_by_permit(&r.permit)? {
                    Some(c) => Some(c),
                    None => code.clone(),
                };
                match parts.iter_mut().find(|(c, _)| *c == case) {
                    Some((
                        _,
                        Event {
                            body: EventBody::Revoke(group),
                            ..
                        },
                    )) => group.push(r.clone()),
                    _ => parts.push((
                        case,
                        Event {
                            body: EventBody::Revoke(vec![r.clone()]),
                            ..inbound.event.clone()
                        },
                    )),
                }
            }
        }
        _ => parts.push((code, inbound.event.clone())),
    }
    parts.extend(inbound.also.iter().cloned());
    Ok(parts)
}

/// Steps each part on its case (parts on one case one after the other): every case
/// changed, for one commit with the seen-marker. A part that is
/// refused (its case unknown, its sender not allowed) is logged and leaves its case
/// as it was; the others still apply. Every part refused: the first refusal is
/// recorded, as for a single step.
fn plan_parts(
    store: &Store,
    ward: &crate::config::Ward,
    inbound: &Inbound,
    parts: &[(Option<String>, Event)],
    today: jiff::civil::Date,
    now: Timestamp,
) -> Result<Outcome, EngineError> {
    // Each case as read (its revision), then as the steps leave it.
    let mut cases: Vec<(u64, Case, Vec<Effect>)> = Vec::new();
    let mut refusals: Vec<(Option<String>, Refusal)> = Vec::new();
    for (code, event) in parts {
        let Some(code) = code else {
            refusals.push((None, no_case(event)));
            continue;
        };
        let at = match cases.iter().position(|(_, c, _)| c.code == *code) {
            Some(at) => at,
            None => match store.case(code)? {
                Some(case) => {
                    cases.push((case.revision, case, Vec::new()));
                    cases.len() - 1
                }
                None => {
                    refusals.push((Some(code.clone()), no_case(event)));
                    continue;
                }
            },
        };
        let (_, case, effects) = &mut cases[at];
        match step_with_tokens(Some(case.clone()), event, ward, now, today, 0)? {
            Ok((new, more)) => {
                *case = new;
                effects.extend(more);
            }
            Err(refusal) => refusals.push((Some(code.clone()), refusal)),
        }
    }
    for (case, refusal) in &refusals {
        tracing::warn!(message_id = %inbound.seen.message_id, case = case.as_deref().unwrap_or("-"), reason = ?refusal.reason, detail = %refusal.detail, "a part of the mail is refused; the rest applies");
    }
    // A case stepped twice counts as changed once: its revision is one past the
    // one read, as the commit's lost-update check expects.
    let applied: Vec<(Case, Vec<Effect>)> = cases
        .into_iter()
        .filter(|(_, _, effects)| !effects.is_empty())
        .map(|(read, mut case, effects)| {
            let changed = effects.iter().any(|e| matches!(e, Effect::Audit(_)));
            case.revision = read + u64::from(changed);
            (case, effects)
        })
        .collect();
    if applied.is_empty() {
        let (case, refusal) = refusals.into_iter().next().unwrap_or_else(|| {
            (
                inbound.case.clone(),
                Refusal {
                    reason: RefusalReason::NoSuchCase,
                    detail: "the mail asked nothing of any case".into(),
                },
            )
        });
        return Ok(refused(ward, inbound, case, refusal, now));
    }
    Ok(Outcome::AppliedMany { cases: applied })
}

/// The refusal of a part whose case is unknown.
fn no_case(event: &Event) -> Refusal {
    let what = match &event.body {
        EventBody::Revoke(list) => list
            .iter()
            .map(|r| r.permit.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        _ => "its decisions".to_owned(),
    };
    Refusal {
        reason: RefusalReason::NoSuchCase,
        detail: format!("no case is known for {what}"),
    }
}

/// How many answers a day the sender of `inbound` may get: `None` (no limit) for the
/// ward's staff, `[mail] answers_per_sender_per_day` of the account it came in on for
/// anyone else. The addresses are public: without it, a stranger could make the ward
/// spend its daily sending quota on answers to him (SPEC §8).
fn answer_limit(config: &Config, ward: &crate::config::Ward, inbound: &Inbound) -> Option<u32> {
    let sender = &inbound.event.sender;
    let rules = &ward.rules;
    if rules.is_staff(sender) {
        return None;
    }
    Some(
        config
            .account(&inbound.seen.account)
            .map_or(config.mail.answers_per_sender_per_day, |(_, a)| {
                a.mail.answers_per_sender_per_day
            }),
    )
}

/// The outcome that records `refusal` of `inbound` (nothing changes but the refusal
/// log and the seen-marker).
fn refused(
    ward: &crate::config::Ward,
    inbound: &Inbound,
    case: Option<String>,
    refusal: Refusal,
    now: Timestamp,
) -> Outcome {
    Outcome::Refused {
        ward: ward.rules.code.clone(),
        case,
        sender: inbound.event.sender.clone(),
        message_id: inbound.event.message_id.clone(),
        at: now,
        refusal,
    }
}

/// Records a delivery report about outbox entry `entry` as seen, with the bounced
/// recipient on the entry, the case's audit line and the officers' notice, in one
/// transaction ([`Outcome::Bounced`]).
pub fn bounced(
    store: &Store,
    seen: &SeenMarker,
    outcome: Outcome,
    now: Timestamp,
) -> Result<Processed, EngineError> {
    let update = Update {
        seen: seen.clone(),
        outcome,
    };
    Ok(match store.commit(&update, now)? {
        Committed::AlreadySeen => Processed::AlreadySeen,
        Committed::Applied { .. } => Processed::Ignored,
    })
}

/// Records a message the core does not see (auto-reply, own mail, loop, a mail too
/// large, an unreadable registration) as seen, with the notice that answers it, if
/// any, in the same transaction.
pub fn ignore(
    store: &Store,
    seen: &SeenMarker,
    reason: &str,
    answer: Option<Notice>,
    now: Timestamp,
) -> Result<Processed, EngineError> {
    let update = Update {
        seen: seen.clone(),
        outcome: Outcome::Ignored {
            reason: reason.to_string(),
            answer,
        },
    };
    Ok(match store.commit(&update, now)? {
        Committed::AlreadySeen => Processed::AlreadySeen,
        Committed::Applied { .. } => Processed::Ignored,
    })
}

/// The case an inbound message is about: its reply token's case, else the case of the
/// permit it revokes, else what the gate matched.
fn case_of(store: &Store, inbound: &Inbound) -> Result<Option<String>, StoreError> {
    match &inbound.event.body {
        EventBody::Reply {
            token: Some(token), ..
        } => {
            if let Some(code) = store.case_by_token(token)? {
                return Ok(Some(code));
            }
        }
        EventBody::Revoke(list) => {
            if let Some(first) = list.first() {
                if let Some(code) = store.case_by_permit(&first.permit)? {
                    return Ok(Some(code));
                }
                if let Some(code) = workflow::case_of_permit(&first.permit) {
                    return Ok(Some(code.to_string()));
                }
            }
        }
        _ => {}
    }
    Ok(inbound.case.clone())
}

/// The gate's view of the store's indexes (`inbound::gate::Lookups`). The gate is
/// pure and cannot return a store error, so a failed read answers "nothing found"
/// and is kept here: check [`StoreLookups::finish`] before processing what the gate
/// classified, so that a read error never turns into a wrong answer.
pub struct StoreLookups<'a> {
    store: &'a Store,
    failed: std::cell::RefCell<Option<StoreError>>,
}

impl<'a> StoreLookups<'a> {
    pub fn new(store: &'a Store) -> StoreLookups<'a> {
        StoreLookups {
            store,
            failed: std::cell::RefCell::new(None),
        }
    }

    /// The first read error, if any lookup failed.
    pub fn finish(self) -> Result<(), StoreError> {
        self.failed.into_inner().map_or(Ok(()), Err)
    }

    fn read<T: Default>(&self, result: Result<T, StoreError>) -> T {
        result.unwrap_or_else(|e| {
            self.failed.borrow_mut().get_or_insert(e);
            T::default()
        })
    }
}

impl crate::inbound::gate::Lookups for StoreLookups<'_> {
    fn case_by_token(&self, token: &str) -> Option<String> {
        self.read(self.store.case_by_token(&ReplyToken(token.to_owned())))
    }
    fn case_exists(&self, code: &str) -> bool {
        self.read(self.store.has_case(code))
    }
    fn active_permits(&self, ward: &str, id_number: &str, today: jiff::civil::Date) -> Vec<String> {
        self.read(self.store.active_permits(ward, id_number, today))
    }
}

/// A fresh reply token: 128 random bits from the operating system, in lower-case
/// base32 so it survives the local part of an address (26 characters).
pub fn new_token() -> Result<ReplyToken, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    Ok(ReplyToken(
        data_encoding::BASE32_NOPAD
            .encode(&bytes)
            .to_ascii_lowercase(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_128_bits_and_fit_an_address() {
        let a = new_token().unwrap_or_else(|e| panic!("{e}"));
        let b = new_token().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.0.len(), 26);
        assert_ne!(a, b);
        assert!(
            a.0.bytes()
                .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
        );
    }
}
