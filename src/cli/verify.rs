//! `qrca verify (PAYLOAD | --image PNG | --pdf FILE) [--trust-list F] [--revocations F]`:
//! what a checkpoint's checker says about a permit's QR (SPEC §5, §6).
//!
//! Owns reading the payloads from their three sources, the lists from files (else the
//! trust list from the config), the longest validity accepted (the config's
//! `[permits] max_valid_days`, else 30), and the printed answer: the fields, then
//! `VALID` or `NOT VALID: <why>`. Exit 0 valid, 1 not valid, 2 unusable input. The
//! verdict itself is `permit::trust::check`'s, the same code any checker can port.
//!
//! A PDF is judged by the QR codes printed on its pages, never by its metadata: every
//! page is rendered and scanned, and every code found is checked (a print sheet's
//! four a page, each under its page number). The Keywords qrca writes are only
//! compared: a PDF whose Keywords carry a payload other than a code printed on it is
//! NOT VALID, naming both permits. A PDF with no readable code at all is unusable
//! input (exit 2); a page without one among pages with codes is named and makes the
//! answer NOT VALID (exit 1), as nothing on it could be checked.

use super::{clean, load_config};
use crate::config::DEFAULT_MAX_VALID_DAYS;
use crate::permit::trust::{self, RevocationList, TrustList, Verdict};
use crate::permit::{issue, payload, scan};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest PDF read: a 250-page print sheet of qrca's is about 3 MB.
const MAX_PDF_BYTES: u64 = 64 * 1024 * 1024;

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

/// One code to check.
struct Found {
    payload: String,
    /// The PDF page it is printed on.
    page: Option<usize>,
    /// Why it cannot count whatever it says: the PDF's metadata names another permit.
    mismatch: Option<String>,
}

/// Everything a source gives to check.
#[derive(Default)]
struct Codes {
    found: Vec<Found>,
    /// A PDF's page count.
    pages: Option<usize>,
    /// PDF pages with no readable code, and why.
    unread: Vec<(usize, scan::ScanError)>,
}

pub fn run(source: Source, options: Options) -> anyhow::Result<u8> {
    let codes = match codes(&source) {
        Ok(c) => c,
        Err(why) => return unusable(&why),
    };
    let (trust, max_valid_days) = match trust_list(&options) {
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
    let total = codes.found.len();
    let many = total > 1 || !codes.unread.is_empty();
    if let (Some(pages), true) = (codes.pages, many) {
        let s = |n: usize| if n == 1 { "" } else { "s" };
        writeln!(
            out,
            "{total} permit{} on {pages} page{}",
            s(total),
            s(pages)
        )?;
    }
    let (mut valid, mut not_valid) = (0usize, 0usize);
    for (n, found) in codes.found.iter().enumerate() {
        if n > 0 || many {
            writeln!(out)?;
        }
        if let (Some(page), true) = (found.page, many) {
            writeln!(out, "page {page}, permit {} of {total}", n + 1)?;
        }
        let verdict = trust::check(
            &found.payload,
            &trust,
            revoked.as_ref(),
            today,
            max_valid_days,
        );
        let verdict = match &found.mismatch {
            None => verdict,
            Some(why) => {
                print_fields(&mut out, &verdict)?;
                writeln!(out, "NOT VALID: {why}")?;
                not_valid += 1;
                continue;
            }
        };
        print_verdict(&mut out, &verdict)?;
        if verdict.is_valid() {
            valid += 1;
        } else {
            not_valid += 1;
        }
    }
    for (page, why) in &codes.unread {
        writeln!(
            out,
            "\npage {page}: NOT CHECKED: {why}; nothing on it can be vouched for"
        )?;
    }
    if many {
        writeln!(
            out,
            "\n{valid} VALID, {not_valid} NOT VALID{}",
            if codes.unread.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} page(s) without a readable QR code",
                    codes.unread.len()
                )
            }
        )?;
    }
    if revoked.is_none() && valid > 0 {
        writeln!(
            out,
            "(the revocation list was not checked: give --revocations FILE)"
        )?;
    }
    Ok(if not_valid == 0 && codes.unread.is_empty() {
        0
    } else {
        1
    })
}

fn unusable(why: &str) -> anyhow::Result<u8> {
    eprintln!("qrca: {why}");
    Ok(2)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The codes to check: the text given, every QR code in the image, or every QR code
/// printed on the PDF's pages.
fn codes(source: &Source) -> Result<Codes, String> {
    let plain = |payloads: Vec<String>| Codes {
        found: payloads
            .into_iter()
            .map(|payload| Found {
                payload,
                page: None,
                mismatch: None,
            })
            .collect(),
        ..Codes::default()
    };
    match source {
        // zbarimg and many scanners end what they read with a newline.
        Source::Text(text) => Ok(plain(vec![text.trim_end_matches(['\r', '\n']).to_owned()])),
        Source::Image(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read the image {}: {e}", path.display()))?;
            scan::decode_image(&bytes)
                .map(plain)
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        Source::Pdf(path) => pdf_codes(path),
    }
}

/// Every code printed on the PDF's pages, each compared with the payload its metadata
/// carries, if any.
fn pdf_codes(path: &Path) -> Result<Codes, String> {
    let cannot = |e: std::io::Error| format!("cannot read the PDF {}: {e}", path.display());
    let size = std::fs::metadata(path).map_err(cannot)?.len();
    if size > MAX_PDF_BYTES {
        return Err(format!(
            "{} is {size} bytes; a permit PDF is far smaller (at most {MAX_PDF_BYTES} are read)",
            path.display()
        ));
    }
    let bytes = std::fs::read(path).map_err(cannot)?;
    let scanned = scan::decode_pdf(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let pages = scanned.pages.len();
    let mut codes = Codes {
        pages: Some(pages),
        ..Codes::default()
    };
    let mut seen = std::collections::HashSet::new();
    for (i, page) in scanned.pages.into_iter().enumerate() {
        match page {
            Ok(texts) => {
                for text in texts {
                    if seen.insert(text.clone()) {
                        codes.found.push(Found {
                            payload: text,
                            page: Some(i + 1),
                            mismatch: None,
                        });
                    }
                }
            }
            Err(why) => codes.unread.push((i + 1, why)),
        }
    }
    if codes.found.is_empty() {
        let whys: Vec<String> = codes
            .unread
            .iter()
            .map(|(page, why)| format!("page {page}: {why}"))
            .collect();
        let metadata = if scanned.keywords.is_some_and(|k| !k.is_empty()) {
            "; its metadata (Keywords) carries a payload, but only a code printed on a page \
             counts"
        } else {
            ""
        };
        return Err(format!(
            "{}: no QR code could be read on {} ({}){metadata}",
            path.display(),
            if pages == 1 {
                "its page".to_owned()
            } else {
                format!("any of its {pages} pages")
            },
            whys.join("; ")
        ));
    }
    if let Some(keywords) = scanned.keywords.filter(|k| !k.is_empty()) {
        for found in &mut codes.found {
            if found.payload != keywords {
                let (meta, printed) = (named(&keywords), named(&found.payload));
                let meta = if meta == printed {
                    format!("another payload of {meta}")
                } else {
                    meta
                };
                found.mismatch = Some(format!(
                    "the PDF's metadata (Keywords) carries {meta}, but the QR code printed on \
                     page {} is {printed}: only the printed code counts, and the two must agree",
                    found.page.unwrap_or(1),
                ));
            }
        }
    }
    Ok(codes)
}

/// "permit THD-T-0001-0007" for a payload that decodes, whoever signed it.
fn named(text: &str) -> String {
    match payload::decode(text) {
        Ok(signed) => format!("permit {}", clean(&signed.claims.id)),
        Err(_) => "a payload that is not a permit's".to_owned(),
    }
}

/// The trust list file, else the one the config's key files make; and the longest
/// validity accepted: the config's, when one is used (always without `--trust-list`,
/// with it only when `--config` is given), else [`DEFAULT_MAX_VALID_DAYS`].
fn trust_list(options: &Options) -> Result<(TrustList, u32), String> {
    if let Some(path) = &options.trust_list {
        let text = read(path)?;
        let list = TrustList::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let max = match &options.config {
            None => DEFAULT_MAX_VALID_DAYS,
            Some(_) => {
                load_config(options.config.clone(), true)
                    .map_err(|e| format!("{e:#}"))?
                    .permits
                    .max_valid_days
            }
        };
        return Ok((list, max));
    }
    let config = load_config(options.config.clone(), false).map_err(|e| {
        format!("no trust list: give --trust-list FILE (from qrca keys trust-list), or a usable config ({e:#})")
    })?;
    let list = issue::trust_list(&config).map_err(|e| e.to_string())?;
    Ok((list, config.permits.max_valid_days))
}

fn print_verdict(out: &mut impl Write, verdict: &Verdict) -> std::io::Result<()> {
    print_fields(out, verdict)?;
    writeln!(out, "{verdict}")
}

/// The payload's fields, vouched for or not, one a line.
fn print_fields(out: &mut impl Write, verdict: &Verdict) -> std::io::Result<()> {
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
    Ok(())
}
