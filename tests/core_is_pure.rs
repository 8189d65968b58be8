//! The workflow core must stay pure (DESIGN.md §1): no async runtime, database, mail
//! transport, filesystem, network, clock, environment or randomness, and no reach into
//! the modules at the edge. This test reads its sources and fails the build otherwise.

#[path = "support/sources.rs"]
mod sources;

use sources::{paths_from, sources};
use std::path::Path;

/// Identifiers that may not appear in the core's code.
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

/// Paths and calls that may not appear in the core's code.
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

/// The crate modules the core may name: itself only. Every other `crate::` path (a
/// module at the edge, `crate::{store, …}`, a re-export at the root) is an offence.
const ALLOWED_CRATE_MODULES: &[&str] = &["workflow"];

/// The first segment of every `crate::` path in `compact` (code without whitespace),
/// the items of a `crate::{a, b::c}` group each counted.
fn crate_modules(compact: &str) -> Vec<String> {
    paths_from(compact, "crate")
        .into_iter()
        .filter_map(|path| path.into_iter().next())
        .collect()
}

/// The offending (line number, line) pairs of one source file.
fn impurities(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in source.lines().enumerate() {
        // Comments may talk about what the core does not do.
        let code = line.split("//").next().unwrap_or("");
        let words = code
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty());
        let bad_word = words.into_iter().any(|w| FORBIDDEN_WORDS.contains(&w));
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let bad_path = FORBIDDEN_PATHS.iter().any(|p| compact.contains(p))
            || crate_modules(&compact)
                .iter()
                .any(|m| !ALLOWED_CRATE_MODULES.contains(&m.as_str()));
        if bad_word || bad_path {
            found.push((n + 1, line.trim().to_string()));
        }
    }
    found
}

#[test]
fn the_checker_catches_impure_imports() {
    assert_eq!(impurities("use std::fs::File;").len(), 1);
    assert_eq!(impurities("use tokio::sync::mpsc;").len(), 1);
    assert_eq!(impurities("let t = jiff::Timestamp::now();").len(), 1);
    assert_eq!(impurities("let r = rand::random::<u8>();").len(), 1);
    assert_eq!(impurities("use crate::store::Store;").len(), 1);
    assert_eq!(impurities("use std :: net :: TcpStream;").len(), 1);
    assert!(impurities("// the core never touches std::fs or tokio").is_empty());
    // Any module but the core's own, however the path is written.
    assert_eq!(impurities("use crate::{store, workflow::Case};").len(), 1);
    assert_eq!(
        impurities("use crate::{workflow::Case, inbound::mail};").len(),
        1
    );
    assert_eq!(impurities("use crate :: outbound :: render;").len(), 1);
    assert_eq!(impurities("let k = crate::keys::load(p);").len(), 1);
    assert_eq!(impurities("use crate::permit::{pdf, qr};").len(), 1);
    assert!(impurities("use crate::workflow::{Case, Kind};").is_empty());
    assert!(impurities("use crate::{workflow::Case, workflow::Kind};").is_empty());
    assert!(impurities("let operand = brand + random_name;").is_empty());
}

#[test]
fn the_workflow_core_imports_no_io_clock_or_rng() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/workflow");
    let files = sources(&dir);
    let mut offences = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
        for (line, text) in impurities(&source) {
            offences.push(format!("{}:{line}: {text}", path.display()));
        }
    }
    assert!(
        files.len() >= 3,
        "found only {} source files in {}",
        files.len(),
        dir.display()
    );
    assert!(
        offences.is_empty(),
        "the workflow core must stay pure:\n{}",
        offences.join("\n")
    );
}
