//! `qrca explain FILE.eml` (issue 15): the binary, run on real mails against a database
//! the daemon's own intake filled, says in Vietnamese (English terms in brackets) what
//! the daemon would do: one test per refusal reason `step` and the engine give, per
//! kind of answer (DUYỆT, TỪ CHỐI, ĐÓNG DẤU, THU HỒI, a registration, a roster, a
//! status request, a reply not applied) and per mail the gate drops; the exit code is
//! 0 only for a mail that would be applied; and the database is left exactly as it was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ward_config.rs"]
mod ward_config;

use qrca::config::{self, Config, LoadOptions};
use qrca::daemon::intake::{Position, Taken, take_in};
use qrca::engine::Processed;
use qrca::store::Store;
use qrca::store::blobs::Blobs;
use qrca::workflow::{BatchStage, Case};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use ward_config::{WardSpec, write_config};

const WARD: &str = "hoankiem.tranhungdao";
const ACCOUNT: &str = "qrca.hoankiem.tranhungdao1@gmail.com";
const OFFICER: &str = "canbo.an@hoankiem.hanoi.gov.vn";
const POLICE: &str = "congan.thd@hoankiem.hanoi.gov.vn";
const CSKV: &str = "cskv.thd@hoankiem.hanoi.gov.vn";
const ORG: &str = "nhansu@congty.example.vn";
const STRANGER: &str = "ke.la@gmail.com";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The gate's tests' roster: three staff.
const ROSTER: &str = "tests/fixtures/rosters/t-blank-signature.xlsx";

struct World {
    dir: tempfile::TempDir,
    config: Config,
    uid: u32,
}

/// One ward (the gate tests' Trần Hưng Đạo); `answers` sets the accounts'
/// `answers_per_sender_per_day`.
fn world(answers: Option<u32>) -> World {
    world_with(answers, false)
}

/// As [`world`], with the signing keys a daemon's generation loads.
fn world_with(answers: Option<u32>, keys: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let spec = WardSpec {
        code: WARD,
        short: "THD",
        name: "Phường Trần Hưng Đạo",
        officers: &[OFFICER],
        police: &[POLICE],
        area_police: &[CSKV],
        accounts: &[ACCOUNT],
    };
    let mut config = write_config(dir.path(), &[spec], keys);
    if let Some(n) = answers {
        let path = dir.path().join("qrca.toml");
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "[mail]\n",
            &format!("[mail]\nanswers_per_sender_per_day = {n}\n"),
        );
        std::fs::write(&path, text).unwrap();
        let options = LoadOptions {
            allow_missing_signing_keys: true,
        };
        config = config::load_with(&path, options).unwrap().config;
    }
    World {
        dir,
        config,
        uid: 0,
    }
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// A mail as Gmail writes it, with (when `auth`) mx.google.com's passing
/// `Authentication-Results` for the From domain.
struct Eml {
    from: String,
    to: String,
    subject: String,
    body: String,
    auth: bool,
    attachment: Option<(String, Vec<u8>)>,
    n: u32,
}

fn eml(from: &str, to: &str, subject: &str, body: &str) -> Eml {
    Eml {
        from: from.into(),
        to: to.into(),
        subject: subject.into(),
        body: body.into(),
        auth: true,
        attachment: None,
        n: NEXT_ID.fetch_add(1, Ordering::Relaxed),
    }
}

impl Eml {
    fn unauthenticated(mut self) -> Eml {
        self.auth = false;
        self
    }

    fn roster(mut self, name: &str) -> Eml {
        self.attachment = Some((name.into(), std::fs::read(ROSTER).unwrap()));
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let n = self.n;
        let domain = self.from.rsplit_once('@').map_or("", |(_, d)| d);
        let mut out = format!("Delivered-To: {}\r\n", self.to);
        if self.auth {
            out.push_str(&format!(
                "Authentication-Results: mx.google.com;\r\n       dkim=pass header.i=@{domain};\r\n       dmarc=pass (p=REJECT) header.from={domain}\r\n"
            ));
        }
        out.push_str(&format!(
            "From: <{}>\r\nTo: <{}>\r\nSubject: =?UTF-8?B?{}?=\r\nDate: Wed, 8 Sep 2021 17:15:30 +0700\r\nMessage-ID: <CAexplain{n}@mail.gmail.com>\r\nMIME-Version: 1.0\r\n",
            self.from,
            self.to,
            data_encoding::BASE64.encode(self.subject.as_bytes())
        ));
        let text = format!(
            "Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
            self.body.replace('\n', "\r\n")
        );
        let Some((name, bytes)) = &self.attachment else {
            out.push_str(&text);
            return out.into_bytes();
        };
        let b = "explain0boundary";
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n--{b}\r\n{text}--{b}\r\nContent-Type: {XLSX}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ));
        for line in data_encoding::BASE64.encode(bytes).as_bytes().chunks(76) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push_str("\r\n");
        }
        out.push_str(&format!("--{b}--\r\n"));
        out.into_bytes()
    }
}

fn plus(token: &str) -> String {
    format!("qrca.hoankiem.tranhungdao1+{token}@gmail.com")
}

impl World {
    fn state(&self) -> &Path {
        &self.config.service.state_dir
    }

    /// Takes `mail` in as the daemon does; the store is closed again on return, so
    /// that the binary can open it.
    fn deliver(&mut self, mail: &Eml) -> Processed {
        self.uid += 1;
        let store = Store::open(self.state()).unwrap();
        let at = Position {
            account: ACCOUNT.into(),
            uidvalidity: 1,
            uid: self.uid,
        };
        // The binary explains on the real clock: the day's answers it counts are today's.
        let now = jiff::Timestamp::now();
        let blobs = Blobs::new(self.state());
        match take_in(&store, &blobs, &self.config, &at, &mail.bytes(), now).unwrap() {
            Taken::Processed(p) => p,
            Taken::Ignored(why) => panic!("not taken in: {why}"),
        }
    }

    fn case(&self, code: &str) -> Case {
        let store = Store::open(self.state()).unwrap();
        store.case(code).unwrap().unwrap()
    }

    fn token(&self, who: &str) -> String {
        let case = self.case("THD-T-0001");
        case.tokens
            .iter()
            .find(|g| g.live && g.addressee == who)
            .map(|g| g.token.0.clone())
            .unwrap_or_else(|| panic!("no live token for {who}: {:?}", case.tokens))
    }

    /// `qrca explain FILE --config …` (and `args`): its exit code and stdout.
    fn explain(&self, mail: &[u8], args: &[&str]) -> (i32, String) {
        let file = self.dir.path().join(format!(
            "mail-{}.eml",
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&file, mail).unwrap();
        self.explain_file(&file, args)
    }

    fn explain_file(&self, file: &Path, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_qrca"))
            .arg("explain")
            .arg(file)
            .args(args)
            .arg("--config")
            .arg(self.dir.path().join("qrca.toml"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stdout.is_empty() || out.status.code() == Some(2),
            "no output; stderr: {stderr}"
        );
        (out.status.code().unwrap_or(-1), format!("{stdout}{stderr}"))
    }

    /// The whole database: every tree and kept document, as the standby's snapshot.
    fn snapshot(&self) -> Vec<u8> {
        Store::open(self.state()).unwrap().snapshot().unwrap().1
    }
}

fn has(out: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(out.contains(w), "missing {w:?} in:\n{out}");
    }
}

/// A case THD-T-0001 with the organisation's three staff waiting for the officers'
/// review (the gate tests' registration and roster).
fn in_review(answers: Option<u32>) -> World {
    let mut w = world(answers);
    w.deliver(&registration());
    w.deliver(&roster());
    assert_eq!(w.case("THD-T-0001").batches[0].stage, BatchStage::Review);
    w
}

fn registration() -> Eml {
    eml(
        OFFICER,
        ACCOUNT,
        "ĐĂNG KÝ TỔ CHỨC",
        "Tên tổ chức: Công ty TNHH Bánh Kẹo Hà Nội\nEmail: nhansu@congty.example.vn\nMã số thuế: 0101234567",
    )
}

fn roster() -> Eml {
    eml(
        ORG,
        ACCOUNT,
        "Re: [QRCA THD-T-0001] Xác nhận",
        "Công ty gửi danh sách.",
    )
    .roster("nhan-vien.xlsx")
}

/// In review, approved whole: the police's stamp is asked.
fn in_stamp() -> World {
    let mut w = in_review(None);
    let token = w.token(OFFICER);
    w.deliver(&eml(OFFICER, &plus(&token), "Re: duyệt", "DUYỆT"));
    w
}

fn review_reply(w: &World, from: &str, body: &str) -> Eml {
    eml(
        from,
        &plus(&w.token(OFFICER)),
        "Re: [QRCA THD-T-0001] Yêu cầu duyệt",
        body,
    )
}

// ---------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------

#[test]
fn an_approval_shows_the_evidence_the_cut_quote_and_the_stamp_request() {
    let w = in_review(None);
    let mail = review_reply(
        &w,
        OFFICER,
        "Duyệt\n\nVào Th 4, 8 thg 9, 2021 lúc 10:15 qrca.hoankiem.tranhungdao1 <\nqrca.hoankiem.tranhungdao1@gmail.com> đã viết:\n\n> DUYỆT 1-3\n> TỪ CHỐI 1: lý do",
    );
    let (code, out) = w.explain(&mail.bytes(), &[]);
    assert_eq!(code, 0, "{out}");
    has(
        &out,
        &[
            "Tài khoản (account): qrca.hoankiem.tranhungdao1@gmail.com — phường (ward): Phường Trần Hưng Đạo [hoankiem.tranhungdao]",
            &format!("Người gửi (sender): {OFFICER}"),
            "Kết quả xác thực (Authentication-Results): mx.google.com: dmarc=pass (hoankiem.hanoi.gov.vn), dkim=pass (hoankiem.hanoi.gov.vn) → đạt (pass)",
            &format!(
                "cấp cho (issued to) {OFFICER}, giai đoạn (stage) duyệt (review), còn hiệu lực (live)"
            ),
            "  | Duyệt\n",
            "Phần bị cắt (cut): 4 dòng (lines)",
            "✂ > DUYỆT 1-3",
            "2 dòng lệnh nằm trong phần bị cắt, không được tính",
            "  - DUYỆT (approve): mọi dòng (all rows)",
            "Kết quả (result): ÁP DỤNG (applied), hồ sơ (case) THD-T-0001",
            "giai đoạn mới (new stage) lô (batch) 1: duyệt (review) → đóng dấu (stamp)",
            &format!("StampRequest tới (to) {POLICE}"),
            "nhật ký (audit): ",
            "Không có gì được ghi vào cơ sở dữ liệu (nothing was written to the database).",
        ],
    );
}

#[test]
fn a_rejection_names_its_rows_and_reason() {
    let w = in_review(None);
    let mail = review_reply(&w, OFFICER, "TỪ CHỐI 2: không làm việc tại công ty");
    let (code, out) = w.explain(&mail.bytes(), &[]);
    assert_eq!(code, 0, "{out}");
    has(
        &out,
        &[
            "TỪ CHỐI (reject): dòng (rows) 2 — lý do (reason): không làm việc tại công ty",
            "ÁP DỤNG (applied)",
        ],
    );
}

#[test]
fn a_stamp_issues_the_permits() {
    let w = in_stamp();
    let token = w.token(POLICE);
    let mail = eml(
        POLICE,
        &plus(&token),
        "Re: đóng dấu",
        "ĐÓNG DẤU\n-- \nCông an phường",
    );
    let (code, out) = w.explain(&mail.bytes(), &[]);
    assert_eq!(code, 0, "{out}");
    has(
        &out,
        &[
            "giai đoạn (stage) đóng dấu (stamp), còn hiệu lực (live)",
            "ĐÓNG DẤU (stamp): mọi dòng (all rows)",
            "✂ Công an phường",
            "đóng dấu (stamp) → đã xong (closed)",
            "cấp giấy (permits issued): THD-T-0001-0001, THD-T-0001-0002, THD-T-0001-0003",
            "PermitsIssued",
        ],
    );
}

#[test]
fn a_revocation_is_explained() {
    let mut w = in_stamp();
    let token = w.token(POLICE);
    w.deliver(&eml(POLICE, &plus(&token), "Re: đóng dấu", "ĐÓNG DẤU"));
    let mail = eml(
        POLICE,
        ACCOUNT,
        "Thu hồi",
        "THU HỒI THD-T-0001-0002: nghỉ việc",
    );
    let (code, out) = w.explain(&mail.bytes(), &[]);
    assert_eq!(code, 0, "{out}");
    has(
        &out,
        &[
            "Mã trả lời (reply token): không có (none)",
            "THU HỒI (revoke): THD-T-0001-0002 — lý do (reason): nghỉ việc",
            "ÁP DỤNG (applied), hồ sơ (case) THD-T-0001",
            "PermitsRevoked",
        ],
    );
}

#[test]
fn a_registration_would_open_a_new_case() {
    let w = world(None);
    let (code, out) = w.explain(&registration().bytes(), &[]);
    assert_eq!(code, 0, "{out}");
    has(
        &out,
        &[
            "ĐĂNG KÝ TỔ CHỨC (organisation registration): Công ty TNHH Bánh Kẹo Hà Nội <nhansu@congty.example.vn>",
            "ÁP DỤNG (applied), hồ sơ (case) THD-T-0001 — hồ sơ mới (new case)",
            &format!("CaseOpened tới (to) {ORG}"),
        ],
    );
}

#[test]
fn a_roster_would_go_to_review() {
    let mut w = world(None);
    w.deliver(&registration());
    let (code, out) = w.explain(&roster().bytes(), &[]);
    assert_eq!(code, 0, "{out}");
    has(
        &out,
        &[
            "Hồ sơ theo luồng thư hoặc tiêu đề (case by token, thread or subject): THD-T-0001",
            "danh sách trên hồ sơ (roster on the case): tệp (file) nhan-vien.xlsx — 3 dòng (rows), 0 lỗi (errors)",
            "giai đoạn mới (new stage) lô (batch) 1: duyệt (review)",
            &format!("ReviewRequest tới (to) {OFFICER}"),
        ],
    );
}

#[test]
fn a_status_request_is_answered() {
    let w = in_review(None);
    let mail = eml(ORG, ACCOUNT, "Re: [QRCA THD-T-0001] Xác nhận", "TRẠNG THÁI");
    let (code, out) = w.explain(&mail.bytes(), &[]);
    assert_eq!(code, 0, "{out}");
    has(
        &out,
        &[
            "TRẠNG THÁI (status)",
            "TRẢ LỜI TRẠNG THÁI (status answered)",
            &format!("Status tới (to) {ORG}"),
        ],
    );
}

#[test]
fn a_reply_that_cannot_be_applied_is_answered_and_exits_1() {
    let w = in_review(None);
    let mail = review_reply(&w, OFFICER, "DUYỆT 7");
    let (code, out) = w.explain(&mail.bytes(), &[]);
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        &[
            "DUYỆT (approve): dòng (rows) 7",
            "TRẢ LỜI, KHÔNG ÁP DỤNG (answered, not applied",
            &format!("ReplyNotApplied tới (to) {OFFICER}"),
        ],
    );
}

#[test]
fn an_unreadable_line_is_shown_as_read() {
    let w = in_review(None);
    let mail = review_reply(&w, OFFICER, "DUYỆT hết các dòng");
    let (code, out) = w.explain(&mail.bytes(), &[]);
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        &[
            "dòng không đọc được (unreadable line): «DUYỆT hết các dòng»",
            "TRẢ LỜI, KHÔNG ÁP DỤNG",
        ],
    );
}

// ---------------------------------------------------------------------------------
// Refusals: one per reason
// ---------------------------------------------------------------------------------

fn refused(out: &str, code: i32, reason: &str) {
    assert_eq!(code, 1, "{out}");
    has(
        out,
        &[
            "Kết quả (result): TỪ CHỐI (refused)",
            reason,
            "chi tiết (detail): ",
        ],
    );
}

#[test]
fn refused_not_authenticated() {
    let w = in_review(None);
    let mail = review_reply(&w, OFFICER, "DUYỆT").unauthenticated();
    let (code, out) = w.explain(&mail.bytes(), &[]);
    refused(&out, code, "(not authenticated)");
    has(
        &out,
        &["không có tiêu đề từ máy chủ tin cậy (none from a trusted server) → không đạt (fail)"],
    );
}

#[test]
fn refused_no_token() {
    let w = in_review(None);
    let mail = eml(
        OFFICER,
        ACCOUNT,
        "Re: [QRCA THD-T-0001] Yêu cầu duyệt",
        "DUYỆT",
    );
    let (code, out) = w.explain(&mail.bytes(), &[]);
    refused(&out, code, "thư không đến trên mã trả lời (no token)");
    has(&out, &["Mã trả lời (reply token): không có (none)"]);
}

#[test]
fn refused_unknown_token() {
    let w = in_review(None);
    let mail = eml(
        OFFICER,
        &plus("aaaaaaaaaaaaaaaaaaaaaaaaaa"),
        "Re: [QRCA THD-T-0001] Yêu cầu duyệt",
        "DUYỆT",
    );
    let (code, out) = w.explain(&mail.bytes(), &[]);
    refused(&out, code, "(unknown token)");
    has(
        &out,
        &["không hồ sơ nào cấp mã này (no case issued this token: unknown token)"],
    );
}

#[test]
fn refused_wrong_addressee() {
    let w = in_review(None);
    let mail = review_reply(&w, STRANGER, "DUYỆT");
    let (code, out) = w.explain(&mail.bytes(), &[]);
    refused(
        &out,
        code,
        "mã trả lời cấp cho người khác (wrong addressee)",
    );
    has(
        &out,
        &[
            &format!("Người gửi (sender): {STRANGER}"),
            &format!("cấp cho (issued to) {OFFICER}"),
        ],
    );
}

#[test]
fn refused_dead_token() {
    let mut w = in_review(None);
    let token = w.token(OFFICER);
    w.deliver(&eml(OFFICER, &plus(&token), "Re: duyệt", "DUYỆT"));
    let mail = eml(OFFICER, &plus(&token), "Re: duyệt", "TỪ CHỐI 3: nhầm");
    let (code, out) = w.explain(&mail.bytes(), &[]);
    refused(&out, code, "mã trả lời đã hết hiệu lực (dead token)");
    has(&out, &["đã hết hiệu lực (dead)"]);
}

#[test]
fn refused_not_permitted() {
    let w = in_review(None);
    let mail = eml(STRANGER, ACCOUNT, "Thu hồi", "THU HỒI THD-T-0001-0001: giả");
    let (code, out) = w.explain(&mail.bytes(), &[]);
    refused(
        &out,
        code,
        "người gửi không có quyền việc này (not permitted)",
    );
}

#[test]
fn refused_no_such_case() {
    let w = in_review(None);
    let mail = eml(OFFICER, ACCOUNT, "Thu hồi", "THU HỒI THD-T-0099-0001: nhầm");
    let (code, out) = w.explain(&mail.bytes(), &[]);
    refused(&out, code, "không có hồ sơ như vậy (no such case)");
}

#[test]
fn refused_rate_limited() {
    // One answer a day for a stranger: the organisation had it when its roster came.
    let w = in_review(Some(1));
    let status = eml(ORG, ACCOUNT, "Re: [QRCA THD-T-0001] Xác nhận", "TRẠNG THÁI");
    let (code, out) = w.explain(&status.bytes(), &[]);
    refused(&out, code, "quá số thư trả lời trong ngày (rate limited)");
}

// ---------------------------------------------------------------------------------
// Mails the gate drops, and bad usage
// ---------------------------------------------------------------------------------

#[test]
fn an_automatic_reply_is_dropped_by_the_gate() {
    let w = in_review(None);
    let file = PathBuf::from("tests/fixtures/mail/auto_submitted_auto_replied.eml");
    let (code, out) = w.explain_file(&file, &[]);
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        &[
            "Cổng (gate): bỏ qua (dropped) — automatic mail",
            "Kết quả (result): bỏ qua (ignored), không có bước nào (no step)",
        ],
    );
}

#[test]
fn a_mail_without_a_from_is_unreadable() {
    let w = world(None);
    let file = PathBuf::from("tests/fixtures/mail/no_from.eml");
    let (code, out) = w.explain_file(&file, &["--account", ACCOUNT]);
    assert_eq!(code, 1, "{out}");
    has(&out, &["Không đọc được thư (unreadable mail): "]);
}

#[test]
fn an_officer_s_unreadable_registration_is_dropped_with_its_answer() {
    let w = world(None);
    let mail = eml(
        OFFICER,
        ACCOUNT,
        "ĐĂNG KÝ TỔ CHỨC",
        "Mã số thuế: 0101234567",
    );
    let (code, out) = w.explain(&mail.bytes(), &[]);
    assert_eq!(code, 1, "{out}");
    has(
        &out,
        &[
            "Cổng (gate): bỏ qua (dropped) — ",
            &format!("RegistrationIncomplete tới (to) {OFFICER}"),
        ],
    );
}

#[test]
fn a_mail_to_no_ward_account_needs_an_account() {
    let w = world(None);
    let mail = eml(OFFICER, "someone@example.vn", "Hỏi", "TRẠNG THÁI");
    let (code, out) = w.explain(&mail.bytes(), &[]);
    assert_eq!(code, 2, "{out}");
    has(&out, &["name one with --account"]);
    let (code, out) = w.explain(&mail.bytes(), &["--account", "nobody@gmail.com"]);
    assert_eq!(code, 2, "{out}");
    has(&out, &["is not an account of any ward"]);
}

// ---------------------------------------------------------------------------------
// Nothing written
// ---------------------------------------------------------------------------------

#[test]
fn explain_leaves_the_database_as_it_was() {
    let mut w = in_review(None);
    let approve = review_reply(&w, OFFICER, "DUYỆT");
    let before = w.snapshot();
    let refusals = || Store::open(w.state()).unwrap().refusals().unwrap().len();
    let refused_before = refusals();
    for mail in [
        approve.bytes(),
        registration().bytes(),
        roster().bytes(),
        review_reply(&w, STRANGER, "DUYỆT").bytes(),
    ] {
        w.explain(&mail, &[]);
    }
    assert_eq!(w.snapshot(), before, "explain changed the database");
    assert_eq!(refusals(), refused_before);
    // The approval explained is still new to the daemon: it takes it in and applies it.
    assert!(matches!(w.deliver(&approve), Processed::Applied { .. }));
    // Explained once taken in, it is named as such.
    let (_, out) = w.explain(&approve.bytes(), &[]);
    has(&out, &["Đã xử lý trước đây (already taken in)"]);
}

// ---------------------------------------------------------------------------------
// Through the daemon
// ---------------------------------------------------------------------------------

#[test]
fn while_the_daemon_holds_the_database_it_explains_over_its_socket() {
    use qrca::daemon::{Generation, control};
    use std::sync::Arc;
    let mut w = world_with(None, true);
    w.deliver(&registration());
    w.deliver(&roster());
    let mail = review_reply(&w, STRANGER, "DUYỆT");
    // This process holds the database, as `qrca run` does: the binary cannot open it,
    // so its answer can only come from the socket.
    let store = Store::open(w.state()).unwrap();
    let generation = Arc::new(Generation::load(w.config.clone(), store).unwrap());
    let (_keep, generations) = tokio::sync::watch::channel(generation);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let notify = || Arc::new(tokio::sync::Notify::new());
    let server = runtime.spawn(control::serve(
        generations,
        w.state().to_path_buf(),
        stopped,
        notify(),
        notify(),
    ));
    let socket = w.state().join("control.sock");
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (code, out) = w.explain(&mail.bytes(), &[]);
    stop.send(true).unwrap();
    runtime.block_on(server).unwrap().unwrap();
    refused(&out, code, "(wrong addressee)");
    has(&out, &["Không có gì được ghi vào cơ sở dữ liệu"]);
}
