//! `[permits]`: paper size, how long a permit lasts (`valid_days` or `valid_until`,
//! never both) and the longest it may last, with SPEC §7's defaults when the table is
//! absent.

use super::{DEFAULT_MAX_VALID_DAYS, DEFAULT_VALID_DAYS, MAX_VALID_DAYS, Validator};
use crate::config::raw::RawPermits;
use crate::config::types::{Paper, Permits};
use crate::workflow::Kind;
use crate::workflow::Validity;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn permits(&mut self, raw: Option<&Spanned<RawPermits>>) -> Option<Permits> {
        const T: &str = "[permits]";
        let Some(raw) = raw else {
            return Some(Permits {
                paper: Paper::A6,
                validity: Validity::Days(DEFAULT_VALID_DAYS),
                max_valid_days: DEFAULT_MAX_VALID_DAYS,
                printers: Vec::new(),
                print_kinds: Vec::new(),
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
        let (printers, print_kinds) = self.printing(p)?;
        Some(Permits {
            paper: paper?,
            validity: validity?,
            max_valid_days: max_valid_days?,
            printers,
            print_kinds,
        })
    }

    /// `printers` (CUPS queue names) and `print_kinds` (`T`, `C`, `H`): kinds need a
    /// printer to go to.
    fn printing(&mut self, p: &RawPermits) -> Option<(Vec<String>, Vec<Kind>)> {
        const T: &str = "[permits]";
        let mut ok = true;
        let mut printers = Vec::new();
        for name in p
            .printers
            .as_ref()
            .map(|l| l.get_ref().as_slice())
            .unwrap_or(&[])
        {
            let n = name.get_ref().trim();
            if n.is_empty()
                || n.len() > 127
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                self.error(
                    &name.span(),
                    format!("key \"printers\" in {T}: \"{n}\" is not a CUPS queue name (letters, digits, - _ . only; `lpstat -p` lists them)"),
                );
                ok = false;
            } else if printers.iter().any(|p: &String| p == n) {
                self.error(
                    &name.span(),
                    format!("key \"printers\" in {T}: \"{n}\" is named twice"),
                );
                ok = false;
            } else {
                printers.push(n.to_owned());
            }
        }
        let mut kinds = Vec::new();
        for kind in p
            .print_kinds
            .as_ref()
            .map(|l| l.get_ref().as_slice())
            .unwrap_or(&[])
        {
            match kind.get_ref().trim().to_ascii_uppercase().as_str() {
                "T" => kinds.push(Kind::T),
                "C" => kinds.push(Kind::C),
                "H" => kinds.push(Kind::H),
                other => {
                    self.error(
                        &kind.span(),
                        format!("key \"print_kinds\" in {T}: \"{other}\" is not a kind of case (T, C or H)"),
                    );
                    ok = false;
                }
            }
        }
        if let Some(list) = &p.print_kinds
            && !kinds.is_empty()
            && printers.is_empty()
        {
            self.error(
                &list.span(),
                format!(
                    "key \"print_kinds\" in {T} needs key \"printers\": the CUPS queues to print on"
                ),
            );
            ok = false;
        }
        kinds.dedup();
        ok.then_some((printers, kinds))
    }
}
