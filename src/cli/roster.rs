//! `qrca roster FILE --kind T|C|H [--json] [--ward CODE] [--config F]`: a roster
//! checked as the daemon would check it (SPEC §4, §6), ID numbers included against the
//! ward's active permits when a config and its database are at hand (asked of the
//! running daemon, which holds the database, or read from it when none runs).
//!
//! Owns reading the file and the config's header synonyms, today's date in the
//! service's time zone, the two printed forms (SPEC's JSON, or a table for people) and
//! the exit codes: 0 no error, 1 errors, 2 unusable input. It must not check anything
//! itself: `roster::read_roster_with` does, so the command and the daemon always agree.

use crate::admin::protocol::{self, Request};
use crate::config::{self, Config, LoadOptions, RosterSettings};
use crate::roster::{Arrival, Limits, read_roster_with};
use crate::store::Store;
use crate::workflow::{Kind, Roster, RosterIssue};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Used when there is no config to name the service's time zone.
const DEFAULT_ZONE: &str = config::DEFAULT_TIMEZONE;

pub fn run(
    file: &Path,
    kind: Kind,
    json: bool,
    ward: Option<&str>,
    config: Option<PathBuf>,
) -> anyhow::Result<u8> {
    let mut stderr = std::io::stderr().lock();
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = writeln!(
                stderr,
                "error: cannot read the roster file {}: {e}.",
                file.display()
            );
            return Ok(2);
        }
    };
    let explicit = config.is_some();
    let path = config::resolve_path(config);
    let mut found = None;
    let (settings, zone) = if path.exists() || explicit {
        match config::load_with(
            &path,
            LoadOptions {
                allow_missing_signing_keys: true,
            },
        ) {
            Ok(loaded) => {
                let pair = (
                    loaded.config.roster.clone(),
                    loaded.config.service.timezone.clone(),
                );
                found = Some(loaded.config);
                pair
            }
            Err(e) if explicit => {
                let _ = writeln!(stderr, "error: {e}");
                return Ok(2);
            }
            // The roster needs only the synonyms; a config found by default that the
            // daemon would refuse should not stop an admin from checking a file.
            Err(e) => {
                let _ = writeln!(
                    stderr,
                    "warning: the config cannot be used, so no header synonyms are used: {e}"
                );
                let zone = jiff::tz::TimeZone::get(DEFAULT_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
                (RosterSettings::default(), zone)
            }
        }
    } else {
        let _ = writeln!(
            stderr,
            "note: no config file at {}, so no header synonyms are used and dates are in {DEFAULT_ZONE}.",
            path.display()
        );
        let zone = jiff::tz::TimeZone::get(DEFAULT_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
        (RosterSettings::default(), zone)
    };
    let today = zone.to_datetime(jiff::Timestamp::now()).date();
    // The permits' validity as the daemon's config sets it, else SPEC §7's defaults.
    let permits = found.as_ref().map_or(
        crate::workflow::PermitRules {
            validity: crate::workflow::Validity::Days(config::DEFAULT_VALID_DAYS),
            max_valid_days: config::DEFAULT_MAX_VALID_DAYS,
        },
        |c| c.permits.rules(),
    );
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // calamine 0.38 panics on some corrupt compound files; `read_roster` turns that
    // into a "corrupt file" error, and this keeps the panic message off the terminal
    // (SPEC §6: no panics, no backtraces).
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let read = |held: &HashMap<String, String>| {
        read_roster_with(
            &bytes,
            &name,
            kind,
            &settings,
            Arrival { today, permits },
            &Limits::default(),
            &|id| held.get(id).cloned(),
        )
    };
    let mut roster = read(&HashMap::new());
    // The ward's active permits of the people listed: read again with them, as the
    // daemon reads a roster (a person who holds one may not be listed again).
    let ids: Vec<String> = roster
        .rows
        .iter()
        .filter_map(|r| r.id_number.clone())
        .collect();
    if let Some(config) = &found
        && !ids.is_empty()
    {
        match holders(config, ward, &ids, today) {
            Ok(Some(held)) if !held.is_empty() => roster = read(&held),
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(
                    stderr,
                    "warning: the ID numbers are not checked against the ward's active permits: {e:#}"
                );
            }
        }
    }
    std::panic::set_hook(hook);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &roster)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", table(&roster))?;
    }
    Ok(if roster.errors.is_empty() { 0 } else { 1 })
}

/// The most ID numbers asked of the daemon in one request (its requests are at most
/// 64 KiB; an ID number is at most 12 digits).
const IDS_PER_REQUEST: usize = 2_000;

/// ID number → the ward's active permit its holder has, for `ids`: from the running
/// daemon, else from the database; `Ok(None)` when there is no ward to name or no
/// database yet (nothing issued).
fn holders(
    config: &Config,
    ward: Option<&str>,
    ids: &[String],
    today: jiff::civil::Date,
) -> anyhow::Result<Option<HashMap<String, String>>> {
    let ward = match (ward, config.wards.as_slice()) {
        (Some(code), _) => match config.ward(code) {
            Some(w) => w.code().to_owned(),
            None => anyhow::bail!(super::no_such_ward(config, code)),
        },
        (None, [only]) => only.code().to_owned(),
        (None, _) => anyhow::bail!("the config has several wards: name one with --ward"),
    };
    let state_dir = &config.service.state_dir;
    let mut held = HashMap::new();
    for chunk in ids.chunks(IDS_PER_REQUEST) {
        let request = Request::Holders {
            ward: ward.clone(),
            ids: chunk.to_vec(),
            today,
        };
        let text = match protocol::ask(state_dir, &request)? {
            Some(response) if response.code == 0 => response.stdout,
            Some(response) => anyhow::bail!("the daemon said: {}", response.stderr.trim()),
            None => {
                if !state_dir.join("db").exists() {
                    return Ok(None);
                }
                let store = Store::open(state_dir)?;
                let mut out = Vec::new();
                crate::admin::holders::execute(&store, &ward, chunk, today, &mut out)?;
                String::from_utf8(out)?
            }
        };
        let answer: HashMap<String, String> = serde_json::from_str(&text)?;
        held.extend(answer);
    }
    Ok(Some(held))
}

/// The roster as people read it: one line per row, then errors and warnings by row.
pub fn table(roster: &Roster) -> String {
    let mut lines = Vec::new();
    if !roster.rows.is_empty() {
        let cells: Vec<[String; 5]> = roster
            .rows
            .iter()
            .map(|r| {
                [
                    r.stt.to_string(),
                    r.sheet_row.to_string(),
                    r.name.clone().unwrap_or_default(),
                    r.id_number.as_deref().map(mask).unwrap_or_default(),
                    r.birth_date
                        .map(|d| d.strftime("%d/%m/%Y").to_string())
                        .unwrap_or_default(),
                ]
            })
            .collect();
        let head = ["STT", "Dòng", "Họ và tên", "CCCD/CMND", "Ngày sinh"].map(String::from);
        let mut widths = [0usize; 5];
        for row in std::iter::once(&head).chain(&cells) {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        for row in std::iter::once(&head).chain(&cells) {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            lines.push(line.join("  ").trim_end().to_string());
        }
        lines.push(String::new());
    }
    for (title, issues) in [("Lỗi", &roster.errors), ("Cảnh báo", &roster.warnings)] {
        if issues.is_empty() {
            continue;
        }
        lines.push(format!("{title}:"));
        lines.extend(issues.iter().map(|i| format!("  {}", issue_line(i))));
        lines.push(String::new());
    }
    lines.push(format!(
        "{} dòng, {} lỗi, {} cảnh báo.",
        roster.rows.len(),
        roster.errors.len(),
        roster.warnings.len()
    ));
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

fn issue_line(issue: &RosterIssue) -> String {
    match (issue.row, &issue.column) {
        (None, _) => format!("toàn tệp: {}", issue.message),
        (Some(row), None) => format!("dòng {row}: {}", issue.message),
        (Some(row), Some(column)) => format!("dòng {row}, cột “{column}”: {}", issue.message),
    }
}

/// Keeps the last four digits: the table may be pasted into a mail.
fn mask(id: &str) -> String {
    let n = id.chars().count();
    id.chars()
        .enumerate()
        .map(|(i, c)| if i + 4 < n { '*' } else { c })
        .collect()
}

/// `qrca roster template --kind K --out F`: a blank roster of kind `K` (the header row
/// as the reader knows it, one example row), never over an existing file.
pub fn template(kind: Kind, out: &Path) -> anyhow::Result<u8> {
    let bytes = crate::outbound::xlsx::template(kind)
        .map_err(|e| anyhow::anyhow!("cannot make the template: {e}"))?;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!("qrca: {} already exists; not overwritten.", out.display());
            return Ok(1);
        }
        Err(e) => anyhow::bail!("cannot write {}: {e}", out.display()),
    };
    std::io::Write::write_all(&mut file, &bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    println!(
        "written {}: the {} roster's header row and one example row; write the list over the example",
        out.display(),
        kind.letter()
    );
    Ok(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::workflow::Row;
    use std::sync::Arc;

    #[test]
    fn table_masks_ids_and_lists_issues() {
        let roster = Roster {
            rows: vec![Arc::new(Row {
                stt: 1,
                sheet_row: 4,
                name: Some("Nguyễn Văn An".into()),
                id_number: Some("001090000123".into()),
                birth_date: Some(jiff::civil::date(1990, 9, 5)),
                ..Row::default()
            })],
            errors: vec![RosterIssue {
                row: Some(4),
                column: Some("SĐT".into()),
                message: "Sai.".into(),
            }],
            warnings: vec![],
        };
        let text = table(&roster);
        assert!(
            text.contains("1    4     Nguyễn Văn An  ********0123  05/09/1990"),
            "{text}"
        );
        assert!(text.contains("dòng 4, cột “SĐT”: Sai."), "{text}");
        assert!(text.ends_with("1 dòng, 1 lỗi, 0 cảnh báo.\n"), "{text}");
    }
}
