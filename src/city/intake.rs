//! One raw mail to the city's account, taken in exactly once: parse it
//! (`inbound::mail::parse_mail`), read the sender's ward and the kids the city knows,
//! draw fresh activation codes (OS randomness) and read the clock, [`core::decide`],
//! then commit the decision with the mail's seen-marker in one transaction
//! ([`CityStore::commit_mail`]). Durable before the caller moves the message; a mail
//! seen before changes nothing. `qrca city run` calls this for each message it reads
//! over IMAP; `qrca city intake FILE.eml` for a saved one.
//!
//! It must not decide anything itself (the core does) nor talk to mail servers.

use super::core::{self, CityRules, Ctx, Inbound};
use super::model::{ACCOUNTS, Verdict};
use super::store::{CityStore, CityStoreError};
use crate::inbound::mail::{MailError, parse_mail};
use data_encoding::{BASE32_NOPAD, HEXLOWER};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};

/// Bytes of randomness in an activation code: 160 bits, above the 128 asked for.
const CODE_BYTES: usize = 20;
/// A commit that finds its ward changed is decided again, this many times at most.
const ATTEMPTS: usize = 3;

/// Why a mail could not be taken in (a refusal is not an error: it is a verdict).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the mail cannot be read: {0}")]
    Unreadable(#[from] MailError),
    #[error(transparent)]
    Store(#[from] CityStoreError),
    #[error("the operating system gave no randomness for activation codes: {0}")]
    Random(String),
}

/// The city's side of one intake: its rules, the servers whose Authentication-Results
/// count, and its time zone (a retired key's last day).
pub struct CityIntake<'a> {
    pub store: &'a CityStore,
    pub rules: &'a CityRules,
    pub trusted_authserv_ids: &'a [String],
    pub timezone: &'a TimeZone,
}

impl CityIntake<'_> {
    /// Takes in one raw mail at `now`; returns what became of it.
    pub fn take_in(&self, raw: &[u8], now: Timestamp) -> Result<Verdict, IntakeError> {
        let mail = parse_mail(raw, self.trusted_authserv_ids)?;
        let sender = mail
            .from
            .as_ref()
            .map(|a| a.address.to_lowercase())
            .unwrap_or_default();
        let message_id = mail
            .message_id
            .clone()
            .unwrap_or_else(|| format!("<{}@digest>", HEXLOWER.encode(&Sha256::digest(raw))));
        let auth = mail.auth_evidence();
        let attachments: Vec<(&str, &[u8])> = mail
            .attachments
            .iter()
            .map(|a| (a.name.as_str(), a.bytes.as_slice()))
            .collect();
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let ward = self.store.ward_of_address(&sender)?;
            let owners = self.store.kid_owners()?;
            let facts = Inbound {
                sender: &sender,
                message_id: &message_id,
                auth: &auth,
                attachments: &attachments,
                already_seen: self.store.seen(&message_id)?,
            };
            let ctx = Ctx {
                now,
                today: self.timezone.to_datetime(now).date(),
                rules: self.rules,
                fresh_codes: fresh_codes()?,
                kid_owners: &owners,
            };
            let decision = core::decide(&facts, ward.as_ref(), &ctx);
            match self
                .store
                .commit_mail(&message_id, ward.as_ref(), &decision)
            {
                Ok(()) => {
                    log(&decision.verdict, &sender, &message_id);
                    return Ok(decision.verdict);
                }
                Err(CityStoreError::Changed(code)) => last = Some(CityStoreError::Changed(code)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last
            .unwrap_or_else(|| CityStoreError::Changed(String::new()))
            .into())
    }
}

fn log(verdict: &Verdict, sender: &str, message_id: &str) {
    match verdict {
        Verdict::Accepted(what) => {
            tracing::info!(sender, message_id, "The city accepted a mail: {what}.");
        }
        Verdict::Refused(why) => {
            tracing::warn!(sender, message_id, "The city refused a mail: {why}.");
        }
        Verdict::AlreadySeen => {
            tracing::info!(
                sender,
                message_id,
                "The city had already taken this mail in."
            );
        }
    }
}

/// One fresh code per account: 160 random bits, base32.
fn fresh_codes() -> Result<[String; ACCOUNTS], IntakeError> {
    let mut codes: [String; ACCOUNTS] = Default::default();
    for code in &mut codes {
        let mut bytes = [0u8; CODE_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| IntakeError::Random(e.to_string()))?;
        *code = BASE32_NOPAD.encode(&bytes);
    }
    Ok(codes)
}
