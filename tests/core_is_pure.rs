//! The workflow core must stay pure (DESIGN.md §1): no async runtime, database, mail
//! transport, filesystem, network, clock, environment or randomness, and no reach into
//! the modules at the edge. This test reads its sources and fails the build otherwise.

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
    "crate::store",
    "crate::config",
    "crate::engine",
    "crate::cli",
    "crate::demo",
];

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
        let bad_path = FORBIDDEN_PATHS.iter().any(|p| compact.contains(p));
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
    assert!(impurities("let operand = brand + random_name;").is_empty());
}

#[test]
fn the_workflow_core_imports_no_io_clock_or_rng() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/workflow");
    let mut files = 0;
    let mut offences = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.extension().is_some_and(|e| e == "rs") {
            files += 1;
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
            for (line, text) in impurities(&source) {
                offences.push(format!("{}:{line}: {text}", path.display()));
            }
        }
    }
    assert!(
        files >= 3,
        "found only {files} source files in {}",
        dir.display()
    );
    assert!(
        offences.is_empty(),
        "the workflow core must stay pure:\n{}",
        offences.join("\n")
    );
}
