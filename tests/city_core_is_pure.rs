//! The city's decisions must stay pure like the workflow core (DESIGN.md §1): the files
//! of `src/city/core/`, `src/city/model.rs` and `src/city/publish.rs` name no runtime,
//! database, transport, filesystem, clock, environment or randomness, and reach only
//! into the pure parts of the crate (the city's own model and core, the workflow's data,
//! and the pure permit documents).

#![allow(clippy::unwrap_used)]

#[path = "support/sources.rs"]
mod sources;

use sources::{code_of, paths_from, sources, src_dir};

const FORBIDDEN_WORDS: &[&str] = &[
    "tokio",
    "sled",
    "lettre",
    "rand",
    "rand_core",
    "getrandom",
    "fastrand",
    "OsRng",
    "thread_rng",
    "SystemTime",
    "Instant",
    "UNIX_EPOCH",
    "async_imap",
    "mail_parser",
    "calamine",
    "printpdf",
];

const FORBIDDEN_PATHS: &[&str] = &[
    "std::fs",
    "std::net",
    "std::time",
    "std::env",
    "std::process",
    "std::io",
    "std::thread",
    "::now(",
];

/// The `crate::` paths the city's pure parts may name, by their leading segments.
const ALLOWED: &[&[&str]] = &[
    &["city", "model"],
    &["city", "core"],
    &["workflow"],
    &["permit", "signed"],
    &["permit", "trust"],
    &["permit", "payload"],
    &["permit", "checkpoint"],
];

fn impurities(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = code_of(line);
        let bad_word = code
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|w| FORBIDDEN_WORDS.contains(&w));
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let bad_path = FORBIDDEN_PATHS.iter().any(|p| compact.contains(p))
            || paths_from(&compact, "crate").iter().any(|path| {
                !ALLOWED.iter().any(|allowed| {
                    path.len() >= allowed.len() && path[..allowed.len()] == **allowed
                })
            });
        if bad_word || bad_path {
            found.push((n + 1, line.trim().to_string()));
        }
    }
    found
}

#[test]
fn the_checker_catches_impure_imports() {
    assert_eq!(impurities("use crate::city::store::Store;").len(), 1);
    assert_eq!(impurities("use crate::permit::pdf;").len(), 1);
    assert_eq!(impurities("let t = jiff::Timestamp::now();").len(), 1);
    assert!(impurities("use crate::permit::signed::{self, Activation};").is_empty());
    assert!(impurities("use crate::city::model::WardState;").is_empty());
}

#[test]
fn the_city_core_imports_no_io_clock_or_rng() {
    let city = src_dir().join("city");
    let mut files = sources(&city.join("core"));
    files.push(city.join("model.rs"));
    files.push(city.join("publish.rs"));
    let mut offences = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path).unwrap();
        for (line, text) in impurities(&source) {
            offences.push(format!("{}:{line}: {text}", path.display()));
        }
    }
    assert!(files.len() >= 5, "found only {} files", files.len());
    assert!(
        offences.is_empty(),
        "the city's core must stay pure:\n{}",
        offences.join("\n")
    );
}
