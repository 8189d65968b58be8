//! The city's side of the trust network end to end, without a mail server: the
//! commands on a city config (`qrca city keys generate`, `wards import`, `intake`,
//! `status`, `page`, `lists`) and the exchange of SPEC §9 as real MIME mails through
//! `city::intake` (enrolment from three accounts, signed activation answers, a
//! revocation list, refusals and replays).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use data_encoding::BASE64;
use ed25519_dalek::SigningKey;
use qrca::city::core::CityRules;
use qrca::city::intake::CityIntake;
use qrca::city::model::Verdict;
use qrca::city::store::CityStore;
use qrca::permit::payload;
use qrca::permit::signed::{self, Detached, WardRevocations};
use qrca::permit::trust::{RevocationList, Revoked, TrustList, TrustedKey};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CODE: &str = "hoankiem.tranhungdao";

struct City {
    dir: tempfile::TempDir,
}

impl City {
    fn new() -> City {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secrets/admin");
        std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
        std::fs::write(&secret, "x\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = r#"[service]
state_dir = "state"

[city]
name = "Thành phố Hà Nội"
signing_key = "keys/city.key"
checkpoints = ["kiemtra@example.gov.vn"]

[city.account]
address = "qrca.admin@gmail.com"
password_file = "secrets/admin"
"#;
        std::fs::write(dir.path().join("qrca.toml"), config).unwrap();
        City { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn qrca(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_qrca"))
            .args(["city", "--config"])
            .arg(self.path("qrca.toml"))
            .args(args)
            .output()
            .unwrap()
    }

    fn store(&self) -> CityStore {
        CityStore::open(&self.path("state")).unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn accounts() -> [String; 3] {
    [1, 2, 3].map(|n| format!("qrca.hoankiem.tranhungdao{n}@gmail.com"))
}

fn wards_xlsx(path: &Path, rows: &[[&str; 6]]) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let header = [
        "Mã phường",
        "Tên phường",
        "Quận/Huyện",
        "Địa chỉ 1",
        "Địa chỉ 2",
        "Địa chỉ 3",
    ];
    for (r, row) in std::iter::once(&header).chain(rows).enumerate() {
        for (c, cell) in row.iter().enumerate() {
            sheet.write_string(r as u32, c as u16, *cell).unwrap();
        }
    }
    book.save(path).unwrap();
}

fn import_two_wards(city: &City) -> Output {
    let a = accounts();
    let xlsx = city.path("wards.xlsx");
    wards_xlsx(
        &xlsx,
        &[
            [
                CODE,
                "Phường Trần Hưng Đạo",
                "Quận Hoàn Kiếm",
                &a[0],
                &a[1],
                &a[2],
            ],
            [
                "dongda.quoctugiam",
                "Phường Quốc Tử Giám",
                "Quận Đống Đa",
                "q1@gmail.com",
                "q2@gmail.com",
                "q3@gmail.com",
            ],
        ],
    );
    city.qrca(&["wards", "import", xlsx.to_str().unwrap()])
}

/// A mail from `from` to the city with these attachments and a trusted DMARC pass.
fn mail(from: &str, id: &str, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut m = format!(
        "Authentication-Results: mx.google.com; dmarc=pass (p=NONE) header.from=gmail.com\r\n\
         From: {from}\r\nTo: qrca.admin@gmail.com\r\nSubject: qrca\r\nMessage-ID: <{id}@test>\r\n\
         Date: Sat, 05 Dec 2026 10:00:00 +0700\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n\
         --BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nqrca\r\n"
    );
    for (name, bytes) in files {
        m.push_str(&format!(
            "--BOUNDARY\r\nContent-Type: application/json; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            BASE64.encode(bytes)
        ));
    }
    m.push_str("--BOUNDARY--\r\n");
    m.into_bytes()
}

fn ward_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn ward_kid() -> String {
    payload::kid("THD", &ward_key().verifying_key())
}

fn signed_files(name: &str, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let sig = Detached::sign(&ward_kid(), &ward_key(), &bytes).to_bytes();
    vec![(name.to_owned(), bytes), (signed::sig_file(name), sig)]
}

fn enrolment() -> Vec<(String, Vec<u8>)> {
    let entry = TrustedKey::for_key(
        ward_kid(),
        CODE,
        "Phường Trần Hưng Đạo",
        "Quận Hoàn Kiếm",
        &ward_key().verifying_key(),
        jiff::civil::date(2026, 12, 1),
        None,
    );
    let bytes = TrustList::new(vec![entry]).to_json_pretty().into_bytes();
    signed_files(&signed::trust_file(CODE), bytes)
}

fn take_in(store: &CityStore, raw: &[u8]) -> Verdict {
    let rules = CityRules {
        city_name: "Thành phố Hà Nội".into(),
        require_auth: true,
        code_valid_hours: 72,
    };
    let trusted = vec!["mx.google.com".to_owned()];
    let tz = jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
    let intake = CityIntake {
        store,
        rules: &rules,
        trusted_authserv_ids: &trusted,
        timezone: &tz,
    };
    intake.take_in(raw, jiff::Timestamp::now()).unwrap()
}

fn accepted(v: &Verdict) -> bool {
    matches!(v, Verdict::Accepted(_))
}

#[test]
fn the_city_key_is_made_once_and_named_by_its_kid() {
    let city = City::new();
    let out = city.qrca(&["keys", "generate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("CITY-"));
    let mode = std::fs::metadata(city.path("keys/city.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = city.qrca(&["keys", "generate"]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("never overwrites"),
        "{}",
        text(&again)
    );
}

#[test]
fn a_bad_ward_list_imports_nothing_and_names_row_and_column() {
    let city = City::new();
    let xlsx = city.path("bad.xlsx");
    wards_xlsx(
        &xlsx,
        &[["Hoàn Kiếm", "P", "Q", "a@x.vn", "b@x.vn", "c@x.vn"]],
    );
    let out = city.qrca(&["wards", "import", xlsx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("bad.xlsx, row 2, column \"Mã phường\""),
        "{}",
        text(&out)
    );
    let status = city.qrca(&["status"]);
    assert!(text(&status).starts_with("0 wards"), "{}", text(&status));
}

#[test]
fn enrolment_activation_and_a_revocation_list_by_mail_then_status_page_and_lists() {
    let city = City::new();
    assert!(city.qrca(&["keys", "generate"]).status.success());
    let out = import_two_wards(&city);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("2 wards: 2 added"), "{}", text(&out));
    {
        let store = city.store();
        let a = accounts();
        // A stranger and an unsigned mail change nothing.
        let v = take_in(&store, &mail("someone@gmail.com", "x1", &enrolment()));
        assert!(
            matches!(&v, Verdict::Refused(r) if r.contains("unknown address")),
            "{v:?}"
        );
        for (n, account) in a.iter().enumerate() {
            let v = take_in(&store, &mail(account, &format!("e{n}"), &enrolment()));
            assert!(accepted(&v), "{v:?}");
        }
        // The same message again: already seen.
        let v = take_in(&store, &mail(&a[0], "e0", &enrolment()));
        assert_eq!(v, Verdict::AlreadySeen);
        let outbox = store.outbox().unwrap();
        assert_eq!(outbox.len(), 3);
        for (n, entry) in outbox.iter().enumerate() {
            let file = &entry.mail.attachments[0];
            let answer = signed_files(&file.name, file.bytes.clone());
            let from = &entry.mail.to[0];
            let v = take_in(&store, &mail(from, &format!("a{n}"), &answer));
            assert!(accepted(&v), "{v:?}");
            // The same answer in a new mail is a replay.
            let v = take_in(&store, &mail(from, &format!("r{n}"), &answer));
            assert!(
                matches!(&v, Verdict::Refused(r) if r.contains("already used")),
                "{v:?}"
            );
        }
        let list = RevocationList::new(vec![Revoked {
            permit: "THD-T-0001-0001".into(),
            at: "2026-12-05T09:00:00Z".parse().unwrap(),
            reason: "mất giấy".into(),
        }]);
        let doc = WardRevocations::new(CODE, 1, "2026-12-05T09:30:00Z".parse().unwrap(), list);
        let files = signed_files(&signed::revocations_file(CODE), signed::to_bytes(&doc));
        assert!(accepted(&take_in(&store, &mail(&a[1], "l1", &files))));
        assert_eq!(store.audit().unwrap().len(), 11);
    }
    let status = text(&city.qrca(&["status"]));
    assert!(status.starts_with("2 wards: 1 active"), "{status}");
    assert!(
        status.contains(&format!("{} active", ward_kid())),
        "{status}"
    );
    assert!(status.contains("list 1 received 0 h ago"), "{status}");
    let page = city.path("kiem-tra.html");
    let out = city.qrca(&["page", "--out", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains(&ward_kid()) && html.contains("THD-T-0001-0001"));
    let dir = city.path("lists");
    let out = city.qrca(&["lists", "--out-dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let city_key = qrca::keys::load(&city.path("keys/city.key")).unwrap();
    let city_kid = payload::kid("CITY", &city_key.verifying_key());
    for name in [signed::CITY_TRUST_FILE, signed::CITY_REVOCATIONS_FILE] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let sig = std::fs::read(dir.join(signed::sig_file(name))).unwrap();
        let sig = Detached::parse("sig", &sig).unwrap();
        assert!(
            sig.check(name, &city_kid, &city_key.verifying_key(), &bytes)
                .is_ok()
        );
    }
}

#[test]
fn a_saved_mail_is_taken_in_by_the_command_and_a_refusal_exits_1() {
    let city = City::new();
    assert!(import_two_wards(&city).status.success());
    let eml = city.path("m.eml");
    std::fs::write(&eml, mail("someone@gmail.com", "s1", &enrolment())).unwrap();
    let out = city.qrca(&["intake", eml.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("refused: unknown address"),
        "{}",
        text(&out)
    );
    std::fs::write(&eml, mail(&accounts()[0], "s2", &enrolment())).unwrap();
    let out = city.qrca(&["intake", eml.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 of 3 accounts"), "{}", text(&out));
    let status = text(&city.qrca(&["status"]));
    assert!(
        status.contains("enrolling (1/3 accounts announced)"),
        "{status}"
    );
}
