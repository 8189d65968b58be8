//! The gate (`inbound::gate`): real mails, as bytes through `parse_mail`, into the
//! engine's events or a reason to drop them; each rule table-tested, then one whole
//! flow from registration mail to issued permits through the real engine and store.

#[path = "support/ward_config.rs"]
mod ward_config;

use qrca::config::{Config, Ward};
use qrca::daemon::intake::{Position, Taken, take_in};
use qrca::engine::Processed;
use qrca::inbound::commands::Parsed;
use qrca::inbound::gate::{self, Classified, Lookups};
use qrca::inbound::mail::{Attachment, Mail, Sniffed, parse_mail};
use qrca::store::blobs::Blobs;
use qrca::store::{Store, outbox_message_id};
use qrca::workflow::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use ward_config::{WardSpec, write_config};

const WARD: &str = "hoankiem.tranhungdao";
const ACCOUNT: &str = "qrca.hoankiem.tranhungdao1@gmail.com";
const ACCOUNT2: &str = "qrca.hoankiem.tranhungdao2@gmail.com";
const HB_ACCOUNT: &str = "qrca.hoankiem.hangbac1@gmail.com";
const OFFICER: &str = "canbo.an@hoankiem.hanoi.gov.vn";
const POLICE: &str = "congan.thd@hoankiem.hanoi.gov.vn";
const CSKV: &str = "cskv.thd@hoankiem.hanoi.gov.vn";
const CSKV_FWD: &str = "lan.vt.cskv@gmail.com";
const ORG: &str = "nhansu@congty.example.vn";
const TOKEN: &str = "k3j4h5g6f7d8s9a0q1w2e3r4aa";

// ---------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------

fn world(dir: &Path) -> Config {
    let thd = WardSpec {
        code: WARD,
        short: "THD",
        name: "Phường Trần Hưng Đạo",
        officers: &[OFFICER],
        police: &[POLICE],
        area_police: &[CSKV, CSKV_FWD],
        accounts: &[ACCOUNT, ACCOUNT2],
    };
    let hb = WardSpec {
        accounts: &[HB_ACCOUNT],
        ..ward_config::HANG_BAC
    };
    write_config(dir, &[thd, hb], true)
}

struct Fixture {
    _dir: tempfile::TempDir,
    config: Config,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = world(dir.path());
    Fixture { _dir: dir, config }
}

impl Fixture {
    fn ward(&self) -> &Ward {
        self.config
            .ward(WARD)
            .unwrap_or_else(|| panic!("no ward {WARD}"))
    }
}

/// The store's indexes, as a test double.
#[derive(Default)]
struct FakeLookups {
    tokens: HashMap<String, String>,
    cases: HashSet<String>,
    /// (ward, ID number) → the active permits the person holds.
    holders: HashMap<(String, String), Vec<String>>,
}

impl FakeLookups {
    fn with_cases(cases: &[&str]) -> FakeLookups {
        FakeLookups {
            cases: cases.iter().map(|c| c.to_string()).collect(),
            ..FakeLookups::default()
        }
    }

    fn token(mut self, token: &str, case: &str) -> FakeLookups {
        self.tokens.insert(token.into(), case.into());
        self
    }

    fn holder(mut self, id_number: &str, permit: &str) -> FakeLookups {
        self.holders
            .entry((WARD.into(), id_number.into()))
            .or_default()
            .push(permit.into());
        self
    }
}

impl Lookups for FakeLookups {
    fn case_by_token(&self, token: &str) -> Option<String> {
        self.tokens.get(token).cloned()
    }
    fn case_exists(&self, code: &str) -> bool {
        self.cases.contains(code)
    }
    fn active_permits(&self, ward: &str, id_number: &str, _: jiff::civil::Date) -> Vec<String> {
        self.holders
            .get(&(ward.to_owned(), id_number.to_owned()))
            .cloned()
            .unwrap_or_default()
    }
}

fn today() -> jiff::civil::Date {
    jiff::civil::date(2021, 9, 8)
}

// ---------------------------------------------------------------------------------
// Mails
// ---------------------------------------------------------------------------------

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// A mail as a client writes it: UTF-8 text, RFC 2047 subject, base64 attachments,
/// and (unless removed) a passing `Authentication-Results` from mx.google.com for the
/// From domain.
#[derive(Clone)]
struct Eml {
    from: String,
    to: String,
    subject: String,
    headers: Vec<(String, String)>,
    body: String,
    attachments: Vec<(String, String, Vec<u8>)>,
    message_id: String,
    auth: bool,
}

impl Eml {
    fn new(from: &str, to: &str, subject: &str) -> Eml {
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Eml {
            from: from.into(),
            to: to.into(),
            subject: subject.into(),
            headers: Vec::new(),
            body: String::new(),
            attachments: Vec::new(),
            message_id: format!("<CAgate{n}@mail.gmail.com>"),
            auth: true,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Eml {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn body(mut self, body: &str) -> Eml {
        self.body = body.into();
        self
    }

    fn message_id(mut self, id: &str) -> Eml {
        self.message_id = id.into();
        self
    }

    fn attach(mut self, name: &str, content_type: &str, bytes: &[u8]) -> Eml {
        self.attachments
            .push((name.into(), content_type.into(), bytes.to_vec()));
        self
    }

    fn attach_file(self, name: &str, content_type: &str, path: &str) -> Eml {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        self.attach(name, content_type, &bytes)
    }

    fn bytes(&self) -> Vec<u8> {
        let domain = self.from.rsplit_once('@').map_or("", |(_, d)| d);
        let mut out = String::new();
        out.push_str(&format!("Delivered-To: {}\r\n", self.to));
        if self.auth {
            out.push_str(&format!(
                "Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@{domain};\r\n       dmarc=pass (p=REJECT) header.from={domain}\r\n"
            ));
        }
        out.push_str(&format!("From: <{}>\r\n", self.from));
        out.push_str(&format!("To: <{}>\r\n", self.to));
        out.push_str(&format!(
            "Subject: =?UTF-8?B?{}?=\r\n",
            data_encoding::BASE64.encode(self.subject.as_bytes())
        ));
        out.push_str("Date: Wed, 8 Sep 2021 17:15:30 +0700\r\n");
        out.push_str(&format!("Message-ID: {}\r\n", self.message_id));
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("MIME-Version: 1.0\r\n");
        let text = format!(
            "Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
            self.body.replace('\n', "\r\n")
        );
        if self.attachments.is_empty() {
            out.push_str(&text);
            return out.into_bytes();
        }
        let boundary = "000000000000gate0boundary";
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n{text}"
        ));
        for (name, ct, bytes) in &self.attachments {
            out.push_str(&format!(
                "--{boundary}\r\nContent-Type: {ct}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            ));
            let encoded = data_encoding::BASE64.encode(bytes);
            for line in encoded.as_bytes().chunks(76) {
                out.push_str(&String::from_utf8_lossy(line));
                out.push_str("\r\n");
            }
        }
        out.push_str(&format!("--{boundary}--\r\n"));
        out.into_bytes()
    }

    fn mail(&self) -> Mail {
        read(&self.bytes())
    }
}

fn read(raw: &[u8]) -> Mail {
    parse_mail(raw, &["mx.google.com".to_owned()]).unwrap_or_else(|e| panic!("{e}"))
}

fn fixture_mail(name: &str) -> Mail {
    let path = format!("tests/fixtures/mail/{name}.eml");
    read(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn classify(f: &Fixture, mail: &Mail, account: &str, lookups: &FakeLookups) -> Classified {
    gate::classify(mail, account, &f.config, lookups, today())
}

fn expect_event(c: Classified) -> (String, Option<String>, Event) {
    match c {
        Classified::Event {
            ward, case, event, ..
        } => (ward, case, event),
        Classified::Drop { reason, .. } => panic!("expected an event, dropped: {reason}"),
    }
}

fn dropped(c: Classified) -> String {
    match c {
        Classified::Drop { reason, .. } => reason,
        Classified::Event { event, .. } => panic!("expected a drop, got {event:?}"),
    }
}

// ---------------------------------------------------------------------------------
// Dropped without an answer
// ---------------------------------------------------------------------------------

#[test]
fn mails_that_get_no_answer_are_dropped_with_a_reason() {
    let f = fixture();
    let lookups = FakeLookups::with_cases(&["THD-T-0001"]);
    let cases: Vec<(&str, Mail, &str, &str)> = vec![
        (
            "own mail from another ward's account, with a +tag",
            Eml::new("qrca.hoankiem.hangbac1+abc@gmail.com", ACCOUNT, "DUYỆT")
                .body("DUYỆT")
                .mail(),
            ACCOUNT,
            "own mail",
        ),
        (
            "own mail from this ward's account",
            Eml::new(ACCOUNT2, ACCOUNT, "[QRCA THD-T-0001] Xác nhận")
                .body("x")
                .mail(),
            ACCOUNT,
            "own mail",
        ),
        (
            "out-of-office auto-reply",
            fixture_mail("auto_submitted_auto_replied"),
            ACCOUNT,
            "automatic mail: Auto-Submitted: auto-replied",
        ),
        (
            "X-Loop",
            fixture_mail("x_loop"),
            ACCOUNT,
            "automatic mail: X-Loop",
        ),
        (
            "Gmail bounce (also auto-submitted: the report wins)",
            fixture_mail("dsn_gmail_rfc822"),
            ACCOUNT,
            "<12.thd-t-0001@hoankiem.tranhungdao.qrca>",
        ),
        (
            "Postfix bounce without From",
            fixture_mail("dsn_postfix_headers_no_from"),
            ACCOUNT,
            "<13.thd-t-0001@hoankiem.tranhungdao.qrca>",
        ),
        (
            "our own Message-ID coming back: a loop",
            Eml::new(OFFICER, ACCOUNT, "hello")
                .message_id("<9.thd-t-0001@hoankiem.tranhungdao.qrca>")
                .body("TRẠNG THÁI")
                .mail(),
            ACCOUNT,
            "loop",
        ),
        (
            "arrived on an account of no ward",
            Eml::new(OFFICER, "someone@gmail.com", "TRẠNG THÁI")
                .body("TRẠNG THÁI")
                .mail(),
            "someone@gmail.com",
            "no ward's account",
        ),
    ];
    for (what, mail, account, expected) in cases {
        let reason = dropped(classify(&f, &mail, account, &lookups));
        assert!(
            reason.contains(expected),
            "{what}: {reason:?} does not contain {expected:?}"
        );
    }
    let dsn = dropped(classify(
        &f,
        &fixture_mail("dsn_gmail_rfc822"),
        ACCOUNT,
        &lookups,
    ));
    assert!(dsn.starts_with("delivery report (failed 5.1.2)"), "{dsn}");
}

#[test]
fn drop_reason_is_none_for_a_person() {
    let f = fixture();
    let mail = Eml::new(OFFICER, ACCOUNT, "x").body("DUYỆT").mail();
    assert_eq!(gate::drop_reason(&mail, &f.config), None);
}

#[test]
fn own_message_ids_are_recognised() {
    let table = [
        ("<17.thd-t-0001@hoankiem.tranhungdao.qrca>", true),
        ("<17.thd-t-0001@HOANKIEM.TRANHUNGDAO.QRCA>", true),
        ("<x@qrca>", false),
        ("<x@mail.gmail.com>", false),
        ("<x@qrca.example>", false),
        ("", false),
        ("<@.qrca>", true),
    ];
    for (id, own) in table {
        assert_eq!(gate::is_own_message_id(id), own, "{id}");
    }
}

// ---------------------------------------------------------------------------------
// Which case
// ---------------------------------------------------------------------------------

#[test]
fn case_codes_are_read_from_our_message_ids() {
    let table: [(&str, &str, Option<&str>); 9] = [
        (
            "<17.thd-t-0001@hoankiem.tranhungdao.qrca>",
            WARD,
            Some("THD-T-0001"),
        ),
        (
            "<1.thd-c-0012@hoankiem.tranhungdao.qrca>",
            WARD,
            Some("THD-C-0012"),
        ),
        (
            "<17.thd-t-0001@hoankiem.tranhungdao.qrca>",
            "hoankiem.hangbac",
            None,
        ),
        ("<17.thd-t-0001@hoankiem.tranhungdao.example>", WARD, None),
        ("<x.thd-t-0001@hoankiem.tranhungdao.qrca>", WARD, None),
        ("<17thd-t-0001@hoankiem.tranhungdao.qrca>", WARD, None),
        ("<17.thd-t-0001@qrca>", WARD, None),
        ("17.thd-t-0001@hoankiem.tranhungdao.qrca", WARD, None),
        ("<17.thd t 0001@hoankiem.tranhungdao.qrca>", WARD, None),
    ];
    for (id, ward, expected) in table {
        assert_eq!(
            gate::case_in_message_id(id, ward).as_deref(),
            expected,
            "{id} on {ward}"
        );
    }
}

#[test]
fn kind_comes_from_the_case_code() {
    let table = [
        ("THD-T-0001", Some(Kind::T)),
        ("THD-C-0001", Some(Kind::C)),
        ("THD-H-0001", Some(Kind::H)),
        ("THD-X-0001", None),
        ("THD", None),
        ("THD-TT-0001", None),
    ];
    for (code, kind) in table {
        assert_eq!(gate::kind_of_case(code), kind, "{code}");
    }
}

#[test]
fn the_case_is_the_token_then_the_thread_then_the_subject() {
    let f = fixture();
    let lookups = FakeLookups::with_cases(&[
        "THD-T-0001",
        "THD-T-0002",
        "THD-T-0003",
        "THD-T-0004",
        "HB-T-0001",
    ])
    .token(TOKEN, "THD-T-0004")
    .token("hbtoken", "HB-T-0001");
    let plus = |acct: &str, token: &str| {
        let (l, d) = acct.split_once('@').unwrap_or_default();
        format!("{l}+{token}@{d}")
    };
    let cases: Vec<(&str, Eml, Option<&str>, Option<&str>)> = vec![
        (
            "token on this ward's account wins over the thread and subject",
            Eml::new(OFFICER, &plus(ACCOUNT, TOKEN), "Re: [QRCA THD-T-0003] x")
                .header("In-Reply-To", "<7.thd-t-0002@hoankiem.tranhungdao.qrca>"),
            Some(TOKEN),
            Some("THD-T-0004"),
        ),
        (
            "token on the ward's second account, upper-cased",
            Eml::new(OFFICER, &plus(ACCOUNT2, &TOKEN.to_uppercase()), "x"),
            Some(TOKEN),
            Some("THD-T-0004"),
        ),
        (
            "token on another ward's address is ignored",
            Eml::new(OFFICER, &plus(HB_ACCOUNT, "hbtoken"), "x"),
            None,
            None,
        ),
        (
            "plus part of some other address is ignored",
            Eml::new(OFFICER, "canbo.an+hbtoken@hoankiem.hanoi.gov.vn", "x"),
            None,
            None,
        ),
        (
            "an unknown token is kept; the thread names the case",
            Eml::new(OFFICER, &plus(ACCOUNT, "unknowntoken"), "x")
                .header("In-Reply-To", "<7.thd-t-0002@hoankiem.tranhungdao.qrca>"),
            Some("unknowntoken"),
            Some("THD-T-0002"),
        ),
        (
            "In-Reply-To of our Message-ID",
            Eml::new(OFFICER, ACCOUNT, "Re: [QRCA THD-T-0003] x")
                .header("In-Reply-To", "<7.thd-t-0002@hoankiem.tranhungdao.qrca>"),
            None,
            Some("THD-T-0002"),
        ),
        (
            "References, nearest first, when In-Reply-To is someone else's",
            Eml::new(OFFICER, ACCOUNT, "Re: x")
                .header("In-Reply-To", "<CAother@mail.gmail.com>")
                .header(
                    "References",
                    "<3.thd-t-0001@hoankiem.tranhungdao.qrca> <CAother@mail.gmail.com> <5.thd-t-0002@hoankiem.tranhungdao.qrca>",
                ),
            None,
            Some("THD-T-0002"),
        ),
        (
            "a thread case that does not exist falls through to the subject",
            Eml::new(OFFICER, ACCOUNT, "Re: [QRCA THD-T-0003] x")
                .header("In-Reply-To", "<7.thd-t-0009@hoankiem.tranhungdao.qrca>"),
            None,
            Some("THD-T-0003"),
        ),
        (
            "another ward's Message-ID is ignored",
            Eml::new(OFFICER, ACCOUNT, "Re: x")
                .header("In-Reply-To", "<7.hb-t-0001@hoankiem.hangbac.qrca>"),
            None,
            None,
        ),
        (
            "token address in Cc (a reply-all)",
            Eml::new(OFFICER, "someone@example.vn", "Re: x")
                .header("Cc", &plus_address(TOKEN)),
            Some(TOKEN),
            Some("THD-T-0004"),
        ),
        (
            "subject code of this ward",
            Eml::new(OFFICER, ACCOUNT, "Re: [QRCA THD-T-0003] Yêu cầu duyệt"),
            None,
            Some("THD-T-0003"),
        ),
        (
            "subject code of another ward is ignored",
            Eml::new(OFFICER, ACCOUNT, "Re: [QRCA HB-T-0001] Yêu cầu duyệt"),
            None,
            None,
        ),
        (
            "subject code of a case that does not exist",
            Eml::new(OFFICER, ACCOUNT, "Re: [QRCA THD-T-0099] x"),
            None,
            None,
        ),
    ];
    for (what, eml, token, case) in cases {
        let mail = eml.body("DUYỆT").mail();
        assert_eq!(
            gate::reply_token(&mail, f.ward()).as_deref(),
            token,
            "{what}: token"
        );
        let (ward, got, event) = expect_event(classify(&f, &mail, ACCOUNT, &lookups));
        assert_eq!(ward, WARD, "{what}");
        assert_eq!(got.as_deref(), case, "{what}: case");
        assert_eq!(
            event.body,
            EventBody::Reply {
                token: token.map(|t| ReplyToken(t.into())),
                commands: vec![Command::Approve(Rows::All)],
                unreadable: vec![],
            },
            "{what}: body"
        );
    }
}

#[test]
fn the_ward_is_the_account_s_even_for_another_ward_s_officer() {
    let f = fixture();
    let mail = Eml::new(OFFICER, HB_ACCOUNT, "[QRCA THD-T-0001] x")
        .body("TRẠNG THÁI")
        .mail();
    let lookups = FakeLookups::with_cases(&["THD-T-0001"]);
    let (ward, case, _) = expect_event(classify(&f, &mail, HB_ACCOUNT, &lookups));
    assert_eq!(ward, "hoankiem.hangbac");
    assert_eq!(case, None);
}

// ---------------------------------------------------------------------------------
// Sender and authentication
// ---------------------------------------------------------------------------------

#[test]
fn sender_message_id_and_auth_are_carried() {
    let f = fixture();
    let lookups = FakeLookups::with_cases(&["THD-T-0001"]).token(TOKEN, "THD-T-0001");
    let (_, case, event) = expect_event(classify(
        &f,
        &fixture_mail("gmail_web_vi_reply_plus"),
        ACCOUNT,
        &lookups,
    ));
    assert_eq!(case.as_deref(), Some("THD-T-0001"));
    assert_eq!(event.sender, "canbo.an@hoankiem.hanoi.gov.vn");
    assert_eq!(
        event.message_id,
        "<CAJx9fZ2vQ8u+Lq=kP3xM0n5Yw1hT@mail.gmail.com>"
    );
    assert!(matches!(event.auth, AuthEvidence::Pass { .. }));

    let (_, _, forged) = expect_event(classify(
        &f,
        &fixture_mail("auth_forged_below_real"),
        ACCOUNT,
        &lookups,
    ));
    assert!(
        matches!(&forged.auth, AuthEvidence::Fail { detail } if detail.contains("dmarc=fail")),
        "{:?}",
        forged.auth
    );
    // Still an event: the core refuses it with NotAuthenticated and records why.
    assert!(matches!(forged.body, EventBody::Reply { .. }));
}

// ---------------------------------------------------------------------------------
// Registrations
// ---------------------------------------------------------------------------------

#[test]
fn an_organisation_registration_gives_its_fields() {
    let f = fixture();
    let mail = Eml::new(CSKV, ACCOUNT, "ĐĂNG KÝ TỔ CHỨC: Công ty Minh Anh")
        .body(
            "Kính gửi UBND phường,\n\nTên tổ chức: Công ty TNHH Minh Anh\nEmail: KeToan@MinhAnh.com.vn\nMã số thuế: 0101234567\nĐịa chỉ: 12 Hàng Bạc\nNgười liên hệ: Trần Văn Bảo\nĐiện thoại: 0912 345 678\nLĩnh vực: Thực phẩm\n\n-- \nCSKV Lan",
        )
        .mail();
    let (ward, case, event) = expect_event(classify(&f, &mail, ACCOUNT, &FakeLookups::default()));
    assert_eq!((ward.as_str(), case), (WARD, None));
    assert_eq!(event.sender, CSKV);
    let EventBody::RegisterOrganisation(org) = event.body else {
        panic!("{:?}", event.body)
    };
    assert_eq!(org.name, "Công ty TNHH Minh Anh");
    assert_eq!(org.email, "ketoan@minhanh.com.vn");
    assert_eq!(org.tax_code.as_deref(), Some("0101234567"));
    assert_eq!(org.address.as_deref(), Some("12 Hàng Bạc"));
    assert_eq!(org.contact.as_deref(), Some("Trần Văn Bảo"));
    assert_eq!(org.sector.as_deref(), Some("Thực phẩm"));
    assert!(org.phone.is_some());
}

#[test]
fn a_forwarded_registration_is_read_from_the_forwarded_message() {
    let f = fixture();
    // Outlook's "forward as attachment" (message/rfc822), and Gmail's inline forward.
    for name in ["forwarded_rfc822_registration", "gmail_inline_forward"] {
        let (_, case, event) = expect_event(classify(
            &f,
            &fixture_mail(name),
            ACCOUNT,
            &FakeLookups::default(),
        ));
        assert_eq!(case, None, "{name}");
        assert_eq!(event.sender, CSKV_FWD, "{name}");
        let EventBody::RegisterOrganisation(org) = event.body else {
            panic!("{name}: {:?}", event.body)
        };
        assert_eq!(org.name, "Công ty TNHH Minh Anh", "{name}");
        assert_eq!(org.email, "ketoan@minhanh.com.vn", "{name}");
    }
}

#[test]
fn a_registration_without_the_required_fields_is_dropped_with_the_reason() {
    let f = fixture();
    let mail = Eml::new(CSKV, ACCOUNT, "DANG KY TO CHUC")
        .body("Tên tổ chức: Công ty TNHH Minh Anh\nĐịa chỉ: 12 Hàng Bạc")
        .mail();
    let reason = dropped(classify(&f, &mail, ACCOUNT, &FakeLookups::default()));
    assert!(reason.contains("Email"), "{reason}");
    assert!(
        reason.ends_with("(from cskv.thd@hoankiem.hanoi.gov.vn)"),
        "{reason}"
    );
}

#[test]
fn an_officer_s_unreadable_registration_is_answered_with_what_is_missing() {
    let f = fixture();
    for from in [OFFICER, CSKV] {
        let mail = Eml::new(from, ACCOUNT, "ĐĂNG KÝ TỔ CHỨC")
            .body("Tên tổ chức: Công ty TNHH Minh Anh\nĐịa chỉ: 12 Hàng Bạc")
            .mail();
        let Classified::Drop { reason, answer } =
            classify(&f, &mail, ACCOUNT, &FakeLookups::default())
        else {
            panic!("expected a drop");
        };
        assert!(reason.contains("Email"), "{reason}");
        let answer = answer.unwrap_or_else(|| panic!("no answer to {from}"));
        assert_eq!(answer.template, Template::RegistrationIncomplete);
        assert_eq!(answer.to, [from]);
        assert!(answer.cc.is_empty() && answer.attachments.is_empty());
        assert!(answer.reply_token.is_none());
        assert_eq!(answer.data.missing, ["Email"]);
        assert_eq!(answer.data.bad_email, None);
        assert_eq!(
            answer.data.about_subject.as_deref(),
            Some("ĐĂNG KÝ TỔ CHỨC")
        );
    }
    // An Email that is no address is named as written.
    let mail = Eml::new(OFFICER, ACCOUNT, "DANG KY TO CHUC")
        .body("Email: nhansu congty\n")
        .mail();
    let Classified::Drop {
        answer: Some(answer),
        ..
    } = classify(&f, &mail, ACCOUNT, &FakeLookups::default())
    else {
        panic!("expected an answered drop");
    };
    assert_eq!(answer.data.missing, ["Tên tổ chức"]);
    assert_eq!(answer.data.bad_email.as_deref(), Some("nhansu congty"));
}

#[test]
fn a_stranger_s_unreadable_registration_is_dropped_in_silence() {
    let f = fixture();
    for from in [ORG, "ke.gia.mao@gmail.com", POLICE] {
        let mail = Eml::new(from, ACCOUNT, "ĐĂNG KÝ TỔ CHỨC")
            .body("Tên tổ chức: Công ty TNHH Minh Anh")
            .mail();
        match classify(&f, &mail, ACCOUNT, &FakeLookups::default()) {
            Classified::Drop { reason, answer } => {
                assert!(reason.contains("Email"), "{reason}");
                assert_eq!(answer, None, "{from}");
            }
            other => panic!("{other:?}"),
        }
    }
    // An officer's address without a trusted pass may be anyone's: no answer either.
    for from in [OFFICER, CSKV] {
        let mut forged = Eml::new(from, ACCOUNT, "ĐĂNG KÝ TỔ CHỨC");
        forged.auth = false;
        let mail = forged.body("Tên tổ chức: Công ty TNHH Minh Anh").mail();
        match classify(&f, &mail, ACCOUNT, &FakeLookups::default()) {
            Classified::Drop { answer, .. } => assert_eq!(answer, None, "forged {from}"),
            other => panic!("{other:?}"),
        }
    }
    // An officer's auto-reply with the registration words is no registration at all.
    let auto = Eml::new(OFFICER, ACCOUNT, "Trả lời tự động: ĐĂNG KÝ TỔ CHỨC")
        .header("Auto-Submitted", "auto-replied")
        .body("Tôi đang nghỉ phép.")
        .mail();
    assert!(matches!(
        classify(&f, &auto, ACCOUNT, &FakeLookups::default()),
        Classified::Drop { answer: None, .. }
    ));
}

#[test]
fn a_mail_too_large_is_answered_from_its_header_once() {
    let f = fixture();
    let store = Store::open(&f.config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let header_of = |raw: &[u8]| {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no header end"));
        raw[..end + 4].to_vec()
    };
    let at = |uid| Position {
        account: ACCOUNT.into(),
        uidvalidity: 1,
        uid,
    };
    let now = jiff::Timestamp::now();
    let notices = || -> Vec<qrca::store::OutboxEntry> {
        let outbox = store.outbox().unwrap_or_else(|e| panic!("{e}"));
        outbox
            .into_iter()
            .filter(|e| e.mail.template == Template::MailTooLarge)
            .collect()
    };
    // Before the case exists, ORG is nobody to this ward: a forged From must not make
    // the ward mail whomever a stranger names (backscatter, quota burn).
    let raw = Eml::new(ORG, ACCOUNT, "Re: [QRCA THD-T-0001] Danh sách").bytes();
    let stranger = Eml::new("ke.la@evil.example", ACCOUNT, "Re: [QRCA THD-T-0001] x").bytes();
    for (uid, raw) in [(5, &raw), (6, &stranger)] {
        let taken = qrca::daemon::intake::too_large(
            &store,
            &f.config,
            &at(uid),
            31_457_280,
            Some(&header_of(raw)),
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(taken, Taken::Ignored(ref r) if r.contains("no answer")),
            "{taken:?}"
        );
    }
    assert!(notices().is_empty());
    // The officer registers the organisation: now it is a party to THD-T-0001.
    let registration = Eml::new(OFFICER, ACCOUNT, "ĐĂNG KÝ TỔ CHỨC")
        .body(&format!("Tên tổ chức: Công ty TNHH Một\nEmail: {ORG}"));
    let taken = take_in(
        &store,
        &Blobs::new(&f.config.service.state_dir),
        &f.config,
        &at(4),
        &registration.bytes(),
        now,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(taken, Taken::Processed(Processed::Applied { .. })),
        "{taken:?}"
    );
    let raw = Eml::new(ORG, ACCOUNT, "Re: [QRCA THD-T-0001] Danh sách").bytes();
    let header = &header_of(&raw)[..];
    let taken =
        qrca::daemon::intake::too_large(&store, &f.config, &at(7), 31_457_280, Some(header), now)
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(taken, Taken::Ignored(_)), "{taken:?}");
    let outbox = notices();
    assert_eq!(outbox.len(), 1);
    let notice = &outbox[0];
    assert_eq!(notice.case, "");
    assert_eq!(notice.mail.template, Template::MailTooLarge);
    assert_eq!(notice.mail.to, [ORG]);
    assert_eq!(notice.mail.data.size_bytes, Some(31_457_280));
    assert_eq!(
        notice.mail.data.about_subject.as_deref(),
        Some("Re: [QRCA THD-T-0001] Danh sách")
    );
    // The same party's address with no trusted pass: a forger's, so no answer.
    let mut forged = Eml::new(ORG, ACCOUNT, "Re: [QRCA THD-T-0001] Danh sách");
    forged.auth = false;
    let taken = qrca::daemon::intake::too_large(
        &store,
        &f.config,
        &at(10),
        31_457_280,
        Some(&header_of(&forged.bytes())),
        now,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(taken, Taken::Ignored(ref r) if r.contains("no trusted Authentication-Results")),
        "{taken:?}"
    );
    assert_eq!(notices().len(), 1);
    // The same mail again, here or on another account of the ward: nothing more.
    for account in [ACCOUNT, ACCOUNT2] {
        let again = Position {
            account: account.into(),
            uidvalidity: 1,
            uid: 7,
        };
        let taken = qrca::daemon::intake::too_large(
            &store,
            &f.config,
            &again,
            31_457_280,
            Some(header),
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(taken, Taken::Processed(Processed::AlreadySeen)),
            "{taken:?}"
        );
    }
    // An auto-reply too large, or one whose header was not read: recorded, no answer.
    let auto = Eml::new(ORG, ACCOUNT, "Out of office")
        .header("Auto-Submitted", "auto-replied")
        .bytes();
    for (uid, header) in [(8, Some(&auto[..])), (9, None)] {
        let taken =
            qrca::daemon::intake::too_large(&store, &f.config, &at(uid), 25_000_000, header, now)
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(taken, Taken::Ignored(_)), "{taken:?}");
    }
    assert_eq!(notices().len(), 1);
}

#[test]
fn a_registration_subject_in_a_known_case_s_thread_is_not_a_new_case() {
    let f = fixture();
    let lookups = FakeLookups::with_cases(&["THD-C-0001"]);
    let mail = Eml::new(CSKV, ACCOUNT, "Re: [QRCA THD-C-0001] ĐĂNG KÝ CÁ NHÂN")
        .body("Gửi lại danh sách đã sửa.")
        .attach_file("ds.xlsx", XLSX, "tests/fixtures/rosters/c-vni.xlsx")
        .mail();
    let (_, case, event) = expect_event(classify(&f, &mail, ACCOUNT, &lookups));
    assert_eq!(case.as_deref(), Some("THD-C-0001"));
    assert!(
        matches!(event.body, EventBody::Roster(_)),
        "{:?}",
        event.body
    );
}

#[test]
fn roster_registrations_read_the_spreadsheet() {
    let f = fixture();
    let cases: Vec<(&str, Eml, Kind, usize, bool)> = vec![
        (
            "individuals, .xlsx",
            Eml::new(CSKV, ACCOUNT, "ĐĂNG KÝ CÁ NHÂN tổ dân phố 3")
                .body("Gửi danh sách.")
                .attach_file(
                    "cv.pdf",
                    "application/pdf",
                    "tests/fixtures/rosters/t-really-a-pdf.xlsx",
                )
                .attach_file("ds.xlsx", XLSX, "tests/fixtures/rosters/c-vni.xlsx"),
            Kind::C,
            4,
            false,
        ),
        (
            "households, Windows-1258 .csv sent as octet-stream",
            Eml::new(CSKV, ACCOUNT, "THE DI CHO khu pho 2")
                .body("x")
                .attach_file(
                    "ho.csv",
                    "application/octet-stream",
                    "tests/fixtures/rosters/h-windows-1258.csv",
                ),
            Kind::H,
            2,
            false,
        ),
        (
            "individuals without a spreadsheet",
            Eml::new(CSKV, ACCOUNT, "REGISTER INDIVIDUALS").body("Danh sách ở dưới."),
            Kind::C,
            0,
            true,
        ),
    ];
    for (what, eml, kind, rows, missing) in cases {
        let (_, case, event) =
            expect_event(classify(&f, &eml.mail(), ACCOUNT, &FakeLookups::default()));
        assert_eq!(case, None, "{what}");
        let EventBody::RegisterRoster {
            kind: got,
            submission,
        } = event.body
        else {
            panic!("{what}: {:?}", event.body)
        };
        assert_eq!(got, kind, "{what}");
        assert_eq!(submission.roster.rows.len(), rows, "{what}");
        assert_eq!(
            submission
                .roster
                .errors
                .iter()
                .any(|e| e.message == gate::NO_SPREADSHEET && e.row.is_none()),
            missing,
            "{what}: {:?}",
            submission.roster.errors
        );
    }
}

#[test]
fn a_roster_whose_dates_have_passed_is_answered_at_intake_by_row_and_column() {
    // Issue 15: the list arrives on 8 September 2021 (the gate's day, in the service's
    // time zone); row 3 ended on the 7th, row 4 asks for longer than the config's
    // 30 days. Both are errors of the roster, so the case never reaches the police.
    let f = fixture();
    let csv = "STT,Họ và tên,CCCD/CMND,Ngày sinh,Lý do,Từ ngày,Đến ngày\n\
               1,Nguyễn Văn An,001090000001,01/01/1990,Đi làm,08/09/2021,08/09/2021\n\
               2,Trần Thị Bình,001090000002,01/01/1990,Đi làm,01/09/2021,07/09/2021\n\
               3,Lê Văn Cường,001090000003,01/01/1990,Đi làm,08/09/2021,31/12/2021\n";
    let eml = Eml::new(CSKV, ACCOUNT, "ĐĂNG KÝ CÁ NHÂN tổ dân phố 3")
        .body("Gửi danh sách.")
        .attach("ds.csv", "text/csv", csv.as_bytes());
    let (_, _, event) = expect_event(classify(&f, &eml.mail(), ACCOUNT, &FakeLookups::default()));
    let EventBody::RegisterRoster { submission, .. } = event.body else {
        panic!("{:?}", event.body)
    };
    let at: Vec<(Option<u32>, Option<&str>)> = submission
        .roster
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_deref()))
        .collect();
    assert_eq!(
        at,
        [(Some(3), Some("Đến ngày")), (Some(4), Some("Đến ngày"))],
        "{:?}",
        submission.roster.errors
    );
    assert!(
        submission.roster.errors[0]
            .message
            .contains("07/09/2021 đã qua")
    );
    assert!(
        submission.roster.errors[1]
            .message
            .contains("tối đa 30 ngày")
    );
    assert!(!submission.roster.is_valid());
}

#[test]
fn the_first_roster_registration_keeps_its_other_files_as_documents() {
    let f = fixture();
    let eml = Eml::new(CSKV, ACCOUNT, "ĐĂNG KÝ CÁ NHÂN")
        .body("x")
        .attach("giay.pdf", "application/pdf", b"%PDF-1.4 hello")
        .attach_file("ds.xlsx", XLSX, "tests/fixtures/rosters/c-vni.xlsx");
    let id = eml.message_id.clone();
    let (_, _, event) = expect_event(classify(&f, &eml.mail(), ACCOUNT, &FakeLookups::default()));
    let EventBody::RegisterRoster { submission, .. } = event.body else {
        panic!("{:?}", event.body)
    };
    assert_eq!(submission.file_name, "ds.xlsx");
    assert_eq!(
        submission.documents,
        vec![DocumentRef {
            name: "giay.pdf".into(),
            size: 14,
            blob: format!("{id}#0"),
        }]
    );
}

// ---------------------------------------------------------------------------------
// Rosters and replies on a case
// ---------------------------------------------------------------------------------

#[test]
fn a_roster_reply_on_a_case_becomes_a_roster_with_documents() {
    let f = fixture();
    let lookups = FakeLookups::with_cases(&["THD-T-0001"]).token(TOKEN, "THD-T-0001");
    let (_, case, event) = expect_event(classify(
        &f,
        &fixture_mail("xlsx_roster_attachment"),
        ACCOUNT,
        &lookups,
    ));
    assert_eq!(case.as_deref(), Some("THD-T-0001"));
    let EventBody::Roster(sub) = &event.body else {
        panic!("{:?}", event.body)
    };
    // The fixture's sheet is a generic one (its own headers); what matters here is that
    // it was taken as the case's roster, by its name as decoded.
    assert_eq!(sub.file_name, "Danh sách nhân viên.xlsx");
    assert!(sub.documents.is_empty());

    let eml = Eml::new(ORG, ACCOUNT, "Re: [QRCA THD-T-0001] Xác nhận đăng ký")
        .header("In-Reply-To", "<1.thd-t-0001@hoankiem.tranhungdao.qrca>")
        .body("Gửi danh sách và giấy tờ.")
        .attach("giay-phep.pdf", "application/pdf", b"%PDF-1.4 one")
        .attach_file(
            "ds.xlsx",
            XLSX,
            "tests/fixtures/rosters/t-blank-signature.xlsx",
        )
        .attach("anh.png", "image/png", b"\x89PNG\r\n\x1a\nrest");
    let id = eml.message_id.clone();
    let (_, case, event) = expect_event(classify(&f, &eml.mail(), ACCOUNT, &lookups));
    assert_eq!(case.as_deref(), Some("THD-T-0001"));
    assert_eq!(event.sender, ORG);
    let EventBody::Roster(sub) = event.body else {
        panic!("{:?}", event.body)
    };
    assert_eq!(sub.file_name, "ds.xlsx");
    assert_eq!(sub.roster.rows.len(), 3);
    assert!(sub.roster.errors.is_empty(), "{:?}", sub.roster.errors);
    assert_eq!(
        sub.documents,
        vec![
            DocumentRef {
                name: "giay-phep.pdf".into(),
                size: 12,
                blob: format!("{id}#0"),
            },
            DocumentRef {
                name: "anh.png".into(),
                size: 12,
                blob: format!("{id}#2"),
            },
        ]
    );
}

#[test]
fn a_person_holding_a_permit_of_another_case_is_a_roster_error() {
    let f = fixture();
    let sheet = || {
        Eml::new(ORG, ACCOUNT, "Re: [QRCA THD-T-0001] Xác nhận")
            .attach_file(
                "ds.xlsx",
                XLSX,
                "tests/fixtures/rosters/t-blank-signature.xlsx",
            )
            .mail()
    };
    let base = || FakeLookups::with_cases(&["THD-T-0001", "THD-T-0002"]);
    let roster = |lookups: &FakeLookups| {
        let (_, _, event) = expect_event(classify(&f, &sheet(), ACCOUNT, lookups));
        let EventBody::Roster(sub) = event.body else {
            panic!("{:?}", event.body)
        };
        sub.roster
    };
    let clean = roster(&base());
    let first = clean.rows[0].id_number.clone().unwrap_or_default();
    // Held on this very case: the core reports "already holds", not an error.
    let same = roster(&base().holder(&first, "THD-T-0001-0004"));
    assert!(same.errors.is_empty(), "{:?}", same.errors);
    // Held on another case of the ward: an error on that row, in the ID column.
    let other = roster(&base().holder(&first, "THD-T-0002-0001"));
    assert_eq!(other.errors.len(), 1, "{:?}", other.errors);
    assert_eq!(other.errors[0].row, Some(clean.rows[0].sheet_row));
    assert!(other.errors[0].message.contains("THD-T-0002-0001"));
    assert!(other.errors[0].column.is_some());
}

#[test]
fn an_oversized_spreadsheet_is_one_roster_error_naming_the_limit() {
    // A 21 MB "spreadsheet" (base64 in the mail: 28 MB): the roster reader refuses it
    // before parsing, with one whole-file error; the mail itself is read fine.
    let f = fixture();
    let lookups = FakeLookups::with_cases(&["THD-T-0001"]);
    let mut big = b"PK\x03\x04".to_vec();
    big.resize(21_000_000, 0);
    let mail = Eml::new(ORG, ACCOUNT, "Re: [QRCA THD-T-0001] Xác nhận")
        .attach("../../etc/passwd.xlsx", XLSX, &big)
        .mail();
    let (_, case, event) = expect_event(classify(&f, &mail, ACCOUNT, &lookups));
    assert_eq!(case.as_deref(), Some("THD-T-0001"));
    let EventBody::Roster(sub) = event.body else {
        panic!("{:?}", event.body)
    };
    // The path is gone from the name.
    assert_eq!(sub.file_name, "passwd.xlsx");
    assert!(sub.roster.rows.is_empty());
    assert_eq!(sub.roster.errors.len(), 1, "{:?}", sub.roster.errors);
    assert_eq!(sub.roster.errors[0].row, None);
    assert!(
        sub.roster.errors[0].message.contains("giới hạn là 20.0 MB"),
        "{:?}",
        sub.roster.errors
    );
}

#[test]
fn an_officer_s_spreadsheet_with_commands_is_a_reply() {
    let f = fixture();
    let lookups = FakeLookups::with_cases(&["THD-T-0001"]).token(TOKEN, "THD-T-0001");
    let mail = Eml::new(
        OFFICER,
        "qrca.hoankiem.tranhungdao1+k3j4h5g6f7d8s9a0q1w2e3r4aa@gmail.com",
        "Re: [QRCA THD-T-0001] Yêu cầu duyệt",
    )
    .body("DUYỆT 1-2")
    .attach_file(
        "ds.xlsx",
        XLSX,
        "tests/fixtures/rosters/t-blank-signature.xlsx",
    )
    .mail();
    let (_, _, event) = expect_event(classify(&f, &mail, ACCOUNT, &lookups));
    assert!(
        matches!(event.body, EventBody::Reply { .. }),
        "{:?}",
        event.body
    );
}

#[test]
fn replies_become_decisions_revocations_or_status() {
    let f = fixture();
    let lookups = FakeLookups::with_cases(&["THD-T-0001", "THD-T-0002"]).token(TOKEN, "THD-T-0001");
    let to = "qrca.hoankiem.tranhungdao1+k3j4h5g6f7d8s9a0q1w2e3r4aa@gmail.com";
    let gmail_quote = "\n\nVào Th 4, 8 thg 9, 2021 lúc 10:15 qrca.hoankiem.tranhungdao1 <\nqrca.hoankiem.tranhungdao1@gmail.com> đã viết:\n\n> [QRCA THD-T-0001] Yêu cầu duyệt danh sách\n> DUYỆT\n> TỪ CHỐI 6, 7: lý do\n";
    let token = Some(ReplyToken(TOKEN.into()));
    let cases: Vec<(&str, Eml, Option<&str>, EventBody)> = vec![
        (
            "DUYỆT 1-3 quoted Gmail-style",
            Eml::new(OFFICER, to, "Re: [QRCA THD-T-0001] Yêu cầu duyệt")
                .body(&format!("DUYỆT 1-3{gmail_quote}")),
            Some("THD-T-0001"),
            EventBody::Reply {
                token: token.clone(),
                commands: vec![Command::Approve(Rows::List(vec![1, 2, 3]))],
                unreadable: vec![],
            },
        ),
        (
            "a plain reply without a token reading nothing",
            Eml::new(OFFICER, ACCOUNT, "Re: [QRCA THD-T-0002] x")
                .body(&format!("Cảm ơn anh{gmail_quote}")),
            Some("THD-T-0002"),
            EventBody::Reply {
                token: None,
                commands: vec![],
                unreadable: vec!["Cảm ơn anh".into()],
            },
        ),
        (
            "THU HỒI in the thread",
            Eml::new(POLICE, ACCOUNT, "Re: [QRCA THD-T-0002] x")
                .body("THU HỒI THD-T-0002-0001: đã nghỉ việc\nTHU HOI THD-T-0002-0003: sai CCCD"),
            Some("THD-T-0002"),
            EventBody::Revoke(vec![
                Revocation {
                    permit: "THD-T-0002-0001".into(),
                    reason: "đã nghỉ việc".into(),
                },
                Revocation {
                    permit: "THD-T-0002-0003".into(),
                    reason: "sai CCCD".into(),
                },
            ]),
        ),
        (
            "THU HỒI in a fresh mail: the permit's case",
            Eml::new(OFFICER, ACCOUNT, "Thu hồi giấy").body("REVOKE THD-T-0001-0002: mất giấy"),
            Some("THD-T-0001"),
            EventBody::Revoke(vec![Revocation {
                permit: "THD-T-0001-0002".into(),
                reason: "mất giấy".into(),
            }]),
        ),
        (
            "TRẠNG THÁI",
            Eml::new(ORG, ACCOUNT, "Re: [QRCA THD-T-0001] x")
                .body(&format!("Trạng thái?{gmail_quote}")),
            Some("THD-T-0001"),
            EventBody::Status,
        ),
        (
            "status with a decision is a decision",
            Eml::new(OFFICER, to, "x").body("TRANG THAI\nDUYET"),
            Some("THD-T-0001"),
            EventBody::Reply {
                token: token.clone(),
                commands: vec![Command::Approve(Rows::All)],
                unreadable: vec![],
            },
        ),
    ];
    for (what, eml, case, body) in cases {
        let (_, got, event) = expect_event(classify(&f, &eml.mail(), ACCOUNT, &lookups));
        assert_eq!(got.as_deref(), case, "{what}");
        assert_eq!(event.body, body, "{what}");
    }
}

#[test]
fn an_html_only_reply_is_read() {
    let f = fixture();
    let lookups = FakeLookups::with_cases(&["THD-T-0002"]);
    let (_, case, event) = expect_event(classify(
        &f,
        &fixture_mail("outlook_mobile_html_only"),
        ACCOUNT,
        &lookups,
    ));
    assert_eq!(case.as_deref(), Some("THD-T-0002"));
    let EventBody::Reply {
        token, commands, ..
    } = event.body
    else {
        panic!("{:?}", event.body)
    };
    assert_eq!(token, Some(ReplyToken(TOKEN.into())));
    assert_eq!(
        commands,
        vec![Command::Reject {
            rows: Rows::All,
            reason: "danh sách thiếu số CCCD".into()
        }]
    );
}

#[test]
fn reply_body_rules() {
    let revocation = Revocation {
        permit: "THD-T-0003-0001".into(),
        reason: "r".into(),
    };
    let t = Some(ReplyToken("tok".into()));
    let table: Vec<(Parsed, Option<&str>, EventBody, Option<&str>)> = vec![
        (
            Parsed {
                revocations: vec![revocation.clone()],
                commands: vec![Command::Approve(Rows::All)],
                ..Parsed::default()
            },
            None,
            EventBody::Revoke(vec![revocation.clone()]),
            Some("THD-T-0003"),
        ),
        (
            Parsed {
                revocations: vec![revocation.clone()],
                ..Parsed::default()
            },
            Some("THD-T-0001"),
            EventBody::Revoke(vec![revocation.clone()]),
            Some("THD-T-0001"),
        ),
        (
            Parsed {
                status: true,
                ..Parsed::default()
            },
            None,
            EventBody::Status,
            None,
        ),
        (
            Parsed {
                status: true,
                commands: vec![Command::Stamp(Rows::All)],
                ..Parsed::default()
            },
            Some("THD-T-0001"),
            EventBody::Reply {
                token: t.clone(),
                commands: vec![Command::Stamp(Rows::All)],
                unreadable: vec![],
            },
            Some("THD-T-0001"),
        ),
        (
            Parsed {
                unreadable: vec!["?".into()],
                ..Parsed::default()
            },
            None,
            EventBody::Reply {
                token: t.clone(),
                commands: vec![],
                unreadable: vec!["?".into()],
            },
            None,
        ),
    ];
    for (parsed, case, body, expected_case) in table {
        let what = format!("{parsed:?}");
        let (got, got_case) = gate::reply_body(parsed, t.clone(), case.map(str::to_owned));
        assert_eq!(got, body, "{what}");
        assert_eq!(got_case.as_deref(), expected_case, "{what}");
    }
    // The decisions beside revocations are kept, for the token's case (SPEC §3: lines
    // may mix commands); a status request beside them too; nothing without them.
    let mixed = Parsed {
        revocations: vec![revocation.clone()],
        commands: vec![Command::Approve(Rows::All)],
        ..Parsed::default()
    };
    assert_eq!(
        gate::beside_revocations(&mixed, t.clone(), Some("THD-T-0009".into())),
        Some((
            Some("THD-T-0009".to_owned()),
            EventBody::Reply {
                token: t.clone(),
                commands: vec![Command::Approve(Rows::All)],
                unreadable: vec![],
            }
        ))
    );
    let asking = Parsed {
        revocations: vec![revocation.clone()],
        status: true,
        ..Parsed::default()
    };
    assert_eq!(
        gate::beside_revocations(&asking, None, Some("THD-T-0003".into())),
        Some((Some("THD-T-0003".to_owned()), EventBody::Status))
    );
    let only = Parsed {
        commands: vec![Command::Approve(Rows::All)],
        ..Parsed::default()
    };
    assert_eq!(gate::beside_revocations(&only, t.clone(), None), None);
}

fn attachment(name: &str, sniffed: Sniffed) -> Attachment {
    Attachment {
        name: name.into(),
        size: 1,
        content_type_declared: None,
        sniffed,
        bytes: vec![0],
    }
}

#[test]
fn the_roster_is_the_first_spreadsheet() {
    let table: Vec<(Vec<Attachment>, Option<usize>)> = vec![
        (vec![], None),
        (vec![attachment("a.pdf", Sniffed::Pdf)], None),
        (
            vec![
                attachment("a.pdf", Sniffed::Pdf),
                attachment("ds.xlsx", Sniffed::Xlsx),
            ],
            Some(1),
        ),
        (
            vec![
                attachment("ds.ods", Sniffed::Ods),
                attachment("ds.xlsx", Sniffed::Xlsx),
            ],
            Some(0),
        ),
        (vec![attachment("old.xls", Sniffed::Cfb)], Some(0)),
        (vec![attachment("letter.doc", Sniffed::Cfb)], None),
        (vec![attachment("ds.csv", Sniffed::Csv)], Some(0)),
        (
            // Sniffed types beat names; a PDF named .xlsx is the roster only when no
            // real spreadsheet came (the roster reader then says what it is).
            vec![
                attachment("fake.xlsx", Sniffed::Pdf),
                attachment("ds", Sniffed::Xlsx),
            ],
            Some(1),
        ),
        (vec![attachment("fake.xlsx", Sniffed::Pdf)], Some(0)),
        (vec![attachment("DS.XLS", Sniffed::Unknown)], Some(0)),
        (
            vec![
                attachment("notes.md", Sniffed::Csv),
                attachment("a.png", Sniffed::Png),
            ],
            Some(0),
        ),
        (vec![attachment("archive.zip", Sniffed::Zip)], None),
    ];
    for (attachments, expected) in table {
        let names: Vec<&str> = attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(gate::spreadsheet_index(&attachments), expected, "{names:?}");
    }
}

#[test]
fn who_sends_rosters() {
    let f = fixture();
    let table = [
        (ORG, true),
        (CSKV, true),
        (OFFICER, false),
        (POLICE, false),
        ("CANBO.AN@hoankiem.hanoi.gov.vn", false),
    ];
    for (sender, sends) in table {
        assert_eq!(gate::sends_rosters(f.ward(), sender), sends, "{sender}");
    }
}

#[test]
fn every_fixture_mail_and_its_truncations_classify_without_panicking() {
    let f = fixture();
    let lookups = FakeLookups::with_cases(&["THD-T-0001", "THD-T-0002", "THD-T-0005"])
        .token(TOKEN, "THD-T-0001");
    let mut read_some = 0;
    let entries = std::fs::read_dir("tests/fixtures/mail").unwrap_or_else(|e| panic!("{e}"));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        for cut in [raw.len(), raw.len() / 2, raw.len() / 3, 200] {
            let Some(bytes) = raw.get(..cut) else {
                continue;
            };
            if let Ok(mail) = parse_mail(bytes, &["mx.google.com".to_owned()]) {
                read_some += 1;
                let _ = classify(&f, &mail, ACCOUNT, &lookups);
            }
        }
    }
    assert!(read_some >= 30, "only {read_some} mails read");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the headers and text say, the gate answers and does not panic.
    #[test]
    fn any_mail_classifies_without_panicking(
        subject in ".{0,80}",
        text in ".{0,300}",
        html in proptest::option::of(".{0,200}"),
        id in proptest::option::of("<[0-9a-z.\\-]{0,30}@[a-z.]{0,30}>"),
        thread in proptest::collection::vec("<[0-9]{1,3}\\.thd-[tchx]-[0-9]{0,5}@hoankiem\\.tranhungdao\\.qrca>|<[0-9]{0,3}\\.[a-zA-Z0-9\\- ]{0,20}@[a-z.]{0,30}>", 0..5),
        plus in proptest::collection::vec("qrca\\.hoankiem\\.tranhungdao1\\+[a-zA-Z0-9+]{0,30}@gmail\\.com|[a-z0-9.+@]{0,40}", 0..4),
        from in proptest::option::of("[a-z0-9.+]{0,20}@[a-z.]{0,20}"),
    ) {
        let f = fixture();
        let lookups = FakeLookups::with_cases(&["THD-T-0001"]).token(TOKEN, "THD-T-0001");
        let mut mail = fixture_mail("gmail_web_vi_reply_plus");
        mail.subject = subject;
        mail.text = text;
        mail.html = html;
        mail.message_id = id;
        mail.in_reply_to = thread.clone();
        mail.references = thread;
        mail.delivered_to = plus.clone();
        mail.plus_tokens = plus;
        mail.from = from.map(|address| qrca::inbound::mail::Address { address, name: None });
        let _ = classify(&f, &mail, ACCOUNT, &lookups);
    }
}

// ---------------------------------------------------------------------------------
// End to end: mails → parse_mail → classify → engine::process with a real store
// ---------------------------------------------------------------------------------

struct Inbox<'a> {
    store: &'a Store,
    config: &'a Config,
    uid: u32,
}

impl Inbox<'_> {
    /// Takes a raw mail in as the daemon does (`daemon::intake`), on the next UID.
    fn deliver(&mut self, raw: &[u8]) -> Processed {
        self.uid += 1;
        let at = Position {
            account: ACCOUNT.into(),
            uidvalidity: 1,
            uid: self.uid,
        };
        let blobs = Blobs::new(&self.config.service.state_dir);
        let now = jiff::Timestamp::now();
        match take_in(self.store, &blobs, self.config, &at, raw, now) {
            Ok(Taken::Processed(processed)) => processed,
            Ok(Taken::Ignored(reason)) => panic!("ignored: {reason}"),
            Err(e) => panic!("{e}"),
        }
    }
}

fn applied(p: Processed) -> (Case, Vec<u64>) {
    match p {
        Processed::Applied {
            case, outbox_ids, ..
        } => (*case, outbox_ids),
        other => panic!("expected applied, got {other:?}"),
    }
}

fn live_token(case: &Case, who: &str) -> String {
    case.tokens
        .iter()
        .find(|g| g.live && g.addressee == who)
        .map(|g| g.token.0.clone())
        .unwrap_or_else(|| panic!("no live token for {who}: {:?}", case.tokens))
}

fn plus_address(token: &str) -> String {
    format!("qrca.hoankiem.tranhungdao1+{token}@gmail.com")
}

#[test]
fn mails_through_the_gate_and_the_engine_issue_permits() {
    let f = fixture();
    let store = Store::open(&f.config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut inbox = Inbox {
        store: &store,
        config: &f.config,
        uid: 0,
    };

    // 1. The officer registers the organisation the CSKV checked.
    let registration = Eml::new(OFFICER, ACCOUNT, "ĐĂNG KÝ TỔ CHỨC")
        .body("Tên tổ chức: Công ty TNHH Bánh Kẹo Hà Nội\nEmail: nhansu@congty.example.vn\nMã số thuế: 0101234567");
    let (case, outbox) = applied(inbox.deliver(&registration.bytes()));
    assert_eq!(case.code, "THD-T-0001");
    let confirmation = outbox_message_id(
        *outbox.first().unwrap_or_else(|| panic!("no confirmation")),
        &case.code,
        WARD,
    );

    // 2. The organisation answers the confirmation with its roster and a document:
    //    the thread (In-Reply-To of our Message-ID) names the case.
    let roster = Eml::new(ORG, ACCOUNT, "Re: [QRCA THD-T-0001] Xác nhận")
        .header("In-Reply-To", &confirmation)
        .header("References", &confirmation)
        .body("Công ty gửi danh sách.\n\n> quoted confirmation")
        .attach("giay.pdf", "application/pdf", b"%PDF-1.4 x")
        .attach_file(
            "nhan-vien.xlsx",
            XLSX,
            "tests/fixtures/rosters/t-blank-signature.xlsx",
        );
    let (case, _) = applied(inbox.deliver(&roster.bytes()));
    assert_eq!(case.batches.len(), 1);
    assert_eq!(case.batches[0].rows.len(), 3);
    assert_eq!(case.batches[0].documents.len(), 1);
    assert_eq!(case.batches[0].stage, BatchStage::Review);
    // The document is kept for the review request that carries it to the officers.
    let kept = Blobs::new(&f.config.service.state_dir)
        .get(&case.batches[0].documents[0].blob)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kept.as_deref(), Some(&b"%PDF-1.4 x"[..]));

    // 3. The officer approves, replying Gmail-style on the review token.
    let token = live_token(&case, OFFICER);
    let approve = Eml::new(OFFICER, &plus_address(&token), "Re: [QRCA THD-T-0001] Yêu cầu duyệt")
        .body("Duyệt\n\nVào Th 4, 8 thg 9, 2021 lúc 10:15 qrca.hoankiem.tranhungdao1 <\nqrca.hoankiem.tranhungdao1@gmail.com> đã viết:\n\n> DUYỆT 1-3\n> TỪ CHỐI 1: lý do");
    let (case, _) = applied(inbox.deliver(&approve.bytes()));
    assert_eq!(case.batches[0].stage, BatchStage::Stamp);

    // 4. The ward police stamp on their token: permits are issued.
    let token = live_token(&case, POLICE);
    let stamp = Eml::new(
        POLICE,
        &plus_address(&token),
        "Re: [QRCA THD-T-0001] Yêu cầu đóng dấu",
    )
    .body("ĐÓNG DẤU\n-- \nCông an phường");
    let (case, _) = applied(inbox.deliver(&stamp.bytes()));
    let issued = case.batches[0]
        .rows
        .iter()
        .filter(|r| matches!(r.state, RowState::Issued(_)))
        .count();
    assert_eq!(issued, 3, "{:?}", case.batches[0].rows);
    assert_eq!(case.batches[0].stage, BatchStage::Closed);

    // The same stamp mail again (same Message-ID, new server position) changes nothing.
    assert!(matches!(
        inbox.deliver(&stamp.bytes()),
        Processed::AlreadySeen
    ));

    // 5. Another organisation lists the same three people: each row is an error naming
    //    the permit the person already holds (SPEC §4), and nothing is sent to review.
    let second = Eml::new(OFFICER, ACCOUNT, "ĐĂNG KÝ TỔ CHỨC")
        .body("Tên tổ chức: Công ty Vận tải Sông Hồng\nEmail: hr@songhong.example.vn");
    let (other, outbox) = applied(inbox.deliver(&second.bytes()));
    assert_eq!(other.code, "THD-T-0002");
    let confirmation = outbox_message_id(outbox[0], &other.code, WARD);
    let same_people = || {
        Eml::new(
            "hr@songhong.example.vn",
            ACCOUNT,
            "Re: [QRCA THD-T-0002] Xác nhận",
        )
        .header("In-Reply-To", &confirmation)
        .attach_file(
            "ds.xlsx",
            XLSX,
            "tests/fixtures/rosters/t-blank-signature.xlsx",
        )
    };
    let (other, outbox) = applied(inbox.deliver(&same_people().bytes()));
    assert!(other.batches.is_empty(), "{:?}", other.batches);
    let answer = store
        .outbox_entry(outbox[0])
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no answer"));
    let errors: Vec<String> = answer
        .mail
        .data
        .roster_errors
        .iter()
        .map(|e| e.message.clone())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    for (n, message) in errors.iter().enumerate() {
        assert!(
            message.contains(&format!("THD-T-0001-000{}", n + 1)),
            "{message}"
        );
    }
    let stored = store.case("THD-T-0002").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.map(|c| c.revision), Some(other.revision));

    // 6. An officer revokes the first permit: that person may be listed again, the
    //    other two still may not.
    let revoke = Eml::new(OFFICER, ACCOUNT, "Thu hồi").body("THU HỒI THD-T-0001-0001: nghỉ việc");
    applied(inbox.deliver(&revoke.bytes()));
    let ids: Vec<String> = case.batches[0]
        .rows
        .iter()
        .filter_map(|r| r.person.id_number.clone())
        .collect();
    let today = jiff::civil::date(2021, 9, 8);
    let held = |id: &str| {
        store
            .active_permits(WARD, id, today)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(held(&ids[0]), Vec::<String>::new());
    assert_eq!(held(&ids[1]), vec!["THD-T-0001-0002".to_owned()]);
    assert_eq!(held(&ids[2]), vec!["THD-T-0001-0003".to_owned()]);
    // An expired permit is not active: long after its last day, no one holds one.
    let later = jiff::civil::date(2099, 1, 1);
    assert!(
        store
            .active_permits(WARD, &ids[1], later)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
}

#[test]
fn a_mail_without_a_message_id_is_known_by_its_bytes_after_a_uidvalidity_change() {
    let f = fixture();
    let store = Store::open(&f.config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let blobs = Blobs::new(&f.config.service.state_dir);
    let without_id = |eml: Eml| -> Vec<u8> {
        let text = String::from_utf8(eml.bytes()).unwrap_or_else(|e| panic!("{e}"));
        let kept: Vec<&str> = text
            .split("\r\n")
            .filter(|l| !l.starts_with("Message-ID:"))
            .collect();
        kept.join("\r\n").into_bytes()
    };
    let registration = |name: &str| {
        without_id(Eml::new(OFFICER, ACCOUNT, "ĐĂNG KÝ TỔ CHỨC").body(&format!(
            "Tên tổ chức: {name}\nEmail: nhansu@congty.example.vn"
        )))
    };
    let first = registration("Công ty TNHH Một");
    let second = registration("Công ty TNHH Hai");
    assert!(!String::from_utf8_lossy(&first).contains("Message-ID"));
    let take = |uidvalidity: u32, uid: u32, raw: &[u8]| {
        let at = Position {
            account: ACCOUNT.into(),
            uidvalidity,
            uid,
        };
        match take_in(&store, &blobs, &f.config, &at, raw, jiff::Timestamp::now()) {
            Ok(Taken::Processed(p)) => p,
            Ok(Taken::Ignored(reason)) => panic!("ignored: {reason}"),
            Err(e) => panic!("{e}"),
        }
    };
    let (case, _) = applied(take(1, 10, &first));
    assert_eq!(case.code, "THD-T-0001");
    // The server renumbers INBOX (a new UIDVALIDITY): the same mail at a new position
    // is the same mail, and a different one without a Message-ID is still new.
    assert!(matches!(take(2, 1, &first), Processed::AlreadySeen));
    let (case, _) = applied(take(2, 2, &second));
    assert_eq!(case.code, "THD-T-0002");
    assert_eq!(store.cases().unwrap_or_else(|e| panic!("{e}")).len(), 2);
}

/// Issue 11 item 4: a stranger's attachments never reach the disk (they used to be
/// written before the engine decided, and never deleted: 20 MB a mail), and two mails
/// without a Message-ID do not share blob keys (both used to be `#0`).
#[test]
fn documents_are_kept_only_for_applied_mails_each_under_its_own_key() {
    let f = fixture();
    let store = Store::open(&f.config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut inbox = Inbox {
        store: &store,
        config: &f.config,
        uid: 0,
    };
    let kept = || {
        std::fs::read_dir(f.config.service.state_dir.join("blobs"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let roster = |from: &str, document: &[u8]| {
        Eml::new(from, ACCOUNT, "ĐĂNG KÝ CÁ NHÂN")
            .body("Gửi danh sách.")
            .attach("giay.pdf", "application/pdf", document)
            .attach_file("ds.xlsx", XLSX, "tests/fixtures/rosters/c-vni.xlsx")
    };
    let stranger = roster("ke.la@evil.example", &[b'%'; 4096]);
    match inbox.deliver(&stranger.bytes()) {
        Processed::Refused(_) => {}
        other => panic!("a stranger's roster was {other:?}"),
    }
    assert_eq!(kept(), 0, "a refused mail left files on disk");

    let without_id = |eml: Eml| -> Vec<u8> {
        let text = String::from_utf8(eml.bytes()).unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<&str> = text
            .split("\r\n")
            .filter(|l| !l.starts_with("Message-ID:"))
            .collect();
        lines.join("\r\n").into_bytes()
    };
    for (i, document) in [b"%PDF-1.4 one".as_slice(), b"%PDF-1.4 two"]
        .iter()
        .enumerate()
    {
        let raw = without_id(roster(CSKV, document));
        assert!(matches!(inbox.deliver(&raw), Processed::Applied { .. }));
        assert_eq!(
            kept(),
            i + 1,
            "each mail's document is kept under its own key"
        );
    }
}

/// Issue 11: a sender who is not the ward's staff gets at most
/// `answers_per_sender_per_day` (default 20) answers; past that, their mail is refused
/// as `RateLimited` (named in the daily report), not answered. Staff are not limited.
#[test]
fn a_non_staff_sender_gets_at_most_twenty_answers_a_day() {
    let f = fixture();
    let store = Store::open(&f.config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut inbox = Inbox {
        store: &store,
        config: &f.config,
        uid: 0,
    };
    let mut take = |raw: &[u8]| inbox.deliver(raw);
    let registration = Eml::new(OFFICER, ACCOUNT, "ĐĂNG KÝ TỔ CHỨC")
        .body(&format!("Tên tổ chức: Công ty TNHH Một\nEmail: {ORG}"));
    assert!(matches!(
        take(&registration.bytes()),
        Processed::Applied { .. }
    ));
    let status = |from: &str| {
        Eml::new(from, ACCOUNT, "Re: [QRCA THD-T-0001] Hồ sơ")
            .body("TRẠNG THÁI")
            .bytes()
    };
    for i in 0..20 {
        assert!(
            matches!(take(&status(ORG)), Processed::Applied { .. }),
            "answer {i}"
        );
    }
    match take(&status(ORG)) {
        Processed::Refused(r) => assert_eq!(r.reason, RefusalReason::RateLimited, "{r:?}"),
        other => panic!("the 21st was {other:?}"),
    }
    // The officer is the ward's staff: never limited.
    for _ in 0..25 {
        assert!(matches!(take(&status(OFFICER)), Processed::Applied { .. }));
    }
    let refused = store
        .unreported_refusals(WARD)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].refusal.reason, RefusalReason::RateLimited);
}

/// The city's activation code for this account (SPEC §9) is answered on its own: the
/// same bytes, signed by the ward's key when rendered, to the admin; a code that is not
/// the city's, fails authentication, or names another ward or account gets nothing.
#[test]
fn the_city_s_activation_code_is_answered_signed_and_nothing_else_is() {
    use qrca::outbound::{self, RenderCtx, Templates};
    use qrca::permit::issue::{self, Signer};
    use qrca::permit::signed::{self, Activation};
    let f = fixture();
    let store = Store::open(&f.config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let blobs = Blobs::new(&f.config.service.state_dir);
    let admin = f.config.service.admin_email.clone();
    let signer = Signer::load(f.ward()).unwrap_or_else(|e| panic!("{e}"));
    let name = signed::activation_file(WARD);
    let code = |account: &str, ward: &str| {
        let doc = Activation::new(
            ward,
            &signer.kid,
            account,
            "K7Q2M4X9P3R8T6W1Z5B0C2D4F6",
            "2026-12-05T10:00:00Z"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
        );
        signed::to_bytes(&doc)
    };
    let now = jiff::Timestamp::now();
    let mut uid = 40;
    let mut take = |eml: Eml| {
        uid += 1;
        let at = Position {
            account: ACCOUNT.into(),
            uidvalidity: 1,
            uid,
        };
        take_in(&store, &blobs, &f.config, &at, &eml.bytes(), now).unwrap_or_else(|e| panic!("{e}"))
    };
    let answers = |store: &Store| -> Vec<qrca::store::OutboxEntry> {
        let outbox = store.outbox().unwrap_or_else(|e| panic!("{e}"));
        outbox
            .into_iter()
            .filter(|e| e.mail.template == Template::TrustActivation)
            .collect()
    };
    let mail = |from: &str, bytes: &[u8]| {
        Eml::new(from, ACCOUNT, "QRCA: mã kích hoạt").attach(&name, "application/json", bytes)
    };
    // Refused, each with its reason, and nothing queued.
    let mut unauthenticated = mail(&admin, &code(ACCOUNT, WARD));
    unauthenticated.auth = false;
    for (eml, why) in [
        (unauthenticated, "Authentication-Results"),
        (mail(&admin, &code(ACCOUNT2, WARD)), "it is for account"),
        (
            mail(&admin, &code(ACCOUNT, "hoankiem.hangbac")),
            "it is for ward",
        ),
        (mail(&admin, b"{\"version\":1}"), "not a valid activation"),
    ] {
        match take(eml) {
            Taken::Ignored(reason) => assert!(reason.contains(why), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
    // A stranger's activation file is an ordinary stranger's mail: never answered.
    let _ = take(mail("ke.la@evil.example", &code(ACCOUNT, WARD)));
    assert!(answers(&store).is_empty());

    let bytes = code(ACCOUNT, WARD);
    let eml = mail(&admin, &bytes);
    match take(eml.clone()) {
        Taken::Ignored(reason) => assert!(reason.contains("answered"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let queued = answers(&store);
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].mail.to, vec![admin.clone()]);
    // The same mail again (a rescan): answered once.
    let _ = take(eml);
    assert_eq!(answers(&store).len(), 1);

    // Rendered: the exact bytes and a signature by the ward's key over them.
    let templates = Templates::load(None).unwrap_or_else(|e| panic!("{e}"));
    let renderer = issue::renderer(&f.config).unwrap_or_else(|e| panic!("{e}"));
    let ctx = RenderCtx {
        config: &f.config,
        templates: &templates,
        permits: &renderer,
        signer: Some(&signer),
        blobs: &blobs,
    };
    let rendered =
        outbound::render(&queued[0], None, ACCOUNT, &ctx).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rendered.len(), 1);
    let sent = read(&rendered[0].message);
    assert!(sent.subject.contains(&signer.kid), "{}", sent.subject);
    let files = sent
        .attachments
        .iter()
        .map(|a| (a.name.as_str(), &a.bytes[..]));
    let found = signed::find(files, &name).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.bytes, &bytes[..]);
    found
        .sig
        .check(&name, &signer.kid, &signer.verifying_key(), found.bytes)
        .unwrap_or_else(|e| panic!("{e}"));
    // Under another key (the ward rotated since), the answer is not signed at all.
    let other = Signer::new("THD", ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
    let ctx = RenderCtx {
        signer: Some(&other),
        ..ctx
    };
    match outbound::render(&queued[0], None, ACCOUNT, &ctx) {
        Err(e) => assert!(e.to_string().contains(&signer.kid), "{e}"),
        Ok(_) => panic!("signed with another key"),
    }
}
