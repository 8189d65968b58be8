//! The `qrca` binary: `check` exit codes and output, `accounts suggest` output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config_support;

use config_support::{Fixture, VALID, edit};
use std::process::{Command, Output};

fn qrca(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(args)
        .env_remove("QRCA_CONFIG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn check_a_valid_config_exits_0() {
    let fixture = Fixture::new();
    let path = fixture.write_config(VALID);
    let out = qrca(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{}: valid (2 wards, 6 accounts)\n", path.display())
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn check_reads_qrca_config_from_the_environment() {
    let fixture = Fixture::new();
    let path = fixture.write_config(VALID);
    let out = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .arg("check")
        .env("QRCA_CONFIG", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{}: valid (2 wards, 6 accounts)\n", path.display())
    );
}

#[test]
fn check_prints_warnings_and_still_exits_0() {
    let fixture = Fixture::new();
    let text = edit(&[(
        "address = \"qrca.dongda.quoctugiam1@gmail.com\"",
        "address = \"phuongqtg@gmail.com\"",
    )]);
    let path = fixture.write_config(&text);
    let out = qrca(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "warning: {}:42:11: key \"address\" in [[ward.account]]: \"phuongqtg@gmail.com\" does not follow",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(
        stdout(&out),
        format!("{}: valid (2 wards, 6 accounts)\n", path.display())
    );
}

#[test]
fn check_an_invalid_config_lists_every_error_and_exits_1() {
    let fixture = Fixture::new();
    let text = edit(&[
        ("daily_send_limit = 500", "imap_host = \"x\""),
        ("valid_days = 14", "valid_day = 14"),
        ("short = \"QTG\"", "short = \"THD\""),
    ]);
    let path = fixture.write_config(&text);
    let p = path.display();
    let out = qrca(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!(
            "error: {p}:5:1: unknown key \"imap_host\" in [mail]; expected one of imap, smtp, ca_file, daily_send_limit, max_message_bytes, processed_folder, quarantine_folder, answers_per_sender_per_day, trusted_authserv_ids\n\
             error: {p}:8:1: unknown key \"valid_day\" in [permits]; expected one of paper, valid_days, valid_until, max_valid_days, printers, print_kinds\n\
             error: {p}:34:9: key \"short\" in [[ward]]: short code \"THD\" is already used by the ward at line 12\n\
             {p}: invalid (3 errors)\n"
        )
    );
}

#[test]
fn check_a_secret_readable_by_others_exits_1() {
    let fixture = Fixture::new();
    fixture.chmod("secrets/qtg2", 0o644);
    let path = fixture.write_config(VALID);
    let out = qrca(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let secret = fixture.root().join("secrets/qtg2");
    assert!(
        stderr(&out).contains(&format!(
            "secret file {} is mode 0644; it must not be readable by group or others (chmod 600)",
            secret.display()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_an_unreadable_config_exits_2() {
    let fixture = Fixture::new();
    let path = fixture.root().join("missing.toml");
    let out = qrca(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: cannot read the config file {}: ",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn accounts_suggest_prints_three_addresses() {
    let out = qrca(&[
        "accounts",
        "suggest",
        "--district",
        "Quận Hoàn Kiếm",
        "--ward",
        "Phường Trần Hưng Đạo",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "qrca.hoankiem.tranhungdao1@gmail.com\n\
         qrca.hoankiem.tranhungdao2@gmail.com\n\
         qrca.hoankiem.tranhungdao3@gmail.com\n"
    );
    assert_eq!(stderr(&out), "");

    let out = qrca(&[
        "accounts",
        "suggest",
        "--district",
        "Thị xã Sơn Tây",
        "--ward",
        "Xã Đường Lâm",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "qrca.sontay.duonglam1@gmail.com\nqrca.sontay.duonglam2@gmail.com\nqrca.sontay.duonglam3@gmail.com\n"
    );
}

#[test]
fn accounts_suggest_refuses_a_name_that_folds_to_nothing() {
    let out = qrca(&[
        "accounts",
        "suggest",
        "--district",
        "Quận Hoàn Kiếm",
        "--ward",
        "???",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "error: the ward name \"???\" has no letters or digits left once folded to ASCII; give the name as written, e.g. \"Phường Trần Hưng Đạo\"\n"
    );
}
