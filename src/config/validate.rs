//! `RawConfig` → `Config`: every semantic rule of the config, every error at once.
//!
//! Owns the checks that go beyond the file's shape: addresses, codes, uniqueness,
//! defaults, merging `[mail]` into each account, paths resolved against the config
//! file's directory, secret files present and private, and the warnings about
//! account names. Every problem becomes a `Diagnostic` at the value (or table) at
//! fault, and checking goes on, so the admin sees the whole list. It must not read
//! the TOML text itself (`shape` does) nor any secret's contents.

use super::LoadOptions;
use super::diag::{Diagnostic, Source};
use super::files::{self, FileProblem};
use super::fold;
use super::raw::{
    MailLayer, RawAccount, RawConfig, RawEndpoint, RawPermits, RawRetiredKey, RawRoster,
    RawService, RawWard, Str, StrList,
};
use super::shape::Removed;
use super::types::{
    Account, AccountAuth, Config, Endpoint, MailSettings, Paper, Permits, RetiredKey, RosterField,
    RosterSettings, Service, Tls, Ward,
};
use crate::workflow::{Validity, WardRules};
use email_address::{EmailAddress, Options};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use unicode_normalization::UnicodeNormalization;

pub const DEFAULT_STATE_DIR: &str = "/var/lib/qrca";
pub const DEFAULT_TIMEZONE: &str = "Asia/Ho_Chi_Minh";
/// `service.daily_report_at` when absent.
pub const DEFAULT_DAILY_REPORT_AT: &str = "07:00";
pub const DEFAULT_VALID_DAYS: u32 = 14;
/// `permits.max_valid_days` when absent: the longest a permit may last, first and last
/// day included. Issuing caps a longer roster row to it; `qrca verify` refuses longer.
pub const DEFAULT_MAX_VALID_DAYS: u32 = 30;
/// A permit longer than a year is not a social-distancing permit; a typo is likelier.
pub const MAX_VALID_DAYS: u32 = 366;

/// The names messages give to the tables a `[mail]` layer may live in.
struct LayerTables {
    table: &'static str,
    imap: &'static str,
    smtp: &'static str,
}

const MAIL_TABLES: LayerTables = LayerTables {
    table: "[mail]",
    imap: "[mail.imap]",
    smtp: "[mail.smtp]",
};

const ACCOUNT_TABLE: &str = "[[ward.account]]";
const ACCOUNT_TABLES: LayerTables = LayerTables {
    table: ACCOUNT_TABLE,
    imap: "[ward.account.imap]",
    smtp: "[ward.account.smtp]",
};

const WARD_TABLE: &str = "[[ward]]";
const RETIRED_KEY_TABLE: &str = "[[ward.retired_key]]";
const AUTH_KEYS: [&str; 3] = ["password_file", "password_env", "oauth2"];

/// `[mail]` keys as one table sets them, each checked; `None` where the table does
/// not set the key or its value was wrong (and reported).
#[derive(Default)]
struct MailOverrides {
    imap: Option<Endpoint>,
    smtp: Option<Endpoint>,
    /// `Some(None)`: set to `""`, meaning no extra CA.
    ca_file: Option<Option<PathBuf>>,
    daily_send_limit: Option<u32>,
    max_message_bytes: Option<u64>,
    processed_folder: Option<String>,
    quarantine_folder: Option<String>,
    answers_per_sender_per_day: Option<u32>,
    trusted_authserv_ids: Option<Vec<String>>,
}

impl MailSettings {
    fn merged(&self, o: MailOverrides) -> MailSettings {
        MailSettings {
            imap: o.imap.unwrap_or_else(|| self.imap.clone()),
            smtp: o.smtp.unwrap_or_else(|| self.smtp.clone()),
            ca_file: o.ca_file.unwrap_or_else(|| self.ca_file.clone()),
            daily_send_limit: o.daily_send_limit.unwrap_or(self.daily_send_limit),
            max_message_bytes: o.max_message_bytes.unwrap_or(self.max_message_bytes),
            processed_folder: o
                .processed_folder
                .unwrap_or_else(|| self.processed_folder.clone()),
            quarantine_folder: o
                .quarantine_folder
                .unwrap_or_else(|| self.quarantine_folder.clone()),
            answers_per_sender_per_day: o
                .answers_per_sender_per_day
                .unwrap_or(self.answers_per_sender_per_day),
            trusted_authserv_ids: o
                .trusted_authserv_ids
                .unwrap_or_else(|| self.trusted_authserv_ids.clone()),
        }
    }
}

#[derive(Clone, Copy)]
enum Protocol {
    Imap,
    Smtp,
}

impl Protocol {
    /// The well-known port for each way of protecting the connection.
    fn default_port(self, tls: Tls) -> u16 {
        match (self, tls) {
            (Protocol::Imap, Tls::Implicit) => 993,
            (Protocol::Imap, Tls::StartTls | Tls::Plaintext) => 143,
            (Protocol::Smtp, Tls::Implicit) => 465,
            (Protocol::Smtp, Tls::StartTls) => 587,
            (Protocol::Smtp, Tls::Plaintext) => 25,
        }
    }
}

/// What earlier wards claimed, to find what later wards repeat.
#[derive(Default)]
struct Seen {
    /// Ward code → line of its `code`.
    codes: HashMap<String, usize>,
    /// Short code → line of its `short`.
    shorts: HashMap<String, usize>,
    /// Account address → (its ward, as messages name it; line).
    accounts: HashMap<String, (String, usize)>,
    /// Officer, police and area police addresses, with where and how to name them.
    roles: Vec<(String, Range<usize>, String)>,
}

/// The result of validation: a config when there was no error, and everything said.
pub(crate) struct Outcome {
    pub config: Option<Config>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

pub(crate) struct Validator<'a> {
    src: &'a Source<'a>,
    /// Absolute directory of the config file: relative paths are resolved against it.
    base_dir: &'a Path,
    removed: &'a Removed,
    options: LoadOptions,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(
        src: &'a Source<'a>,
        base_dir: &'a Path,
        removed: &'a Removed,
        options: LoadOptions,
    ) -> Self {
        Validator {
            src,
            base_dir,
            removed,
            options,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn run(mut self, raw: &RawConfig, root_span: &Range<usize>, path: &Path) -> Outcome {
        let service = self.service(raw.service.as_ref(), root_span);
        let overrides = match &raw.mail {
            Some(mail) => self.mail_layer(mail.get_ref().layer(), &MAIL_TABLES),
            None => MailOverrides::default(),
        };
        let mail = MailSettings::default().merged(overrides);
        let permits = self.permits(raw.permits.as_ref());
        let roster = self.roster(raw.roster.as_ref());
        // A bad [permits] is reported there; the wards are still checked with the default.
        let validity = permits.map_or(
            (Validity::Days(DEFAULT_VALID_DAYS), DEFAULT_MAX_VALID_DAYS),
            |p| (p.validity, p.max_valid_days),
        );
        let wards = self.wards(&raw.ward, root_span, &mail, validity);

        let config = match (service, permits, roster, wards) {
            (Some(service), Some(permits), Some(roster), Some(wards)) if self.errors.is_empty() => {
                Some(Config {
                    path: path.to_path_buf(),
                    service,
                    mail,
                    permits,
                    roster,
                    wards,
                })
            }
            _ => None,
        };
        Outcome {
            config,
            errors: self.errors,
            warnings: self.warnings,
        }
    }

    // ---- reporting ----

    fn error(&mut self, span: &Range<usize>, message: String) {
        let d = self.src.diagnostic(span, message);
        self.errors.push(d);
    }

    fn warn(&mut self, span: &Range<usize>, message: String) {
        let d = self.src.diagnostic(span, message);
        self.warnings.push(d);
    }

    fn line(&self, span: &Range<usize>) -> usize {
        self.src.position(span.start).0
    }

    /// A required key: reported missing unless its value was already reported (and
    /// removed) as having the wrong shape.
    fn required<'v, T>(
        &mut self,
        value: &'v Option<Spanned<T>>,
        table_span: &Range<usize>,
        key: &str,
        table: &str,
    ) -> Option<&'v Spanned<T>> {
        if value.is_none() && !self.removed.contains(table_span, key) {
            self.error(table_span, format!("missing key \"{key}\" in {table}"));
        }
        value.as_ref()
    }

    // ---- values ----

    /// Non-empty text, NFC, trimmed, inner runs of white space made one space.
    fn text(&mut self, v: &Str, what: &str) -> Option<String> {
        let nfc: String = v.get_ref().nfc().collect();
        let text = nfc.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            self.error(&v.span(), format!("{what} must not be empty"));
            return None;
        }
        Some(text)
    }

    /// A path, made absolute against the config file's directory.
    fn path(&mut self, v: &Str, what: &str) -> Option<PathBuf> {
        let raw = v.get_ref();
        if raw.trim().is_empty() {
            self.error(&v.span(), format!("{what} must not be empty"));
            return None;
        }
        Some(self.base_dir.join(raw))
    }

    /// A file the config points at that must exist (not a secret).
    fn existing_file(&mut self, v: &Str, what: &str, kind: &str) -> Option<PathBuf> {
        let path = self.path(v, what)?;
        match files::check_file(&path) {
            Ok(_) => Some(path),
            Err(problem) => {
                let msg = format!("{what}: {kind} {} {}", path.display(), problem.describe());
                self.error(&v.span(), msg);
                None
            }
        }
    }

    /// A secret file (password, OAuth2 secret or token, signing key): present and
    /// private. `missing_ok` lets a missing file through (`qrca keys generate`
    /// makes it); `hint` ends the sentence when it is missing.
    fn secret_file(
        &mut self,
        v: &Str,
        what: &str,
        kind: &str,
        hint: &str,
        missing_ok: bool,
    ) -> Option<PathBuf> {
        let path = self.path(v, what)?;
        match files::check_secret(&path) {
            Ok(()) => Some(path),
            Err(FileProblem::Missing) if missing_ok => Some(path),
            Err(problem) => {
                let hint = match problem {
                    FileProblem::Missing => hint,
                    _ => "",
                };
                let msg = format!(
                    "{what}: {kind} {} {}{hint}",
                    path.display(),
                    problem.describe()
                );
                self.error(&v.span(), msg);
                None
            }
        }
    }

    /// One email address, lower-cased.
    fn address(&mut self, v: &Str, what: &str) -> Option<String> {
        let given = v.get_ref().trim();
        let options = Options::default()
            .without_display_text()
            .without_domain_literal();
        match EmailAddress::parse_with_options(given, options) {
            Ok(address) => Some(address.as_str().to_lowercase()),
            Err(e) => {
                let reason = e.to_string();
                let reason = reason.trim_end_matches('.');
                let reason = lowercase_first(reason);
                self.error(
                    &v.span(),
                    format!("{what}: \"{given}\" is not an email address ({reason})"),
                );
                None
            }
        }
    }

    /// A list of addresses, lower-cased, repeats dropped, each with its span.
    fn address_list(
        &mut self,
        list: &StrList,
        key: &str,
        table: &str,
        must_have_one: bool,
    ) -> Option<Vec<(String, Range<usize>)>> {
        if must_have_one && list.get_ref().is_empty() {
            self.error(
                &list.span(),
                format!("key \"{key}\" in {table} must list at least one address"),
            );
            return None;
        }
        let mut out: Vec<(String, Range<usize>)> = Vec::new();
        let mut ok = true;
        for (i, item) in list.get_ref().iter().enumerate() {
            let what = format!("item {} of key \"{key}\" in {table}", i + 1);
            match self.address(item, &what) {
                Some(a) if !out.iter().any(|(seen, _)| *seen == a) => out.push((a, item.span())),
                Some(_) => {}
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    // ---- [service] ----

    fn service(
        &mut self,
        raw: Option<&Spanned<RawService>>,
        root_span: &Range<usize>,
    ) -> Option<Service> {
        const T: &str = "[service]";
        let Some(raw) = raw else {
            if !self.removed.contains(root_span, "service") {
                self.error(
                    root_span,
                    "missing table [service]; it must set at least admin_email".to_owned(),
                );
            }
            return None;
        };
        let span = raw.span();
        let s = raw.get_ref();
        let state_dir = match &s.state_dir {
            Some(v) => self.path(v, &key_in("state_dir", T)),
            None => Some(PathBuf::from(DEFAULT_STATE_DIR)),
        };
        let templates_dir = match &s.templates_dir {
            Some(v) => self.path(v, &key_in("templates_dir", T)).and_then(|dir| {
                match files::check_dir(&dir) {
                    Ok(()) => Some(Some(dir)),
                    Err(problem) => {
                        self.error(
                            &v.span(),
                            format!(
                                "key \"templates_dir\" in {T}: directory {} {}",
                                dir.display(),
                                problem.describe()
                            ),
                        );
                        None
                    }
                }
            }),
            None => Some(None),
        };
        let timezone = match &s.timezone {
            Some(v) => self.timezone(v.get_ref(), &v.span()),
            None => self.timezone(DEFAULT_TIMEZONE, &span),
        };
        let daily_report_at = match &s.daily_report_at {
            Some(v) => match parse_hh_mm(v.get_ref()) {
                Some(time) => Some(time),
                None => {
                    self.error(
                        &v.span(),
                        format!(
                            "key \"daily_report_at\" in {T}: \"{}\" is not a time of day; write it HH:MM (00:00 to 23:59), e.g. \"{DEFAULT_DAILY_REPORT_AT}\"",
                            v.get_ref()
                        ),
                    );
                    None
                }
            },
            None => parse_hh_mm(DEFAULT_DAILY_REPORT_AT),
        };
        let admin_email = self
            .required(&s.admin_email, &span, "admin_email", T)
            .and_then(|v| self.address(v, &key_in("admin_email", T)));
        let (timezone, timezone_name) = timezone?;
        Some(Service {
            state_dir: state_dir?,
            templates_dir: templates_dir?,
            timezone,
            timezone_name,
            daily_report_at: daily_report_at?,
            admin_email: admin_email?,
        })
    }

    fn timezone(&mut self, name: &str, span: &Range<usize>) -> Option<(TimeZone, String)> {
        let name = name.trim();
        match TimeZone::get(name) {
            Ok(tz) => Some((tz, name.to_owned())),
            Err(_) => {
                self.error(
                    span,
                    format!(
                        "key \"timezone\" in [service]: \"{name}\" is not a known time zone; use an IANA name such as \"{DEFAULT_TIMEZONE}\""
                    ),
                );
                None
            }
        }
    }

    // ---- [mail] and per-account overrides ----

    fn mail_layer(&mut self, layer: MailLayer<'_>, names: &LayerTables) -> MailOverrides {
        let table = names.table;
        let imap = layer
            .imap
            .and_then(|e| self.endpoint(e, Protocol::Imap, names.imap));
        let smtp = layer
            .smtp
            .and_then(|e| self.endpoint(e, Protocol::Smtp, names.smtp));
        let ca_file = layer.ca_file.and_then(|v| {
            if v.get_ref().trim().is_empty() {
                // SPEC §7 writes `ca_file = ""` for "no extra CA".
                Some(None)
            } else {
                self.existing_file(v, &key_in("ca_file", table), "CA file")
                    .map(Some)
            }
        });
        let daily_send_limit = layer.daily_send_limit.and_then(|v| {
            self.integer(v, "daily_send_limit", table, 1, u32::MAX.into())
                .and_then(|n| u32::try_from(n).ok())
        });
        let max_message_bytes = layer.max_message_bytes.and_then(|v| {
            self.integer(v, "max_message_bytes", table, 1, i64::MAX)
                .and_then(|n| u64::try_from(n).ok())
        });
        let processed_folder = layer
            .processed_folder
            .and_then(|v| self.text(v, &key_in("processed_folder", table)));
        let quarantine_folder = layer
            .quarantine_folder
            .and_then(|v| self.text(v, &key_in("quarantine_folder", table)));
        let answers_per_sender_per_day = layer.answers_per_sender_per_day.and_then(|v| {
            self.integer(v, "answers_per_sender_per_day", table, 1, u32::MAX.into())
                .and_then(|n| u32::try_from(n).ok())
        });
        let trusted_authserv_ids = layer.trusted_authserv_ids.and_then(|list| {
            let mut ids = Vec::new();
            let mut ok = true;
            for (i, item) in list.get_ref().iter().enumerate() {
                let what = format!("item {} of key \"trusted_authserv_ids\" in {table}", i + 1);
                match self.text(item, &what) {
                    Some(id) => ids.push(id.to_lowercase()),
                    None => ok = false,
                }
            }
            ok.then_some(ids)
        });
        MailOverrides {
            imap,
            smtp,
            ca_file,
            daily_send_limit,
            max_message_bytes,
            processed_folder,
            quarantine_folder,
            answers_per_sender_per_day,
            trusted_authserv_ids,
        }
    }

    /// An integer within `min..=max` (`max` = `i64::MAX`: no upper bound).
    fn integer(
        &mut self,
        v: &Spanned<i64>,
        key: &str,
        table: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let n = *v.get_ref();
        if (min..=max).contains(&n) {
            return Some(n);
        }
        let range = if max == i64::MAX {
            format!("at least {min}")
        } else {
            format!("from {min} to {max}")
        };
        self.error(
            &v.span(),
            format!("key \"{key}\" in {table} must be {range}, not {n}"),
        );
        None
    }

    fn endpoint(
        &mut self,
        raw: &Spanned<RawEndpoint>,
        protocol: Protocol,
        table: &str,
    ) -> Option<Endpoint> {
        let span = raw.span();
        let e = raw.get_ref();
        let host = self
            .required(&e.host, &span, "host", table)
            .and_then(|v| {
                let host = v.get_ref().trim();
                if host.is_empty() || host.contains(char::is_whitespace) {
                    self.error(
                        &v.span(),
                        format!("key \"host\" in {table} must be a host name or an IP address, not \"{host}\""),
                    );
                    None
                } else {
                    Some(host.to_owned())
                }
            });
        let tls = match &e.tls {
            None => Some(Tls::Implicit),
            Some(v) => match v.get_ref().trim().to_ascii_lowercase().as_str() {
                "implicit" => Some(Tls::Implicit),
                "starttls" => Some(Tls::StartTls),
                "none" => Some(Tls::Plaintext),
                other => {
                    self.error(
                        &v.span(),
                        format!("key \"tls\" in {table} must be \"implicit\", \"starttls\" or \"none\", not \"{other}\""),
                    );
                    None
                }
            },
        };
        let port = match &e.port {
            Some(v) => self
                .integer(v, "port", table, 1, u16::MAX.into())
                .and_then(|n| u16::try_from(n).ok()),
            None => tls.map(|tls| protocol.default_port(tls)),
        };
        let (host, tls, port) = (host?, tls?, port?);
        if tls == Tls::Plaintext && !is_loopback(&host) {
            let at = e.tls.as_ref().map_or(span.clone(), Spanned::span);
            self.error(
                &at,
                format!(
                    "key \"tls\" in {table} is \"none\" but host \"{host}\" is not a loopback address; plain text is allowed only to localhost, 127.0.0.0/8 or ::1"
                ),
            );
            return None;
        }
        Some(Endpoint { host, port, tls })
    }

    // ---- [permits] ----

    fn permits(&mut self, raw: Option<&Spanned<RawPermits>>) -> Option<Permits> {
        const T: &str = "[permits]";
        let Some(raw) = raw else {
            return Some(Permits {
                paper: Paper::A6,
                validity: Validity::Days(DEFAULT_VALID_DAYS),
                max_valid_days: DEFAULT_MAX_VALID_DAYS,
            });
        };
        let p = raw.get_ref();
        let paper = match &p.paper {
            None => Some(Paper::A6),
            Some(v) => match v.get_ref().trim().to_ascii_uppercase().as_str() {
                "A6" => Some(Paper::A6),
                "A5" => Some(Paper::A5),
                _ => {
                    let given = v.get_ref();
                    self.error(
                        &v.span(),
                        format!("key \"paper\" in {T} must be \"A6\" or \"A5\", not \"{given}\""),
                    );
                    None
                }
            },
        };
        let validity = match (&p.valid_days, &p.valid_until) {
            (Some(days), Some(until)) => {
                let line = self.line(&days.span());
                self.error(
                    &until.span(),
                    format!("key \"valid_until\" in {T} cannot be used together with valid_days (line {line}); keep one of them"),
                );
                None
            }
            (Some(days), None) => self
                .integer(days, "valid_days", T, 1, MAX_VALID_DAYS.into())
                .and_then(|n| u32::try_from(n).ok())
                .map(Validity::Days),
            (None, Some(until)) => self.date(until, "valid_until", T).map(Validity::Until),
            (None, None) => Some(Validity::Days(DEFAULT_VALID_DAYS)),
        };
        let max_valid_days = match &p.max_valid_days {
            None => Some(DEFAULT_MAX_VALID_DAYS),
            Some(max) => self
                .integer(max, "max_valid_days", T, 1, MAX_VALID_DAYS.into())
                .and_then(|n| u32::try_from(n).ok()),
        };
        // A fixed number of days can be judged now; a fixed `valid_until` only at issue,
        // where it is capped.
        if let (Some(Validity::Days(days)), Some(max), Some(raw_days)) =
            (validity, max_valid_days, &p.valid_days)
            && days > max
        {
            let given = if p.max_valid_days.is_some() {
                "max_valid_days"
            } else {
                "max_valid_days (by default)"
            };
            self.error(
                &raw_days.span(),
                format!(
                    "key \"valid_days\" in {T} is {days}, more than the {max} of {given}; lower valid_days or raise max_valid_days"
                ),
            );
            return None;
        }
        Some(Permits {
            paper: paper?,
            validity: validity?,
            max_valid_days: max_valid_days?,
        })
    }

    /// A date written `"YYYY-MM-DD"` or as a TOML local date.
    fn date(&mut self, v: &Spanned<toml::Value>, key: &str, table: &str) -> Option<Date> {
        let date = match v.get_ref() {
            toml::Value::String(s) => parse_iso_date(s.trim()),
            toml::Value::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => Date::new(
                    i16::try_from(d.year).unwrap_or(i16::MAX),
                    i8::try_from(d.month).unwrap_or(0),
                    i8::try_from(d.day).unwrap_or(0),
                )
                .ok(),
                _ => None,
            },
            _ => None,
        };
        if date.is_none() {
            let shown = v.get_ref().to_string();
            self.error(
                &v.span(),
                format!(
                    "key \"{key}\" in {table} must be a date written \"YYYY-MM-DD\", not {shown}"
                ),
            );
        }
        date
    }

    // ---- [roster] ----

    fn roster(&mut self, raw: Option<&Spanned<RawRoster>>) -> Option<RosterSettings> {
        const T: &str = "[roster.synonyms]";
        let Some(synonyms) = raw.and_then(|r| r.get_ref().synonyms.as_ref()) else {
            return Some(RosterSettings::default());
        };
        let mut out: BTreeMap<RosterField, Vec<String>> = BTreeMap::new();
        // Header (case-folded) → the field it already stands for.
        let mut taken: HashMap<String, RosterField> = HashMap::new();
        let mut ok = true;
        for (name, list) in synonyms {
            let Some(field) = RosterField::from_name(name.get_ref()) else {
                let expected: Vec<&str> = RosterField::ALL.iter().map(|f| f.name()).collect();
                self.error(
                    &name.span(),
                    format!(
                        "unknown roster field \"{}\" in {T}; expected one of {}",
                        name.get_ref(),
                        expected.join(", ")
                    ),
                );
                ok = false;
                continue;
            };
            let mut headers = Vec::new();
            for (i, item) in list.get_ref().iter().enumerate() {
                let what = format!("item {} of key \"{}\" in {T}", i + 1, field.name());
                let Some(header) = self.text(item, &what) else {
                    ok = false;
                    continue;
                };
                match taken.get(&header.to_lowercase()) {
                    Some(other) if *other != field => {
                        self.error(
                            &item.span(),
                            format!("{what}: header \"{header}\" is already a synonym of {other}"),
                        );
                        ok = false;
                    }
                    Some(_) => {}
                    None => {
                        taken.insert(header.to_lowercase(), field);
                        headers.push(header);
                    }
                }
            }
            out.insert(field, headers);
        }
        ok.then_some(RosterSettings { synonyms: out })
    }

    // ---- [[ward]] ----

    fn wards(
        &mut self,
        raw: &[Spanned<RawWard>],
        root_span: &Range<usize>,
        defaults: &MailSettings,
        validity: (Validity, u32),
    ) -> Option<Vec<Ward>> {
        if raw.is_empty() && !self.removed.contains(root_span, "ward") {
            self.error(
                root_span,
                "the config has no [[ward]]; at least one ward is required".to_owned(),
            );
            return None;
        }
        let mut seen = Seen::default();
        let mut wards = Vec::new();
        let mut ok = true;
        for ward in raw {
            match self.ward(ward, defaults, validity, &mut seen) {
                Some(w) => wards.push(w),
                None => ok = false,
            }
        }
        // The daemon never answers its own accounts (SPEC §3), so an account that is
        // also an officer could never decide anything.
        for (address, span, what) in std::mem::take(&mut seen.roles) {
            if let Some((ward, line)) = seen.accounts.get(&address) {
                let msg = format!(
                    "{what}: \"{address}\" is also an account of ward {ward} (line {line}); qrca ignores mail from its own accounts, so use a person's own address"
                );
                self.error(&span, msg);
                ok = false;
            }
        }
        ok.then_some(wards)
    }

    fn ward(
        &mut self,
        raw: &Spanned<RawWard>,
        defaults: &MailSettings,
        validity: (Validity, u32),
        seen: &mut Seen,
    ) -> Option<Ward> {
        const T: &str = WARD_TABLE;
        let span = raw.span();
        let w = raw.get_ref();
        let code = self
            .required(&w.code, &span, "code", T)
            .and_then(|v| self.ward_code(v, seen));
        let short = self
            .required(&w.short, &span, "short", T)
            .and_then(|v| self.ward_short(v, seen));
        let name = self
            .required(&w.name, &span, "name", T)
            .and_then(|v| self.text(v, &key_in("name", T)));
        let district = self
            .required(&w.district, &span, "district", T)
            .and_then(|v| self.text(v, &key_in("district", T)));
        let label = match &code {
            Some(code) => format!("\"{code}\""),
            None => format!("at line {}", self.line(&span)),
        };
        let signing_key = self
            .required(&w.signing_key, &span, "signing_key", T)
            .and_then(|v| {
                let hint = match &code {
                    Some(code) => format!("; create it with qrca keys generate --ward {code}"),
                    None => String::new(),
                };
                let missing_ok = self.options.allow_missing_signing_keys;
                self.secret_file(
                    v,
                    &key_in("signing_key", T),
                    "signing key",
                    &hint,
                    missing_ok,
                )
            });
        let signing_key_since = w
            .signing_key_since
            .as_ref()
            .map(|v| self.date(v, "signing_key_since", T));
        let retired_keys: Vec<Option<RetiredKey>> =
            w.retired_key.iter().map(|k| self.retired_key(k)).collect();
        let officers = self.role_list(&w.officers, &span, "officers", true, seen);
        let police = self.role_list(&w.police, &span, "police", true, seen);
        let area_police = self.role_list(&w.area_police, &span, "area_police", false, seen);

        let expected = match (&district, &name) {
            (Some(d), Some(n)) => fold::suggest(d, n).ok(),
            _ => None,
        };
        let accounts = self.accounts(raw, &label, defaults, expected.as_ref(), seen);

        let accounts = accounts?;
        // The accounts agree (`one_authentication_rule`), so any one of them speaks for
        // the ward, and each reads Authentication-Results with the ward's servers.
        let require_auth = accounts
            .iter()
            .any(|a| !a.mail.trusted_authserv_ids.is_empty());
        Some(Ward {
            rules: WardRules {
                code: code?,
                short: short?,
                name: name?,
                district: district?,
                officers: officers?,
                police: police?,
                area_police: area_police?,
                validity: validity.0,
                max_valid_days: validity.1,
                require_auth,
            },
            signing_key: signing_key?,
            signing_key_since: signing_key_since.map_or(Some(None), |d| d.map(Some))?,
            retired_keys: retired_keys.into_iter().collect::<Option<_>>()?,
            accounts,
        })
    }

    /// `[[ward.retired_key]]`: a valid Ed25519 public key, base64url (no padding) of
    /// 32 bytes as `qrca keys trust-list` prints it, and its `since` ≤ `until` dates.
    fn retired_key(&mut self, raw: &Spanned<RawRetiredKey>) -> Option<RetiredKey> {
        const T: &str = RETIRED_KEY_TABLE;
        let span = raw.span();
        let k = raw.get_ref();
        let public_key = self.required(&k.public_key, &span, "public_key", T).and_then(|v| {
            let text = v.get_ref().trim();
            let key = data_encoding::BASE64URL_NOPAD
                .decode(text.as_bytes())
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .filter(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_ok());
            if key.is_none() {
                self.error(
                    &v.span(),
                    format!("key \"public_key\" in {T} must be an Ed25519 public key as the trust list prints it (43 characters of base64url), not \"{text}\""),
                );
            }
            key
        });
        let since = self
            .required(&k.since, &span, "since", T)
            .and_then(|v| self.date(v, "since", T));
        let until = self
            .required(&k.until, &span, "until", T)
            .and_then(|v| self.date(v, "until", T));
        if let (Some(since), Some(until)) = (since, until)
            && until < since
        {
            self.error(
                &span,
                format!("in {T}, \"until\" ({until}) is before \"since\" ({since})"),
            );
            return None;
        }
        Some(RetiredKey {
            public_key: public_key?,
            since: since?,
            until: until?,
        })
    }

    /// Officers, police or area police of a ward; each address is also remembered
    /// in `seen`, to check later that none is an account.
    fn role_list(
        &mut self,
        list: &Option<StrList>,
        ward_span: &Range<usize>,
        key: &str,
        required: bool,
        seen: &mut Seen,
    ) -> Option<Vec<String>> {
        let list = if required {
            self.required(list, ward_span, key, WARD_TABLE)
        } else {
            list.as_ref()
        };
        let Some(list) = list else {
            return (!required).then(Vec::new);
        };
        // An array emptied by a shape error was reported there already.
        let must_have_one = required && !self.removed.contains(ward_span, key);
        let addresses = self.address_list(list, key, WARD_TABLE, must_have_one)?;
        let what = key_in(key, WARD_TABLE);
        Some(
            addresses
                .into_iter()
                .map(|(address, at)| {
                    seen.roles.push((address.clone(), at, what.clone()));
                    address
                })
                .collect(),
        )
    }

    fn ward_code(&mut self, v: &Str, seen: &mut Seen) -> Option<String> {
        let code = v.get_ref();
        let shaped = code.split_once('.').is_some_and(|(district, ward)| {
            [district, ward].iter().all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
        });
        if !shaped {
            self.error(
                &v.span(),
                format!("key \"code\" in {WARD_TABLE} must be district.ward in lowercase ASCII letters and digits, like \"hoankiem.tranhungdao\", not \"{code}\""),
            );
            return None;
        }
        let line = self.line(&v.span());
        if let Some(first) = seen.codes.get(code) {
            self.error(
                &v.span(),
                format!("key \"code\" in {WARD_TABLE}: ward code \"{code}\" is already used by the ward at line {first}"),
            );
            return None;
        }
        seen.codes.insert(code.clone(), line);
        Some(code.clone())
    }

    fn ward_short(&mut self, v: &Str, seen: &mut Seen) -> Option<String> {
        let short = v.get_ref();
        if !(2..=6).contains(&short.len()) || !short.bytes().all(|b| b.is_ascii_uppercase()) {
            self.error(
                &v.span(),
                format!("key \"short\" in {WARD_TABLE} must be 2 to 6 uppercase ASCII letters, like \"THD\", not \"{short}\""),
            );
            return None;
        }
        let line = self.line(&v.span());
        if let Some(first) = seen.shorts.get(short) {
            self.error(
                &v.span(),
                format!("key \"short\" in {WARD_TABLE}: short code \"{short}\" is already used by the ward at line {first}"),
            );
            return None;
        }
        seen.shorts.insert(short.clone(), line);
        Some(short.clone())
    }

    // ---- [[ward.account]] ----

    fn accounts(
        &mut self,
        ward: &Spanned<RawWard>,
        label: &str,
        defaults: &MailSettings,
        expected: Option<&[String; fold::ACCOUNTS_PER_WARD]>,
        seen: &mut Seen,
    ) -> Option<Vec<Account>> {
        let span = ward.span();
        let raw = &ward.get_ref().account;
        if raw.is_empty() {
            if !self.removed.contains(&span, "account") {
                self.error(
                    &span,
                    format!("ward {label} has no [[ward.account]]; add its accounts (qrca accounts suggest names them)"),
                );
            }
            return None;
        }
        if raw.len() < fold::ACCOUNTS_PER_WARD {
            let n = raw.len();
            let noun = if n == 1 { "account" } else { "accounts" };
            self.warn(
                &span,
                format!(
                    "ward {label} has {n} {noun}; each ward should have {} so that mail still goes out when one is over quota",
                    fold::ACCOUNTS_PER_WARD
                ),
            );
        }
        let mut accounts = Vec::new();
        let mut ok = true;
        for account in raw {
            match self.account(account, label, defaults, expected, seen) {
                Some(a) => accounts.push(a),
                None => ok = false,
            }
        }
        let ok = ok && self.one_authentication_rule(raw, &accounts, label);
        ok.then_some(accounts)
    }

    /// Authentication is decided per ward (SPEC §3): where one account trusts a server
    /// and another trusts none, a forged From read on the second would carry no evidence
    /// and yet the ward would seem to require it. Every account with an empty list is
    /// named; `false` when there was one.
    fn one_authentication_rule(
        &mut self,
        raw: &[Spanned<RawAccount>],
        accounts: &[Account],
        ward_label: &str,
    ) -> bool {
        let Some(trusting) = accounts
            .iter()
            .find(|a| !a.mail.trusted_authserv_ids.is_empty())
        else {
            return true;
        };
        let ids = trusting.mail.trusted_authserv_ids.join(", ");
        let mut ok = true;
        for (raw, account) in raw.iter().zip(accounts) {
            if !account.mail.trusted_authserv_ids.is_empty() {
                continue;
            }
            ok = false;
            let (span, how) = match &raw.get_ref().trusted_authserv_ids {
                Some(list) => (list.span(), "sets it to []"),
                None => (raw.span(), "inherits [] from [mail]"),
            };
            self.error(
                &span,
                format!(
                    "ward {ward_label}: key \"trusted_authserv_ids\" in {ACCOUNT_TABLE} of account \"{}\" {how}, but account \"{}\" of the same ward trusts {ids}; authentication is decided per ward, so give every account of the ward the same trusted_authserv_ids (a forged From read on an account that trusts no server would need no authentication)",
                    account.address, trusting.address
                ),
            );
        }
        ok
    }

    fn account(
        &mut self,
        raw: &Spanned<RawAccount>,
        ward_label: &str,
        defaults: &MailSettings,
        expected: Option<&[String; fold::ACCOUNTS_PER_WARD]>,
        seen: &mut Seen,
    ) -> Option<Account> {
        const T: &str = ACCOUNT_TABLE;
        let span = raw.span();
        let a = raw.get_ref();
        let address = self
            .required(&a.address, &span, "address", T)
            .and_then(|v| {
                let address = self.address(v, &key_in("address", T))?;
                self.account_address(v, address, ward_label, expected, seen)
            });
        let auth = self.auth(a, &span);
        let overrides = self.mail_layer(a.mail(), &ACCOUNT_TABLES);
        let mail = defaults.merged(overrides);
        Some(Account {
            address: address?,
            auth: auth?,
            mail,
        })
    }

    /// The rules an account address has beyond being an address.
    fn account_address(
        &mut self,
        v: &Str,
        address: String,
        ward_label: &str,
        expected: Option<&[String; fold::ACCOUNTS_PER_WARD]>,
        seen: &mut Seen,
    ) -> Option<String> {
        let what = key_in("address", ACCOUNT_TABLE);
        if address
            .split_once('@')
            .is_some_and(|(local, _)| local.contains('+'))
        {
            self.error(
                &v.span(),
                format!("{what}: \"{address}\" must not contain \"+\"; qrca adds +<token> to it for replies"),
            );
            return None;
        }
        let line = self.line(&v.span());
        if let Some((ward, first)) = seen.accounts.get(&address) {
            self.error(
                &v.span(),
                format!("{what}: \"{address}\" is already an account of ward {ward} (line {first}); an account belongs to one ward"),
            );
            return None;
        }
        seen.accounts
            .insert(address.clone(), (ward_label.to_owned(), line));
        if let Some(expected) = expected
            && !expected.contains(&address)
        {
            self.warn(
                &v.span(),
                format!(
                    "{what}: \"{address}\" does not follow the rule qrca.<district>.<ward><n>@gmail.com; for this ward that is {}",
                    or_list(expected)
                ),
            );
        }
        Some(address)
    }

    fn auth(&mut self, a: &RawAccount, span: &Range<usize>) -> Option<AccountAuth> {
        const T: &str = ACCOUNT_TABLE;
        let mut given: Vec<(&str, Range<usize>)> = Vec::new();
        if let Some(v) = &a.password_file {
            given.push(("password_file", v.span()));
        }
        if let Some(v) = &a.password_env {
            given.push(("password_env", v.span()));
        }
        if let Some(v) = &a.oauth2 {
            given.push(("oauth2", v.span()));
        }
        given.sort_by_key(|(_, s)| s.start);
        match given.as_slice() {
            [] => {
                if !AUTH_KEYS.iter().any(|k| self.removed.contains(span, k)) {
                    self.error(
                        span,
                        format!("missing key in {T}: set exactly one of password_file, password_env or oauth2"),
                    );
                }
                return None;
            }
            [_] => {}
            [(first, first_span), rest @ ..] => {
                let line = self.line(first_span);
                for (key, at) in rest {
                    self.error(
                        at,
                        format!("key \"{key}\" in {T} cannot be used together with {first} (line {line}); set exactly one of password_file, password_env or oauth2"),
                    );
                }
                return None;
            }
        }
        let hint = "; qrca reads the secret from this file, which the admin creates";
        if let Some(v) = &a.password_file {
            return self
                .secret_file(v, &key_in("password_file", T), "secret file", hint, false)
                .map(AccountAuth::PasswordFile);
        }
        if let Some(v) = &a.password_env {
            let name = v.get_ref().trim();
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.error(
                    &v.span(),
                    format!("key \"password_env\" in {T} must name an environment variable (letters, digits and _), not \"{name}\""),
                );
                return None;
            }
            return Some(AccountAuth::PasswordEnv(name.to_owned()));
        }
        let oauth = a.oauth2.as_ref()?;
        const O: &str = "[ward.account.oauth2]";
        let o_span = oauth.span();
        let o = oauth.get_ref();
        let client_id = self
            .required(&o.client_id, &o_span, "client_id", O)
            .and_then(|v| self.text(v, &key_in("client_id", O)));
        let client_secret_file = self
            .required(&o.client_secret_file, &o_span, "client_secret_file", O)
            .and_then(|v| {
                self.secret_file(
                    v,
                    &key_in("client_secret_file", O),
                    "secret file",
                    hint,
                    false,
                )
            });
        let refresh_token_file = self
            .required(&o.refresh_token_file, &o_span, "refresh_token_file", O)
            .and_then(|v| {
                self.secret_file(
                    v,
                    &key_in("refresh_token_file", O),
                    "secret file",
                    hint,
                    false,
                )
            });
        Some(AccountAuth::OAuth2 {
            client_id: client_id?,
            client_secret_file: client_secret_file?,
            refresh_token_file: refresh_token_file?,
        })
    }
}

fn key_in(key: &str, table: &str) -> String {
    format!("key \"{key}\" in {table}")
}

/// `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Exactly `YYYY-MM-DD`: jiff alone would also take a date-time and drop the time.
fn parse_iso_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return None;
    }
    s.parse::<Date>().ok()
}

/// localhost, 127.0.0.0/8 and ::1 (also written `[::1]` or IPv4-mapped): the only
/// hosts `tls = "none"` may name. The transport checks it again before it sends a
/// password in plain text.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// `HH:MM`, two digits each, 00:00 to 23:59; anything else is `None`.
pub fn parse_hh_mm(text: &str) -> Option<jiff::civil::Time> {
    let (h, m) = text.trim().split_once(':')?;
    let two = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i8>().ok())
            .flatten()
    };
    jiff::civil::Time::new(two(h)?, two(m)?, 0, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_report_times_are_hh_mm() {
        assert_eq!(parse_hh_mm("07:00"), Some(jiff::civil::time(7, 0, 0, 0)));
        assert_eq!(parse_hh_mm("23:59"), Some(jiff::civil::time(23, 59, 0, 0)));
        assert_eq!(parse_hh_mm("00:00"), Some(jiff::civil::time(0, 0, 0, 0)));
        for bad in [
            "7:00", "24:00", "12:60", "12:5", "12-30", "", "ab:cd", "+1:00",
        ] {
            assert_eq!(parse_hh_mm(bad), None, "{bad}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "imap.gmail.com",
            "10.0.0.1",
            "128.0.0.1",
            "::2",
            "localhost.example.com",
            "0.0.0.0",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn iso_dates_only() {
        assert_eq!(parse_iso_date("2021-09-21"), Date::new(2021, 9, 21).ok());
        for s in [
            "2021-9-21",
            "21/09/2021",
            "2021-02-30",
            "2021-09-21T00:00",
            "",
            "２０２１-09-21",
        ] {
            assert_eq!(parse_iso_date(s), None, "{s}");
        }
    }

    #[test]
    fn default_ports_follow_tls() {
        assert_eq!(Protocol::Imap.default_port(Tls::Implicit), 993);
        assert_eq!(Protocol::Imap.default_port(Tls::StartTls), 143);
        assert_eq!(Protocol::Smtp.default_port(Tls::Implicit), 465);
        assert_eq!(Protocol::Smtp.default_port(Tls::StartTls), 587);
        assert_eq!(Protocol::Smtp.default_port(Tls::Plaintext), 25);
    }
}
