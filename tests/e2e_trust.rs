//! The city's trust network end to end by email alone (issue 13), on the loopback
//! Dovecot and Postfix of `scripts/mail-servers.sh`: two ward daemons (`qrca run`, two
//! state directories, two keys, six accounts) and the city daemon (`qrca city run`) on
//! the admin account.
//!
//! Both wards enrol and are activated by the city's codes, answered signed by their
//! daemons; a permit of each verifies on the checkpoint page the checkpoint mailbox
//! receives (driven in headless Chromium with a fake camera); ward 1 revokes one and
//! the next page rejects it with the reason; forged enrolments (a stranger's key, keys
//! that differ between a ward's accounts, an activation answer signed by another key)
//! are refused and change nothing; the compromise drill on ward 2 voids its old permits
//! on the next page, and the re-issued ones pass and reach the organisation; the city
//! daemon killed with SIGKILL and restarted loses nothing and mails nothing twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/browser.rs"]
mod browser;
#[path = "support/mail_servers.rs"]
mod mail_servers;
#[path = "support/people.rs"]
mod people;
#[path = "support/world.rs"]
mod world;

use mail_servers::{AUTHSERV_ID, MailServers};
use people::{registration, roster_mail, roster_xlsx, text_mail};
use qrca::inbound::mail::Mail;
use qrca::permit::signed::{self, Detached};
use qrca::permit::trust::{RevocationList, TrustList};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use world::{Daemon, PASSWORD, WAIT, World, ok, text, write_dir};

const W1: &str = "hoankiem.tranhungdao";
const W2: &str = "hoankiem.hangbac";
/// In the city's list, with accounts, but no daemon: the test forges its mails.
const W3: &str = "hoankiem.hangdao";
const CITY: &str = "qrca.thanhpho@hanoi.gov.test";
const CHECKPOINT: &str = "chot.kiemtra1@hanoi.gov.test";
const POLICE1: &str = "congan@tranhungdao.gov.test";
const CSKV1: &str = "cskv@tranhungdao.gov.test";
const OFFICER1: &str = "canbo@tranhungdao.gov.test";
const OFFICER2: &str = "canbo@hangbac.gov.test";
const POLICE2: &str = "congan@hangbac.gov.test";
const ORG2: &str = "nhansu@banhmi.test";
const STRANGER: &str = "ke.gia.mao@gmail.com";

fn accounts(ward: &str) -> [String; 3] {
    let name = ward.rsplit('.').next().unwrap();
    [1, 2, 3].map(|n| format!("qrca.hoankiem.{name}{n}@gmail.com"))
}

/// A ward's config: its three accounts, its people, the city as its admin.
fn ward_config(
    servers: &MailServers,
    code: &str,
    short: &str,
    name: &str,
    people: (&str, &str, &str),
) -> String {
    let accounts: String = accounts(code)
        .iter()
        .map(|a| {
            format!("\n[[ward.account]]\naddress = \"{a}\"\npassword_file = \"secrets/password\"\n")
        })
        .collect();
    let (officer, police, cskv) = people;
    format!(
        r#"[service]
state_dir = "state"
admin_email = "{CITY}"

[mail]
imap = {{ host = "127.0.0.1", port = {imap}, tls = "none" }}
smtp = {{ host = "127.0.0.1", port = {smtp}, tls = "none" }}
trusted_authserv_ids = ["{AUTHSERV_ID}"]

[permits]
valid_days = 14

[[ward]]
code = "{code}"
short = "{short}"
name = "{name}"
district = "Quận Hoàn Kiếm"
signing_key = "keys/ward.key"
officers = ["{officer}"]
police = ["{police}"]
area_police = ["{cskv}"]
{accounts}"#,
        imap = servers.imap_port,
        smtp = servers.smtp_port,
    )
}

fn city_config(servers: &MailServers) -> String {
    format!(
        r#"[service]
state_dir = "state"

[mail]
imap = {{ host = "127.0.0.1", port = {imap}, tls = "none" }}
smtp = {{ host = "127.0.0.1", port = {smtp}, tls = "none" }}
trusted_authserv_ids = ["{AUTHSERV_ID}"]

[city]
name = "Thành phố Hà Nội"
signing_key = "keys/city.key"
checkpoints = ["{CHECKPOINT}"]
# Every change goes out at once here; a city keeps the hourly default.
publish_at_most_every_minutes = 0

[city.account]
address = "{CITY}"
password_file = "secrets/password"
"#,
        imap = servers.imap_port,
        smtp = servers.smtp_port,
    )
}

fn wards_xlsx(path: &Path) {
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
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, (code, name)) in [
        (W1, "Phường Trần Hưng Đạo"),
        (W2, "Phường Hàng Bạc"),
        (W3, "Phường Hàng Đào"),
    ]
    .iter()
    .enumerate()
    {
        let row = r as u32 + 1;
        sheet.write_string(row, 0, *code).unwrap();
        sheet.write_string(row, 1, *name).unwrap();
        sheet.write_string(row, 2, "Quận Hoàn Kiếm").unwrap();
        for (i, a) in accounts(code).iter().enumerate() {
            sheet.write_string(row, 3 + i as u16, a).unwrap();
        }
    }
    book.save(path).unwrap();
}

/// One publication the checkpoint mailbox received: the page and the city's lists,
/// their signatures checked with the city key.
struct Publication {
    page: Vec<u8>,
    trust: TrustList,
    revocations: RevocationList,
}

fn publication(mail: &Mail, city: &ed25519_dalek::VerifyingKey, city_kid: &str) -> Publication {
    let files = || {
        mail.attachments
            .iter()
            .map(|a| (a.name.as_str(), &a.bytes[..]))
    };
    let read = |name: &str| {
        let found = signed::find(files(), name).unwrap();
        found.sig.check(name, city_kid, city, found.bytes).unwrap();
        text(found.bytes)
    };
    let trust = TrustList::from_json(&read(signed::CITY_TRUST_FILE)).unwrap();
    let revocations = RevocationList::from_json(&read(signed::CITY_REVOCATIONS_FILE)).unwrap();
    let page = mail
        .attachments
        .iter()
        .find(|a| a.name == "checkpoint.html")
        .unwrap()
        .bytes
        .clone();
    Publication {
        page,
        trust,
        revocations,
    }
}

/// Waits for a publication after the first `after` for which `want` holds.
fn wait_publication(
    w: &World,
    city: (&ed25519_dalek::VerifyingKey, &str),
    after: usize,
    want: impl Fn(&Publication) -> bool,
    logs: &[&Daemon],
) -> (usize, Publication) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mails = w.mails(CHECKPOINT, "Trang kiểm tra");
        for (i, m) in mails.iter().enumerate().skip(after) {
            let p = publication(m, city.0, city.1);
            if want(&p) {
                return (i + 1, p);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no such publication among {}\n{}",
            mails.len(),
            logs.iter()
                .map(|d| d.log())
                .collect::<Vec<_>>()
                .join("\n----\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Each (name, permit PDF, expected verdict and reason) through the page in Chromium.
fn check_on_page(dir: &Path, page: &[u8], cases: &[(&str, &[u8], &str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    let page_path = dir.join("kiem-tra.html");
    std::fs::write(&page_path, page).unwrap();
    let screens = dir.join("screens");
    std::fs::create_dir_all(&screens).unwrap();
    let cases: Vec<serde_json::Value> = cases
        .iter()
        .map(|(name, pdf, verdict, reason)| {
            json!({"name": name, "camera": browser::camera(dir, name, pdf),
                   "expect": {"verdict": verdict, "reason": reason}})
        })
        .collect();
    let (report, passed) = browser::page_verdicts(dir, &page_path, &screens, json!(cases));
    assert!(passed, "{report}");
}

fn pdf<'m>(mail: &'m Mail, name: &str) -> &'m [u8] {
    &mail
        .attachments
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                mail.attachments.iter().map(|a| &a.name).collect::<Vec<_>>()
            )
        })
        .bytes
}

#[test]
fn wards_enrol_revoke_and_survive_a_stolen_key_by_email_alone() {
    let servers = MailServers::start().unwrap_or_else(|e| panic!("{e:#}"));
    let mut users: Vec<String> = [W1, W2, W3].iter().flat_map(|w| accounts(w)).collect();
    for person in [
        CITY,
        CHECKPOINT,
        POLICE1,
        CSKV1,
        OFFICER1,
        OFFICER2,
        POLICE2,
        ORG2,
        STRANGER,
        "cskv@hangbac.gov.test",
        "khong.co@gmail.com",
    ] {
        users.push(person.to_owned());
    }
    let pairs: Vec<(&str, &str)> = users.iter().map(|u| (u.as_str(), PASSWORD)).collect();
    servers
        .add_users(&pairs)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let w = World {
        servers,
        root: tempfile::tempdir().unwrap(),
    };
    write_dir(
        &w.dir("w1"),
        &ward_config(
            &w.servers,
            W1,
            "THD",
            "Phường Trần Hưng Đạo",
            (OFFICER1, POLICE1, CSKV1),
        ),
    );
    write_dir(
        &w.dir("w2"),
        &ward_config(
            &w.servers,
            W2,
            "HB",
            "Phường Hàng Bạc",
            (OFFICER2, POLICE2, "cskv@hangbac.gov.test"),
        ),
    );
    write_dir(&w.dir("city"), &city_config(&w.servers));
    for (dir, ward) in [("w1", W1), ("w2", W2)] {
        ok(
            w.qrca(dir, &["keys", "generate", "--ward", ward]),
            "keys generate",
        );
    }
    let city_kid = ok(
        w.qrca("city", &["city", "keys", "generate"]),
        "city keys generate",
    );
    let city_kid = city_kid.lines().next().unwrap().trim().to_owned();
    let city_key = qrca::keys::load(&w.dir("city/keys/city.key"))
        .unwrap()
        .verifying_key();
    let city = (&city_key, city_kid.as_str());
    let xlsx = w.dir("city/wards.xlsx");
    wards_xlsx(&xlsx);
    ok(
        w.qrca("city", &["city", "wards", "import", xlsx.to_str().unwrap()]),
        "city wards import",
    );

    // 1. Enrolment and activation, by mail alone.
    let mut city_d = Daemon::start(
        &w.dir("city"),
        &["city", "run"],
        "the city daemon is running",
    );
    let w1_d = Daemon::start(&w.dir("w1"), &["run"], "qrca is running");
    let mut w2_d = Daemon::start(&w.dir("w2"), &["run"], "qrca is running");
    for (dir, ward) in [("w1", W1), ("w2", W2)] {
        ok(
            w.qrca(dir, &["accounts", "enroll", "--ward", ward]),
            "accounts enroll",
        );
    }
    let kid_of = |dir: &str, ward: &str| {
        let config = qrca::config::load(&w.dir(dir).join("qrca.toml"))
            .unwrap()
            .config;
        let ward = config.ward(ward).unwrap();
        qrca::permit::issue::Signer::load(ward).unwrap().kid
    };
    let (kid1, kid2) = (kid_of("w1", W1), kid_of("w2", W2));
    let logs = |d: &[&Daemon]| {
        d.iter()
            .map(|x| x.log())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    let (mut seen, first) = wait_publication(
        &w,
        city,
        0,
        |p| p.trust.find(&kid1).is_some() && p.trust.find(&kid2).is_some(),
        &[&city_d, &w1_d, &w2_d],
    );
    assert_eq!(first.trust.keys.len(), 2, "{:?}", first.trust.keys);
    // The admin looks while the city daemon holds the database: over its socket.
    let status = ok(w.qrca("city", &["city", "status"]), "city status");
    assert!(status.contains("wards: 2 active"), "{status}");
    // Each ward's list, sent before its key was known, goes again as it answers the
    // codes: the city holds one from the first day (no ward flagged silent).
    let deadline = Instant::now() + WAIT;
    loop {
        let status = ok(w.qrca("city", &["city", "status"]), "city status");
        let lists = [W1, W2]
            .iter()
            .filter(|ward| {
                status.lines().any(|l| {
                    l.starts_with(*ward) && l.contains("received") && !l.contains("SILENT")
                })
            })
            .count();
        if lists == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{status}\n{}", logs(&[&city_d]));
        std::thread::sleep(Duration::from_millis(300));
    }
    let page = w.dir("city").join("by-hand.html");
    ok(
        w.qrca("city", &["city", "page", "--out", page.to_str().unwrap()]),
        "city page",
    );
    assert!(std::fs::read_to_string(&page).unwrap().contains(&kid1));
    // One activation code to each account, answered by the ward's daemon.
    for ward in [W1, W2] {
        for account in accounts(ward) {
            assert_eq!(w.taken(&account, "Mã kích hoạt").len(), 1, "{account}");
        }
    }
    assert!(
        logs(&[&w1_d]).contains("activation code"),
        "{}",
        logs(&[&w1_d])
    );

    // 2. A permit of each ward: individuals of ward 1, an organisation of ward 2.
    let a1 = accounts(W1);
    w.send(
        CSKV1,
        &a1[0],
        &roster_mail(
            CSKV1,
            &a1[0],
            "ĐĂNG KÝ CÁ NHÂN",
            "ca_nhan.xlsx",
            roster_xlsx('C', 3, 2_190_000_001, "khong.co@gmail.com"),
            None,
        ),
    );
    let stamp = w.wait_mail(POLICE1, "THD-C-0001", 1, &[&w1_d]);
    w.answer(POLICE1, &stamp, "ĐÓNG DẤU");
    let permits1 = w.wait_mail(CSKV1, "đã được cấp", 1, &[&w1_d]);
    let a2 = accounts(W2);
    w.send(
        OFFICER2,
        &a2[0],
        &registration(OFFICER2, &a2[0], "Công ty Bánh mì Hàng Bạc", ORG2),
    );
    let confirmation = w.wait_mail(ORG2, "HB-T-0001", 1, &[&w2_d]);
    let roster = roster_mail(
        ORG2,
        &a2[0],
        &format!("Re: {}", confirmation.subject),
        "nhan_vien.xlsx",
        roster_xlsx('T', 2, 1_190_000_001, ""),
        Some(&confirmation),
    );
    w.send(ORG2, &a2[0], &roster);
    let review = w.wait_mail(OFFICER2, "xét duyệt", 1, &[&w2_d]);
    w.answer(OFFICER2, &review, "DUYỆT");
    let stamp = w.wait_mail(POLICE2, "đóng dấu", 1, &[&w2_d]);
    w.answer(POLICE2, &stamp, "ĐÓNG DẤU");
    let permits2 = w.wait_mail(ORG2, "đã được cấp", 1, &[&w2_d]);
    let (p1a, p1b) = (
        pdf(&permits1, "THD-C-0001-0001.pdf"),
        pdf(&permits1, "THD-C-0001-0002.pdf"),
    );
    let p2 = pdf(&permits2, "HB-T-0001-0001.pdf");
    check_on_page(
        &w.dir("page1"),
        &first.page,
        &[
            ("w1-valid", p1a, "valid", "valid"),
            ("w2-valid", p2, "valid", "valid"),
        ],
    );

    // 3. Ward 1 revokes one: the next page rejects it with the reason.
    w.send(
        POLICE1,
        &a1[1],
        &text_mail(
            POLICE1,
            &a1[1],
            "Thu hồi giấy",
            "THU HỒI THD-C-0001-0002: mất giấy",
            None,
        ),
    );
    let revoked_at = Instant::now();
    let (after_revoke, p) = wait_publication(
        &w,
        city,
        seen,
        |p| p.revocations.find("THD-C-0001-0002").is_some(),
        &[&city_d, &w1_d],
    );
    eprintln!(
        "e2e: THU HỒI sent → a page that rejects the permit in the checkpoint mailbox: {:.2} s",
        revoked_at.elapsed().as_secs_f64()
    );
    seen = after_revoke;
    check_on_page(
        &w.dir("page2"),
        &p.page,
        &[
            ("w1-revoked", p1b, "invalid", "revoked"),
            ("w1-still-valid", p1a, "valid", "valid"),
        ],
    );

    // 4. Forgeries change nothing.
    let refusals = |d: &Daemon| d.log().matches("The city refused a mail").count();
    let before = refusals(&city_d);
    let forged_key = |seed: u8, ward: &str| {
        let k = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let kid = qrca::permit::payload::kid("HD", &k.verifying_key());
        let entry = qrca::permit::trust::TrustedKey::for_key(
            &kid,
            ward,
            "Phường Hàng Đào",
            "Quận Hoàn Kiếm",
            &k.verifying_key(),
            jiff::civil::date(2026, 1, 1),
            None,
        );
        let json = TrustList::new(vec![entry]).to_json_pretty().into_bytes();
        let sig = Detached::sign(&kid, &k, &json).to_bytes();
        (json, sig)
    };
    let trust_mail = |from: &str, ward: &str, (json, sig): &(Vec<u8>, Vec<u8>)| {
        use lettre::message::header::ContentType;
        use lettre::message::{Attachment, MultiPart, SinglePart};
        let name = signed::trust_file(ward);
        let kind = ContentType::parse("application/json").unwrap();
        lettre::Message::builder()
            .from(from.parse().unwrap())
            .to(CITY.parse().unwrap())
            .subject("UBND đã hoàn thành tạo lập địa chỉ mail")
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain("khóa".to_owned()))
                    .singlepart(Attachment::new(name.clone()).body(json.clone(), kind.clone()))
                    .singlepart(Attachment::new(signed::sig_file(&name)).body(sig.clone(), kind)),
            )
            .unwrap()
            .formatted()
    };
    // A stranger's key for ward 3.
    w.send(
        STRANGER,
        CITY,
        &trust_mail(STRANGER, W3, &forged_key(41, W3)),
    );
    // Ward 3's three accounts, each with another key.
    let a3 = accounts(W3);
    for (i, account) in a3.iter().enumerate() {
        w.send(
            account,
            CITY,
            &trust_mail(account, W3, &forged_key(50 + i as u8, W3)),
        );
    }
    let wait_log = |needle: &str| {
        let deadline = Instant::now() + WAIT;
        while !city_d.log().contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?}\n{}", city_d.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_log("unknown address");
    wait_log("keys differ");
    for account in &a3 {
        assert!(w.mails(account, "Mã kích hoạt").is_empty(), "{account}");
    }
    // Ward 3's accounts agree at last (each account's latest counts): codes come, and
    // an answer signed by another key than the one announced activates nothing.
    let ward3_key = forged_key(50, W3);
    for account in &a3 {
        w.send(account, CITY, &trust_mail(account, W3, &ward3_key));
    }
    let activation_answer = |from: &str, ward: &str, bytes: &[u8], sig: Vec<u8>| {
        use lettre::message::header::ContentType;
        use lettre::message::{Attachment, MultiPart, SinglePart};
        let kind = ContentType::parse("application/json").unwrap();
        let name = signed::activation_file(ward);
        let raw = lettre::Message::builder()
            .from(from.parse().unwrap())
            .to(CITY.parse().unwrap())
            .subject("QRCA: trả lời mã kích hoạt")
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain("mã".to_owned()))
                    .singlepart(
                        Attachment::new(name.clone())
                            .body(qrca::outbound::exact_body(bytes.to_vec()), kind.clone()),
                    )
                    .singlepart(
                        Attachment::new(signed::sig_file(&name))
                            .body(qrca::outbound::exact_body(sig), kind),
                    ),
            )
            .unwrap()
            .formatted();
        w.send(from, CITY, &raw);
    };
    let code3 = w.wait_mail(&a3[0], "Mã kích hoạt", 1, &[&city_d]);
    let file3 = pdf(&code3, &signed::activation_file(W3)).to_vec();
    let kid3 = qrca::permit::payload::kid(
        "HD",
        &ed25519_dalek::SigningKey::from_bytes(&[50; 32]).verifying_key(),
    );
    let other = ed25519_dalek::SigningKey::from_bytes(&[60; 32]);
    activation_answer(
        &a3[0],
        W3,
        &file3,
        Detached::sign(&kid3, &other, &file3).to_bytes(),
    );
    wait_log("does not verify");
    // Ward 1's code, already answered, answered again: a replay.
    let code1 = w.taken(&a1[2], "Mã kích hoạt").remove(0);
    let file1 = pdf(&code1, &signed::activation_file(W1)).to_vec();
    activation_answer(
        &a1[2],
        W1,
        &file1,
        Detached::sign(&kid1, &other, &file1).to_bytes(),
    );
    wait_log("replayed answer");
    assert!(refusals(&city_d) >= before + 5, "{}", city_d.log());
    std::thread::sleep(Duration::from_secs(3));
    // Nothing was published for them: the last page is still the last.
    assert_eq!(w.mails(CHECKPOINT, "Trang kiểm tra").len(), seen);

    // 5. The compromise drill on ward 2.
    let drill = ok(
        w.qrca(
            "w2",
            &[
                "keys",
                "rotate",
                "--ward",
                W2,
                "--compromised",
                "máy tính của phường bị mất",
            ],
        ),
        "keys rotate --compromised",
    );
    assert!(drill.contains("re-issued 2 permits"), "{drill}");
    let new_kid2 = kid_of("w2", W2);
    assert_ne!(new_kid2, kid2);
    let (after_drill, p) = wait_publication(
        &w,
        city,
        seen,
        |p| p.revocations.find_key(&kid2).is_some() && p.trust.find(&new_kid2).is_some(),
        &[&city_d, &w2_d],
    );
    seen = after_drill;
    let reissued = w.wait_mail(ORG2, "được cấp lại", 1, &[&w2_d]);
    let p2_new = pdf(&reissued, "HB-T-0001-0001.pdf");
    check_on_page(
        &w.dir("page3"),
        &p.page,
        &[
            ("w2-old-key", p2, "invalid", "key_revoked"),
            ("w2-reissued", p2_new, "valid", "valid"),
            ("w1-after-drill", p1a, "valid", "valid"),
        ],
    );

    // 6. The city killed and restarted: nothing lost, nothing mailed twice.
    city_d.signal("-KILL");
    let codes_before: Vec<usize> = [W1, W2]
        .iter()
        .flat_map(|w_| accounts(w_))
        .map(|a| w.taken(&a, "Mã kích hoạt").len())
        .collect();
    w.send(
        POLICE1,
        &a1[0],
        &text_mail(
            POLICE1,
            &a1[0],
            "Thu hồi giấy",
            "THU HỒI THD-C-0001-0003: chuyển đi",
            None,
        ),
    );
    let city_d = Daemon::start(
        &w.dir("city"),
        &["city", "run"],
        "the city daemon is running",
    );
    let (_, p) = wait_publication(
        &w,
        city,
        seen,
        |p| p.revocations.find("THD-C-0001-0003").is_some(),
        &[&city_d, &w1_d],
    );
    assert!(p.revocations.find("THD-C-0001-0002").is_some());
    assert!(p.revocations.find_key(&kid2).is_some());
    std::thread::sleep(Duration::from_secs(3));
    let codes_after: Vec<usize> = [W1, W2]
        .iter()
        .flat_map(|w_| accounts(w_))
        .map(|a| w.taken(&a, "Mã kích hoạt").len())
        .collect();
    assert_eq!(codes_before, codes_after);
    // Ward 1's three, ward 2's three for each of its two keys.
    assert_eq!(codes_after, vec![1, 1, 1, 2, 2, 2]);
    w2_d.signal("-TERM");
}
