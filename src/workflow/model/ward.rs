//! A ward's rules as the core sees them (`WardRules`): who its officers, police and
//! area police are, whether mail must pass authentication, and how long a permit
//! lasts (`Validity`, `capped_until`, and `PermitRules::row_validity`, the one rule for
//! the days a row's permit would cover, judged when its roster arrives and again when it
//! is stamped). Built from the validated config; the core never reads the config itself.

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

/// How long a ward's permits last (`[permits]`): the default, and the most a row may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermitRules {
    pub validity: Validity,
    pub max_valid_days: u32,
}

/// The days a row's permit would cover if it were issued on a given day, and what is
/// wrong with the row's dates, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowValidity {
    /// The first day: the row's "Từ ngày", or the day of issue if that is later.
    pub from: Date,
    /// The last day, cut to `max_valid_days` from `from`.
    pub until: Date,
    pub problem: Option<ValidityProblem>,
}

impl RowValidity {
    /// Whether no day is left to be valid: such a row is never issued.
    pub fn is_empty(&self) -> bool {
        self.until < self.from
    }
}

/// What is wrong with a row's validity, and so which of its dates (or the ward's) is
/// at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidityProblem {
    /// The row's "Đến ngày" comes before its own "Từ ngày".
    EndsBeforeStart,
    /// The row's "Đến ngày" has passed on the day of issue.
    Ended,
    /// The row asks for more days than `max_valid_days` (counted from `from`): a row
    /// error when its roster arrives; at stamping, the permit is cut to the maximum.
    TooLong { days: i64 },
    /// The row's "Từ ngày" comes after the ward's `valid_until`.
    StartsAfterWardEnd { ward_until: Date },
    /// The ward's `valid_until` has passed, and the row gives no end of its own: no
    /// row of any roster can be issued until the config changes.
    WardEnded { ward_until: Date },
}

impl PermitRules {
    /// The validity of a row with these dates issued on `day`: from its "Từ ngày" or
    /// `day` if later, to its "Đến ngày" or the ward's default, cut to the maximum.
    pub fn row_validity(
        self,
        row_from: Option<Date>,
        row_until: Option<Date>,
        day: Date,
    ) -> RowValidity {
        let from = row_from.unwrap_or(day).max(day);
        let until = row_until.unwrap_or_else(|| self.validity.last_day(from));
        let problem = match (row_until, self.validity) {
            (Some(end), _) if row_from.is_some_and(|start| end < start) => {
                Some(ValidityProblem::EndsBeforeStart)
            }
            (Some(end), _) if end < day => Some(ValidityProblem::Ended),
            (Some(end), _) => {
                let days = (end - from).get_days() as i64 + 1;
                (days > i64::from(self.max_valid_days)).then_some(ValidityProblem::TooLong { days })
            }
            (None, Validity::Until(ward_until)) if ward_until < day => {
                Some(ValidityProblem::WardEnded { ward_until })
            }
            (None, Validity::Until(ward_until)) if ward_until < from => {
                Some(ValidityProblem::StartsAfterWardEnd { ward_until })
            }
            (None, _) => None,
        };
        RowValidity {
            from,
            until: capped_until(from, until, self.max_valid_days),
            problem,
        }
    }
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
    /// The kinds of case whose print sheets go to the ward's printers at the stamp
    /// (`[permits] print_kinds`).
    pub print_kinds: Vec<crate::workflow::Kind>,
}

impl WardRules {
    /// Whether `auth` is good enough for this ward: anything where it requires nothing,
    /// else only a pass (never `NotRequired`, which a mail read on an account trusting
    /// no server would carry).
    pub fn accepts(&self, auth: &AuthEvidence) -> bool {
        !self.require_auth || auth.passes()
    }
    /// How long the ward's permits last.
    pub fn permits(&self) -> PermitRules {
        PermitRules {
            validity: self.validity,
            max_valid_days: self.max_valid_days,
        }
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
