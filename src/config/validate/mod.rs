//! `RawConfig` → `Config`: every semantic rule of the config, every error at once.
//!
//! Owns the checks that go beyond the file's shape: addresses, codes, uniqueness,
//! defaults, merging `[mail]` into each account, paths resolved against the config
//! file's directory, secret files present and private, and the warnings about
//! account names. Every problem becomes a `Diagnostic` at the value (or table) at
//! fault, and checking goes on, so the admin sees the whole list. It must not read
//! the TOML text itself (`shape` does) nor any secret's contents.
//!
//! One file per part of the config: `service`, `mail` (the `[mail]` layer and the
//! endpoints), `permits`, `roster`, `wards` and `accounts`; `values` holds the checks
//! of single values (text, paths, secret files, addresses, integers, dates) they share.

mod accounts;
mod city;
mod mail;
mod permits;
mod roster;
mod service;
mod standby;
mod values;
mod wards;

pub use mail::is_loopback;

use super::LoadOptions;
use super::diag::{Diagnostic, Source};
use super::raw::RawConfig;
use super::shape::Removed;
use super::types::{Config, MailSettings};
use crate::workflow::Validity;
use mail::{MAIL_TABLES, MailOverrides};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

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
        let service = self.service(raw.service.as_ref(), root_span, raw.city.is_some());
        let overrides = match &raw.mail {
            Some(mail) => self.mail_layer(mail.get_ref().layer(), &MAIL_TABLES),
            None => MailOverrides::default(),
        };
        let mail = MailSettings::default().merged(overrides);
        let permits = self.permits(raw.permits.as_ref());
        let roster = self.roster(raw.roster.as_ref());
        // A bad [permits] is reported there; the wards are still checked with the default.
        let validity = permits.as_ref().map_or(
            (Validity::Days(DEFAULT_VALID_DAYS), DEFAULT_MAX_VALID_DAYS),
            |p| (p.validity, p.max_valid_days),
        );
        // The city's config has no ward: `city` says so if it has one.
        let wards = if raw.city.is_some() && raw.ward.is_empty() {
            Some(Vec::new())
        } else {
            self.wards(&raw.ward, root_span, &mail, validity)
        };
        let city = self.city(raw, &mail);
        let standby = wards
            .as_ref()
            .and_then(|wards| self.standby(raw.standby.as_ref(), wards));
        let service = service.map(|mut s| {
            self.admin_is_the_city(raw, &mut s, city.as_ref());
            s
        });

        let config = match (service, permits, roster, wards, city, standby) {
            (Some(service), Some(permits), Some(roster), Some(mut wards), city, Some(standby))
                if self.errors.is_empty() =>
            {
                for ward in &mut wards {
                    ward.rules.print_kinds.clone_from(&permits.print_kinds);
                }
                Some(Config {
                    path: path.to_path_buf(),
                    service,
                    mail,
                    permits,
                    roster,
                    wards,
                    city: city.flatten(),
                    standby,
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
}

fn key_in(key: &str, table: &str) -> String {
    format!("key \"{key}\" in {table}")
}
