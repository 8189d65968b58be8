//! `qrca permits export` on the database `qrca demo` leaves: every permit of the ward
//! in the register, with full ID numbers, where each stands on the day asked, the
//! revoked one with its reason; the file owner-only; bad input answered, nothing written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/demo_world.rs"]
mod demo_world;

use calamine::{Data, Reader};
use demo_world::{demo_world, qrca, text};
use qrca::store::Store;
use qrca::workflow::RowState;
use std::io::Cursor;
use std::os::unix::fs::PermissionsExt;

/// The register's rows as text cells (dates as `YYYY-MM-DD`), header first.
fn read_register(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(book.sheet_names(), ["Giấy đã cấp"]);
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::DateTime(dt) => {
                        let (y, m, d, ..) = dt.to_ymd_hms_milli();
                        format!("{y:04}-{m:02}-{d:02}")
                    }
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// `qrca permits export --ward WARD --on DAY --out OUT`.
fn export(
    config: &std::path::Path,
    ward: &str,
    day: &str,
    out: &std::path::Path,
) -> std::process::Output {
    qrca(
        &[
            "permits",
            "export",
            "--ward",
            ward,
            "--on",
            day,
            "--out",
            out.to_str().unwrap(),
        ],
        config,
    )
}

#[test]
fn the_register_lists_every_permit_of_the_ward_as_it_stands_on_the_day() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = demo_world(dir.path());
    let config = qrca::config::load(&config_path).unwrap().config;
    let ward = config.wards[0].code().to_owned();

    // What the database says was issued, by permit id.
    let mut issued = std::collections::BTreeMap::new();
    {
        let store = Store::open(&config.service.state_dir).unwrap();
        for case in store.cases().unwrap() {
            for row in case.batches.iter().flat_map(|b| b.rows.iter()) {
                match &row.state {
                    RowState::Issued(p) => {
                        issued.insert(p.id.to_string(), (row.person.clone(), None));
                    }
                    RowState::Revoked { permit, reason, .. } => {
                        issued.insert(
                            permit.id.to_string(),
                            (row.person.clone(), Some(reason.to_string())),
                        );
                    }
                    _ => {}
                }
            }
        }
    }
    assert_eq!(
        issued.len(),
        17,
        "the demo issues 17 permits and revokes one"
    );

    let out_path = dir.path().join("so-cap-giay.xlsx");
    std::fs::write(&out_path, "an older export").unwrap();
    let out = export(&config_path, &ward, "2021-09-10", &out_path);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("17 permit(s) of Phường")
            && said.contains("16 Còn hiệu lực")
            && said.contains("1 Đã thu hồi")
            && said.contains("written to"),
        "{said}"
    );
    let mode = std::fs::metadata(&out_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "it holds ID numbers in full");

    let rows = read_register(&std::fs::read(&out_path).unwrap());
    assert_eq!(
        rows[0][..6],
        [
            "STT",
            "Mã giấy",
            "Loại",
            "Hồ sơ",
            "Họ và tên / Chủ hộ",
            "CCCD/CMND"
        ]
    );
    assert_eq!(rows[0].len(), 19);
    assert_eq!(rows.len(), 1 + issued.len());
    for (i, (row, (id, (person, revoked)))) in rows[1..].iter().zip(&issued).enumerate() {
        assert_eq!(row[0], (i + 1).to_string());
        assert_eq!(&row[1], id, "in permit id order");
        assert_eq!(&row[3], id.rsplit_once('-').unwrap().0);
        assert_eq!(Some(&row[4]), person.name.as_ref());
        assert_eq!(Some(&row[5]), person.id_number.as_ref(), "in full");
        if let Some(birth) = person.birth_date {
            assert_eq!(row[6], birth.to_string(), "a date cell");
        }
        match revoked {
            Some(reason) => {
                assert_eq!(row[15], "Đã thu hồi");
                assert!(row[16].contains(reason.as_str()), "{row:?}");
            }
            None => {
                assert_eq!(row[15], "Còn hiệu lực", "{row:?}");
                assert_eq!(row[16], "");
            }
        }
        let kind = if id.contains("-H-") {
            "Thẻ đi chợ"
        } else {
            "Giấy đi đường"
        };
        assert_eq!(row[2], kind);
    }

    // Years later every permit has run out; the revoked one stays revoked.
    let later = dir.path().join("later.xlsx");
    let out = export(&config_path, &ward, "2030-01-01", &later);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let statuses: Vec<String> = read_register(&std::fs::read(&later).unwrap())[1..]
        .iter()
        .map(|r| r[15].clone())
        .collect();
    assert_eq!(statuses.iter().filter(|s| *s == "Hết hạn").count(), 16);
    assert_eq!(statuses.iter().filter(|s| *s == "Đã thu hồi").count(), 1);
}

#[test]
fn bad_input_is_answered_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = demo_world(dir.path());
    let config = qrca::config::load(&config_path).unwrap().config;
    let ward = config.wards[0].code().to_owned();

    let out_path = dir.path().join("x.xlsx");
    let out = qrca(
        &[
            "permits",
            "export",
            "--ward",
            "no.such",
            "--out",
            out_path.to_str().unwrap(),
        ],
        &config_path,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no ward \"no.such\""),
        "{}",
        text(&out.stderr)
    );
    assert!(!out_path.exists());

    let missing = dir.path().join("no/such/dir/x.xlsx");
    let out = qrca(
        &[
            "permits",
            "export",
            "--ward",
            &ward,
            "--out",
            missing.to_str().unwrap(),
        ],
        &config_path,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(&format!("cannot write {}", missing.display())),
        "{}",
        text(&out.stderr)
    );

    let out = qrca(
        &[
            "permits",
            "export",
            "--ward",
            &ward,
            "--on",
            "10/09/2021",
            "--out",
            "x.xlsx",
        ],
        &config_path,
    );
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert!(!dir.path().join("x.xlsx").exists());
}
