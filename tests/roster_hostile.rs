//! Hostile spreadsheets (issue 11, "bounded readers"): files of a few KB that make
//! calamine 0.38 allocate gigabytes (or loop) must be refused with one sentence, in
//! bounded memory and time. `scripts/make-hostile-fixtures.py` writes the files.
//!
//! Each file is read by the built binary in a child process under an address-space
//! limit of 1 GB and a CPU limit (`support/capped.rs`), and must take under 10 s of
//! CPU: before the limits were checked, every one of these aborted the process
//! ("memory allocation failed") or spun. They must never be opened uncapped in the
//! test process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};

#[path = "support/capped.rs"]
mod capped;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile")
}

/// `qrca roster FILE --kind C --json` under the limits of `support/capped.rs`.
fn roster_capped(name: &str) -> (Option<i32>, Value, String, f64) {
    let path = dir().join(name);
    let args = ["roster", path.to_str().unwrap(), "--kind", "C", "--json"];
    let env = [("QRCA_CONFIG", "/nonexistent/qrca.toml")];
    let run = capped::run(env!("CARGO_BIN_EXE_qrca"), &args, &env);
    let json = serde_json::from_str(&run.stdout).unwrap_or_else(|_| {
        panic!(
            "{name}: no JSON on stdout (status {:?}); stderr: {}",
            run.code, run.stderr
        )
    });
    (run.code, json, run.stderr, run.cpu_s)
}

/// File, and a piece of the one sentence it must be refused with.
const REFUSED: [(&str, &str); 8] = [
    (
        "sparse-range.xlsx",
        "có dữ liệu ở ô XFD1048576, ngoài vùng một danh sách (tối đa 256 cột, 50.010 dòng)",
    ),
    ("shared-string-copies.xlsx", "có quá nhiều chữ"),
    (
        "sparse-repeat.ods",
        "có dữ liệu ở ô IW1, ngoài vùng một danh sách",
    ),
    (
        "many-rows.ods",
        "có dữ liệu ở ô IW1, ngoài vùng một danh sách",
    ),
    (
        "full-window.ods",
        "có quá nhiều ô: trang tính “DS” trải tới ô IV50000",
    ),
    ("truncated-table.ods", "bị hỏng"),
    (
        "sparse-range.xls",
        "có dữ liệu ở ô IV65536, ngoài vùng một danh sách",
    ),
    (
        "huge-dimensions.xls",
        "có quá nhiều ô: trang tính “DS” trải tới ô IV4294967295",
    ),
];

#[test]
fn hostile_workbooks_are_refused_in_bounded_memory() {
    let mut failures = Vec::new();
    for (name, says) in REFUSED {
        let (code, json, stderr, cpu_s) = roster_capped(name);
        let errors = json["errors"].as_array().cloned().unwrap_or_default();
        let ok = code == Some(1)
            && json["rows"].as_array().is_some_and(Vec::is_empty)
            && errors.len() == 1
            && errors[0]["row"].is_null()
            && errors[0]["column"].is_null()
            && errors[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("“{name}”")) && m.contains(says))
            && cpu_s < 10.0;
        if !ok {
            failures.push(format!(
                "{name}: exit {code:?} after {cpu_s:.2} s of CPU, {json}\n{stderr}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A LibreOffice file ends its table with huge repeated EMPTY rows and cells, which
/// calamine does not expand: such a file is read, not refused.
#[test]
fn empty_repeated_tail_is_read() {
    let (code, json, stderr, _) = roster_capped("empty-tail.ods");
    assert_eq!(code, Some(0), "{json} {stderr}");
    assert_eq!(json["rows"][0]["name"], "Nguyễn Văn An");
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(1));
}

/// Bidi overrides, isolates and zero-width characters are taken out of cells with a
/// warning; digits of other scripts are refused in names and ID numbers; fullwidth
/// digits in ID numbers and phones become ASCII.
#[test]
fn bidi_controls_and_foreign_digits() {
    let (code, json, stderr, _) = roster_capped("bidi-names.csv");
    assert_eq!(code, Some(1), "{json} {stderr}");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join("bidi-names.C.expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json, expected);
    // What the expected file says, spelled out.
    assert_eq!(json["rows"][0]["name"], "Nguyễn Văn An");
    assert_eq!(json["rows"][3]["id_number"], "001090000004");
    assert_eq!(json["rows"][3]["phone"], "0912345671");
    assert_eq!(json["rows"][5]["name"], "Đỗ Thị Dung");
    let rows_with = |list: &str, needle: &str| -> Vec<u64> {
        json[list]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["message"].as_str().unwrap().contains(needle))
            .map(|i| i["row"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(rows_with("errors", "không được chứa chữ số"), [3, 4]);
    assert_eq!(rows_with("errors", "chữ số 0–9"), [6]);
    assert_eq!(rows_with("warnings", "ký tự ẩn"), [2, 7, 7]);
}

/// The generator's files stay small enough to commit.
#[test]
fn fixtures_are_small() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            continue; // mail/: the mails that attach these files (tests/hostile_corpus.rs)
        }
        assert!(
            entry.metadata().unwrap().len() < 100_000,
            "{:?}",
            entry.path()
        );
        seen += 1;
    }
    assert!(
        seen >= REFUSED.len() + 2,
        "fixtures missing: run scripts/make-hostile-fixtures.py"
    );
}
