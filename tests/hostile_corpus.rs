//! Issue 11's hostile corpus: whole mails an attacker could send to a ward's public
//! address (`tests/fixtures/hostile/mail/`, written by `scripts/make-hostile-mails.py`),
//! each taken in through the daemon's whole intake (`qrca intake`: parse, gate, the
//! core, one commit) in a child process under an address-space limit of 1 GB and a CPU
//! limit, so that a mail which still exhausts memory fails this test instead of taking
//! the machine down. Each must end in the outcome the table says, within SPEC §8's
//! 256 MB, and the ordinary mail taken in after it must be applied.

#![allow(clippy::unwrap_used)]

#[path = "support/capped.rs"]
mod capped;
#[path = "support/ward_config.rs"]
mod ward_config;

use capped::{PEAK_RSS_KB, Run};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use ward_config::{WardSpec, write_config};

const ACCOUNT: &str = "qrca.hoankiem.tranhungdao1@gmail.com";
const OFFICER: &str = "canbo.an@hoankiem.hanoi.gov.vn";

const THD: WardSpec<'static> = WardSpec {
    code: "hoankiem.tranhungdao",
    short: "THD",
    name: "Phường Trần Hưng Đạo",
    officers: &[OFFICER],
    police: &["congan.thd@hoankiem.hanoi.gov.vn"],
    area_police: &["cskv.thd@hoankiem.hanoi.gov.vn"],
    accounts: &[ACCOUNT],
};

/// (file stem, what `qrca intake` must print first).
const CORPUS: &[(&str, &str)] = &[
    ("auth-below-forged", "refused (NotAuthenticated)"),
    ("bidi-names-csv", "applied"),
    ("bidi-subject-and-from", "refused (NotPermitted)"),
    ("broken-base64", "applied"),
    ("comment-auth-forgery", "refused (NotAuthenticated)"),
    ("csv-one-huge-line", "applied"),
    ("csv-row-flood", "applied"),
    ("deep-html", "refused (NoToken)"),
    ("deep-mime", "refused (NoToken)"),
    ("encoded-word-flood", "refused (NoSuchCase)"),
    ("forged-organisation-roster", "refused (NotAuthenticated)"),
    ("forwarded-review-request", "refused (NotPermitted)"),
    ("html-element-flood", "refused (NotPermitted)"),
    ("huge-dimensions-xls", "applied"),
    ("huge-header", "refused (NoSuchCase)"),
    ("long-line-no-newline", "refused (NotPermitted)"),
    ("many-content-type-params", "refused (NoSuchCase)"),
    ("many-rows-ods", "applied"),
    (
        "nested-rfc822",
        "not taken in: an organisation registration that cannot be read",
    ),
    ("not-a-mail", "not taken in: unreadable mail"),
    ("nul-bytes-in-headers", "refused (NotAuthenticated)"),
    ("quoted-auth-forgery", "refused (NotAuthenticated)"),
    ("registration-label-flood", "applied"),
    ("revoke-flood", "applied"),
    ("row-list-flood", "refused (NoToken)"),
    ("shared-strings-xlsx", "applied"),
    ("sparse-range-xls", "applied"),
    ("sparse-range-xlsx", "applied"),
    ("sparse-range-xlsx-stranger", "refused (NotPermitted)"),
    ("sparse-repeat-ods", "applied"),
    ("thousands-of-recipients", "refused (NotPermitted)"),
    ("unclosed-boundary", "refused (NotPermitted)"),
    ("utf16-text-attachment", "applied"),
    ("wide-html", "refused (NotPermitted)"),
    ("wide-mime", "refused (NotPermitted)"),
    ("zip-bomb-xlsx", "applied"),
    ("zip-path-escape", "applied"),
];

/// `qrca intake FILE --account ACCOUNT` in a child under the limits.
fn intake(config: &Path, file: &Path) -> Run {
    let args = [
        OsStr::new("intake"),
        file.as_os_str(),
        OsStr::new("--account"),
        OsStr::new(ACCOUNT),
        OsStr::new("--config"),
        config.as_os_str(),
    ];
    capped::run(env!("CARGO_BIN_EXE_qrca"), &args, &[("QRCA_LOG", "warn")])
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/mail")
}

/// An officer's registration of a new organisation: the ordinary mail after each.
fn ordinary(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join(format!("ordinary-{n}.eml"));
    let text = format!(
        "Delivered-To: {ACCOUNT}\r\n\
         Authentication-Results: mx.google.com; dkim=pass header.i=@hoankiem.hanoi.gov.vn; dmarc=pass (p=REJECT) header.from=hoankiem.hanoi.gov.vn\r\n\
         From: <{OFFICER}>\r\nTo: <{ACCOUNT}>\r\n\
         Subject: =?UTF-8?B?xJDEgk5HIEvDnSBU4buUIENI4buoQw==?=\r\n\
         Date: Mon, 23 Aug 2021 08:00:00 +0700\r\nMessage-ID: <ordinary-{n}@hoankiem.hanoi.gov.vn>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n\
         Tên tổ chức: Công ty số {n}\r\nEmail: nhansu{n}@congty.example.vn\r\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_hostile_mail_gets_its_outcome_within_bounds_and_the_next_mail_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &[THD], true);
    let config = dir.path().join("qrca.toml");
    let on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".eml")
                .map(str::to_owned)
        })
        .collect();
    assert!(
        on_disk.len() >= 30,
        "the corpus has {} mails",
        on_disk.len()
    );
    for stem in &on_disk {
        assert!(
            CORPUS.iter().any(|(s, _)| s == stem),
            "{stem}.eml has no expected outcome in the table"
        );
    }
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (n, (stem, expected)) in CORPUS.iter().enumerate() {
        let file = corpus_dir().join(format!("{stem}.eml"));
        let run = intake(&config, &file);
        report.push(format!(
            "{stem:32} {:>7.1} MB {:>6.2} s  {}",
            run.peak_rss_kb as f64 / 1024.0,
            run.cpu_s,
            run.stdout.trim()
        ));
        if run.code != Some(0) || !run.stdout.starts_with(expected) {
            failures.push(format!(
                "{stem}: expected {expected:?}, exit {:?}\n{}{}",
                run.code, run.stdout, run.stderr
            ));
            continue;
        }
        if run.peak_rss_kb > PEAK_RSS_KB {
            failures.push(format!("{stem}: peak RSS {} KB", run.peak_rss_kb));
        }
        let next = intake(&config, &ordinary(dir.path(), n));
        if !next.stdout.starts_with("applied") {
            failures.push(format!(
                "{stem}: the ordinary mail after it was not applied: {}{}",
                next.stdout, next.stderr
            ));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
