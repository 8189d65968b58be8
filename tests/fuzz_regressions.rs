//! Inputs the fuzz targets in `fuzz/` found, replayed through the same entry points
//! (see `tests/fixtures/fuzz/README.md`). Every file must go through without a panic,
//! under 256 MB and 5 s of CPU (each in a capped child process). A folder with no
//! inputs passes: the fuzzers found nothing yet.

use jiff::civil::date;
use qrca::config::RosterSettings;
use qrca::inbound::{commands, mail, reply};
use qrca::roster::{Limits, read_roster};
use qrca::workflow::Kind;
use std::path::{Path, PathBuf};

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

/// Each input runs in a child of this test binary under an address-space limit of
/// 1 GB and a CPU limit (`support/capped.rs`): some of them once made the process
/// allocate gigabytes, and a regression must fail the test, not take the machine down.
/// In the child, it must end within SPEC §8's 256 MB, and without a panic.
fn replay(target: &str, run: impl Fn(&[u8])) {
    if let Some(path) = capped::child_input() {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        run(&bytes);
        return;
    }
    for path in inputs(target) {
        let shown = path.display().to_string();
        let child = capped::in_child(&format!("{target}_inputs"), &shown);
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

#[test]
fn mime_inputs() {
    replay("mime", |bytes| {
        let trusted = ["mx.google.com".to_string()];
        if let Ok(mail) = mail::parse_mail(bytes, &trusted) {
            let words = reply::own_words(&mail.text);
            let _ = commands::parse_reply(&words);
            if let Some(html) = &mail.html {
                let _ = commands::parse_reply(&reply::own_words_html(html));
            }
            let _ = commands::registration_kind(&mail.subject);
            let _ = commands::case_code_in_subject(&mail.subject);
        }
    });
}

#[test]
fn commands_inputs() {
    replay("commands", |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let words = reply::own_words(&text);
        let _ = commands::parse_reply(&words);
        let _ = commands::parse_registration(&words);
        let _ = commands::parse_registration(&text);
        let _ = commands::parse_reply(&reply::own_words_html(&text));
        let subject = text.lines().next().unwrap_or("");
        let _ = commands::registration_kind(subject);
        let _ = commands::case_code_in_subject(subject);
    });
}

#[test]
fn roster_inputs() {
    replay("roster", |bytes| {
        let settings = RosterSettings::default();
        let limits = Limits::default();
        for kind in Kind::ALL {
            let _ = read_roster(
                bytes,
                "fuzz.xlsx",
                kind,
                &settings,
                date(2026, 11, 25),
                &limits,
            );
        }
    });
}
