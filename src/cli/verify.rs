//! `qrca verify (PAYLOAD | --image PNG | --pdf FILE) [--trust-list F] [--revocations F]`:
//! what a checkpoint's checker says about a permit's QR (SPEC §5, §6).
//!
//! Owns reading the payload from its three sources, the lists from files (else the
//! trust list from the config), and the printed answer: the fields, then `VALID` or
//! `NOT VALID: <why>`. Exit 0 valid, 1 not valid, 2 unusable input. The verdict itself
//! is `permit::trust::check`'s, the same code any checker can port.

use super::{clean, load_config};
use crate::permit::trust::{self, RevocationList, TrustList, Verdict};
use crate::permit::{issue, pdf, scan};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the payload comes from.
#[derive(Debug)]
pub enum Source {
    Text(String),
    Image(PathBuf),
    Pdf(PathBuf),
}

#[derive(Debug)]
pub struct Options {
    pub trust_list: Option<PathBuf>,
    pub revocations: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// Check as of this day instead of today.
    pub on: Option<jiff::civil::Date>,
}

pub fn run(source: Source, options: Options) -> anyhow::Result<u8> {
    let payloads = match payloads(&source) {
        Ok(p) => p,
        Err(why) => return unusable(&why),
    };
    let trust = match trust_list(&options) {
        Ok(t) => t,
        Err(why) => return unusable(&why),
    };
    let revoked = match &options.revocations {
        None => None,
        Some(path) => match read(path).and_then(|text| {
            RevocationList::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
        }) {
            Ok(list) => Some(list),
            Err(why) => return unusable(&why),
        },
    };
    let today = options.on.unwrap_or_else(|| {
        jiff::Timestamp::now()
            .to_zoned_datetime(
                jiff::tz::TimeZone::get(crate::config::DEFAULT_TIMEZONE)
                    .unwrap_or(jiff::tz::TimeZone::UTC),
            )
            .date()
    });
    let mut out = std::io::stdout().lock();
    let mut all_valid = true;
    for (n, payload) in payloads.iter().enumerate() {
        if n > 0 {
            writeln!(out)?;
        }
        let verdict = trust::check(payload, &trust, revoked.as_ref(), today);
        print_verdict(&mut out, &verdict)?;
        if revoked.is_none() && verdict.is_valid() {
            writeln!(
                out,
                "(the revocation list was not checked: give --revocations FILE)"
            )?;
        }
        all_valid &= verdict.is_valid();
    }
    Ok(if all_valid { 0 } else { 1 })
}

fn unusable(why: &str) -> anyhow::Result<u8> {
    eprintln!("qrca: {why}");
    Ok(2)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The payloads to check: the text given, every QR code in the image, or the one the
/// PDF carries in its Keywords.
fn payloads(source: &Source) -> Result<Vec<String>, String> {
    match source {
        // zbarimg and many scanners end what they read with a newline.
        Source::Text(text) => Ok(vec![text.trim_end_matches(['\r', '\n']).to_owned()]),
        Source::Image(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read the image {}: {e}", path.display()))?;
            scan::decode_image(&bytes).map_err(|e| format!("{}: {e}", path.display()))
        }
        Source::Pdf(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read the PDF {}: {e}", path.display()))?;
            pdf::payload_from_pdf(&bytes)
                .map(|p| vec![p])
                .ok_or_else(|| {
                    format!(
                        "{} carries no qrca payload in its metadata (is it a permit qrca made?)",
                        path.display()
                    )
                })
        }
    }
}

/// The trust list file, else the one the config's key files make.
fn trust_list(options: &Options) -> Result<TrustList, String> {
    if let Some(path) = &options.trust_list {
        let text = read(path)?;
        return TrustList::from_json(&text).map_err(|e| format!("{}: {e}", path.display()));
    }
    let config = load_config(options.config.clone(), false).map_err(|e| {
        format!("no trust list: give --trust-list FILE (from qrca keys trust-list), or a usable config ({e:#})")
    })?;
    issue::trust_list(&config).map_err(|e| e.to_string())
}

fn print_verdict(out: &mut impl Write, verdict: &Verdict) -> std::io::Result<()> {
    if let Some(c) = verdict.claims() {
        let field = |out: &mut dyn Write, label: &str, value: &str| {
            writeln!(out, "{label:<13}{}", clean(value))
        };
        field(out, "permit", &format!("{} ({})", c.id, c.kind.letter()))?;
        field(out, "name", &c.name)?;
        if let Some(year) = c.birth_year {
            field(out, "born", &year.to_string())?;
        }
        field(out, "id number", &c.masked_id)?;
        field(
            out,
            "valid",
            &format!("{} to {}", c.valid_from, c.valid_until),
        )?;
        field(out, "ward", &c.ward)?;
        for (label, value) in [
            ("organisation", &c.organisation),
            ("route", &c.route),
            ("vehicle", &c.vehicle),
            ("market", &c.market),
            ("days", &c.days),
        ] {
            if let Some(value) = value {
                field(out, label, value)?;
            }
        }
        field(out, "key", &c.kid)?;
    }
    writeln!(out, "{verdict}")
}
