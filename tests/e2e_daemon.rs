//! The daemon end to end on real mail servers (issue 6): `qrca run` (the real binary)
//! watches three ward accounts on a loopback Dovecot and sends through a loopback
//! Postfix, started by `scripts/mail-servers.sh`; the people of the ward are SMTP
//! clients submitting real MIME mails. Organisation, individuals and households go from
//! the first mail to permits whose QR codes decode and verify; a decision from a
//! non-officer, a replayed token and a forged Authentication-Results are refused and
//! change nothing; Dovecot restarts mid-run; the daemon dies between commit and move and,
//! restarted, answers nothing twice and loses nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/cups.rs"]
mod cups;
#[path = "support/mail_servers.rs"]
mod mail_servers;
#[path = "support/people.rs"]
mod people;

use cups::TestCups;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use mail_servers::{AUTHSERV_ID, MailServers};
use people::{mailbox, roster_mail, text_mail};
use qrca::inbound::mail::{Mail, parse_mail};
use qrca::permit::{issue, pdf, trust};
use qrca::store::{OutboxStatus, Store};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WARD: &str = "hoankiem.tranhungdao";
const ACCOUNTS: [&str; 3] = [
    "qrca.hoankiem.tranhungdao1@gmail.com",
    "qrca.hoankiem.tranhungdao2@gmail.com",
    "qrca.hoankiem.tranhungdao3@gmail.com",
];
const OFFICER: &str = "canbo@hoankiem.gov.test";
const POLICE: &str = "congan@hoankiem.gov.test";
const CSKV: &str = "cskv@hoankiem.gov.test";
const ORG: &str = "nhansu@congty.test";
const STRANGER: &str = "ke.gia.mao@gmail.com";
const PERSON: &str = "nguoidan@gmail.com";
const ADMIN: &str = "admin@hoankiem.gov.test";
const PASSWORD: &str = "mat-khau-thu";

/// How long a step may take before the test gives up (the daemon answers in well
/// under a second; this is for a loaded CI machine).
const WAIT: Duration = Duration::from_secs(60);

struct World {
    servers: MailServers,
    dir: tempfile::TempDir,
    daemon: Option<Child>,
}

impl World {
    fn config(&self) -> PathBuf {
        self.dir.path().join("qrca.toml")
    }

    fn start_daemon(&mut self, fault: Option<&str>) {
        self.start_daemon_with(fault, &[]);
    }

    /// As `start_daemon`, with more environment variables.
    fn start_daemon_with(&mut self, fault: Option<&str>, env: &[(&str, &std::ffi::OsStr)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("qrca.log"))
            .unwrap();
        // Some tests feed it mail built to exhaust memory: capped, a regression kills
        // the daemon, not the machine (prlimit execs qrca: the pid is the daemon's).
        let mut command = Command::new("prlimit");
        command
            .arg("--as=4294967296")
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_qrca"))
            .args(["run", "--config"])
            .arg(self.config())
            .env("QRCA_LOG", "info")
            .env_remove("QRCA_FAULT")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(fault) = fault {
            command.env("QRCA_FAULT", fault);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let started = self.log().matches("qrca is running").count();
        self.daemon = Some(command.spawn().unwrap());
        // Ready (signal handlers installed) before the test goes on.
        let deadline = Instant::now() + WAIT;
        while self.log().matches("qrca is running").count() == started {
            assert!(
                Instant::now() < deadline,
                "qrca run did not start\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, and the daemon must be gone within 10 s.
    fn stop_daemon(&mut self) {
        let Some(mut child) = self.daemon.take() else {
            return;
        };
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "qrca run exited with {status}\n{}",
                    self.log()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "qrca run did not stop within 10 s of SIGTERM\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the daemon to exit on its own (a fault it was told to have).
    fn wait_daemon_exit(&mut self) {
        let mut child = self.daemon.take().unwrap();
        let deadline = Instant::now() + WAIT;
        while child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the daemon's log says `needle`; `what` names it if it never does.
    /// SIGHUP: the daemon reloads its config.
    fn hup(&self) {
        let pid = self.daemon.as_ref().unwrap().id().to_string();
        assert!(
            Command::new("kill")
                .args(["-HUP", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    fn wait_log(&self, needle: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.log().contains(needle) {
            assert!(Instant::now() < deadline, "{what}\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("qrca.log")).unwrap_or_default()
    }

    /// `from` submits `raw` (authenticated as itself) to `to`.
    fn send(&self, from: &str, to: &str, raw: &[u8]) {
        self.servers
            .submit(from, PASSWORD, from, &[to], raw)
            .unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// The first mail in `address`'s INBOX whose subject contains `subject`, parsed.
    fn wait_mail(&self, address: &str, subject: &str) -> Mail {
        self.wait_mails(address, subject, 1).remove(0)
    }

    /// The first `n` mails in `address`'s INBOX whose subject contains `subject`.
    fn wait_mails(&self, address: &str, subject: &str, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.mails(address, subject);
            if found.len() >= n {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{address} has {} mail(s) about {subject:?}, expected {n}\n--- qrca log ---\n{}\n--- servers ---\n{}",
                found.len(),
                self.log(),
                self.servers.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn mails(&self, address: &str, subject: &str) -> Vec<Mail> {
        self.servers
            .messages(address)
            .unwrap()
            .iter()
            .map(|raw| parse_mail(raw, &[AUTHSERV_ID.to_owned()]).unwrap())
            .filter(|m| m.subject.contains(subject))
            .collect()
    }

    fn count(&self, address: &str) -> usize {
        self.servers.messages(address).unwrap().len()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn world() -> World {
    world_on(MailServers::start().unwrap_or_else(|e| panic!("{e:#}")))
}

/// The world on mail servers started as the test wants them.
fn world_on(servers: MailServers) -> World {
    let mut users: Vec<(&str, &str)> = ACCOUNTS.iter().map(|a| (*a, PASSWORD)).collect();
    for person in [OFFICER, POLICE, CSKV, ORG, STRANGER, PERSON, ADMIN] {
        users.push((person, PASSWORD));
    }
    servers
        .add_users(&users)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secrets/password");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    std::fs::write(&secret, PASSWORD).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let accounts: String = ACCOUNTS
        .iter()
        .map(|a| {
            format!("\n[[ward.account]]\naddress = \"{a}\"\npassword_file = \"secrets/password\"\n")
        })
        .collect();
    let config = format!(
        r#"[service]
state_dir = "state"
admin_email = "admin@hoankiem.gov.test"
# The trust network's mails to the admin are tested in e2e_trust.rs.
trust_network = false

[mail]
imap = {{ host = "127.0.0.1", port = {imap}, tls = "none" }}
smtp = {{ host = "127.0.0.1", port = {smtp}, tls = "none" }}
trusted_authserv_ids = ["{AUTHSERV_ID}"]

[permits]
valid_days = 14

[[ward]]
code = "{WARD}"
short = "THD"
name = "Phường Trần Hưng Đạo"
district = "Quận Hoàn Kiếm"
signing_key = "keys/thd.key"
officers = ["{OFFICER}"]
police = ["{POLICE}"]
area_police = ["{CSKV}"]
{accounts}"#,
        imap = servers.imap_port,
        smtp = servers.smtp_port,
    );
    std::fs::write(dir.path().join("qrca.toml"), config).unwrap();
    let keys = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["keys", "generate", "--ward", WARD, "--config"])
        .arg(dir.path().join("qrca.toml"))
        .output()
        .unwrap();
    assert!(
        keys.status.success(),
        "{}",
        String::from_utf8_lossy(&keys.stderr)
    );
    World {
        servers,
        dir,
        daemon: None,
    }
}

// ---------------------------------------------------------------------------------
// Mails as people write them
// ---------------------------------------------------------------------------------

/// The officer's registration of the organisation `name` (email: the test's ORG).
fn registration(name: &str) -> Vec<u8> {
    people::registration(OFFICER, ACCOUNTS[0], name, ORG)
}

/// An answer to a request, on its reply token, Gmail-style.
fn answer(world: &World, from: &str, request: &Mail, words: &str) {
    let (to, raw) = people::answer_mail(from, request, words);
    world.send(from, &to, &raw);
}

/// A roster of `rows` people, as an HR office types it (the first person of a C list
/// has the test's PERSON address).
fn roster_xlsx(kind: char, rows: usize, first_id: u64) -> Vec<u8> {
    people::roster_xlsx(kind, rows, first_id, PERSON)
}

/// Every permit PDF attached to `mail`: the payload each carries verifies against the
/// trust list of the world's config; returns the permit ids.
fn verified_permits(world: &World, mail: &Mail) -> Vec<String> {
    let config = qrca::config::load(&world.config()).unwrap().config;
    let trust_list = issue::trust_list(&config).unwrap();
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(config.service.timezone.clone())
        .date();
    let mut ids = Vec::new();
    for a in &mail.attachments {
        let Some(payload) = pdf::payload_from_pdf(&a.bytes) else {
            continue;
        };
        let verdict = trust::check(
            &payload,
            &trust_list,
            None,
            today,
            qrca::config::DEFAULT_MAX_VALID_DAYS,
        );
        assert!(verdict.is_valid(), "{}: {verdict}", a.name);
        ids.push(verdict.claims().unwrap().id.clone());
    }
    ids
}

/// The QR of one permit PDF, as a checkpoint's scanner reads it from a print.
fn scan_qr(dir: &Path, pdf_bytes: &[u8]) -> String {
    let file = dir.join("scan.pdf");
    std::fs::write(&file, pdf_bytes).unwrap();
    let prefix = dir.join("scan");
    let render = Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-singlefile"])
        .arg(&file)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(render.success());
    let out = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(prefix.with_extension("png"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

// ---------------------------------------------------------------------------------
// The flows
// ---------------------------------------------------------------------------------

#[test]
fn an_organisation_from_registration_to_permits_with_refusals_and_a_dovecot_restart() {
    let mut w = world();
    w.start_daemon(None);

    // 1. The officer registers the organisation.
    let registration = text_mail(
        OFFICER,
        ACCOUNTS[0],
        "ĐĂNG KÝ TỔ CHỨC",
        "Tên tổ chức: Công ty TNHH Bánh Kẹo Hà Nội\nEmail: nhansu@congty.test\nMã số thuế: 0101234567",
        None,
    );
    w.send(OFFICER, ACCOUNTS[0], &registration);
    let confirmation = w.wait_mail(ORG, "[QRCA THD-T-0001]");
    assert!(confirmation.text.contains("THD-T-0001"));

    // Dovecot restarts while the daemon watches: it reconnects and goes on.
    w.servers
        .restart_dovecot()
        .unwrap_or_else(|e| panic!("{e:#}"));

    // 2. The organisation replies with its staff list of 25.
    let roster = roster_mail(
        ORG,
        ACCOUNTS[0],
        &format!("Re: {}", confirmation.subject),
        "danh_sach.xlsx",
        roster_xlsx('T', 25, 1_190_000_001),
        Some(&confirmation),
    );
    w.send(ORG, ACCOUNTS[0], &roster);
    let review = w.wait_mail(OFFICER, "xét duyệt");
    assert_eq!(review.reply_to.len(), 1);
    assert!(review.reply_to[0].address.contains('+'));
    assert!(review.attachments.iter().any(|a| a.name.ends_with(".xlsx")));

    // 3. A stranger who got the request forwarded answers it: refused, no answer.
    answer(&w, STRANGER, &review, "DUYỆT");
    // 4. A forged decision from the officer's address, sent as the internet would (no
    //    authentication), with an Authentication-Results it wrote itself: refused.
    let token_address = review.reply_to[0].address.clone();
    let forged = format!(
        "Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=hoankiem.gov.test\r\n{}",
        String::from_utf8(text_mail(
            OFFICER,
            &token_address,
            "Re: duyệt",
            "DUYỆT",
            Some(&review)
        ))
        .unwrap()
    );
    w.servers
        .send_unauthenticated(OFFICER, &[&token_address], forged.as_bytes())
        .unwrap_or_else(|e| panic!("{e:#}"));

    // 5. The officer approves everyone.
    answer(&w, OFFICER, &review, "DUYỆT");
    let stamp = w.wait_mail(POLICE, "đóng dấu");

    // 6. The officer's old review token, replayed after the review ended: refused.
    answer(&w, OFFICER, &review, "TỪ CHỐI 1: nhầm");

    // 7. The police stamp; the organisation gets 25 permits and the print sheet.
    let stamped_at = Instant::now();
    answer(&w, POLICE, &stamp, "ĐÓNG DẤU");
    let permits = w.wait_mail(ORG, "đã được cấp");
    eprintln!(
        "e2e: the police reply → the permits mail (25 PDFs and the sheet) in the organisation's inbox: {:.2} s",
        stamped_at.elapsed().as_secs_f64()
    );
    let ids = verified_permits(&w, &permits);
    assert_eq!(ids.len(), 25, "{ids:?}");
    let first = permits
        .attachments
        .iter()
        .find(|a| a.name == "THD-T-0001-0001.pdf")
        .unwrap();
    let scanned = scan_qr(w.dir.path(), &first.bytes);
    assert_eq!(Some(scanned), pdf::payload_from_pdf(&first.bytes));

    // 8. The police revoke one permit; the checkpoints' revocation list, asked of the
    //    running daemon, names it at once.
    w.send(
        POLICE,
        ACCOUNTS[0],
        &text_mail(
            POLICE,
            ACCOUNTS[0],
            "Thu hồi giấy",
            "THU HỒI THD-T-0001-0003: người lao động nghỉ việc",
            None,
        ),
    );
    w.wait_mail(ORG, "Thông báo thu hồi");
    let out = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["keys", "revocations", "--config"])
        .arg(w.config())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["revoked"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["revoked"][0]["permit"], "THD-T-0001-0003");
    assert_eq!(list["revoked"][0]["reason"], "người lao động nghỉ việc");
    // The ward's register, made by the running daemon and written here.
    let register = w.dir.path().join("register.xlsx");
    let out = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["permits", "export", "--ward", WARD, "--out"])
        .arg(&register)
        .arg("--config")
        .arg(w.config())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("25 permit(s)") && said.contains("24 Còn hiệu lực, 1 Đã thu hồi"),
        "{said}"
    );
    {
        use calamine::Reader;
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(
            std::fs::read(&register).unwrap(),
        ))
        .unwrap();
        let range = book.worksheet_range_at(0).unwrap().unwrap();
        let rows: Vec<_> = range.rows().collect();
        assert_eq!(rows.len(), 26);
        assert_eq!(rows[3][1].to_string(), "THD-T-0001-0003");
        assert_eq!(rows[3][15].to_string(), "Đã thu hồi");
    }

    // Nothing went to the stranger; each refused attempt changed nothing.
    w.stop_daemon();
    assert_eq!(w.count(STRANGER), 0);
    let config = qrca::config::load(&w.config()).unwrap().config;
    let store = Store::open(&config.service.state_dir).unwrap();
    let refusals = store.refusals().unwrap();
    assert_eq!(refusals.len(), 3, "{refusals:#?}");
    let case = store.case("THD-T-0001").unwrap().unwrap();
    let issued = case.batches[0]
        .rows
        .iter()
        .filter(|r| matches!(r.state, qrca::workflow::RowState::Issued(_)))
        .count();
    assert_eq!(issued, 24);
    for entry in store.outbox().unwrap() {
        assert!(
            matches!(entry.status, OutboxStatus::Sent { .. }),
            "{entry:?}"
        );
    }
    // Every ward account's INBOX was emptied into the processed folder.
    for account in ACCOUNTS {
        assert_eq!(w.count(account), 0, "{account}");
    }
}

/// Also issue 15's printing end to end: the ward prints its C and H sheets on
/// `laser1` (a private CUPS), and each sheet printed is the one the mail carries.
#[test]
fn individuals_and_households_get_their_permits() {
    let mut w = world();
    let printers = TestCups::start(&["laser1", "laser2"]);
    let text = std::fs::read_to_string(w.config())
        .unwrap()
        .replace(
            "[permits]\nvalid_days = 14\n",
            "[permits]\nvalid_days = 14\nprinters = [\"laser1\", \"laser2\"]\nprint_kinds = [\"C\", \"H\"]\n",
        );
    assert!(text.contains("print_kinds"));
    std::fs::write(w.config(), text).unwrap();
    w.start_daemon_with(
        None,
        &[("CUPS_SERVER", std::ffi::OsStr::new(&printers.server))],
    );

    // Individuals (C): the CSKV's list goes straight to the police.
    let c = roster_mail(
        CSKV,
        ACCOUNTS[1],
        "ĐĂNG KÝ CÁ NHÂN",
        "ca_nhan.xlsx",
        roster_xlsx('C', 3, 2_190_000_001),
        None,
    );
    w.send(CSKV, ACCOUNTS[1], &c);
    let stamp = w.wait_mail(POLICE, "THD-C-0001");
    answer(&w, POLICE, &stamp, "ĐÓNG DẤU");
    let permits = w.wait_mail(CSKV, "đã được cấp");
    assert_eq!(verified_permits(&w, &permits).len(), 3);
    // The person whose row has an email gets their own permit.
    let own = w.wait_mail(PERSON, "THD-C-0001");
    assert_eq!(verified_permits(&w, &own).len(), 1);

    // The C sheet, printed: the bytes of the sheet in the mail.
    let printed = printers.wait_printed("laser1", 1);
    assert_eq!(printed.len(), 1, "{}", w.log());
    let sheet = permits
        .attachments
        .iter()
        .find(|a| a.name.contains("-in-"))
        .expect("the print sheet in the permits mail");
    assert_eq!(
        printed[0].1, sheet.bytes,
        "the printed sheet is the mailed one"
    );

    // Households (H): review, then stamp; cards go to the CSKV.
    let h = roster_mail(
        CSKV,
        ACCOUNTS[2],
        "THẺ ĐI CHỢ",
        "ho_gia_dinh.xlsx",
        roster_xlsx('H', 4, 3_190_000_001),
        None,
    );
    w.send(CSKV, ACCOUNTS[2], &h);
    let review = w.wait_mail(OFFICER, "THD-H-0001");
    answer(&w, OFFICER, &review, "DUYỆT");
    let stamp = w.wait_mails(POLICE, "THD-H-0001", 1).remove(0);
    answer(&w, POLICE, &stamp, "ĐÓNG DẤU");
    let cards = w.wait_mail(CSKV, "THD-H-0001");
    let cards = if cards.attachments.is_empty() {
        w.wait_mails(CSKV, "THD-H-0001", 2).pop().unwrap()
    } else {
        cards
    };
    assert_eq!(verified_permits(&w, &cards).len(), 4);
    assert_eq!(printers.wait_printed("laser1", 2).len(), 2, "{}", w.log());
    w.stop_daemon();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(printers.printed("laser1").len(), 2, "each sheet once");
    assert!(printers.printed("laser2").is_empty());
}

#[test]
fn a_crash_between_commit_and_move_answers_nothing_twice_and_loses_nothing() {
    let mut w = world();
    // The daemon dies right after committing the first message, before moving it.
    w.start_daemon(Some("exit-after-commit"));
    w.send(
        OFFICER,
        ACCOUNTS[0],
        &registration("Công ty Vận tải Sông Hồng"),
    );
    w.wait_daemon_exit();
    // The message is still in INBOX; the case exists once.
    assert_eq!(w.count(ACCOUNTS[0]), 1);

    // A second message arrives while the daemon is down.
    let second = registration("Công ty Bánh mì Hà Nội");
    w.send(OFFICER, ACCOUNTS[0], &second);
    w.servers.wait_for_messages(ACCOUNTS[0], 2, WAIT).unwrap();

    // Restarted: the first is recognised and only moved; the second is taken in; one
    // confirmation each, none twice.
    w.start_daemon(None);
    let confirmations = w.wait_mails(ORG, "Đã mở hồ sơ", 2);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(w.mails(ORG, "Đã mở hồ sơ").len(), 2, "answered twice");
    let mut codes: Vec<String> = confirmations.iter().map(|m| m.subject.clone()).collect();
    codes.sort();
    assert!(
        codes[0].contains("THD-T-0001") && codes[1].contains("THD-T-0002"),
        "{codes:?}"
    );
    w.stop_daemon();
    assert_eq!(w.count(ACCOUNTS[0]), 0);
}

/// `qrca explain --uid` (issue 15): a mail the daemon took in, fetched by its UID from
/// the account's processed folder while the daemon runs, and explained through the
/// daemon's control socket (the daemon holds the database): it was taken in, and
/// today it would open a second case.
#[test]
fn explain_reads_a_mail_taken_in_by_its_uid_while_the_daemon_runs() {
    let mut w = world();
    w.start_daemon(None);
    w.send(
        OFFICER,
        ACCOUNTS[0],
        &registration("Công ty Vận tải Sông Hồng"),
    );
    w.wait_mail(ORG, "Đã mở hồ sơ");
    let deadline = Instant::now() + WAIT;
    while w.count(ACCOUNTS[0]) > 0 {
        assert!(Instant::now() < deadline, "not moved\n{}", w.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let explain = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args([
            "explain",
            "--uid",
            "1",
            "--account",
            ACCOUNTS[0],
            "--config",
        ])
        .arg(w.config())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&explain.stdout);
    let err = String::from_utf8_lossy(&explain.stderr);
    assert_eq!(explain.status.code(), Some(0), "{out}\n{err}");
    for line in [
        "Đã xử lý trước đây (already taken in)",
        "ĐĂNG KÝ TỔ CHỨC (organisation registration): Công ty Vận tải Sông Hồng",
        "ÁP DỤNG (applied), hồ sơ (case) THD-T-0002 — hồ sơ mới (new case)",
        "Không có gì được ghi vào cơ sở dữ liệu",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    // No such UID: one sentence, exit 2.
    let missing = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args([
            "explain",
            "--uid",
            "99",
            "--account",
            ACCOUNTS[0],
            "--config",
        ])
        .arg(w.config())
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no message with UID 99"));
    w.stop_daemon();
    // Nothing was committed for it: one case, as before.
    let store = Store::open(&w.dir.path().join("state")).unwrap();
    assert!(store.case("THD-T-0002").unwrap().is_none());
}

/// SPEC §8: no single message can stop the daemon twice. A mail on which intake
/// aborts the process (a fault injected by Message-ID, standing in for a parser bug or
/// an allocation failure) is met by a daemon restarted as systemd would: by the third
/// start it is in the quarantine folder unread, the officers and the admin are told
/// once, and the mails behind it are answered.
#[test]
fn a_mail_that_kills_the_daemon_twice_is_quarantined_and_the_next_is_answered() {
    let mut w = world();
    let poison_id = "poison-1@stranger.test";
    let poison = lettre::Message::builder()
        .from(mailbox(STRANGER))
        .to(mailbox(ACCOUNTS[0]))
        .subject("Thư độc")
        .message_id(Some(format!("<{poison_id}>")))
        .header(ContentType::TEXT_PLAIN)
        .body("anything".to_owned())
        .unwrap()
        .formatted();
    w.send(STRANGER, ACCOUNTS[0], &poison);
    w.servers.wait_for_messages(ACCOUNTS[0], 1, WAIT).unwrap();
    let fault = format!("abort-on:{poison_id}");
    for start in 1..=2 {
        w.start_daemon(Some(&fault));
        w.wait_daemon_exit();
        assert_eq!(
            w.count(ACCOUNTS[0]),
            1,
            "start {start}: the poison stays in INBOX"
        );
    }
    // A legitimate mail waits behind it.
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Sau Thư Độc"));
    w.servers.wait_for_messages(ACCOUNTS[0], 2, WAIT).unwrap();
    // Third start, same fault still armed: the poison is not parsed again.
    w.start_daemon(Some(&fault));
    w.wait_mail(ORG, "Đã mở hồ sơ");
    let notices = w.wait_mails(OFFICER, "cách ly", 1);
    assert!(
        notices[0].subject.contains("Thư độc"),
        "{}",
        notices[0].subject
    );
    assert!(notices[0].text.contains(STRANGER), "{}", notices[0].text);
    w.wait_mails(ADMIN, "cách ly", 1);
    let quarantined = w
        .servers
        .folder_messages(ACCOUNTS[0], "QRCA/Quarantine")
        .unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert!(w.log().contains("it goes to quarantine unread"));
    // The same mail on another account of the ward, the fault still armed: known by
    // its Message-ID, it goes to quarantine without being parsed (the daemon would
    // abort) and without a second notice.
    w.stop_daemon();
    w.send(STRANGER, ACCOUNTS[1], &poison);
    w.servers.wait_for_messages(ACCOUNTS[1], 1, WAIT).unwrap();
    w.start_daemon(Some(&fault));
    let deadline = Instant::now() + WAIT;
    while w.count(ACCOUNTS[1]) != 0 {
        assert!(Instant::now() < deadline, "not quarantined\n{}", w.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    w.stop_daemon();
    assert_eq!(
        w.servers
            .folder_messages(ACCOUNTS[1], "QRCA/Quarantine")
            .unwrap()
            .len(),
        1
    );
    assert_eq!(w.mails(OFFICER, "cách ly").len(), 1);
    assert_eq!(w.count(ACCOUNTS[0]), 0);
}

/// Issue 11 on the real servers: the sparse-range .xlsx (from a stranger and from the
/// area police), a 1 MB flood of row lists on the officer's review token, and an
/// organisation roster forged from the internet reach a running `qrca run`. The daemon
/// stays up, refuses or answers each, quarantines nothing, and answers the next
/// legitimate mail within 3 s.
#[test]
fn hostile_mails_change_nothing_and_the_next_mail_is_answered_within_3_s() {
    let mut w = world();
    w.start_daemon(None);
    let sparse = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/sparse-range.xlsx"),
    )
    .unwrap();
    // The organisation's case, on its way to review (the flood's target).
    w.send(
        OFFICER,
        ACCOUNTS[0],
        &registration("Công ty Vận tải An Toàn"),
    );
    let confirmation = w.wait_mail(ORG, "Đã mở hồ sơ");
    let roster = roster_mail(
        ORG,
        ACCOUNTS[0],
        &format!("Re: {}", confirmation.subject),
        "danh_sach.xlsx",
        roster_xlsx('T', 3, 1_190_000_101),
        Some(&confirmation),
    );
    w.send(ORG, ACCOUNTS[0], &roster);
    let review = w.wait_mail(OFFICER, "xét duyệt");

    // 1. The sparse sheet as a registration of individuals: the stranger is refused
    //    in silence, the area police gets the error naming the cell.
    for from in [STRANGER, CSKV] {
        let mail = roster_mail(
            from,
            ACCOUNTS[1],
            "ĐĂNG KÝ CÁ NHÂN",
            "ds.xlsx",
            sparse.clone(),
            None,
        );
        w.send(from, ACCOUNTS[1], &mail);
    }
    let error = w.wait_mail(CSKV, "THD-C-0001");
    assert!(error.text.contains("XFD1048576"), "{}", error.text);
    // 2. 1 MB of row lists on the officer's own token: read within bounds; the first
    //    list is applied, the rest reported as unreadable, the case still consistent.
    answer(
        &w,
        OFFICER,
        &review,
        &"DUYET 1-99999\n".repeat(1_000_000 / 14),
    );
    w.wait_mails(OFFICER, "THD-T-0001", 2);
    // 3. The organisation's roster forged from the internet, with a pass it wrote.
    let forged = format!(
        "Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=congty.test\r\n{}",
        String::from_utf8(roster_mail(
            ORG,
            ACCOUNTS[2],
            &format!("Re: {}", confirmation.subject),
            "ds.xlsx",
            roster_xlsx('T', 2, 1_190_000_201),
            Some(&confirmation),
        ))
        .unwrap()
    );
    w.servers
        .send_unauthenticated(ORG, &[ACCOUNTS[2]], forged.as_bytes())
        .unwrap_or_else(|e| panic!("{e:#}"));
    for account in ACCOUNTS {
        let deadline = Instant::now() + WAIT;
        while w.count(account) != 0 {
            assert!(
                Instant::now() < deadline,
                "{account}: INBOX not emptied\n{}",
                w.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // The next legitimate mail is answered within 3 s, by the same daemon.
    let sent = Instant::now();
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Sau Cơn Bão"));
    w.wait_mails(ORG, "Đã mở hồ sơ", 2);
    let took = sent.elapsed();
    eprintln!(
        "e2e: the legitimate mail after the hostile ones answered in {:.2} s",
        took.as_secs_f64()
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(w.mails(STRANGER, "").is_empty(), "a stranger was answered");
    w.stop_daemon();
    let log = w.log();
    assert!(!log.contains("quarantine"), "{log}");
    assert_eq!(
        log.matches("qrca is running").count(),
        1,
        "the daemon restarted"
    );
    let config = qrca::config::load(&w.config()).unwrap().config;
    let store = Store::open(&config.service.state_dir).unwrap();
    let org_case = store.case("THD-T-0001").unwrap().unwrap();
    assert_eq!(org_case.batches.len(), 1, "the forged roster made a batch");
}

#[test]
fn check_connect_reports_every_account_in_the_server_s_words() {
    let w = world();
    let check = |config: &Path| {
        Command::new(env!("CARGO_BIN_EXE_qrca"))
            .args(["check", "--connect", "--config"])
            .arg(config)
            .output()
            .unwrap()
    };
    let out = check(&w.config());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for account in ACCOUNTS {
        assert!(
            stdout.contains(&format!("{account} IMAP 127.0.0.1:")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("{account} SMTP 127.0.0.1:")),
            "{stdout}"
        );
    }
    assert_eq!(stdout.matches(": ok").count(), 6, "{stdout}");

    // One account's password changed on the server: that account fails, in Dovecot's
    // and Postfix's words; the others are still ok; exit 1.
    w.servers.add_user(ACCOUNTS[1], "changed").unwrap();
    let out = check(&w.config());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("AUTHENTICATIONFAILED"), "{stdout}");
    assert!(stdout.contains("535"), "{stdout}");
    assert_eq!(stdout.matches(": ok").count(), 4, "{stdout}");
}

#[test]
fn check_connect_says_when_the_processed_folder_cannot_be_made() {
    // A server that keeps every folder under INBOX (Courier, Cyrus): it refuses to
    // make QRCA/Processed at the top, so no mail could leave INBOX once taken in.
    let servers = MailServers::start_with(&mail_servers::Options {
        separator: Some('.'),
        prefix: Some("INBOX.".into()),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let w = world_on(servers);
    let check = || {
        Command::new(env!("CARGO_BIN_EXE_qrca"))
            .args(["check", "--connect", "--config"])
            .arg(w.config())
            .output()
            .unwrap()
    };
    let out = check();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for account in ACCOUNTS {
        assert!(
            stdout.contains(&format!(
                "{account} IMAP: logged in, but the processed folder QRCA/Processed cannot be made"
            )),
            "{stdout}"
        );
    }
    assert!(stdout.contains("INBOX/QRCA/Processed"), "{stdout}");
    // SMTP is fine; only the three IMAP lines failed.
    assert_eq!(stdout.matches(": ok").count(), 3, "{stdout}");

    // What the line says to do works.
    let config = std::fs::read_to_string(w.config()).unwrap().replace(
        "[mail]\n",
        "[mail]\nprocessed_folder = \"INBOX/QRCA/Processed\"\n",
    );
    assert!(config.contains("processed_folder"));
    std::fs::write(w.config(), &config).unwrap();
    // The quarantine folder is checked the same way, and said the same way.
    let out = check();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("the quarantine folder QRCA/Quarantine cannot be made"),
        "{stdout}"
    );
    let config = config.replace(
        "[mail]\n",
        "[mail]\nquarantine_folder = \"INBOX/QRCA/Quarantine\"\n",
    );
    std::fs::write(w.config(), config).unwrap();
    let out = check();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout
            .matches("folders INBOX/QRCA/Processed and INBOX/QRCA/Quarantine ready")
            .count(),
        3,
        "{stdout}"
    );
}

#[test]
fn sighup_swaps_in_new_templates_and_keeps_the_old_when_the_new_are_broken() {
    let mut w = world();
    let templates = w.dir.path().join("templates");
    std::fs::create_dir_all(templates.join("mail")).unwrap();
    let config = std::fs::read_to_string(w.config()).unwrap().replace(
        "admin_email = \"admin@hoankiem.gov.test\"",
        "admin_email = \"admin@hoankiem.gov.test\"\ntemplates_dir = \"templates\"",
    );
    std::fs::write(w.config(), config).unwrap();
    w.start_daemon(None);
    // An admin's version of the confirmation, then SIGHUP: the next one uses it.
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/mail/case_opened.txt"),
    )
    .unwrap();

    let custom = source.replacen(
        "{% block body %}",
        "{% block body %}PHƯỜNG ĐÃ ĐỔI MẪU THƯ\n",
        1,
    );
    assert_ne!(custom, source);
    std::fs::write(templates.join("mail/case_opened.txt"), &custom).unwrap();
    w.hup();
    w.wait_log("reloaded the config and templates", "no reload");
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Một"));
    let first = w.wait_mail(ORG, "THD-T-0001");
    assert!(
        first.text.contains("PHƯỜNG ĐÃ ĐỔI MẪU THƯ"),
        "{}",
        first.text
    );

    // A broken template and SIGHUP: refused with the file named; the running one stays.
    std::fs::write(
        templates.join("mail/case_opened.txt"),
        "{% block subject %}{{ oops(%}",
    )
    .unwrap();
    w.hup();
    w.wait_log("reload refused", "no refusal");
    assert!(w.log().contains("case_opened.txt"), "{}", w.log());
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Hai"));
    let second = w.wait_mail(ORG, "THD-T-0002");
    assert!(second.text.contains("PHƯỜNG ĐÃ ĐỔI MẪU THƯ"));
    w.stop_daemon();
}

#[test]
fn accounts_enroll_tells_the_admin_from_each_account() {
    let w = world();
    let out = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["accounts", "enroll", "--ward", WARD, "--config"])
        .arg(w.config())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A line naming the key sent, then three per account.
    assert_eq!(stdout.lines().count(), 10, "{stdout}");
    assert!(
        stdout.contains("trust-hoankiem.tranhungdao.json"),
        "{stdout}"
    );
    let mails = w.wait_mails(
        ADMIN,
        "UBND Phường Trần Hưng Đạo đã hoàn thành tạo lập địa chỉ mail",
        3,
    );
    let mut senders: Vec<String> = mails
        .iter()
        .map(|m| m.from.as_ref().unwrap().address.clone())
        .collect();
    senders.sort();
    assert_eq!(senders, ACCOUNTS.map(String::from).to_vec());
    // Marked automatic, with a qrca Message-ID, like every mail qrca sends.
    // Each carries the ward's key as the city will trust it, signed by that key: the
    // same bytes from all three (SPEC §9).
    let config = qrca::config::load(&w.config()).unwrap().config;
    let ward = config.ward(WARD).unwrap();
    let (entry, _) = qrca::permit::issue::current_entry(&config, ward).unwrap();
    let name = qrca::permit::signed::trust_file(WARD);
    let mut sent = Vec::new();
    for m in &mails {
        assert!(m.auto_reply.is_some(), "{m:?}");
        let id = m.message_id.as_deref().unwrap();
        assert!(qrca::inbound::gate::is_own_message_id(id), "{id}");
        let files = m
            .attachments
            .iter()
            .map(|a| (a.name.as_str(), &a.bytes[..]));
        let found = qrca::permit::signed::find(files, &name).unwrap();
        let list = qrca::permit::signed::parse_trust(&name, found.bytes).unwrap();
        assert_eq!(list.keys, vec![entry.clone()]);
        let key = entry.verifying_key().unwrap();
        found
            .sig
            .check(&name, &entry.kid, &key, found.bytes)
            .unwrap();
        sent.push(found.bytes.to_vec());
    }
    assert!(
        sent.windows(2).all(|w| w[0] == w[1]),
        "the accounts sent different keys"
    );
    let raw = w.servers.messages(ADMIN).unwrap();
    assert_eq!(raw.len(), 3);
    for bytes in &raw {
        let text = String::from_utf8_lossy(bytes);
        assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
        assert!(text.contains("X-Auto-Response-Suppress: All"), "{text}");
    }
}

#[test]
fn an_account_the_server_says_is_over_its_daily_quota_hands_the_mail_to_another() {
    let mut w = world();
    // Gmail refuses an account that has sent its day's quota with 550 5.4.5, whatever
    // qrca's own count says: the mail is fine, and must not die.
    w.servers.quota_spent(ACCOUNTS[0]).unwrap();
    w.start_daemon(None);
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Một"));
    let confirmation = w.wait_mail(ORG, "THD-T-0001");
    let from = confirmation.from.as_ref().unwrap().address.clone();
    assert_ne!(
        from, ACCOUNTS[0],
        "sent from the account the server refused"
    );
    assert!(ACCOUNTS.contains(&from.as_str()), "{from}");
    w.wait_log(
        "the server says the account has sent all it may",
        "the quota refusal was not noticed",
    );
    w.stop_daemon();
    assert!(!w.log().contains("outbox entry is dead"), "{}", w.log());
    let config = qrca::config::load(&w.config()).unwrap().config;
    let store = Store::open(&config.service.state_dir).unwrap();
    let outbox = store.outbox().unwrap();
    assert_eq!(outbox.len(), 1, "no notice of a dead letter: {outbox:#?}");
    assert!(matches!(outbox[0].status, OutboxStatus::Sent { .. }));
    assert_eq!(outbox[0].attempts, 1, "the refusal cost no attempt");
    // The refused account rests an hour (Gmail's window rolls: not until midnight),
    // its count untouched; the one that sent counts the confirmation's recipients
    // (the organisation, cc the CSKVs), as Gmail does.
    let now = jiff::Timestamp::now();
    let mark = store.quota_spent(ACCOUNTS[0]).unwrap().unwrap();
    assert!(mark.until > now && mark.until <= now + jiff::SignedDuration::from_hours(1));
    assert_eq!(store.sent_within(ACCOUNTS[0], now).unwrap(), 0);
    let recipients = confirmation.to.len() + confirmation.cc.len();
    assert!(recipients >= 2, "{recipients}");
    assert_eq!(
        store.sent_within(&from, now).unwrap(),
        u32::try_from(recipients).unwrap()
    );
}

#[test]
fn a_refused_login_moves_the_mail_to_another_account_and_a_down_server_is_a_retry() {
    let mut w = world();
    w.start_daemon(None);
    let config = qrca::config::load(&w.config()).unwrap().config;
    // The first account's app password is revoked on the server while the daemon runs:
    // its login is refused (535) for good. The mail of its thread goes from another
    // account of the ward, nothing is dead, and the officers are told once, by
    // another account.
    w.servers
        .add_users(&[(ACCOUNTS[0], "doi-mat-khau")])
        .unwrap();
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Một"));
    let opened = w.wait_mail(ORG, "THD-T-0001");
    let from = opened.from.as_ref().unwrap().address.clone();
    assert_ne!(from, ACCOUNTS[0]);
    let told = w.wait_mail(OFFICER, "không gửi được thư");
    assert!(told.subject.contains(ACCOUNTS[0]), "{}", told.subject);
    assert!(told.text.contains("535"), "{}", told.text);
    assert_ne!(told.from.as_ref().unwrap().address, ACCOUNTS[0]);
    // The next mail of that thread goes from another account at once: no second notice.
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Hai"));
    w.wait_mail(ORG, "THD-T-0002");
    assert_eq!(w.mails(OFFICER, "không gửi được thư").len(), 1);
    assert!(!w.log().contains("outbox entry is dead"), "{}", w.log());

    // Every account refused: the mail waits (SPEC §8), it is not dead.
    let changed: Vec<(&str, &str)> = ACCOUNTS.iter().map(|a| (*a, "doi-mat-khau")).collect();
    w.servers.add_users(&changed).unwrap();
    w.send(OFFICER, ACCOUNTS[1], &registration("Công ty Ba"));
    w.wait_log(
        "no account of the ward that may send it can send now",
        "no wait",
    );
    // The admin fixes the passwords and reloads: each account is tried again at once,
    // and the waiting mail goes, with no `outbox retry`.
    let restored: Vec<(&str, &str)> = ACCOUNTS.iter().map(|a| (*a, PASSWORD)).collect();
    w.servers.add_users(&restored).unwrap();
    w.hup();
    w.wait_mail(ORG, "THD-T-0003");
    w.wait_log("the account logs in again", "no account back");
    // Each account was announced once, and none is set aside now.
    let told = w.wait_mails(OFFICER, "không gửi được thư", 3);
    for account in ACCOUNTS {
        assert_eq!(
            told.iter().filter(|m| m.subject.contains(account)).count(),
            1,
            "{:?}",
            told.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    }

    // A recipient the server refuses for good (550 5.1.1 at RCPT TO) does not stop
    // the mail for the others: the area police's address is refused, the organisation
    // and the officer get the confirmation, and the officers are told once.
    w.servers.refuse_recipient(CSKV).unwrap();
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Bốn"));
    w.wait_mail(ORG, "THD-T-0004");
    let refused = w.wait_mail(OFFICER, "Một số người nhận không nhận được");
    assert!(refused.text.contains(CSKV), "{}", refused.text);
    assert!(refused.text.contains("5.1.1"), "{}", refused.text);
    assert!(
        refused.subject.contains("THD-T-0004"),
        "{}",
        refused.subject
    );
    w.stop_daemon();
    let store = Store::open(&config.service.state_dir).unwrap();
    assert!(store.unusable_accounts().unwrap().is_empty());
    let outbox = store.outbox().unwrap();
    assert!(
        outbox
            .iter()
            .all(|e| !matches!(e.status, OutboxStatus::Dead { .. })),
        "{outbox:#?}"
    );
    let fourth = outbox
        .iter()
        .find(|e| e.case == "THD-T-0004" && e.mail.template == qrca::workflow::Template::CaseOpened)
        .unwrap();
    assert!(matches!(fourth.status, OutboxStatus::Sent { .. }));
    assert_eq!(fourth.refused.len(), 1, "{fourth:#?}");
    assert_eq!(fourth.refused[0].recipient, CSKV);
    drop(store);
    let listing = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["outbox", "list", "--config"])
        .arg(w.config())
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(listing.contains(&format!("refused: {CSKV}")), "{listing}");

    // The SMTP server unreachable: a transient failure, retried later, not dead.
    let unreachable = std::fs::read_to_string(w.config()).unwrap().replace(
        &format!("port = {}, tls = \"none\" }}\ntrusted", w.servers.smtp_port),
        "port = 1, tls = \"none\" }\ntrusted",
    );
    assert!(unreachable.contains("port = 1,"));
    std::fs::write(w.config(), unreachable).unwrap();
    w.start_daemon(None);
    let second = registration("Công ty Năm");
    w.send(OFFICER, ACCOUNTS[0], &second);
    w.wait_log("send failed; will retry", "no retry");
    w.stop_daemon();
    let store = Store::open(&config.service.state_dir).unwrap();
    assert!(store.unusable_accounts().unwrap().is_empty());
    let retrying = store
        .outbox()
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.status, OutboxStatus::RetryAt { .. }))
        .count();
    assert_eq!(retrying, 1);
}

#[test]
fn a_mail_over_the_account_limit_is_answered_and_leaves_the_inbox() {
    let mut w = world();
    let limited = std::fs::read_to_string(w.config()).unwrap().replacen(
        &format!("trusted_authserv_ids = [\"{AUTHSERV_ID}\"]\n"),
        &format!("trusted_authserv_ids = [\"{AUTHSERV_ID}\"]\nmax_message_bytes = 300000\n"),
        1,
    );
    assert!(limited.contains("max_message_bytes = 300000"));
    std::fs::write(w.config(), limited).unwrap();
    w.start_daemon(None);

    // A mail of ~400 KB: over the limit.
    let scan: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let pdf = ContentType::parse("application/pdf").unwrap();
    let large = |from: &str, subject: &str| {
        lettre::Message::builder()
            .from(mailbox(from))
            .to(mailbox(ACCOUNTS[0]))
            .subject(subject)
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(
                        "Kính gửi phường, xin gửi danh sách.".to_owned(),
                    ))
                    .singlepart(
                        Attachment::new("giay-phep.pdf".to_owned()).body(scan.clone(), pdf.clone()),
                    ),
            )
            .unwrap()
            .formatted()
    };
    // A stranger's is not answered: the From is anyone's to write (backscatter).
    w.send(
        STRANGER,
        ACCOUNTS[0],
        &large(STRANGER, "Re: [QRCA THD-T-0001] x"),
    );
    // The organisation, once registered, sends its list with the scan in the thread.
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Một"));
    w.wait_mail(ORG, "Đã mở hồ sơ");
    let raw = large(
        ORG,
        "Re: [QRCA THD-T-0001] Danh sách nhân viên và giấy phép kinh doanh",
    );
    assert!(raw.len() > 400_000);
    w.send(ORG, ACCOUNTS[0], &raw);

    let answer = w.wait_mail(ORG, "Thư quá lớn");
    assert!(
        answer
            .subject
            .contains("Danh sách nhân viên và giấy phép kinh doanh"),
        "{}",
        answer.subject
    );
    assert!(answer.text.contains("Kính gửi"), "{}", answer.text);
    assert!(answer.text.contains("0,3 MB"), "{}", answer.text);
    assert!(answer.text.contains("nhiều thư nhỏ hơn"), "{}", answer.text);
    // The ward account's INBOX is emptied into the processed folder.
    let deadline = Instant::now() + WAIT;
    while w.count(ACCOUNTS[0]) != 0 {
        assert!(Instant::now() < deadline, "INBOX not emptied\n{}", w.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    w.stop_daemon();
    assert_eq!(w.mails(ORG, "Thư quá lớn").len(), 1);
    assert_eq!(w.mails(STRANGER, "").len(), 0);
    let config = qrca::config::load(&w.config()).unwrap().config;
    let store = Store::open(&config.service.state_dir).unwrap();
    assert_eq!(store.cases().unwrap().len(), 1);
    let mut reasons: Vec<String> = store
        .ignored()
        .unwrap()
        .into_iter()
        .map(|i| i.reason)
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("the sender is told")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("no answer: the sender is neither")),
        "{reasons:?}"
    );
}

#[test]
fn an_officer_s_registration_without_email_is_answered_with_what_is_missing() {
    let mut w = world();
    w.start_daemon(None);
    let registration = text_mail(
        OFFICER,
        ACCOUNTS[0],
        "ĐĂNG KÝ TỔ CHỨC",
        "Tên tổ chức: Công ty TNHH Bánh Kẹo Hà Nội\nMã số thuế: 0101234567",
        None,
    );
    w.send(OFFICER, ACCOUNTS[0], &registration);
    let answer = w.wait_mail(OFFICER, "Chưa mở được hồ sơ");
    assert!(answer.subject.contains("Email"), "{}", answer.subject);
    assert!(answer.text.contains("- Email"), "{}", answer.text);
    assert!(answer.text.contains("Tên tổ chức:"), "{}", answer.text);
    // The same from a stranger: silence.
    let stranger = text_mail(
        STRANGER,
        ACCOUNTS[1],
        "ĐĂNG KÝ TỔ CHỨC",
        "Tên tổ chức: Công ty Giả",
        None,
    );
    w.send(STRANGER, ACCOUNTS[1], &stranger);
    let deadline = Instant::now() + WAIT;
    while w.count(ACCOUNTS[1]) != 0 || w.count(ACCOUNTS[0]) != 0 {
        assert!(Instant::now() < deadline, "INBOX not emptied\n{}", w.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    w.stop_daemon();
    assert_eq!(w.count(STRANGER), 0);
    assert_eq!(w.mails(OFFICER, "Chưa mở được hồ sơ").len(), 1);
    let config = qrca::config::load(&w.config()).unwrap().config;
    let store = Store::open(&config.service.state_dir).unwrap();
    assert!(store.cases().unwrap().is_empty());
    assert_eq!(store.outbox().unwrap().len(), 1);
}

#[test]
fn the_officers_get_one_daily_report_naming_a_stranger_s_refused_decision() {
    let mut w = world();
    // 00:00 has always passed today: the report is due as soon as there is a refusal,
    // and the first report covers everything before it.
    let config = std::fs::read_to_string(w.config()).unwrap().replacen(
        "admin_email = \"admin@hoankiem.gov.test\"\n",
        "admin_email = \"admin@hoankiem.gov.test\"\ndaily_report_at = \"00:00\"\n",
        1,
    );
    assert!(config.contains("daily_report_at = \"00:00\""));
    std::fs::write(w.config(), config).unwrap();
    w.start_daemon(None);

    w.send(
        OFFICER,
        ACCOUNTS[0],
        &registration("Công ty TNHH Bánh Kẹo Hà Nội"),
    );
    let confirmation = w.wait_mail(ORG, "[QRCA THD-T-0001]");
    let roster = roster_mail(
        ORG,
        ACCOUNTS[0],
        &format!("Re: {}", confirmation.subject),
        "danh_sach.xlsx",
        roster_xlsx('T', 3, 1_190_000_001),
        Some(&confirmation),
    );
    w.send(ORG, ACCOUNTS[0], &roster);
    let review = w.wait_mail(OFFICER, "xét duyệt");
    // Nothing refused yet: no report at start.
    assert!(w.mails(OFFICER, "Báo cáo hằng ngày").is_empty());

    // A stranger who got the request forwarded answers it: refused, no answer.
    answer(&w, STRANGER, &review, "DUYỆT");
    let deadline = Instant::now() + WAIT;
    while ACCOUNTS.iter().any(|a| w.count(a) != 0) {
        assert!(Instant::now() < deadline, "INBOX not emptied\n{}", w.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // The check runs at start (and every minute): a restart makes it run now.
    w.stop_daemon();
    w.start_daemon(None);
    let report = w.wait_mail(OFFICER, "Báo cáo hằng ngày");
    assert!(report.subject.contains("1 thư"), "{}", report.subject);
    assert!(!report.subject.contains("[QRCA"), "{}", report.subject);
    for words in [
        STRANGER,
        "hồ sơ THD-T-0001",
        "mã trả lời được cấp cho người khác",
        "Kính gửi cán bộ UBND Phường Trần Hưng Đạo",
    ] {
        assert!(
            report.text.contains(words),
            "{words:?} not in\n{}",
            report.text
        );
    }
    // Once: not again at the next check, nor after another restart.
    std::thread::sleep(Duration::from_secs(2));
    w.stop_daemon();
    w.start_daemon(None);
    std::thread::sleep(Duration::from_secs(2));
    w.stop_daemon();
    assert_eq!(w.mails(OFFICER, "Báo cáo hằng ngày").len(), 1);
    assert_eq!(w.count(STRANGER), 0);

    // The mark stands after the refusal; the CLI finds nothing more to report.
    let config = qrca::config::load(&w.config()).unwrap().config;
    {
        let store = Store::open(&config.service.state_dir).unwrap();
        let refusals = store.refusals().unwrap();
        assert_eq!(refusals.len(), 1, "{refusals:#?}");
        let mark = store.reported_until(WARD).unwrap().unwrap();
        assert!(mark >= refusals[0].at);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["report", "--ward", WARD, "--config"])
        .arg(w.config())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to report"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_admin_commands_answer_while_the_daemon_holds_the_database() {
    let mut w = world();
    w.start_daemon(None);
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Một"));
    w.wait_mail(ORG, "THD-T-0001");
    let config = w.config();
    let qrca = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_qrca"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap()
    };
    // sled lets one process hold the database: these go through the daemon's socket.
    let cases = qrca(&["cases", "list"]);
    let stdout = String::from_utf8_lossy(&cases.stdout).into_owned();
    assert_eq!(
        cases.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&cases.stderr)
    );
    assert!(stdout.contains("THD-T-0001"), "{stdout}");
    let show = qrca(&["cases", "show", "THD-T-0099"]);
    assert_eq!(show.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&show.stderr).contains("no case THD-T-0099"));
    let outbox = qrca(&["outbox", "list"]);
    let stdout = String::from_utf8_lossy(&outbox.stdout).into_owned();
    assert!(
        stdout.contains("case_opened") && stdout.contains("sent"),
        "{stdout}"
    );
    let id = stdout
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let retry = qrca(&["outbox", "retry", &id]);
    assert_eq!(retry.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&retry.stderr).contains("is sent"));

    // The checkpoints' revocation list: none yet, as SPEC §5's JSON.
    let revocations = qrca(&["keys", "revocations"]);
    assert_eq!(revocations.status.code(), Some(0));
    let list: serde_json::Value = serde_json::from_slice(&revocations.stdout).unwrap();
    assert_eq!(list["version"], 1);
    assert_eq!(list["revoked"].as_array().map(Vec::len), Some(0), "{list}");

    // A stranger asks for the case's state: refused, owed to the daily report. The
    // admin has it sent now; the daemon queues and sends it at once.
    w.send(
        STRANGER,
        ACCOUNTS[0],
        &text_mail(
            STRANGER,
            ACCOUNTS[0],
            "[QRCA THD-T-0001] hỏi",
            "TRẠNG THÁI",
            None,
        ),
    );
    w.wait_log(
        "refused; nothing changes",
        "the stranger's mail was not refused",
    );
    let report = qrca(&["report", "--ward", WARD]);
    let said = String::from_utf8_lossy(&report.stdout).into_owned();
    assert_eq!(
        report.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(
        said.contains("queued the report of 1 refused attempt(s)"),
        "{said}"
    );
    let mail = w.wait_mail(OFFICER, "Báo cáo hằng ngày");
    assert!(mail.text.contains(STRANGER), "{}", mail.text);
    let again = qrca(&["report", "--ward", WARD]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to report"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let unknown = qrca(&["report", "--ward", "no.such"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no ward \"no.such\""));
    w.stop_daemon();
    let state = qrca::config::load(&w.config())
        .unwrap()
        .config
        .service
        .state_dir;
    assert!(!qrca::admin::protocol::socket_path(&state).exists());
    // With the daemon stopped, the same commands open the database themselves.
    assert_eq!(qrca(&["cases", "list"]).status.code(), Some(0));
}

/// The datagrams `qrca run` sends to `NOTIFY_SOCKET`, read until one satisfies `want`.
fn notified_until(socket: &std::os::unix::net::UnixDatagram, want: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {want:?} from qrca run ({e}); it said {seen:?}"));
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        let done = message.lines().any(|l| l == want);
        seen.push(message);
        if done {
            return seen;
        }
    }
}

#[test]
fn qrca_run_speaks_systemd_s_notify_protocol() {
    // No systemd runs here (not PID 1): the test is the service manager's end of the
    // socket, as systemd sets it up for Type=notify with WatchdogSec.
    let mut w = world();
    let path = w.dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    w.start_daemon_with(
        None,
        &[
            ("NOTIFY_SOCKET", path.as_os_str()),
            ("WATCHDOG_USEC", std::ffi::OsStr::new("400000")),
        ],
    );
    let ready = notified_until(&socket, "READY=1");
    assert!(
        ready
            .iter()
            .any(|m| m.contains("STATUS=watching 3 accounts of 1 wards")),
        "{ready:?}"
    );
    // Half the watchdog interval: several pings within a second.
    let started = Instant::now();
    notified_until(&socket, "WATCHDOG=1");
    notified_until(&socket, "WATCHDOG=1");
    assert!(started.elapsed() < Duration::from_secs(2));

    w.hup();
    let reloading = notified_until(&socket, "RELOADING=1");
    let after = notified_until(&socket, "READY=1");
    assert!(!reloading.is_empty() && !after.is_empty());

    w.stop_daemon();
    let stopping = notified_until(&socket, "STOPPING=1");
    assert!(!stopping.is_empty());
}

#[test]
fn a_task_that_panics_is_restarted_and_one_that_cannot_be_kept_up_stops_the_watchdog() {
    // The outbox task panics once (as a bug would): logged, restarted, and the mail goes.
    let mut w = world();
    w.start_daemon(Some("panic-outbox:1"));
    w.wait_log("a task of the daemon panicked", "no panic logged");
    w.wait_log("restarting the task", "no restart");
    w.send(OFFICER, ACCOUNTS[0], &registration("Công ty Một"));
    w.wait_mail(ORG, "THD-T-0001");
    w.stop_daemon();

    // It panics every time: given up after a few restarts, and the watchdog stops, so
    // that systemd restarts the daemon; the status says which task.
    let path = w.dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    w.start_daemon_with(
        Some("panic-outbox:always"),
        &[
            ("NOTIFY_SOCKET", path.as_os_str()),
            ("WATCHDOG_USEC", std::ffi::OsStr::new("400000")),
        ],
    );
    let said = notified_until(
        &socket,
        "STATUS=the outbox task cannot be kept up; waiting for the watchdog to restart qrca",
    );
    assert!(said.iter().any(|m| m.contains("WATCHDOG=1")), "{said:?}");
    assert!(
        w.log().contains("the task cannot be kept up"),
        "{}",
        w.log()
    );
    // No ping for three times the interval.
    socket
        .set_read_timeout(Some(Duration::from_millis(1200)))
        .unwrap();
    let mut buf = vec![0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            !message.contains("WATCHDOG=1"),
            "pinged after giving up: {message}"
        );
    }
    w.stop_daemon();

    // Without systemd's watchdog, the daemon stops with an error instead of limping.
    w.start_daemon(Some("panic-outbox:always"));
    let mut child = w.daemon.take().unwrap();
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop\n{}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "{}", w.log());
    assert!(
        w.log().contains("the outbox task cannot be kept up"),
        "{}",
        w.log()
    );
}

#[test]
fn a_reload_that_removes_or_changes_an_account_ends_its_session_at_once() {
    let mut w = world();
    w.start_daemon(None);
    let account_block =
        |a: &str| format!("address = \"{a}\"\npassword_file = \"secrets/password\"\n");
    // The third account leaves the config; the second gets its own processed folder.
    let config = std::fs::read_to_string(w.config()).unwrap();
    let edited = config
        .replace(
            &format!("\n[[ward.account]]\n{}", account_block(ACCOUNTS[2])),
            "",
        )
        .replace(
            &account_block(ACCOUNTS[1]),
            &format!(
                "{}processed_folder = \"QRCA/Moi\"\n",
                account_block(ACCOUNTS[1])
            ),
        );
    assert!(
        !edited.contains(ACCOUNTS[2]) && edited.contains("QRCA/Moi"),
        "{edited}"
    );
    std::fs::write(w.config(), edited).unwrap();
    w.hup();
    w.wait_log("reloaded the config and templates", "no reload");
    let deadline = Instant::now() + WAIT;
    while w.log().matches("its session ends").count() < 2 {
        assert!(Instant::now() < deadline, "sessions not ended\n{}", w.log());
        std::thread::sleep(Duration::from_millis(50));
    }

    // Mail to the removed account stays in its INBOX, unread; mail to the changed one
    // is moved to its new folder.
    w.send(OFFICER, ACCOUNTS[2], &registration("Công ty Hai"));
    w.send(OFFICER, ACCOUNTS[1], &registration("Công ty Một"));
    w.wait_mail(ORG, "THD-T-0001");
    let deadline = Instant::now() + WAIT;
    while w
        .servers
        .folder_messages(ACCOUNTS[1], "QRCA/Moi")
        .map_or(0, |m| m.len())
        < 1
    {
        assert!(
            Instant::now() < deadline,
            "not moved to QRCA/Moi\n{}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let inbox = w.servers.folder_messages(ACCOUNTS[2], "INBOX").unwrap();
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert!(!inbox[0].flags.contains("\\Seen"), "{inbox:?}");
    assert!(
        !w.log().contains("which is no ward's account"),
        "{}",
        w.log()
    );
    w.stop_daemon();
    let config = qrca::config::load(&w.config()).unwrap().config;
    let cases = Store::open(&config.service.state_dir)
        .unwrap()
        .cases()
        .unwrap();
    assert_eq!(cases.len(), 1, "{cases:#?}");
}

#[test]
fn a_bounce_is_recorded_on_the_mail_it_bounces_and_told_once() {
    let mut w = world();
    w.start_daemon(None);
    // The organisation's address has no mailbox: the loopback Postfix takes the
    // confirmation, Dovecot refuses the recipient, and Postfix sends the ward account
    // a delivery report (RFC 3464), as Gmail's "Address not found" does.
    const NOBODY: &str = "khongco@congty.test";
    w.send(
        OFFICER,
        ACCOUNTS[0],
        &text_mail(
            OFFICER,
            ACCOUNTS[0],
            "ĐĂNG KÝ TỔ CHỨC",
            &format!("Tên tổ chức: Công ty Ma\nEmail: {NOBODY}"),
            None,
        ),
    );
    let told = w.wait_mail(OFFICER, "Một số người nhận không nhận được");
    assert!(
        told.subject.starts_with("[QRCA THD-T-0001]"),
        "{}",
        told.subject
    );
    assert!(told.text.contains(NOBODY), "{}", told.text);
    assert!(told.text.contains("5.1.1"), "{}", told.text);
    w.wait_log("a mail of the outbox bounced", "no bounce recorded");
    w.stop_daemon();
    let config = qrca::config::load(&w.config()).unwrap().config;
    {
        let store = Store::open(&config.service.state_dir).unwrap();
        let entry = store
            .outbox()
            .unwrap()
            .into_iter()
            .find(|e| e.case == "THD-T-0001" && e.mail.to == [NOBODY])
            .unwrap();
        assert!(matches!(entry.status, OutboxStatus::Sent { .. }));
        assert_eq!(entry.refused.len(), 1, "{entry:#?}");
        assert_eq!(entry.refused[0].recipient, NOBODY);
        assert!(
            entry.refused[0].reason.starts_with("bounced: 5.1.1"),
            "{entry:#?}"
        );
        let audit = store.audit("THD-T-0001").unwrap();
        assert!(
            audit
                .iter()
                .any(|a| a.decision.contains(&format!("bounced for {NOBODY}"))),
            "{audit:#?}"
        );
    }
    let listing = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["outbox", "list", "--config"])
        .arg(w.config())
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(
        listing.contains(&format!("refused: {NOBODY} (bounced: 5.1.1")),
        "{listing}"
    );
    assert_eq!(
        w.mails(OFFICER, "Một số người nhận không nhận được").len(),
        1
    );
}
