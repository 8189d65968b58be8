//! The validated config: what the rest of qrca is allowed to see.
//!
//! Owns the types built by `validate` and the lookups on them. Every value here has
//! been checked: addresses parsed and lower-cased, paths absolute, secret files
//! present and private, the time zone known. Nothing here reads files or TOML; a
//! value of these types is only ever made by `validate` (or by a test).

use crate::workflow::{PermitRules, Validity, WardRules};
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The whole config, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from, as it was named.
    pub path: PathBuf,
    pub service: Service,
    /// `[mail]`: the defaults every account starts from (each account's own
    /// settings, merged, are in `Account::mail`).
    pub mail: MailSettings,
    pub permits: Permits,
    pub roster: RosterSettings,
    pub wards: Vec<Ward>,
    /// `[city]`: set in the city's config, which has no ward.
    pub city: Option<City>,
    /// `[standby]`: a second PC follows this one's journal and can take over.
    pub standby: Option<Standby>,
}

/// `[standby]` (issue 14): where the active PC publishes every committed change for
/// the standby PC, and with which key (both PCs share the config and the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standby {
    /// The journal key (32 bytes, 0600; `qrca keys journal`): encrypts and
    /// authenticates every entry.
    pub journal_key: PathBuf,
    /// The account whose mailbox holds the journal (default: the first ward's first).
    pub account: String,
    /// The journal's folder there.
    pub folder: String,
    /// A snapshot of the whole database every this many entries.
    pub snapshot_every: u32,
}

impl Config {
    /// The ward with this code (`hoankiem.tranhungdao`).
    pub fn ward(&self, code: &str) -> Option<&Ward> {
        self.wards.iter().find(|w| w.rules.code == code)
    }

    /// The ward that owns this account address; case and a `+tag` (the reply token)
    /// are ignored.
    pub fn ward_of_account(&self, address: &str) -> Option<&Ward> {
        self.account(address).map(|(ward, _)| ward)
    }

    /// The account with this address and its ward; case and a `+tag` are ignored.
    pub fn account(&self, address: &str) -> Option<(&Ward, &Account)> {
        let wanted = strip_plus_tag(address);
        self.wards.iter().find_map(|ward| {
            ward.accounts
                .iter()
                .find(|a| a.address.eq_ignore_ascii_case(&wanted))
                .map(|a| (ward, a))
        })
    }

    /// How many accounts all wards have together.
    pub fn account_count(&self) -> usize {
        self.wards.iter().map(|w| w.accounts.len()).sum()
    }
}

/// `local+tag@domain` → `local@domain`; anything else unchanged.
fn strip_plus_tag(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split_once('+').map_or(local, |(base, _)| base);
            format!("{local}@{domain}")
        }
        None => address.to_owned(),
    }
}

/// `[service]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Absolute; the sled database, outbox and rendered PDFs live here.
    pub state_dir: PathBuf,
    /// Absolute, an existing directory; `None`: the built-in templates.
    pub templates_dir: Option<PathBuf>,
    pub timezone: TimeZone,
    /// The IANA name the time zone was given by, e.g. `Asia/Ho_Chi_Minh`.
    pub timezone_name: String,
    /// When, on the wall clock of `timezone`, each ward's officers get the day's report
    /// of refused attempts (`HH:MM`, default 07:00).
    pub daily_report_at: jiff::civil::Time,
    /// Lower-case; receives the enrolment mails (SPEC §1).
    pub admin_email: String,
    /// Whether the wards take part in the city's trust network through `admin_email`
    /// (SPEC §9): its activation codes answered, the signed revocation list mailed to
    /// it when it changes and daily. Default `true`.
    pub trust_network: bool,
}

/// Connection settings and limits for one account (`[mail]` merged with the
/// account's own keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    pub imap: Endpoint,
    pub smtp: Endpoint,
    /// An extra trusted CA certificate (absolute, existing), for a local mail server.
    pub ca_file: Option<PathBuf>,
    /// Messages per account per day.
    pub daily_send_limit: u32,
    /// A message bigger than this is split.
    pub max_message_bytes: u64,
    pub processed_folder: String,
    /// Where a message whose intake killed the daemon twice is moved, unread.
    pub quarantine_folder: String,
    /// Answers a day to one sender who is not the ward's staff; past it, that sender's
    /// mail is refused as `RateLimited` (SPEC §8: the ward's quota is not a stranger's).
    pub answers_per_sender_per_day: u32,
    /// Lower-case authserv-ids whose `Authentication-Results` count; empty: none required.
    pub trusted_authserv_ids: Vec<String>,
}

impl Default for MailSettings {
    /// Gmail, as SPEC §7 documents the defaults.
    fn default() -> Self {
        MailSettings {
            imap: Endpoint {
                host: "imap.gmail.com".to_owned(),
                port: 993,
                tls: Tls::Implicit,
            },
            smtp: Endpoint {
                host: "smtp.gmail.com".to_owned(),
                port: 465,
                tls: Tls::Implicit,
            },
            ca_file: None,
            daily_send_limit: 500,
            max_message_bytes: 20_000_000,
            processed_folder: "QRCA/Processed".to_owned(),
            quarantine_folder: "QRCA/Quarantine".to_owned(),
            answers_per_sender_per_day: 20,
            trusted_authserv_ids: vec!["mx.google.com".to_owned()],
        }
    }
}

/// A server to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
}

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tls {
    /// TLS from the first byte (`implicit`: IMAPS 993, SMTPS 465).
    Implicit,
    /// Plain text upgraded with STARTTLS (`starttls`: 143, 587).
    StartTls,
    /// No TLS at all (`none`); the validator allows it only to a loopback host.
    Plaintext,
}

impl Tls {
    /// The word the config uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Tls::Implicit => "implicit",
            Tls::StartTls => "starttls",
            Tls::Plaintext => "none",
        }
    }
}

impl fmt::Display for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[permits]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permits {
    pub paper: Paper,
    pub validity: Validity,
    /// The longest a permit may last, first and last day included: a longer roster
    /// row (or `valid_until`) is cut to it when the permit is signed, and `qrca verify`
    /// refuses a longer permit.
    pub max_valid_days: u32,
    /// The ward's printers (CUPS queue names), tried in order; empty: nothing printed.
    pub printers: Vec<String>,
    /// The kinds of case whose print sheets are printed at the stamp.
    pub print_kinds: Vec<crate::workflow::Kind>,
}

impl Permits {
    /// How long permits last, as the workflow judges a row's dates by.
    pub fn rules(&self) -> PermitRules {
        PermitRules {
            validity: self.validity,
            max_valid_days: self.max_valid_days,
        }
    }
}

/// The page size of one permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Paper {
    A6,
    A5,
}

/// `[roster]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterSettings {
    /// Extra column headers per field, NFC, trimmed, as the admin wrote them.
    pub synonyms: BTreeMap<RosterField, Vec<String>>,
}

/// A field of a roster row (SPEC §4), as `[roster.synonyms]` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RosterField {
    Name,
    IdNumber,
    BirthDate,
    Phone,
    Position,
    Address,
    Route,
    Vehicle,
    Email,
    Reason,
    ValidFrom,
    ValidUntil,
    HouseholdSize,
    MarketDays,
    Market,
}

impl RosterField {
    pub const ALL: [RosterField; 15] = [
        RosterField::Name,
        RosterField::IdNumber,
        RosterField::BirthDate,
        RosterField::Phone,
        RosterField::Position,
        RosterField::Address,
        RosterField::Route,
        RosterField::Vehicle,
        RosterField::Email,
        RosterField::Reason,
        RosterField::ValidFrom,
        RosterField::ValidUntil,
        RosterField::HouseholdSize,
        RosterField::MarketDays,
        RosterField::Market,
    ];

    /// The name used in the config and in `qrca roster --json` (SPEC §4).
    pub fn name(self) -> &'static str {
        match self {
            RosterField::Name => "name",
            RosterField::IdNumber => "id_number",
            RosterField::BirthDate => "birth_date",
            RosterField::Phone => "phone",
            RosterField::Position => "position",
            RosterField::Address => "address",
            RosterField::Route => "route",
            RosterField::Vehicle => "vehicle",
            RosterField::Email => "email",
            RosterField::Reason => "reason",
            RosterField::ValidFrom => "valid_from",
            RosterField::ValidUntil => "valid_until",
            RosterField::HouseholdSize => "household_size",
            RosterField::MarketDays => "market_days",
            RosterField::Market => "market",
        }
    }

    pub fn from_name(name: &str) -> Option<RosterField> {
        RosterField::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for RosterField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `[[ward]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ward {
    /// What the workflow core needs: roles, addresses, validity, whether replies must
    /// be authenticated.
    pub rules: WardRules,
    /// Absolute. Present and private, unless loaded with
    /// `LoadOptions::allow_missing_signing_keys`.
    pub signing_key: PathBuf,
    /// The first day permits signed with `signing_key` are valid (the trust list's
    /// `not_before`); `None`: the day the key file was written.
    pub signing_key_since: Option<jiff::civil::Date>,
    /// Keys the ward signed with before: verify only, listed in the trust list.
    pub retired_keys: Vec<RetiredKey>,
    /// At least one; normally three.
    pub accounts: Vec<Account>,
}

/// A ward's former signing key, by its public half (`[[ward.retired_key]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredKey {
    /// The Ed25519 public key (checked to be a valid point).
    pub public_key: [u8; 32],
    pub since: jiff::civil::Date,
    pub until: jiff::civil::Date,
    /// Set when the key was lost or stolen: every permit it signed is void, and the
    /// revocation list says so (`permit::issue::revoked_keys`).
    pub compromised: Option<Compromise>,
}

/// A retired key's compromise (`compromised_from`, `compromised_reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compromise {
    /// From when the key is known to be in other hands.
    pub from: jiff::Timestamp,
    /// Why, as the checkpoints read it.
    pub reason: String,
}

impl Ward {
    pub fn code(&self) -> &str {
        &self.rules.code
    }
}

/// One `[[ward.account]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Lower-case, without a `+tag`.
    pub address: String,
    pub auth: AccountAuth,
    pub mail: MailSettings,
}

/// How an account logs in to IMAP and SMTP. Secrets stay in their files (or the
/// environment) until the transport reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountAuth {
    /// A file holding a Gmail app password (absolute, private).
    PasswordFile(PathBuf),
    /// The name of an environment variable holding the password.
    PasswordEnv(String),
    /// XOAUTH2 with a refresh token; both files absolute and private.
    OAuth2 {
        client_id: String,
        client_secret_file: PathBuf,
        refresh_token_file: PathBuf,
    },
}

/// `[city]`: the city's side of the trust network (issue 13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct City {
    /// The city's name, for the mails it writes.
    pub name: String,
    /// The city's signing key (absolute; private when it exists).
    pub signing_key: PathBuf,
    /// Where the checkpoint pages go, lower-case.
    pub checkpoints: Vec<String>,
    pub fresh_hours: u32,
    pub publish_at_most_every_minutes: u32,
    pub publish_at_least_every_hours: u32,
    pub activation_codes_valid_hours: u32,
    /// The admin account the city reads and sends from (`service.admin_email`).
    pub account: Account,
}
