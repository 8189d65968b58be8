//! `qrca roster`: exit codes 0/1/2, SPEC §4's JSON on stdout, config synonyms.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config_support;

use config_support::{Fixture, VALID};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rosters")
        .join(name)
}

fn qrca(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(args)
        // No config anywhere: the command must still work, without synonyms.
        .env("QRCA_CONFIG", "/nonexistent/qrca.toml")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn clean_roster_exits_0_with_specs_json() {
    let path = fixture("h-windows-1258.csv");
    let out = qrca(&["roster", path.to_str().unwrap(), "--kind", "H", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("h-windows-1258.H.expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json, expected);
    assert!(text(&out.stdout).starts_with(r#"{"rows":[{"stt":1,"sheet_row":2,"#));
    assert_eq!(
        text(&out.stderr).matches("no config file").count(),
        1,
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn errors_exit_1_and_the_table_lists_them_by_row() {
    let path = fixture("t-title-merged.xlsx");
    let out = qrca(&["roster", path.to_str().unwrap(), "--kind", "T"]);
    assert_eq!(out.status.code(), Some(1));
    let table = text(&out.stdout);
    assert!(
        table.contains("Nguyễn Văn An") && table.contains("********1234"),
        "{table}"
    );
    assert!(
        !table.contains("001090001234"),
        "ID numbers are masked: {table}"
    );
    assert!(
        table.contains("dòng 11, cột “Email”: Địa chỉ email không hợp lệ."),
        "{table}"
    );
}

#[test]
fn unreadable_file_exits_1_and_missing_path_exits_2() {
    let path = fixture("t-really-a-pdf.xlsx");
    let out = qrca(&["roster", path.to_str().unwrap(), "--kind", "T", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["errors"][0]["row"], serde_json::Value::Null);
    let out = qrca(&["roster", "/nonexistent/ds.xlsx", "--kind", "T"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read the roster file /nonexistent/ds.xlsx"));
}

#[test]
fn synonyms_come_from_the_config() {
    let fx = Fixture::new();
    let config = fx.write_config(&format!(
        "{VALID}\n[roster.synonyms]\nname = [\"Tên nhân viên\"]\n"
    ));
    let roster = fx.root().join("ds.csv");
    std::fs::write(
        &roster,
        "Tên nhân viên,CCCD,Ngày sinh\nAn,001090000001,01/01/1990\n",
    )
    .unwrap();
    let out = qrca(&[
        "roster",
        roster.to_str().unwrap(),
        "--kind",
        "T",
        "--json",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["rows"][0]["name"], "An");
    // Without the config the column is unknown: a whole-file error.
    let out = qrca(&["roster", roster.to_str().unwrap(), "--kind", "T", "--json"]);
    assert_eq!(out.status.code(), Some(1));
}

#[path = "support/demo_world.rs"]
mod demo_world;

/// With a config and its database, an ID number that holds an active permit of the
/// ward is an error, as when the daemon reads the roster (issue 17, item 8); asked of
/// the database here (no daemon runs).
#[test]
fn an_id_that_holds_an_active_permit_of_the_ward_is_an_error() {
    use qrca::store::{Committed, Outcome, SeenMarker, Store, Update};
    use qrca::workflow::{Effect, IssuedPermit, RowState};
    let dir = tempfile::tempdir().unwrap();
    let config_path = demo_world::demo_world(dir.path());
    let config = qrca::config::load(&config_path).unwrap().config;
    // One permit of the demo made valid until 2099, so that it is active today.
    let holder = {
        let store = Store::open(&config.service.state_dir).unwrap();
        let mut case = store
            .cases()
            .unwrap()
            .into_iter()
            .find(|c| {
                c.batches.iter().any(|b| {
                    b.rows
                        .iter()
                        .any(|r| matches!(r.state, RowState::Issued(_)))
                })
            })
            .unwrap();
        let mut holder = String::new();
        let mut issued = None;
        for batch in &mut case.batches {
            let no = batch.no;
            let batch = std::sync::Arc::make_mut(batch);
            for row in &mut batch.rows {
                if let RowState::Issued(permit) = &mut row.state
                    && holder.is_empty()
                {
                    permit.valid_until = jiff::civil::date(2099, 12, 31);
                    holder = row.person.id_number.clone().unwrap();
                    issued = Some(Effect::IssuePermits {
                        case: case.code.clone(),
                        batch: no,
                        rows: vec![IssuedPermit {
                            stt: row.person.stt,
                            permit: permit.id.clone(),
                        }],
                    });
                }
            }
        }
        let update = Update {
            seen: SeenMarker {
                account: config.wards[0].accounts[0].address.clone(),
                uidvalidity: 1,
                uid: 999_999,
                message_id: "<roster-cli-test@example.test>".into(),
                sender: "test@example.test".into(),
                references: Vec::new(),
                digest: String::new(),
            },
            outcome: Outcome::Applied {
                case,
                effects: vec![issued.unwrap()],
                claimed_serial: None,
            },
        };
        let committed = store.commit(&update, jiff::Timestamp::now()).unwrap();
        assert!(matches!(committed, Committed::Applied { .. }));
        holder
    };
    let roster = dir.path().join("ds.csv");
    std::fs::write(
        &roster,
        format!("Họ và tên,CCCD,Ngày sinh\nAn,{holder},01/01/1990\nBình,001090999999,02/02/1990\n"),
    )
    .unwrap();
    let out = qrca(&[
        "roster",
        roster.to_str().unwrap(),
        "--kind",
        "T",
        "--config",
        config_path.to_str().unwrap(),
    ]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}{}", text(&out.stderr));
    assert!(said.contains("1 lỗi"), "{said}");
    assert!(said.contains("dòng 2"), "{said}");
    // Without a database to ask, the same file has no error on that row.
    let out = qrca(&["roster", roster.to_str().unwrap(), "--kind", "T"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        !text(&out.stdout).contains("dòng 2,"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn dates_are_judged_on_the_day_the_list_is_checked_by_the_configs_rules() {
    // Issue 15, as the daemon does it: today in the service's time zone, and the
    // config's `max_valid_days` (20 here). An end already past and a span over 20 days
    // are errors of their row's "Đến ngày"; an end today is fine.
    let fx = Fixture::new();
    let config = fx.write_config(&VALID.replace(
        "valid_days = 14\n",
        "valid_days = 14\nmax_valid_days = 20\n",
    ));
    let today = jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh")
        .unwrap()
        .to_datetime(jiff::Timestamp::now())
        .date();
    let dmy = |d: jiff::civil::Date| d.strftime("%d/%m/%Y").to_string();
    let in_25_days = today.checked_add(jiff::Span::new().days(25)).unwrap();
    let roster = fx.root().join("ds.csv");
    std::fs::write(
        &roster,
        format!(
            "STT,Họ và tên,CCCD/CMND,Ngày sinh,Lý do,Từ ngày,Đến ngày\n\
             1,An,001090000001,01/01/1990,Đi làm,,20/09/2021\n\
             2,Bình,001090000002,01/01/1990,Đi làm,{},{}\n\
             3,Cường,001090000003,01/01/1990,Đi làm,,{}\n",
            dmy(today),
            dmy(in_25_days),
            dmy(today)
        ),
    )
    .unwrap();
    let out = qrca(&[
        "roster",
        roster.to_str().unwrap(),
        "--kind",
        "C",
        "--json",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors = json["errors"].as_array().unwrap();
    let at: Vec<(u64, &str)> = errors
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert_eq!(at, [(2, "Đến ngày"), (3, "Đến ngày")], "{errors:?}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("20/09/2021 đã qua"),
        "{errors:?}"
    );
    assert_eq!(
        errors[1]["message"],
        format!(
            "Giấy chỉ được có hiệu lực tối đa 20 ngày; từ {} đến {} là 26 ngày.",
            dmy(today),
            dmy(in_25_days)
        )
    );
    assert_eq!(json["rows"][2]["valid_until"], today.to_string());
}

/// Issue 18: `qrca roster template` writes a blank list of each kind that qrca itself
/// reads back without an error: the header row and one example row with the kind's
/// own columns; it never writes over a file.
#[test]
fn the_template_of_each_kind_reads_back_clean() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, own) in [
        ("T", "\"position\""),
        ("C", "\"reason\""),
        ("H", "\"market\""),
    ] {
        let file = dir.path().join(format!("mau-{kind}.xlsx"));
        let path = file.to_str().unwrap();
        let out = qrca(&["roster", "template", "--kind", kind, "--out", path]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let read = qrca(&["roster", path, "--kind", kind, "--json"]);
        assert_eq!(read.status.code(), Some(0), "{}", text(&read.stderr));
        let json: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
        assert_eq!(json["rows"].as_array().unwrap().len(), 1, "{json}");
        assert!(json["errors"].as_array().unwrap().is_empty(), "{json}");
        assert!(json["rows"][0].to_string().contains(own), "{kind}: {json}");
        // Never over a file: the admin's own list may be there.
        let again = qrca(&["roster", "template", "--kind", kind, "--out", path]);
        assert_eq!(again.status.code(), Some(1));
        assert!(text(&again.stderr).contains("already exists"));
    }
    let bare = qrca(&["roster"]);
    assert_eq!(bare.status.code(), Some(2));
}
