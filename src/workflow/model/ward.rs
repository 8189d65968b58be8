//! A ward's rules as the core sees them (`WardRules`): who its officers, police and
//! area police are, whether mail must pass authentication, and how long a permit
//! lasts (`Validity`, `capped_until`). Built from the validated config; the core never
//! reads the config itself.

use super::event::AuthEvidence;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// How long a permit stays valid when its row does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Validity {
    /// From the day of issue, this many days including that day.
    Days(u32),
    /// Until this date, whatever the day of issue.
    Until(Date),
}

impl Validity {
    /// The last valid day of a permit whose first day is `from`.
    pub fn last_day(self, from: Date) -> Date {
        match self {
            Validity::Days(n) => from
                .checked_add(jiff::Span::new().days(i64::from(n.max(1)) - 1))
                .unwrap_or(Date::MAX),
            Validity::Until(date) => date,
        }
    }
}

/// `until`, or the last day of `max_days` days from `from` if that is earlier: the
/// one rule for how long a permit may last, applied when it is issued and again when
/// it is signed.
pub fn capped_until(from: Date, until: Date, max_days: u32) -> Date {
    until.min(Validity::Days(max_days).last_day(from))
}

/// What the core needs to know of a ward: who may do what, and the permit rules.
/// Built from the validated config; the core never reads the config itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WardRules {
    pub code: String,
    pub short: String,
    pub name: String,
    pub district: String,
    /// Lower-case addresses of the ward officers (cán bộ UBND).
    pub officers: Vec<String>,
    /// Lower-case addresses of the ward police (công an xã/phường).
    pub police: Vec<String>,
    /// Lower-case addresses of the area police (CSKV).
    pub area_police: Vec<String>,
    pub validity: Validity,
    /// The longest a permit may last, first and last day included (`[permits]
    /// max_valid_days`): a roster row or `valid_until` asking for more is cut to it.
    pub max_valid_days: u32,
    /// Every mail that changes a case or is answered needs passing authentication
    /// results (SPEC §3). Decided per ward: `qrca check` refuses a ward whose accounts
    /// disagree on the servers they trust.
    pub require_auth: bool,
}

impl WardRules {
    /// Whether `auth` is good enough for this ward: anything where it requires nothing,
    /// else only a pass (never `NotRequired`, which a mail read on an account trusting
    /// no server would carry).
    pub fn accepts(&self, auth: &AuthEvidence) -> bool {
        !self.require_auth || auth.passes()
    }
    pub fn is_officer(&self, addr: &str) -> bool {
        contains_addr(&self.officers, addr)
    }
    pub fn is_police(&self, addr: &str) -> bool {
        contains_addr(&self.police, addr)
    }
    pub fn is_area_police(&self, addr: &str) -> bool {
        contains_addr(&self.area_police, addr)
    }
    /// The ward's staff: its officers, police and area police.
    pub fn is_staff(&self, addr: &str) -> bool {
        self.is_officer(addr) || self.is_police(addr) || self.is_area_police(addr)
    }
}

fn contains_addr(list: &[String], addr: &str) -> bool {
    list.iter().any(|a| a.eq_ignore_ascii_case(addr))
}
