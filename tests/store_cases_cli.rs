//! `qrca cases list|show`: exact output for small cases, masked ID numbers and
//! phones, the empty database, an unknown code, and the binary end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;
use qrca::admin::cases::{list, show};
use qrca::store::{Outcome, SeenMarker, Store, Update};
use qrca::workflow::{
    AuditEntry, AuthEvidence, Batch, BatchRow, BatchStage, Case, DocumentRef, Effect, Kind,
    Organisation, Permit, Row, RowState,
};
use std::path::Path;
use std::process::Command;

const WARD: &str = "hoankiem.tranhungdao";
const OFFICER: &str = "canbo.thd@example.gov.vn";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn person(stt: u32, name: &str, id: &str) -> Row {
    Row {
        stt,
        sheet_row: stt + 1,
        name: Some(name.into()),
        id_number: Some(id.into()),
        phone: Some(format!("09123456{stt:02}")),
        ..Row::default()
    }
}

/// A T case with one batch in review: one row of each interesting state.
fn organisation_case() -> Case {
    let permit = Permit {
        id: "THD-T-0001-0001".into(),
        valid_from: jiff::civil::date(2021, 9, 7),
        valid_until: jiff::civil::date(2021, 9, 20),
        issued_at: ts("2021-09-07T04:00:00Z"),
        stamped_by: "congan.thd@example.gov.vn".into(),
    };
    Case {
        code: "THD-T-0001".into(),
        ward: WARD.into(),
        kind: Kind::T,
        serial: 1,
        opened_at: ts("2021-09-07T01:30:00Z"),
        updated_at: ts("2021-09-07T04:05:00Z"),
        opened_by: OFFICER.into(),
        organisation: Some(Organisation {
            name: "Công ty TNHH ABC".into(),
            email: "hr@abc.vn".into(),
            tax_code: Some("0101234567".into()),
            phone: Some("0241234567".into()),
            ..Organisation::default()
        }),
        area_police: vec!["cskv1.thd@example.gov.vn".into()],
        batches: vec![
            Batch {
                no: 1,
                received_at: ts("2021-09-07T02:00:00Z"),
                from: "hr@abc.vn".into(),
                file_name: "staff.xlsx".into(),
                documents: vec![DocumentRef {
                    name: "giayphep.pdf".into(),
                    size: 12345,
                    blob: "sha256-abc".into(),
                }],
                stage: BatchStage::Review,
                rows: vec![
                    BatchRow {
                        person: person(1, "Nguyễn Văn An", "001085012345").into(),
                        state: RowState::Issued(permit),
                    },
                    BatchRow {
                        person: person(2, "Trần Thị Bình", "123456789").into(),
                        state: RowState::Rejected {
                            by: OFFICER.into(),
                            at: ts("2021-09-07T03:00:00Z"),
                            reason: "sai ngày sinh".into(),
                        },
                    },
                    BatchRow {
                        person: person(3, "Lê Văn Cường", "079201009876").into(),
                        state: RowState::Pending,
                    },
                ],
            }
            .into(),
        ],
        tokens: vec![],
        last_holder: 1,
        revision: 0,
    }
}

fn household_case() -> Case {
    Case {
        code: "THD-H-0001".into(),
        ward: WARD.into(),
        kind: Kind::H,
        serial: 1,
        opened_at: ts("2021-09-08T00:00:00Z"),
        updated_at: ts("2021-09-08T00:00:00Z"),
        opened_by: "cskv1.thd@example.gov.vn".into(),
        organisation: None,
        area_police: vec![],
        batches: vec![],
        tokens: vec![],
        last_holder: 0,
        revision: 0,
    }
}

fn commit(store: &Store, uid: u32, case: Case, effects: Vec<Effect>) {
    let serial = case.serial;
    store
        .commit(
            &Update {
                seen: SeenMarker {
                    account: "qrca.hoankiem.tranhungdao1@gmail.com".into(),
                    uidvalidity: 1,
                    uid,
                    message_id: format!("<m{uid}@example.gov.vn>"),
                    sender: String::new(),
                    references: Vec::new(),
                    digest: String::new(),
                },
                outcome: Outcome::Applied {
                    case,
                    effects,
                    claimed_serial: Some(serial),
                },
            },
            ts("2021-09-08T00:00:00Z"),
        )
        .unwrap();
}

fn filled_store(dir: &Path) -> Store {
    let store = Store::open(dir).unwrap();
    let effects = vec![
        Effect::Audit(AuditEntry {
            at: ts("2021-09-07T01:30:00Z"),
            case: "THD-T-0001".into(),
            sender: OFFICER.into(),
            message_id: "<reg1@example.gov.vn>".into(),
            auth_evidence: AuthEvidence::Pass {
                authserv_id: "mx.google.com".into(),
                method: "dmarc".into(),
                domain: "example.gov.vn".into(),
            },
            decision: "registered the organisation".into(),
        }),
        Effect::Audit(AuditEntry {
            at: ts("2021-09-07T03:00:00Z"),
            case: "THD-T-0001".into(),
            sender: OFFICER.into(),
            message_id: "<dec1@example.gov.vn>".into(),
            auth_evidence: AuthEvidence::NotRequired,
            decision: "rejected row 2".into(),
        }),
    ];
    commit(&store, 1, organisation_case(), effects);
    commit(&store, 2, household_case(), vec![]);
    store
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn list_of_an_empty_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut out = Vec::new();
    list(&store, &mut out).unwrap();
    assert_eq!(text(out), "no cases yet\n");
}

#[test]
fn list_prints_one_line_per_case_sorted_by_code() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path());
    let mut out = Vec::new();
    list(&store, &mut out).unwrap();
    assert_eq!(
        text(out),
        "\
CODE        KIND  STAGE            PENDING  APPROVED  ISSUED  LAST CHANGE
THD-H-0001  H     awaiting roster        0         0       0  2021-09-08 00:00 UTC
THD-T-0001  T     review                 1         0       1  2021-09-07 04:05 UTC
"
    );
}

#[test]
fn show_prints_the_case_masked_and_its_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path());
    let mut out = Vec::new();
    assert!(show(&store, "THD-T-0001", &mut out).unwrap());
    let got = text(out);
    assert_eq!(
        got,
        "\
Case THD-T-0001: organisation (T), ward hoankiem.tranhungdao
Opened 2021-09-07 01:30 UTC by canbo.thd@example.gov.vn; last change 2021-09-07 04:05 UTC
Stage: review; rows: 1 pending, 0 approved, 1 issued, 1 rejected, 0 revoked, 0 reported as duplicates
Organisation: Công ty TNHH ABC <hr@abc.vn>
  Tax code: 0101234567
  Phone: ******4567
Area police: cskv1.thd@example.gov.vn

Batch 1: staff.xlsx from hr@abc.vn, received 2021-09-07 02:00 UTC, stage review
  Documents: giayphep.pdf (12345 bytes)
  STT  NAME           ID NUMBER     STATE     DETAIL
    1  Nguyễn Văn An  ********2345  issued    THD-T-0001-0001, valid 2021-09-07 to 2021-09-20
    2  Trần Thị Bình  *****6789     rejected  sai ngày sinh (by canbo.thd@example.gov.vn, 2021-09-07 03:00 UTC)
    3  Lê Văn Cường   ********9876  pending

Audit trail:
  2021-09-07 01:30 UTC  canbo.thd@example.gov.vn  registered the organisation
      Message-ID <reg1@example.gov.vn>; auth: dmarc=pass for example.gov.vn by mx.google.com
  2021-09-07 03:00 UTC  canbo.thd@example.gov.vn  rejected row 2
      Message-ID <dec1@example.gov.vn>; auth: not required by config
"
    );
    // No ID number or phone in full, anywhere.
    for secret in [
        "001085012345",
        "123456789",
        "079201009876",
        "0241234567",
        "0912345601",
    ] {
        assert!(!got.contains(secret), "{secret} printed in full");
    }
}

#[test]
fn show_of_a_case_without_batches_or_audit() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path());
    let mut out = Vec::new();
    // Admins type codes in any case.
    assert!(show(&store, "thd-h-0001", &mut out).unwrap());
    assert_eq!(
        text(out),
        "\
Case THD-H-0001: household market cards (H), ward hoankiem.tranhungdao
Opened 2021-09-08 00:00 UTC by cskv1.thd@example.gov.vn; last change 2021-09-08 00:00 UTC
Stage: awaiting roster; rows: 0 pending, 0 approved, 0 issued, 0 rejected, 0 revoked, 0 reported as duplicates
Area police: none

Audit trail: none
"
    );
}

#[test]
fn show_of_an_unknown_code_prints_nothing_and_says_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = filled_store(dir.path());
    let mut out = Vec::new();
    assert!(!show(&store, "THD-T-0099", &mut out).unwrap());
    assert!(out.is_empty());
}

/// A valid one-ward config whose state lives in `dir/state`. The signing key need
/// not exist for `cases`, and the account's password comes from the environment.
fn config_for(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("qrca.toml");
    std::fs::write(
        &path,
        r#"[service]
state_dir = "state"
admin_email = "admin@example.gov.vn"

[[ward]]
code = "hoankiem.tranhungdao"
short = "THD"
name = "Phường Trần Hưng Đạo"
district = "Quận Hoàn Kiếm"
signing_key = "keys/thd.key"
officers = ["canbo.thd@example.gov.vn"]
police = ["congan.thd@example.gov.vn"]
area_police = ["cskv1.thd@example.gov.vn"]

[[ward.account]]
address = "qrca.hoankiem.tranhungdao1@gmail.com"
password_env = "QRCA_THD1"
"#,
    )
    .unwrap();
    path
}

#[test]
fn the_binary_lists_shows_and_fails_on_an_unknown_code() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path());
    drop(filled_store(&dir.path().join("state")));
    let qrca = env!("CARGO_BIN_EXE_qrca");

    let out = Command::new(qrca)
        .args(["cases", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(out.stderr));
    let stdout = text(out.stdout);
    assert!(stdout.starts_with("CODE "), "{stdout}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");

    let out = Command::new(qrca)
        .args(["cases", "--config"])
        .arg(&config)
        .args(["show", "THD-T-0001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(out.stderr));
    assert!(text(out.stdout).contains("********2345"));

    let out = Command::new(qrca)
        .args(["cases", "--config"])
        .arg(&config)
        .args(["show", "THD-T-0099"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = text(out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no case THD-T-0099"), "{stderr}");

    let missing = dir.path().join("missing.toml");
    let out = Command::new(qrca)
        .args(["cases", "--config"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(out.stderr);
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
}

/// Root on a state directory that belongs to the daemon's user (the package's `qrca`)
/// would leave files there the daemon cannot write: `sudo qrca cases` with the daemon
/// stopped is refused, naming `sudo -u qrca`, and the directory is left as it was.
/// (The rule is root's: CI and scripts/test.sh run as root; elsewhere this test checks
/// that a user's own directory still opens.)
#[test]
fn root_does_not_open_a_state_directory_of_another_user() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path());
    let state = dir.path().join("state");
    drop(filled_store(&state));
    let root = std::fs::metadata(dir.path()).unwrap().uid() == 0;
    if root {
        // nobody (65534) stands in for qrca; the test machines have no qrca user.
        for entry in walk(&state) {
            std::os::unix::fs::lchown(&entry, Some(65534), Some(65534)).unwrap();
        }
    }
    let before = walk(&state);
    let out = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["cases", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = text(out.stderr);
    if root {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("uid 65534"), "{stderr}");
        assert!(stderr.contains("sudo -u qrca qrca"), "{stderr}");
        assert_eq!(
            walk(&state),
            before,
            "the refused command changed the directory"
        );
    } else {
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    }
}

/// Every path under `dir` (itself included), sorted.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            let mut children: Vec<_> = std::fs::read_dir(&out[i])
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            children.sort();
            out.extend(children);
        }
        i += 1;
    }
    out.sort();
    out
}
