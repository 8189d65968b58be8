//! `qrca manual` (issue 18): the man pages and bash completions the Debian package will
//! install, generated from the command line's definitions: a page for `qrca` and for
//! every visible subcommand, each one `man` renders, and completions bash loads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_pages_and_completions_are_generated_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["manual", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let man = dir.path().join("man");
    for page in [
        "qrca.1",
        "qrca-run.1",
        "qrca-check.1",
        "qrca-print-retry.1",
        "qrca-explain.1",
        "qrca-standby.1",
        "qrca-takeover.1",
        "qrca-city-run.1",
    ] {
        assert!(man.join(page).exists(), "{page}");
    }
    assert!(
        !man.join("qrca-manual.1").exists(),
        "the hidden command has no page"
    );
    // man renders them (the package's `man -w qrca` finds them once installed).
    let shown = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(man.join("qrca-print.1"))
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(text.contains("qrca-print"), "{text}");
    assert!(text.contains("retry"), "{text}");
    // bash loads the completions and completes the subcommands.
    let file = dir.path().join("completions/qrca.bash");
    let script = format!(
        "source {} && COMP_WORDS=(qrca pri) COMP_CWORD=1 && _qrca qrca pri qrca && echo \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let completed = Command::new("bash").args(["-c", &script]).output().unwrap();
    let words = String::from_utf8_lossy(&completed.stdout);
    assert!(
        words.split_whitespace().any(|w| w == "print"),
        "{words}{}",
        String::from_utf8_lossy(&completed.stderr)
    );
}
