//! Golden roster fixtures (SPEC §4): every file in `tests/fixtures/rosters` is read and
//! its JSON compared with `<name>.<kind>.expected.json`, or, for the 20,000-row file,
//! with the counts and first and last rows in `<name>.<kind>.expected-counts.json`.
//! The kind is the file name's first letter (`t-`, `c-`, `h-`). Finding fewer than 12
//! fixtures fails. `UPDATE_ROSTER_FIXTURES=1` rewrites the expected files (review them).
//! `t-corrupt-cfb.xls` is not generated: it is a damaged .xls on which calamine 0.38
//! panics (cfb.rs), kept as a regression input for the catch in `read_roster`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use qrca::config::RosterSettings;
use qrca::roster::{Arrival, Limits, read_roster};
use qrca::workflow::{Kind, PermitRules, Roster, Validity};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const MIN_FIXTURES: usize = 12;
/// Rows at or above this are compared by counts.
const COUNTS_ONLY_ROWS: usize = 1000;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rosters")
}

fn today() -> jiff::civil::Date {
    jiff::civil::date(2021, 9, 8)
}

/// The fixtures arrive on `today()` at a ward of SPEC §7's defaults.
fn arrival() -> Arrival {
    Arrival {
        today: today(),
        permits: PermitRules {
            validity: Validity::Days(14),
            max_valid_days: 30,
        },
    }
}

fn counts(roster: &Roster) -> Value {
    json!({
        "rows": roster.rows.len(),
        "errors": roster.errors.len(),
        "warnings": roster.warnings.len(),
        "first": roster.rows.first(),
        "last": roster.rows.last(),
    })
}

#[test]
fn every_fixture_gives_its_expected_json() {
    let update = std::env::var_os("UPDATE_ROSTER_FIXTURES").is_some();
    let mut seen = 0;
    let mut failures = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.contains(".expected") && !name.ends_with(".tmp") && !name.starts_with('.')
        })
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let kind = Kind::from_letter(name.chars().next().unwrap()).unwrap_or_else(|| {
            panic!("{name}: a fixture's name starts with its kind: t-, c- or h-")
        });
        let bytes = std::fs::read(&path).unwrap();
        let roster = read_roster(
            &bytes,
            &name,
            kind,
            &RosterSettings::default(),
            arrival(),
            &Limits::default(),
        );
        let full = dir().join(format!("{stem}.{kind}.expected.json"));
        let short = dir().join(format!("{stem}.{kind}.expected-counts.json"));
        let (expected_path, actual) = if roster.rows.len() >= COUNTS_ONLY_ROWS {
            (short, counts(&roster))
        } else {
            (full, serde_json::to_value(&roster).unwrap())
        };
        if update {
            // Written from the roster itself, so fields keep SPEC §4's order.
            let text = if roster.rows.len() >= COUNTS_ONLY_ROWS {
                serde_json::to_string_pretty(&actual).unwrap()
            } else {
                serde_json::to_string_pretty(&roster).unwrap()
            };
            std::fs::write(&expected_path, text + "\n").unwrap();
        }
        let expected: Value = match std::fs::read_to_string(&expected_path) {
            Ok(text) => serde_json::from_str(&text).unwrap(),
            Err(_) => {
                failures.push(format!("{name}: no {}", expected_path.display()));
                continue;
            }
        };
        if expected != actual {
            failures.push(format!(
                "{name}: expected {}\n got {}",
                serde_json::to_string(&expected).unwrap(),
                serde_json::to_string(&actual).unwrap()
            ));
        }
        seen += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        seen >= MIN_FIXTURES,
        "only {seen} roster fixtures found in {}; at least {MIN_FIXTURES} expected",
        dir().display()
    );
}

/// The exact text `qrca roster --json` prints is serde's compact form of the same value.
#[test]
fn json_shape_is_specs() {
    let bytes = std::fs::read(dir().join("t-formulas.xlsx")).unwrap();
    let roster = read_roster(
        &bytes,
        "t-formulas.xlsx",
        Kind::T,
        &RosterSettings::default(),
        arrival(),
        &Limits::default(),
    );
    let text = serde_json::to_string(&roster).unwrap();
    assert!(text.starts_with(r#"{"rows":[{"stt":1,"sheet_row":2,"name":"Nguyễn Thị Hoa","id_number":"001090002001","birth_date":"1992-01-10","phone":"0912345671"}"#), "{text}");
    assert!(
        text.contains(r#"],"errors":[],"warnings":[{"row":1,"column":"Tên""#),
        "{text}"
    );
}

/// Damaged copies of real fixtures never panic and always give a roster: bytes
/// flipped, files cut short (a mail client that gave up half way).
#[test]
fn damaged_files_never_panic() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for name in [
        "t-formulas.xlsx",
        "t-libreoffice.xls",
        "t-libreoffice-ods.ods",
        "t-bom-semicolon.csv",
        "h-windows-1258.csv",
    ] {
        let original = std::fs::read(dir().join(name)).unwrap();
        for round in 0..60 {
            let mut bytes = original.clone();
            if round % 3 == 0 {
                let cut = (next() as usize) % bytes.len();
                bytes.truncate(cut);
            } else {
                for _ in 0..1 + round % 5 {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = next() as u8;
                }
            }
            let roster = read_roster(
                &bytes,
                name,
                Kind::T,
                &RosterSettings::default(),
                arrival(),
                &Limits::default(),
            );
            for issue in roster.errors.iter().chain(&roster.warnings) {
                assert!(!issue.message.is_empty());
            }
        }
    }
}

fn read_with(name: &str, limits: Limits) -> Roster {
    let bytes = std::fs::read(dir().join(name)).unwrap();
    read_roster(
        &bytes,
        name,
        Kind::T,
        &RosterSettings::default(),
        arrival(),
        &limits,
    )
}

/// Each limit refuses the file with one whole-file error and no rows.
#[test]
fn limits_refuse_with_one_error() {
    let cases = [
        (
            "t-formulas.xlsx",
            Limits {
                max_file_bytes: 1000,
                ..Limits::default()
            },
            "quá lớn",
        ),
        (
            "t-formulas.xlsx",
            Limits {
                max_uncompressed_bytes: 2000,
                ..Limits::default()
            },
            "giải nén ra",
        ),
        (
            "t-20000-rows.xlsx",
            Limits {
                max_rows: 19_999,
                ..Limits::default()
            },
            "vượt giới hạn 19999 dòng",
        ),
        (
            "t-bom-semicolon.csv",
            Limits {
                max_rows: 2,
                ..Limits::default()
            },
            "vượt giới hạn 2 dòng",
        ),
        ("t-zip-bomb.xlsx", Limits::default(), "giải nén ra gấp"),
        // Its headers claim 1,000 bytes; it inflates to 150 MB.
        (
            "t-zip-bomb-lying.xlsx",
            Limits::default(),
            "không giải nén được",
        ),
        ("t-encrypted-ooxml.xlsx", Limits::default(), "mật khẩu"),
        ("t-encrypted-xls.xls", Limits::default(), "mật khẩu"),
        ("t-really-a-pdf.xlsx", Limits::default(), "PDF"),
    ];
    for (name, limits, says) in cases {
        let roster = read_with(name, limits);
        assert!(roster.rows.is_empty(), "{name}");
        assert_eq!(roster.errors.len(), 1, "{name}: {:?}", roster.errors);
        let error = &roster.errors[0];
        assert_eq!((error.row, error.column.as_deref()), (None, None), "{name}");
        assert!(error.message.contains(says), "{name}: {}", error.message);
    }
    // Exactly at the limit is allowed.
    let roster = read_with(
        "t-20000-rows.xlsx",
        Limits {
            max_rows: 20_000,
            ..Limits::default()
        },
    );
    assert_eq!((roster.rows.len(), roster.errors.len()), (20_000, 0));
}
