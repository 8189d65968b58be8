//! The checks of single values every section shares: text (NFC, trimmed), paths made
//! absolute against the config file's directory, files that must exist, secret files
//! that must be private, addresses and lists of them, integers in a range and dates.
//! Each reports its own problem at the value and returns `None`; the sections decide
//! what a missing value means.

use super::Validator;
use crate::config::files::{self, FileProblem};
use crate::config::raw::{Str, StrList};
use email_address::{EmailAddress, Options};
use jiff::civil::Date;
use std::ops::Range;
use std::path::PathBuf;
use toml::Spanned;
use unicode_normalization::UnicodeNormalization;

impl Validator<'_> {
    /// Non-empty text, NFC, trimmed, inner runs of white space made one space.
    pub(super) fn text(&mut self, v: &Str, what: &str) -> Option<String> {
        let nfc: String = v.get_ref().nfc().collect();
        let text = nfc.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            self.error(&v.span(), format!("{what} must not be empty"));
            return None;
        }
        Some(text)
    }

    /// A path, made absolute against the config file's directory.
    pub(super) fn path(&mut self, v: &Str, what: &str) -> Option<PathBuf> {
        let raw = v.get_ref();
        if raw.trim().is_empty() {
            self.error(&v.span(), format!("{what} must not be empty"));
            return None;
        }
        Some(self.base_dir.join(raw))
    }

    /// A file the config points at that must exist (not a secret).
    pub(super) fn existing_file(&mut self, v: &Str, what: &str, kind: &str) -> Option<PathBuf> {
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
    pub(super) fn secret_file(
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
    pub(super) fn address(&mut self, v: &Str, what: &str) -> Option<String> {
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
    pub(super) fn address_list(
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

    /// An integer within `min..=max` (`max` = `i64::MAX`: no upper bound).
    pub(super) fn integer(
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

    /// A date written `"YYYY-MM-DD"` or as a TOML local date.
    pub(super) fn date(
        &mut self,
        v: &Spanned<toml::Value>,
        key: &str,
        table: &str,
    ) -> Option<Date> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
