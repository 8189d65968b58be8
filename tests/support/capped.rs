//! Running what was built to exhaust memory or CPU in a child process under limits
//! (`prlimit` from util-linux), measured by GNU time (package `time`): a regression
//! then fails its test instead of taking the machine down with it.
//!
//! Two ways in: [`run`] for any program (the built `qrca`), and [`in_child`] for a test
//! that re-runs itself, with one input named in an environment variable.
#![allow(dead_code, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::process::Command;

/// The issue-11 limits: an address space of 1 GB, and CPU seconds generous for a
/// debug build (SPEC §8's 2 s is for the release build).
pub const ADDRESS_SPACE: u64 = 1 << 30;
pub const CPU_LIMIT_S: u32 = 30;
/// What one input may use at its peak: SPEC §8's 256 MB.
pub const PEAK_RSS_KB: u64 = 256 * 1024;

/// What a capped child did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub peak_rss_kb: u64,
    pub cpu_s: f64,
}

/// `program args…` under the limits, with `envs` set.
pub fn run<S: AsRef<OsStr>>(program: impl AsRef<OsStr>, args: &[S], envs: &[(&str, &str)]) -> Run {
    let out = Command::new("prlimit")
        .arg(format!("--as={ADDRESS_SPACE}"))
        .arg(format!("--cpu={CPU_LIMIT_S}"))
        .args(["--", "/usr/bin/time", "-f", "qrca-rusage %M %U %S"])
        .arg(program)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("prlimit (util-linux) and /usr/bin/time (time): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let usage: Vec<f64> = stderr
        .lines()
        .find_map(|l| l.strip_prefix("qrca-rusage "))
        .map(|l| l.split(' ').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        peak_rss_kb: usage.first().copied().unwrap_or(0.0) as u64,
        cpu_s: usage.get(1).copied().unwrap_or(0.0) + usage.get(2).copied().unwrap_or(0.0),
    }
}

/// The environment variable that tells a re-run test it is the capped child, and what
/// it is to do.
pub const CHILD: &str = "QRCA_TEST_UNDER_PRLIMIT";

/// In the capped child, the value [`in_child`] was given; in the parent, `None`.
pub fn child_input() -> Option<String> {
    std::env::var(CHILD).ok()
}

/// Re-runs the test `test` of this test binary, alone, under the limits, with
/// [`CHILD`] set to `input`; panics unless it passed.
pub fn in_child(test: &str, input: &str) -> Run {
    let me = std::env::current_exe().unwrap();
    let run = run(me, &["--exact", test, "--nocapture"], &[(CHILD, input)]);
    assert!(
        run.code == Some(0) && run.stdout.contains("1 passed"),
        "{test} on {input}: exit {:?}\n{}{}",
        run.code,
        run.stdout,
        run.stderr
    );
    run
}
