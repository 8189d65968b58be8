//! Outgoing mail (issue 6): every template renders to Vietnamese text with the case code
//! in the subject; a real organisation case driven through `workflow::step` gives a
//! review request with pre-filled commands and a roster workbook that reads back, a
//! stamp request, and a permits mail whose PDFs verify against the ward's trust list;
//! messages parse back with the daemon's own reader, render byte-identically twice,
//! split under a small `max_message_bytes`; admin overrides change the text, and a
//! broken one is a load error naming its file and line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/headers.rs"]
mod headers;

use headers::header;
use qrca::config::{self, Config};
use qrca::inbound::mail::{Mail, parse_mail};
use qrca::outbound::templates::{self, ALL};
use qrca::outbound::{self, Blobs, RenderCtx, RenderError, Rendered, Templates};
use qrca::permit::issue::{self, Signer};
use qrca::permit::pdf::{self, Renderer};
use qrca::permit::trust::{self, TrustList, TrustedKey};
use qrca::store::{OutboxEntry, OutboxStatus, outbox_message_id};
use qrca::workflow::{
    self, AttachmentRef, AuthEvidence, Case, Command, Ctx, DocumentRef, Effect, Event, EventBody,
    Kind, MailData, Organisation, OutMail, ReplyToken, Roster, RosterSubmission, Row, Rows,
    Template,
};
use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

const WARD: &str = "hoankiem.tranhungdao";
const ACCOUNT: &str = "qrca.hoankiem.tranhungdao1@gmail.com";
/// The ward's second account sends messages of at most 90 kB.
const SMALL: &str = "qrca.hoankiem.tranhungdao2@gmail.com";
const SMALL_LIMIT: usize = 90_000;
const OFFICER: &str = "canbo.thd@example.gov.vn";
const POLICE: &str = "congan.thd@example.gov.vn";
const CSKV: &str = "cskv1.thd@example.gov.vn";
const ORG: &str = "nhansu@congty.example.vn";

// ---------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------

struct World {
    dir: tempfile::TempDir,
    config: Config,
    signer: Signer,
    renderer: Renderer,
    templates: Templates,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    qrca::keys::generate(&dir.path().join(format!("keys/{WARD}.key"))).unwrap();
    let text = format!(
        r#"
[service]
state_dir = "state"
admin_email = "admin@example.gov.vn"

[mail]
trusted_authserv_ids = []

[permits]
valid_days = 14

[[ward]]
code = "{WARD}"
short = "THD"
name = "Phường Trần Hưng Đạo"
district = "Quận Hoàn Kiếm"
signing_key = "keys/{WARD}.key"
signing_key_since = "2021-09-01"
officers = ["{OFFICER}"]
police = ["{POLICE}"]
area_police = ["{CSKV}"]
[[ward.account]]
address = "{ACCOUNT}"
password_env = "UNUSED_1"
[[ward.account]]
address = "{SMALL}"
password_env = "UNUSED_2"
max_message_bytes = {SMALL_LIMIT}
"#
    );
    let path = dir.path().join("qrca.toml");
    std::fs::write(&path, text).unwrap();
    let config = match config::load(&path) {
        Ok(loaded) => loaded.config,
        Err(e) => panic!("{e}"),
    };
    let signer = Signer::load(config.ward(WARD).unwrap()).unwrap();
    let renderer = issue::renderer(&config).unwrap();
    let templates = Templates::load(None).unwrap_or_else(|e| panic!("{e}"));
    World {
        dir,
        config,
        signer,
        renderer,
        templates,
    }
}

/// Documents by blob key.
struct Store(HashMap<String, Vec<u8>>);

impl Blobs for Store {
    fn blob(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.get(key).cloned())
    }
}

fn blobs() -> Store {
    let mut map = HashMap::new();
    map.insert(
        "sha256-giayphep".to_owned(),
        b"%PDF-1.4\n% giay phep kinh doanh\n%%EOF\n".to_vec(),
    );
    Store(map)
}

impl World {
    fn ctx<'a>(&'a self, blobs: &'a dyn Blobs) -> RenderCtx<'a> {
        RenderCtx {
            config: &self.config,
            templates: &self.templates,
            permits: &self.renderer,
            signer: Some(&self.signer),
            blobs,
        }
    }

    fn render(&self, entry: &OutboxEntry, case: &Case, from: &str) -> Vec<Rendered> {
        let blobs = blobs();
        outbound::render(entry, Some(case), from, &self.ctx(&blobs))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn trust(&self) -> TrustList {
        let w = self.config.ward(WARD).unwrap();
        TrustList::new(vec![TrustedKey::for_key(
            self.signer.kid.clone(),
            WARD,
            &w.rules.name,
            &w.rules.district,
            &self.signer.verifying_key(),
            jiff::civil::date(2021, 9, 1),
            None,
        )])
    }
}

fn now() -> jiff::Timestamp {
    "2021-09-08T02:30:00Z".parse().unwrap()
}

fn today() -> jiff::civil::Date {
    jiff::civil::date(2021, 9, 8)
}

fn entry(id: u64, case: &str, mail: OutMail) -> OutboxEntry {
    OutboxEntry {
        id,
        ward: WARD.into(),
        case: case.into(),
        message_id: outbox_message_id(id, case, WARD),
        account: ACCOUNT.into(),
        mail,
        status: OutboxStatus::Pending,
        attempts: 0,
        created_at: now(),
        updated_at: now(),
        thread: None,
        parts_sent: None,
        refused: Vec::new(),
    }
}

fn read(r: &Rendered) -> Mail {
    parse_mail(&r.message, &[]).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------
// A real case through the core
// ---------------------------------------------------------------------------------

fn person(i: u32) -> Row {
    let family = ["Nguyễn", "Trần", "Lê", "Phạm", "Đặng", "Hoàng"];
    let given = [
        "Thị Ngọc Ánh",
        "Văn Đức",
        "Thị Hứa",
        "Hoàng Phương Thảo",
        "Quốc Bảo",
    ];
    let i_ = i as usize;
    Row {
        stt: i,
        sheet_row: i + 3,
        name: Some(format!(
            "{} {} {}",
            family[i_ % family.len()],
            given[(i_ / family.len()) % given.len()],
            given[i_ % given.len()]
                .rsplit(' ')
                .next()
                .unwrap_or_default()
        )),
        id_number: Some(format!("0011900{:05}", 10_000 + i)),
        birth_date: Some(jiff::civil::date(
            1970 + (i % 30) as i16,
            1 + (i % 12) as i8,
            9,
        )),
        phone: Some(format!("09120{:05}", i)),
        position: Some("Lái xe".into()),
        address: Some(format!("Số {i} Hàng Bài, Hoàn Kiếm")),
        route: Some("Hàng Bài → Kho Long Biên".into()),
        vehicle: i.is_multiple_of(2).then(|| "29-B1 123.45".to_owned()),
        ..Row::default()
    }
}

/// An organisation case played through `step`: registered, a roster of `n` people with
/// two documents (one whose blob is gone), every row but the last approved, the last
/// rejected, then all approved rows stamped. Returns the case after each step and
/// every mail, in order.
struct Flow {
    case: Case,
    mails: Vec<(Case, OutMail)>,
}

fn flow(world: &World, n: u32) -> Flow {
    let rules = &world.config.ward(WARD).unwrap().rules;
    let mut counter = 0u32;
    let mut fresh = || {
        counter += 1;
        ReplyToken(format!("t{counter:02}k3j4h5g6f7d8s9a0q1w2e3r4"))
    };
    let mut case: Option<Case> = None;
    let mut mails = Vec::new();
    let mut run = |case: &mut Option<Case>,
                   sender: &str,
                   body: EventBody,
                   fresh: &mut dyn FnMut() -> ReplyToken| {
        let event = Event {
            sender: sender.into(),
            message_id: format!("<{}@example.vn>", mails.len()),
            auth: AuthEvidence::NotRequired,
            body,
        };
        let mut ctx = Ctx {
            now: now(),
            today: today(),
            ward: rules,
            next_serial: 1,
            fresh_token: fresh,
        };
        let (next, effects) =
            workflow::step(case.take(), &event, &mut ctx).unwrap_or_else(|r| panic!("{r}"));
        for e in effects {
            if let Effect::SendMail(m) = e {
                mails.push((next.clone(), m));
            }
        }
        *case = Some(next);
    };
    run(
        &mut case,
        OFFICER,
        EventBody::RegisterOrganisation(Organisation {
            name: "Công ty TNHH Vận tải Hà Nội".into(),
            email: ORG.into(),
            ..Organisation::default()
        }),
        &mut fresh,
    );
    let rows: Vec<Arc<Row>> = (1..=n).map(|i| Arc::new(person(i))).collect();
    run(
        &mut case,
        ORG,
        EventBody::Roster(RosterSubmission {
            file_name: "danh-sach.xlsx".into(),
            roster: Roster {
                rows,
                ..Roster::default()
            },
            documents: vec![
                DocumentRef {
                    name: "Giấy phép kinh doanh.pdf".into(),
                    size: 38,
                    blob: "sha256-giayphep".into(),
                },
                DocumentRef {
                    name: "hop-dong.pdf".into(),
                    size: 1000,
                    blob: "sha256-gone".into(),
                },
            ],
        }),
        &mut fresh,
    );
    let token = |case: &Option<Case>, addressee: &str| {
        case.as_ref()
            .unwrap()
            .tokens
            .iter()
            .rev()
            .find(|g| g.addressee == addressee && g.live)
            .map(|g| g.token.clone())
    };
    let t = token(&case, OFFICER);
    run(
        &mut case,
        OFFICER,
        EventBody::Reply {
            token: t,
            commands: vec![
                Command::Approve(Rows::List((1..n).collect())),
                Command::Reject {
                    rows: Rows::List(vec![n]),
                    reason: "Không thuộc diện được đi lại".into(),
                },
            ],
            unreadable: Vec::new(),
        },
        &mut fresh,
    );
    let t = token(&case, POLICE);
    run(
        &mut case,
        POLICE,
        EventBody::Reply {
            token: t,
            commands: vec![Command::Stamp(Rows::All)],
            unreadable: Vec::new(),
        },
        &mut fresh,
    );
    Flow {
        case: case.unwrap(),
        mails,
    }
}

fn mail_of(flow: &Flow, template: Template) -> (&Case, &OutMail) {
    flow.mails
        .iter()
        .find(|(_, m)| m.template == template)
        .map(|(c, m)| (c, m))
        .unwrap_or_else(|| panic!("the flow sent no {template:?}"))
}

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

fn assert_clean_text(what: &str, text: &str) {
    for leftover in ["{{", "}}", "{%", "%}", "{#", "none", "undefined", "None"] {
        assert!(
            !text.contains(leftover),
            "{what}: `{leftover}` left in:\n{text}"
        );
    }
}

#[test]
fn every_template_renders_in_vietnamese_with_the_case_code() {
    let world = world();
    let flow = flow(&world, 3);
    for (i, template) in ALL.into_iter().enumerate() {
        for kind in Kind::ALL {
            let data = templates::sample(kind);
            let code = data.case.clone();
            let mut case = flow.case.clone();
            case.code = code.clone();
            let mail = OutMail {
                template,
                to: vec![ORG.into()],
                cc: vec![CSKV.into()],
                reply_token: Some(ReplyToken("k3j4h5g6f7d8s9a0q1w2e3r4aa".into())),
                attachments: Vec::new(),
                data: Box::new(data),
            };
            // Notices are rendered without a case; the `[QRCA` prefix of the case
            // their data names (here every one names a case).
            let notice = matches!(
                template,
                Template::MailTooLarge
                    | Template::RegistrationIncomplete
                    | Template::MailUndeliverable
                    | Template::RecipientsRefused
                    | Template::AccountUnusable
                    | Template::DailyReport
                    | Template::MailQuarantined
                    | Template::TrustActivation
                    | Template::TrustRevocations
            );
            let out = if notice {
                let blobs = blobs();
                let mail = OutMail {
                    reply_token: None,
                    ..mail
                };
                outbound::render(
                    &entry(i as u64 + 1, "", mail),
                    None,
                    ACCOUNT,
                    &world.ctx(&blobs),
                )
                .unwrap_or_else(|e| panic!("{e}"))
            } else {
                world.render(&entry(i as u64 + 1, &code, mail), &case, ACCOUNT)
            };
            assert_eq!(out.len(), 1);
            let m = read(&out[0]);
            let what = format!("{} ({kind})", template.name());
            assert!(
                m.subject.starts_with(&format!("[QRCA {code}] ")),
                "{what}: {}",
                m.subject
            );
            assert!(m.subject.len() > code.len() + 12, "{what}: {}", m.subject);
            assert_clean_text(&what, &m.subject);
            assert_clean_text(&what, &m.text);
            if !notice
                || matches!(
                    template,
                    Template::MailUndeliverable | Template::RecipientsRefused
                )
            {
                assert!(
                    m.text.contains(&code),
                    "{what}: no case code in\n{}",
                    m.text
                );
            }
            assert!(m.text.contains("Kính gửi"), "{what}:\n{}", m.text);
            assert!(
                m.text.contains("Phường Trần Hưng Đạo"),
                "{what}:\n{}",
                m.text
            );
            // Vietnamese, not English: every mail has letters only Vietnamese uses.
            assert!(
                m.text
                    .chars()
                    .any(|c| "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ".contains(c)),
                "{what}"
            );
        }
    }
    // Wording of data the templates get as names.
    let data = templates::sample(Kind::T);
    let case = flow.case.clone();
    let mail = |template| OutMail {
        template,
        to: vec![OFFICER.into()],
        cc: Vec::new(),
        reply_token: None,
        attachments: Vec::new(),
        data: Box::new(MailData {
            case: case.code.clone(),
            ..data.clone()
        }),
    };
    let text = read(
        &world.render(
            &entry(90, &case.code, mail(Template::ReplyNotApplied)),
            &case,
            ACCOUNT,
        )[0],
    )
    .text;
    for wording in [
        "Lệnh DUYỆT không dùng ở bước đóng dấu",
        "Lệnh TỪ CHỐI cần ghi lý do",
        "Không có dòng số 12 (đợt này gồm các dòng 1-8)",
        "Dòng 5 không được duyệt, nên không quyết định lại được",
        "Giấy THD-T-0001-0008 đã bị thu hồi từ trước",
        "… và 4900 lỗi khác (thư này chỉ liệt kê 100 lỗi đầu tiên)",
    ] {
        assert!(text.contains(wording), "`{wording}` not in:\n{text}");
    }
    let text = read(
        &world.render(
            &entry(91, &case.code, mail(Template::RosterInvalid)),
            &case,
            ACCOUNT,
        )[0],
    )
    .text;
    assert!(
        text.contains("Dòng 5, cột \"CCCD/CMND\": Số CCCD/CMND phải có 9 hoặc 12 chữ số."),
        "{text}"
    );
    assert!(
        text.contains("Cả tệp: Tệp không có dòng dữ liệu nào."),
        "{text}"
    );
}

#[test]
fn the_review_request_has_the_commands_and_the_roster_workbook() {
    let world = world();
    let flow = flow(&world, 6);
    let (case, mail) = mail_of(&flow, Template::ReviewRequest);
    let e = entry(7, &case.code, mail.clone());
    let out = world.render(&e, case, ACCOUNT);
    assert_eq!(out.len(), 1);
    assert_eq!(
        world.render(&e, case, ACCOUNT),
        out,
        "the workbook is deterministic too"
    );
    let r = &out[0];
    assert_eq!(r.envelope_from, ACCOUNT);
    assert_eq!(r.recipients, vec![OFFICER.to_owned()]);
    let raw = String::from_utf8_lossy(&r.message);
    assert!(raw.contains("Auto-Submitted: auto-generated\r\n"), "{raw}");
    assert!(raw.contains("X-Auto-Response-Suppress: All\r\n"));
    // 02:30 UTC, written on the ward's clock (the config's default time zone).
    assert!(
        raw.contains("Date: Wed, 8 Sep 2021 09:30:00 +0700\r\n"),
        "{raw}"
    );
    let m = read(r);
    assert_eq!(
        m.subject,
        "[QRCA THD-T-0001] Đề nghị xét duyệt danh sách đợt 1 (6 người)"
    );
    assert_eq!(m.message_id.as_deref(), Some(e.message_id.as_str()));
    assert_eq!(m.from.as_ref().unwrap().address, ACCOUNT);
    assert_eq!(
        m.from.as_ref().unwrap().name.as_deref(),
        Some("Phường Trần Hưng Đạo (QRCA)")
    );
    let token = mail.reply_token.as_ref().unwrap();
    assert_eq!(
        m.reply_to[0].address,
        format!("qrca.hoankiem.tranhungdao1+{token}@gmail.com")
    );
    for line in [
        "  DUYỆT 1-6\n",
        "  TỪ CHỐI 1: lý do\n",
        "DUYET (APPROVE)",
        "TU CHOI (REJECT)",
    ] {
        assert!(m.text.contains(line), "`{line}` not in:\n{}", m.text);
    }
    // The commands in the mail read as the commands they describe.
    let parsed = qrca::inbound::commands::parse_reply("DUYỆT 1-6\nTỪ CHỐI 1: lý do");
    assert_eq!(parsed.commands.len(), 2, "{parsed:?}");
    // The missing document is named instead of attached.
    assert!(m.text.contains("hop-dong.pdf"), "{}", m.text);
    let names: Vec<&str> = m.attachments.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["THD-T-0001-dot-1.xlsx", "Giấy phép kinh doanh.pdf"]
    );
    assert_eq!(
        m.attachments[1].bytes,
        blobs().0["sha256-giayphep"],
        "the document travels unchanged"
    );

    // The workbook: STT 1..6 first, then the people as the batch has them.
    let xlsx = &m.attachments[0].bytes;
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(xlsx.clone())).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<_> = range.rows().collect();
    assert_eq!(rows[0][0].to_string(), "STT");
    assert_eq!(rows[0][1].to_string(), "Họ và tên");
    assert_eq!(rows.len(), 7);
    for (i, row) in rows[1..].iter().enumerate() {
        assert_eq!(row[0].to_string(), (i + 1).to_string());
        assert_eq!(row[1].to_string(), person(i as u32 + 1).name.unwrap());
        assert_eq!(row[2].to_string(), person(i as u32 + 1).id_number.unwrap());
    }
    // And the daemon's own roster reader takes it back as the same people.
    let back = qrca::roster::read_roster(
        xlsx,
        "THD-T-0001-dot-1.xlsx",
        Kind::T,
        &world.config.roster,
        qrca::roster::Arrival {
            today: today(),
            permits: world.config.permits.rules(),
        },
        &qrca::roster::Limits::default(),
    );
    assert!(back.errors.is_empty(), "{:?}", back.errors);
    assert_eq!(back.rows.len(), 6);
    for (i, row) in back.rows.iter().enumerate() {
        let want = person(i as u32 + 1);
        assert_eq!(row.stt, want.stt);
        assert_eq!(row.name, want.name);
        assert_eq!(row.id_number, want.id_number);
        assert_eq!(row.birth_date, want.birth_date);
        assert_eq!(row.phone, want.phone);
    }

    // Answers are auto-replied.
    let (case, mail) = mail_of(&flow, Template::RosterAccepted);
    let out = world.render(&entry(6, &case.code, mail.clone()), case, ACCOUNT);
    assert!(String::from_utf8_lossy(&out[0].message).contains("Auto-Submitted: auto-replied\r\n"));
    assert!(read(&out[0]).reply_to.is_empty());
}

#[test]
fn the_stamp_request_prefills_the_approved_rows() {
    let world = world();
    let flow = flow(&world, 6);
    let (case, mail) = mail_of(&flow, Template::StampRequest);
    let m = read(&world.render(&entry(9, &case.code, mail.clone()), case, ACCOUNT)[0]);
    assert!(m.text.contains("  ĐÓNG DẤU 1-5\n"), "{}", m.text);
    assert!(m.text.contains("DONG DAU (STAMP)"), "{}", m.text);
    assert_eq!(
        m.attachments.len(),
        1,
        "the roster only: documents are for officers"
    );
    let (case, mail) = mail_of(&flow, Template::RowsRejected);
    let m = read(&world.render(&entry(10, &case.code, mail.clone()), case, ACCOUNT)[0]);
    assert!(
        m.text.contains("Không thuộc diện được đi lại"),
        "{}",
        m.text
    );
    assert_eq!(
        m.cc.iter().map(|a| a.address.as_str()).collect::<Vec<_>>(),
        vec![CSKV]
    );
}

#[test]
fn permits_verify_and_rendering_is_deterministic() {
    let world = world();
    let flow = flow(&world, 26);
    let (_, mail) = mail_of(&flow, Template::PermitsIssued);
    let case = &flow.case;
    let e = entry(12, &case.code, mail.clone());
    let blobs = blobs();
    let ctx = world.ctx(&blobs);
    let started = std::time::Instant::now();
    let out = outbound::render(&e, Some(case), ACCOUNT, &ctx).unwrap_or_else(|err| panic!("{err}"));
    let took = started.elapsed();
    eprintln!("a 25-person permits mail rendered in {took:?}");
    assert_eq!(out.len(), 1);
    let m = read(&out[0]);
    assert_eq!(
        m.subject,
        "[QRCA THD-T-0001] Giấy đi đường đợt 1 đã được cấp (25 giấy)"
    );
    assert_eq!(m.to[0].address, ORG);
    assert_eq!(out[0].recipients, vec![ORG.to_owned(), CSKV.to_owned()]);
    assert_eq!(m.attachments.len(), 26);
    let trust = world.trust();
    for (i, a) in m.attachments[..25].iter().enumerate() {
        let id = format!("THD-T-0001-{:04}", i + 1);
        assert_eq!(a.name, format!("{id}.pdf"));
        let payload = pdf::payload_from_pdf(&a.bytes).unwrap();
        let verdict = trust::check(
            &payload,
            &trust,
            None,
            jiff::civil::date(2021, 9, 10),
            qrca::config::DEFAULT_MAX_VALID_DAYS,
        );
        assert!(verdict.is_valid(), "{id}: {verdict}");
        let claims = verdict.claims().unwrap();
        assert_eq!(claims.id, id);
        assert_eq!(claims.name, person(i as u32 + 1).name.unwrap());
    }
    assert_eq!(m.attachments[25].name, "THD-T-0001-in-1.pdf");
    assert!(m.attachments[25].bytes.starts_with(b"%PDF-"));

    // The same entry renders to the same bytes (a resend after a crash).
    let again = outbound::render(&e, Some(case), ACCOUNT, &ctx).unwrap();
    assert_eq!(again, out);

    // Permits without a signer: an error naming the ward.
    let no_signer = RenderCtx {
        signer: None,
        ..world.ctx(&blobs)
    };
    match outbound::render(&e, Some(case), ACCOUNT, &no_signer) {
        Err(err @ RenderError::NoSigner { .. }) => assert!(err.to_string().contains(WARD)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_small_account_limit_splits_the_permits_into_parts() {
    let world = world();
    let flow = flow(&world, 9);
    let (_, mail) = mail_of(&flow, Template::PermitsIssued);
    let case = &flow.case;
    let e = entry(12, &case.code, mail.clone());
    let out = world.render(&e, case, SMALL);
    assert!(out.len() >= 3, "{} parts", out.len());
    let parts = out.len() as u32;
    let mut names = Vec::new();
    for (i, r) in out.iter().enumerate() {
        assert!(
            r.message.len() <= SMALL_LIMIT,
            "part {}: {} bytes",
            i + 1,
            r.message.len()
        );
        assert_eq!((r.part, r.parts), (i as u32 + 1, parts));
        let m = read(r);
        assert!(
            m.subject.ends_with(&format!("(Phần {}/{parts})", i + 1)),
            "{}",
            m.subject
        );
        assert!(
            m.text.contains(&format!("Đây là phần {}/{parts}", i + 1)),
            "{}",
            m.text
        );
        assert!(m.text.contains("Kính gửi"), "every part keeps the text");
        let want = if i == 0 {
            e.message_id.clone()
        } else {
            format!("<12.p{}.thd-t-0001@{WARD}.qrca>", i + 1)
        };
        assert_eq!(m.message_id.as_deref(), Some(want.as_str()));
        names.extend(m.attachments.into_iter().map(|a| a.name));
    }
    let mut want: Vec<String> = (1..=8).map(|i| format!("THD-T-0001-{i:04}.pdf")).collect();
    want.push("THD-T-0001-in-1.pdf".into());
    assert_eq!(names, want, "every file once, in order");

    // One file over the limit alone: an error naming it.
    let mut big = mail.clone();
    big.attachments = vec![AttachmentRef::Document(DocumentRef {
        name: "ban-scan.pdf".into(),
        size: 100_000,
        blob: "big".into(),
    })];
    let mut store = blobs();
    store.0.insert("big".into(), {
        let mut b = b"%PDF-1.4\n".to_vec();
        b.resize(100_000, b'x');
        b
    });
    match outbound::render(
        &entry(13, &case.code, big),
        Some(case),
        SMALL,
        &world.ctx(&store),
    ) {
        Err(err @ RenderError::AttachmentTooLarge { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains("ban-scan.pdf") && text.contains(SMALL),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_date_is_the_creation_time_on_the_ward_s_clock_in_every_part_and_render() {
    let mut world = world();
    let flow = flow(&world, 9);
    let (_, mail) = mail_of(&flow, Template::PermitsIssued);
    let case = &flow.case;
    let e = entry(12, &case.code, mail.clone());
    let out = world.render(&e, case, SMALL);
    assert!(out.len() >= 3, "{} parts", out.len());
    for r in &out {
        // 02:30 UTC is 09:30 in Hà Nội (`timezone` defaults to Asia/Ho_Chi_Minh).
        assert_eq!(
            header(&r.message, "Date").as_deref(),
            Some("Wed, 8 Sep 2021 09:30:00 +0700")
        );
        let m = read(r);
        assert_eq!(m.date, Some(now()), "the same instant");
        assert_eq!(m.message_id.as_deref(), Some(r.message_id.as_str()));
    }
    assert_eq!(
        world.render(&e, case, SMALL),
        out,
        "a resend is the same bytes"
    );

    // Late in the UTC day is the next morning in Hà Nội.
    let mut late = entry(13, &case.code, mail.clone());
    late.created_at = "2021-09-08T17:45:10Z".parse().unwrap();
    let r = &world.render(&late, case, ACCOUNT)[0];
    assert_eq!(
        header(&r.message, "Date").as_deref(),
        Some("Thu, 9 Sep 2021 00:45:10 +0700")
    );
    // The zone is the config's: in UTC, the same instant reads +0000.
    world.config.service.timezone = jiff::tz::TimeZone::UTC;
    let r = &world.render(&late, case, ACCOUNT)[0];
    assert_eq!(
        header(&r.message, "Date").as_deref(),
        Some("Wed, 8 Sep 2021 17:45:10 +0000")
    );
}

#[test]
fn every_part_of_an_answer_carries_its_thread() {
    let world = world();
    let flow = flow(&world, 9);
    let (_, mail) = mail_of(&flow, Template::PermitsIssued);
    let case = &flow.case;
    let plain = entry(12, &case.code, mail.clone());
    for r in world.render(&plain, case, SMALL) {
        assert_eq!(header(&r.message, "In-Reply-To"), None);
        assert_eq!(header(&r.message, "References"), None);
    }
    let mut answer = plain.clone();
    let refs: Vec<String> = (1..=10)
        .map(|i| format!("<{i}.{}@mail.gmail.com>", "x".repeat(60)))
        .collect();
    answer.thread = Some(qrca::store::Thread {
        in_reply_to: refs[9].clone(),
        references: refs.clone(),
    });
    let out = world.render(&answer, case, SMALL);
    assert!(out.len() >= 3);
    for r in &out {
        assert!(r.message.len() <= SMALL_LIMIT);
        assert_eq!(
            header(&r.message, "In-Reply-To").as_deref(),
            Some(refs[9].as_str())
        );
        // Long, so folded: between ids, never inside one.
        assert_eq!(header(&r.message, "References"), Some(refs.join(" ")));
        let text = String::from_utf8_lossy(&r.message);
        let head = text.split("\r\n\r\n").next().unwrap();
        let at = head.find("\r\nReferences: ").unwrap();
        let continued = head[at + 2..]
            .split("\r\n")
            .skip(1)
            .take_while(|l| l.starts_with(' '))
            .count();
        assert!(continued > 0, "{head}");
        assert!(head.lines().all(|l| l.len() <= 998), "{head}");
        let m = read(r);
        assert_eq!(m.in_reply_to, [refs[9].clone()]);
        assert_eq!(m.references, refs);
    }
    assert_eq!(world.render(&answer, case, SMALL), out);
}

#[test]
fn more_than_a_hundred_recipients_are_split() {
    let world = world();
    let flow = flow(&world, 2);
    let case = &flow.case;
    let mut mail = mail_of(&flow, Template::CaseOpened).1.clone();
    mail.cc = (0..150)
        .map(|i| format!("cskv{i}@example.gov.vn"))
        .collect();
    let out = world.render(&entry(3, &case.code, mail), case, ACCOUNT);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].recipients.len(), 100);
    assert_eq!(out[1].recipients.len(), 51);
    assert_eq!(
        read(&out[1]).message_id.as_deref(),
        Some(format!("<3.r2.thd-t-0001@{WARD}.qrca>").as_str())
    );
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn an_admin_override_changes_the_text_and_a_broken_one_fails_the_load() {
    let world = world();
    let dir = world.dir.path().join("templates");
    let help = templates::override_path(&dir, Template::Help);
    write(
        &help,
        "{% import \"_macros.txt\" as m %}\n{% block subject %}Trợ giúp về {{ case }}{% endblock %}\n{% block body %}\nXin gọi số 024 3825 0000 để được hướng dẫn về hồ sơ {{ case }}.\n{{ m.signature(ward) }}\n{% endblock %}\n",
    );
    write(&dir.join("mail/README.txt"), "not a template {{");
    let custom = Templates::load(Some(&dir)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(custom.source_of(Template::Help), help.display().to_string());
    let flow = flow(&world, 2);
    let case = &flow.case;
    let mail = OutMail {
        template: Template::Help,
        to: vec![ORG.into()],
        cc: Vec::new(),
        reply_token: None,
        attachments: Vec::new(),
        data: Box::new(MailData {
            case: case.code.clone(),
            kind: Some(Kind::T),
            ..MailData::default()
        }),
    };
    let blobs = blobs();
    let ctx = RenderCtx {
        templates: &custom,
        ..world.ctx(&blobs)
    };
    let out = outbound::render(&entry(4, &case.code, mail), Some(case), ACCOUNT, &ctx).unwrap();
    let m = read(&out[0]);
    assert_eq!(m.subject, "[QRCA THD-T-0001] Trợ giúp về THD-T-0001");
    assert!(m.text.contains("Xin gọi số 024 3825 0000"), "{}", m.text);

    // A syntax error: the file and the line.
    let status = templates::override_path(&dir, Template::Status);
    write(
        &status,
        "{% block subject %}Tình trạng{% endblock %}\n{% block body %}\nHồ sơ {{ case }}\n{% for b in batches %}\n{{ b.batch }\n{% endfor %}\n{% endblock %}\n",
    );
    let err = Templates::load(Some(&dir)).unwrap_err();
    assert_eq!(err.file, status.display().to_string());
    assert_eq!(err.line, Some(5), "{err}");
    assert!(err.to_string().contains("status.txt, line 5"), "{err}");

    // A misspelt variable is caught by the sample render at load, not at send.
    write(
        &status,
        "{% block subject %}Tình trạng{% endblock %}\n{% block body %}\nHồ sơ {{ case }}\n\nĐợt {{ bach }}\n{% endblock %}\n",
    );
    let err = Templates::load(Some(&dir)).unwrap_err();
    assert_eq!(err.file, status.display().to_string());
    assert_eq!(err.line, Some(5), "{err}");
    assert!(err.problem.contains("undefined"), "{err}");

    // No subject at all.
    write(&status, "{% block body %}Hồ sơ {{ case }}{% endblock %}\n");
    let err = Templates::load(Some(&dir)).unwrap_err();
    assert!(err.to_string().contains("subject"), "{err}");
}

#[test]
fn a_message_for_another_ward_s_account_is_refused() {
    let world = world();
    let flow = flow(&world, 2);
    let (case, mail) = mail_of(&flow, Template::CaseOpened);
    let blobs = blobs();
    match outbound::render(
        &entry(1, &case.code, mail.clone()),
        Some(case),
        "someone@gmail.com",
        &world.ctx(&blobs),
    ) {
        Err(RenderError::NotAnAccount { .. }) => {}
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// Notices: mails about no case
// ---------------------------------------------------------------------------------

fn notice(template: Template, to: &str, data: MailData) -> OutMail {
    OutMail {
        template,
        to: vec![to.into()],
        cc: vec![],
        reply_token: None,
        attachments: vec![],
        data: Box::new(data),
    }
}

/// A notice rendered without a case: one message, a `[QRCA` subject only when its data
/// names a case, the notice's own Message-ID (on `.qrca`, so the gate takes it for our
/// own), the RFC 3834 kind.
fn render_notice(world: &World, id: u64, mail: OutMail, auto: &str) -> Mail {
    let about = mail.data.case.clone();
    let e = entry(id, "", mail);
    assert_eq!(e.message_id, format!("<{id}.notice@{WARD}.qrca>"));
    let blobs = blobs();
    let out = outbound::render(&e, None, ACCOUNT, &world.ctx(&blobs))
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(out.len(), 1);
    let raw = String::from_utf8_lossy(&out[0].message).into_owned();
    assert!(raw.contains(&format!("Auto-Submitted: {auto}")), "{raw}");
    assert!(raw.contains("X-Auto-Response-Suppress: All"), "{raw}");
    let m = read(&out[0]);
    assert_eq!(
        m.subject.starts_with(&format!("[QRCA {about}] ")),
        !about.is_empty(),
        "{}",
        m.subject
    );
    assert_eq!(m.subject.starts_with("[QRCA"), !about.is_empty());
    assert_eq!(m.message_id.as_deref(), Some(e.message_id.as_str()));
    assert!(qrca::inbound::gate::is_own_message_id(&e.message_id));
    assert!(m.attachments.is_empty());
    assert!(m.reply_to.is_empty());
    m
}

#[test]
fn a_mail_too_large_is_answered_politely_with_sizes_and_its_subject() {
    let world = world();
    let m = render_notice(
        &world,
        21,
        notice(
            Template::MailTooLarge,
            ORG,
            MailData {
                about_subject: Some("Re: [QRCA THD-T-0001] Danh sách nhân viên".into()),
                size_bytes: Some(31_457_280),
                limit_bytes: Some(20_000_000),
                ..MailData::default()
            },
        ),
        "auto-replied",
    );
    assert_eq!(m.to[0].address, ORG);
    // Replying to it stays on the case: the subject keeps the case code.
    assert!(m.subject.contains("[QRCA THD-T-0001]"), "{}", m.subject);
    for words in [
        "Kính gửi",
        "31,5 MB",
        "20,0 MB",
        "Re: [QRCA THD-T-0001] Danh sách nhân viên",
        "nhiều thư nhỏ hơn",
        "Phường Trần Hưng Đạo",
    ] {
        assert!(m.text.contains(words), "{words:?} not in\n{}", m.text);
    }
}

#[test]
fn an_unreadable_registration_is_answered_with_what_is_missing_and_an_example() {
    let world = world();
    let m = render_notice(
        &world,
        22,
        notice(
            Template::RegistrationIncomplete,
            OFFICER,
            MailData {
                about_subject: Some("ĐĂNG KÝ TỔ CHỨC".into()),
                missing: vec!["Email".into()],
                ..MailData::default()
            },
        ),
        "auto-replied",
    );
    assert_eq!(m.to[0].address, OFFICER);
    assert!(m.subject.contains("thiếu Email"), "{}", m.subject);
    // A reply to it is a registration again.
    assert!(m.subject.contains("ĐĂNG KÝ TỔ CHỨC"), "{}", m.subject);
    assert!(m.text.contains("- Email\n"), "{}", m.text);
    assert!(!m.text.contains("không phải là một địa chỉ"), "{}", m.text);
    // The example is a registration the parser reads.
    let org = qrca::inbound::commands::parse_registration(&m.text)
        .unwrap_or_else(|e| panic!("{e}\n{}", m.text));
    assert_eq!(org.email, "nhansu@vantaihanoi.vn");
}

#[test]
fn a_dead_letter_is_told_to_the_officers_with_the_retry_command() {
    let world = world();
    let m = render_notice(
        &world,
        23,
        notice(
            Template::MailUndeliverable,
            OFFICER,
            MailData {
                case: "THD-T-0001".into(),
                outbox_id: Some(7),
                about_template: Some(Template::CaseOpened),
                recipients: vec![ORG.into(), CSKV.into()],
                error: Some("SMTP 550 5.1.1 no such user".into()),
                ..MailData::default()
            },
        ),
        "auto-generated",
    );
    assert!(m.subject.starts_with("[QRCA THD-T-0001] "), "{}", m.subject);
    assert!(m.subject.contains("thư xác nhận mở hồ sơ"), "{}", m.subject);
    for words in [
        "qrca outbox retry 7",
        "SMTP 550 5.1.1 no such user",
        ORG,
        CSKV,
    ] {
        assert!(m.text.contains(words), "{words:?} not in\n{}", m.text);
    }
}

#[test]
fn a_notice_needs_no_case_but_a_case_s_mail_does() {
    let world = world();
    let blobs = blobs();
    let ctx = world.ctx(&blobs);
    let mail = notice(Template::MailTooLarge, ORG, MailData::default());
    // An entry of a case rendered without it.
    match outbound::render(&entry(1, "THD-T-0001", mail.clone()), None, ACCOUNT, &ctx) {
        Err(RenderError::WrongCase { .. }) => {}
        other => panic!("{other:?}"),
    }
    // A notice with attachments.
    let mut with_files = mail;
    with_files.attachments = vec![AttachmentRef::NormalisedRoster { batch: 1 }];
    match outbound::render(&entry(2, "", with_files), None, ACCOUNT, &ctx) {
        Err(RenderError::NoticeWithAttachments { id: 2 }) => {}
        other => panic!("{other:?}"),
    }
}
