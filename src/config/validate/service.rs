//! `[service]`: the state directory, the templates directory, the time zone, the hour
//! of the daily report and the admin's address, each with its default where SPEC §7
//! gives one.

use super::{DEFAULT_DAILY_REPORT_AT, DEFAULT_STATE_DIR, DEFAULT_TIMEZONE, Validator, key_in};
use crate::config::files;
use crate::config::raw::RawService;
use crate::config::types::Service;
use jiff::tz::TimeZone;
use std::ops::Range;
use std::path::PathBuf;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn service(
        &mut self,
        raw: Option<&Spanned<RawService>>,
        root_span: &Range<usize>,
        city: bool,
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
        // The city's config may leave it out: the city is its own admin account, and
        // `city` fills it in from [city.account].
        let admin_email = match &s.admin_email {
            None if city => Some(String::new()),
            _ => self
                .required(&s.admin_email, &span, "admin_email", T)
                .and_then(|v| self.address(v, &key_in("admin_email", T))),
        };
        let (timezone, timezone_name) = timezone?;
        Some(Service {
            state_dir: state_dir?,
            templates_dir: templates_dir?,
            timezone,
            timezone_name,
            daily_report_at: daily_report_at?,
            admin_email: admin_email?,
            trust_network: s.trust_network.unwrap_or(true),
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
}
