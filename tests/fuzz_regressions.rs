//! Inputs the fuzz targets in `fuzz/` found (and hostile shapes found by review),
//! replayed through the same entry points (see `tests/fixtures/fuzz/README.md`). Every
//! file must go through without a panic, under 256 MB and 5 s of CPU (each in a capped
//! child process), and give the outcome [`EXPECTED`] records for it: an input without
//! a recorded outcome fails, so a recorded crash cannot pass by doing something else.

use jiff::civil::date;
use qrca::config::RosterSettings;
use qrca::inbound::{commands, mail, reply};
use qrca::roster::{Arrival, Limits, read_roster};
use qrca::workflow::{Command, Kind, PermitRules, RosterIssue, Rows, Validity};
use std::path::{Path, PathBuf};

/// A roster arriving on `today` at a ward of SPEC §7's defaults.
fn arrival(today: jiff::civil::Date) -> Arrival {
    Arrival {
        today,
        permits: PermitRules {
            validity: Validity::Days(14),
            max_valid_days: 30,
        },
    }
}

/// CPU an input may take: generous for a debug build; the fuzzer's own timeout is
/// 10 s in release.
const PER_INPUT_CPU_S: f64 = 5.0;

#[path = "support/capped.rs"]
mod capped;

/// The inputs in `tests/fixtures/fuzz/<target>/`, sorted; none when the folder is absent.
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| !name.starts_with('.') && name != "README.md")
        })
        .collect();
    paths.sort();
    paths
}

/// What each input must give (target/file → the outcome line its entry point prints).
/// The mime input once tripped a `debug_assert!` in mail-parser; it is now refused
/// for having no From, in debug and release builds alike.
const EXPECTED: &[(&str, &str)] = &[
    (
        "roster/xls-fat-cycle-directory-chain-oom",
        "T C H: 0 rows, 1 file error (Tệp “fuzz.xlsx” bị hỏng nên không đọc được.), 0 row errors",
    ),
    (
        "roster/xls-calamine-cfb-slice-index-panic",
        "T C H: 0 rows, 1 file error (Tệp “fuzz.xlsx” bị hỏng nên không đọc được.), 0 row errors",
    ),
    (
        "mime/mail-parser-debug-assert-invalid-part-id",
        "error: NoFrom",
    ),
    (
        "commands/row-list-flood",
        "1 commands, 99999 rows listed, 0 revocations, 51 unreadable",
    ),
    (
        "commands/revoke-flood",
        "0 commands, 0 rows listed, 4497 revocations, 0 unreadable",
    ),
];

/// Each input runs in a child of this test binary under an address-space limit of
/// 1 GB and a CPU limit (`support/capped.rs`): some of them once made the process
/// allocate gigabytes, and a regression must fail the test, not take the machine down.
/// In the child, it must end within SPEC §8's 256 MB, without a panic, and print the
/// outcome `run` describes, which must be the one [`EXPECTED`] records.
fn replay(target: &str, run: impl Fn(&[u8]) -> String) {
    if let Some(path) = capped::child_input() {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        println!("outcome: {}", run(&bytes));
        return;
    }
    for path in inputs(target) {
        let shown = path.display().to_string();
        let name = format!(
            "{target}/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let Some((_, expected)) = EXPECTED.iter().find(|(n, _)| *n == name) else {
            panic!("{name} has no expected outcome: add it to EXPECTED with the fix");
        };
        let child = capped::in_child(&format!("{target}_inputs"), &shown);
        let outcome = child
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("outcome: "))
            .unwrap_or_else(|| panic!("{name}: no outcome in\n{}", child.stdout));
        assert_eq!(outcome, *expected, "{name}");
        assert!(
            child.peak_rss_kb <= capped::PEAK_RSS_KB,
            "{shown}: peak RSS {} KB",
            child.peak_rss_kb
        );
        assert!(
            child.cpu_s < PER_INPUT_CPU_S,
            "{shown} took {:.2} s of CPU (limit {PER_INPUT_CPU_S} s)",
            child.cpu_s
        );
        eprintln!(
            "{shown}: {:.1} MB, {:.2} s",
            child.peak_rss_kb as f64 / 1024.0,
            child.cpu_s
        );
    }
}

#[test]
fn fixtures_folder_exists() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    assert!(
        dir.join("README.md").is_file(),
        "{} has no README.md",
        dir.display()
    );
}

/// Every input of a target has an expected outcome, and every expectation an input.
#[test]
fn every_input_has_an_expected_outcome_and_back() {
    let mut found = Vec::new();
    for target in ["mime", "commands", "roster"] {
        for path in inputs(target) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            found.push(format!("{target}/{name}"));
        }
    }
    let mut expected: Vec<String> = EXPECTED.iter().map(|(n, _)| (*n).to_owned()).collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
}

/// A parsed reply in one line: what a flood must be bounded to.
fn parsed(p: &commands::Parsed) -> String {
    let listed: usize = p
        .commands
        .iter()
        .map(|c| match c {
            Command::Approve(rows) | Command::Stamp(rows) | Command::Reject { rows, .. } => {
                match rows {
                    Rows::All => 0,
                    Rows::List(list) => list.len(),
                }
            }
        })
        .sum();
    format!(
        "{} commands, {listed} rows listed, {} revocations, {} unreadable",
        p.commands.len(),
        p.revocations.len(),
        p.unreadable.len()
    )
}

#[test]
fn mime_inputs() {
    replay("mime", |bytes| {
        let trusted = ["mx.google.com".to_string()];
        match mail::parse_mail(bytes, &trusted) {
            Ok(mail) => {
                let words = reply::own_words(&mail.text);
                let _ = commands::parse_reply(&words);
                if let Some(html) = &mail.html {
                    let _ = commands::parse_reply(&reply::own_words_html(html));
                }
                let _ = commands::registration_kind(&mail.subject);
                let _ = commands::case_code_in_subject(&mail.subject);
                "mail".to_owned()
            }
            Err(e) => format!("error: {e:?}")
                .split(['(', ' ', '{'])
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
        }
    });
}

#[test]
fn commands_inputs() {
    replay("commands", |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let words = reply::own_words(&text);
        let outcome = parsed(&commands::parse_reply(&words));
        let _ = commands::parse_registration(&words);
        let _ = commands::parse_registration(&text);
        let _ = commands::parse_reply(&reply::own_words_html(&text));
        let subject = text.lines().next().unwrap_or("");
        let _ = commands::registration_kind(subject);
        let _ = commands::case_code_in_subject(subject);
        outcome
    });
}

#[test]
fn roster_inputs() {
    replay("roster", |bytes| {
        let settings = RosterSettings::default();
        let limits = Limits::default();
        let mut outcomes = Vec::new();
        for kind in Kind::ALL {
            let roster = read_roster(
                bytes,
                "fuzz.xlsx",
                kind,
                &settings,
                arrival(date(2026, 11, 25)),
                &limits,
            );
            let file: Vec<&RosterIssue> =
                roster.errors.iter().filter(|e| e.row.is_none()).collect();
            let first = file.first().map(|e| e.message.as_str()).unwrap_or_default();
            outcomes.push(format!(
                "{} rows, {} file error ({first}), {} row errors",
                roster.rows.len(),
                file.len(),
                roster.errors.len() - file.len()
            ));
        }
        outcomes.dedup();
        format!("T C H: {}", outcomes.join(" / "))
    });
}
