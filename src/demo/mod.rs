//! `qrca demo`: all three flows of SPEC §2 as real mails through the real daemon code,
//! in a local Maildir world of its own, with no network.
//!
//! It writes a config (one ward, three accounts, `trusted_authserv_ids`) and a signing
//! key, loads them as `qrca run` does ([`Generation::load`]), and then lets the ward's
//! people act. Each person writes real MIME bytes into the ward account's Maildir; the
//! daemon side is what `qrca run` does with an inbox: `intake::take_in` for each new
//! message, then the message moves to `cur/` (the processed folder), then
//! `outbox::send_due` renders every committed mail and [`MaildirSubmit`] delivers it
//! into each recipient's Maildir. The people read their own Maildirs, find the request
//! by its `[QRCA <code>]` subject and its Reply-To token address, and answer it as a
//! person would, quoting it under a Gmail attribution line.
//!
//! Every line it prints is read back from what the daemon code returned or from the
//! mails in the Maildirs: nothing here decides anything. It runs on a simulated clock
//! (the morning of 8 September 2021 in Hà Nội), so the run is the same each time apart
//! from the key and the reply tokens. It must not talk to any server.

mod files;
mod mails;
mod people;

use crate::admin::cases;
use crate::config;
use crate::daemon::Generation;
use crate::daemon::intake::{Position, Taken, take_in};
use crate::daemon::maildir::{self, Mailboxes, MaildirSubmit};
use crate::daemon::outbox;
use crate::engine::Processed;
use crate::permit::{issue, pdf, trust};
use crate::store::{CaseSummary, OutboxStatus, Store};
use crate::workflow::Kind;
use anyhow::{Context, bail};
use jiff::{SignedDuration, Timestamp};
use mails::{Draft, PDF, Received, XLSX};
use people::Sampler;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const WARD: &str = "hoankiem.tranhungdao";
const ACCOUNTS: [&str; 3] = [
    "qrca.hoankiem.tranhungdao1@gmail.com",
    "qrca.hoankiem.tranhungdao2@gmail.com",
    "qrca.hoankiem.tranhungdao3@gmail.com",
];
const OFFICER: (&str, &str) = ("canbo.thd@hoankiem.hanoi.gov.vn", "Nguyễn Văn Bình");
const OFFICER2: (&str, &str) = ("phochutich.thd@hoankiem.hanoi.gov.vn", "Lê Thị Thu Hà");
const POLICE: (&str, &str) = ("congan.thd@hoankiem.hanoi.gov.vn", "Công an phường THĐ");
const CSKV: (&str, &str) = ("cskv1.thd@hoankiem.hanoi.gov.vn", "Trung úy Phạm Quốc Sơn");
const ORG: (&str, &str) = ("nhansu@duochatay.example.vn", "Phòng Nhân sự Dược Hà Tây");
const FORGER: (&str, &str) = ("ke.gia.mao@gmail.com", "Kẻ giả mạo");
const TAX_CODE: &str = "0500391400";

/// The demo's morning: 8 September 2021, 07:00 in Hà Nội.
const START: &str = "2021-09-08T07:00:00+07:00";

/// Runs the demo; returns the exit code.
pub fn run(out: Option<PathBuf>) -> anyhow::Result<u8> {
    play(out, std::io::stdout().lock())
}

/// The demo, printing to `printer`.
fn play(out: Option<PathBuf>, printer: impl Write) -> anyhow::Result<u8> {
    let started = Instant::now();
    let dir = prepare_dir(out)?;
    let config_path = write_world(&dir)?;
    let config = match config::load(&config_path) {
        Ok(loaded) => loaded.config,
        Err(e) => bail!("the demo's own config does not load: {e}"),
    };
    let store = Store::open(&config.service.state_dir)?;
    let generation = Arc::new(Generation::load(config, store)?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the demo's runtime")?;
    let mailboxes = Mailboxes::new(&dir.join("mail"));
    for account in ACCOUNTS {
        mailboxes.mailbox(account)?;
    }
    let mut world = World {
        dir: dir.clone(),
        generation,
        submit: MaildirSubmit {
            mailboxes: mailboxes.clone(),
        },
        mailboxes,
        runtime,
        clock: START.parse().context("the demo's start time")?,
        step: 0,
        reported: HashSet::new(),
        sampler: Sampler::new(20_210_908),
        out: printer,
    };
    writeln!(
        world.out,
        "qrca demo: a ward office's three flows as real mails through the daemon's code (no network)\n\
         world: {} (config qrca.toml, database state/, key keys/, Maildirs mail/<address>/)\n\
         ward:  Phường Trần Hưng Đạo, Quận Hoàn Kiếm (THD), accounts qrca.hoankiem.tranhungdao1..3@gmail.com\n\
         clock: simulated, from {START}",
        dir.display()
    )?;
    world.organisation()?;
    world.individuals()?;
    world.households()?;
    world.summary(&config_path, started)?;
    Ok(0)
}

fn prepare_dir(out: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match out {
        Some(dir) => dir,
        None => {
            let stamp = Timestamp::now().as_second();
            std::env::temp_dir().join(format!("qrca-demo-{stamp}-{}", std::process::id()))
        }
    };
    if dir.exists() {
        let mut entries = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read the demo directory {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "the demo directory {} is not empty; give a new or empty one with --out",
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the demo directory {}", dir.display()))?;
    Ok(std::path::absolute(&dir).unwrap_or(dir))
}

/// The demo's config and signing key. Account passwords are named by environment
/// variables that the demo never reads: it connects to nothing. The key's first day
/// in the trust list is set before the demo's morning, so its permits verify.
fn write_world(dir: &Path) -> anyhow::Result<PathBuf> {
    let key = dir.join("keys").join(format!("{WARD}.key"));
    crate::keys::generate(&key)?;
    let accounts: String = ACCOUNTS
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!(
                "\n[[ward.account]]\naddress = \"{a}\"\npassword_env = \"QRCA_DEMO_PASSWORD_{}\"\n",
                i + 1
            )
        })
        .collect();
    let config = format!(
        r#"# Written by `qrca demo`: one ward, its three accounts and its people.
[service]
state_dir = "state"
timezone = "Asia/Ho_Chi_Minh"
admin_email = "quantri@hanoi.example.gov.vn"

[mail]
# The demo never connects: mail goes through the Maildirs under mail/.
imap = {{ host = "127.0.0.1", port = 1143, tls = "none" }}
smtp = {{ host = "127.0.0.1", port = 1587, tls = "none" }}
trusted_authserv_ids = ["{auth}"]

[permits]
paper = "A6"
valid_days = 14

[[ward]]
code = "{WARD}"
short = "THD"
name = "Phường Trần Hưng Đạo"
district = "Quận Hoàn Kiếm"
signing_key = "keys/{WARD}.key"
signing_key_since = "2021-09-01"
officers = ["{officer}", "{officer2}"]
police = ["{police}"]
area_police = ["{cskv}", "cskv2.thd@hoankiem.hanoi.gov.vn"]
{accounts}"#,
        auth = mails::AUTHSERV,
        officer = OFFICER.0,
        officer2 = OFFICER2.0,
        police = POLICE.0,
        cskv = CSKV.0,
    );
    let path = dir.join("qrca.toml");
    std::fs::write(&path, config).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

struct World<W: Write> {
    dir: PathBuf,
    generation: Arc<Generation>,
    mailboxes: Mailboxes,
    submit: MaildirSubmit,
    runtime: tokio::runtime::Runtime,
    clock: Timestamp,
    step: u32,
    /// People's mail files already shown.
    reported: HashSet<PathBuf>,
    sampler: Sampler,
    out: W,
}

impl<W: Write> World<W> {
    fn heading(&mut self, title: &str) -> anyhow::Result<()> {
        writeln!(self.out, "\n{title}")?;
        Ok(())
    }

    /// `draft` is sent: delivered into the Maildir of each of its recipients. Then the
    /// daemon takes in what arrived and sends what it committed; everything is printed.
    /// Returns the case codes the daemon's answers name.
    fn send(&mut self, draft: Draft, what: &str) -> anyhow::Result<Vec<Taken>> {
        self.step += 1;
        self.clock = self
            .clock
            .checked_add(SignedDuration::from_mins(3))
            .unwrap_or(self.clock);
        let local = draft
            .from
            .split('@')
            .next()
            .unwrap_or("x")
            .replace('.', "-");
        let domain = draft.from.rsplit_once('@').map_or("", |(_, d)| d);
        let message_id = format!("<demo{}.{local}@{domain}>", self.step);
        let bytes = draft.bytes(&message_id, self.clock);
        for to in &draft.to {
            self.mailboxes.deliver(&draft.from, to, &bytes)?;
        }
        let mut line = format!(
            "  [{:>2}] {} → {}\n       “{}”",
            self.step,
            draft.from,
            draft.to.join(", "),
            draft.subject
        );
        let names: Vec<&str> = draft.attachments.iter().map(|a| a.0.as_str()).collect();
        if !names.is_empty() {
            line.push_str(&format!(" + {}", names.join(", ")));
        }
        writeln!(self.out, "{line}\n       {what}")?;
        let taken = self.daemon()?;
        Ok(taken)
    }

    /// One round of the daemon: every ward account's new mail taken in and moved to
    /// `cur/`, then the outbox sent into the recipients' Maildirs.
    fn daemon(&mut self) -> anyhow::Result<Vec<Taken>> {
        let g = Arc::clone(&self.generation);
        let mut taken = Vec::new();
        for account in ACCOUNTS {
            let maildir = self.mailboxes.mailbox(account)?;
            for message in maildir.take_new()? {
                let raw = maildir.read(&message)?;
                let at = Position {
                    account: account.to_owned(),
                    uidvalidity: maildir::UIDVALIDITY,
                    uid: message.uid,
                };
                let outcome = take_in(&g.store, &g.blobs, &g.config, &at, &raw, self.clock)?;
                maildir.processed(&message)?;
                self.report_taken(account, &outcome)?;
                taken.push(outcome);
            }
        }
        let pass = self
            .runtime
            .block_on(outbox::send_due(&g, &self.submit, self.clock))?;
        for id in pass.dead.iter().chain(&pass.retrying) {
            let status = g.store.outbox_entry(*id)?.map(|e| e.status);
            let why = match status {
                Some(OutboxStatus::Dead { reason }) => reason,
                Some(OutboxStatus::RetryAt { last_error, .. }) => last_error,
                other => format!("{other:?}"),
            };
            writeln!(self.out, "       ✗ outbox entry {id} not delivered: {why}")?;
        }
        self.report_mail()?;
        Ok(taken)
    }

    fn report_taken(&mut self, account: &str, taken: &Taken) -> anyhow::Result<()> {
        let short = account.split('@').next().unwrap_or(account);
        match taken {
            Taken::Processed(Processed::Applied { case, .. }) => {
                let s = CaseSummary::of(case);
                writeln!(
                    self.out,
                    "       ⚙ {short} took it in: {} {}: {} pending, {} approved, {} issued, {} rejected, {} revoked",
                    case.code, s.stage, s.pending, s.approved, s.issued, s.rejected, s.revoked
                )?;
            }
            Taken::Processed(Processed::Refused(r)) => writeln!(
                self.out,
                "       ✗ {short} refused it ({:?}), nothing changed, no answer: {}",
                r.reason, r.detail
            )?,
            Taken::Processed(Processed::Ignored) => {
                writeln!(self.out, "       · {short} ignored it")?
            }
            Taken::Processed(Processed::AlreadySeen) => {
                writeln!(self.out, "       · {short} had already processed it")?
            }
            Taken::Ignored(reason) => writeln!(self.out, "       · {short}: no answer ({reason})")?,
        }
        Ok(())
    }

    /// The mails the daemon delivered since the last look, read from the people's
    /// Maildirs (one line per message, whoever got a copy), and their attachments
    /// saved under `files/<address>/` as each recipient would save them.
    fn report_mail(&mut self) -> anyhow::Result<()> {
        let mut fresh: Vec<(PathBuf, String)> = Vec::new();
        let root = self.mailboxes.root().to_path_buf();
        for entry in std::fs::read_dir(&root)? {
            let dir = entry?.path();
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if ACCOUNTS.contains(&name.as_str()) {
                continue;
            }
            let maildir = self.mailboxes.mailbox(&name)?;
            for path in maildir.list("new")? {
                if !self.reported.contains(&path) {
                    fresh.push((path, name.clone()));
                }
            }
        }
        fresh.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
        // Message-ID → the mail and who got it, in delivery order.
        let mut messages: BTreeMap<usize, (Received, Vec<String>)> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (path, owner) in fresh {
            self.reported.insert(path.clone());
            let Some(received) = Received::read(&path) else {
                continue;
            };
            self.save_files(&owner, &received)?;
            let id = received.mail.message_id.clone().unwrap_or_default();
            match order.iter().position(|o| *o == id) {
                Some(i) => {
                    if let Some(m) = messages.get_mut(&i) {
                        m.1.push(owner);
                    }
                }
                None => {
                    messages.insert(order.len(), (received, vec![owner]));
                    order.push(id);
                }
            }
        }
        for (received, _) in messages.values() {
            let mail = &received.mail;
            let from = mail
                .from
                .as_ref()
                .map(|a| a.address.split('@').next().unwrap_or_default().to_owned())
                .unwrap_or_default();
            let mut line = format!(
                "       ✉ {from} → {}",
                mail.to
                    .iter()
                    .map(|a| a.address.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if !mail.cc.is_empty() {
                let cc: Vec<&str> = mail.cc.iter().map(|a| a.address.as_str()).collect();
                line.push_str(&format!(" (cc {})", cc.join(", ")));
            }
            line.push_str(&format!(": “{}”", mail.subject));
            if received.token_address().is_some() {
                line.push_str(" [Reply-To: reply token]");
            }
            let names: Vec<&str> = mail.attachments.iter().map(|a| a.name.as_str()).collect();
            if !names.is_empty() {
                line.push_str(&format!("\n         + {}", files_line(&names)));
            }
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    fn save_files(&self, owner: &str, received: &Received) -> anyhow::Result<()> {
        if received.mail.attachments.is_empty() {
            return Ok(());
        }
        let dir = self.dir.join("files").join(owner);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for a in &received.mail.attachments {
            // The reader sanitised the name: no path in it.
            let path = dir.join(&a.name);
            std::fs::write(&path, &a.bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }

    /// The newest mail in `who`'s Maildir about `code` whose subject contains `about`.
    fn find(&self, who: &str, code: &str, about: &str) -> anyhow::Result<Received> {
        let maildir = self.mailboxes.mailbox(who)?;
        let tag = format!("[QRCA {code}]");
        for path in maildir.list("new")?.into_iter().rev() {
            if let Some(r) = Received::read(&path)
                && r.mail.subject.contains(&tag)
                && r.mail.subject.contains(about)
            {
                return Ok(r);
            }
        }
        bail!("{who} has no mail about {code} whose subject says “{about}”")
    }

    /// The newest request in `who`'s Maildir about `code` that asks for a decision on
    /// a reply token.
    fn find_request(&self, who: &str, code: &str, about: &str) -> anyhow::Result<Received> {
        let found = self.find(who, code, about)?;
        if found.token_address().is_none() {
            bail!(
                "the mail “{}” to {who} has no reply token in Reply-To",
                found.mail.subject
            );
        }
        Ok(found)
    }

    fn organisation(&mut self) -> anyhow::Result<()> {
        self.heading("Organisation (T): registration → staff list → officers' review → police stamp → permits")?;
        let registration = Draft::new(
            OFFICER,
            ACCOUNTS[0],
            "ĐĂNG KÝ TỔ CHỨC: Công ty CP Dược phẩm Hà Tây",
            &format!(
                "Tên tổ chức: Công ty Cổ phần Dược phẩm Hà Tây\nEmail: {}\nMã số thuế: {TAX_CODE}\nĐịa chỉ: 10A Quang Trung, Hà Đông, Hà Nội\nNgười liên hệ: Nguyễn Thị Ngọc Ánh\nĐiện thoại: 0912345678\nLĩnh vực: Phân phối dược phẩm\n\n-- \n{}\nCán bộ UBND phường Trần Hưng Đạo",
                ORG.0, OFFICER.1
            ),
        );
        let taken = self.send(
            registration,
            "the officer enters the registration the area police checked",
        )?;
        let code = opened(&taken)?;

        let staff = self.sampler.staff(8);
        let mut broken = staff.clone();
        broken[3].id_number = Some("0010812345".into());
        let title = "DANH SÁCH NHÂN VIÊN ĐỀ NGHỊ CẤP GIẤY ĐI ĐƯỜNG";
        let document = files::registration_pdf(TAX_CODE);
        let confirmation = self.find(ORG.0, &code, "Đã mở hồ sơ")?;
        let roster = Draft::reply(
            ORG,
            &confirmation,
            "Kính gửi UBND phường,\nCông ty gửi danh sách nhân viên và giấy chứng nhận đăng ký doanh nghiệp.\nTrân trọng.",
        )
        .attach(
            "danh_sach_nhan_vien.xlsx",
            XLSX,
            files::roster_xlsx(Kind::T, title, &broken)?,
        )
        .attach("giay_chung_nhan_dkkd.pdf", PDF, document.clone());
        self.send(
            roster,
            "the organisation replies to the confirmation: 8 staff (row 4's ID number has 10 digits) and a document",
        )?;

        let errors = self.find(ORG.0, &code, "có lỗi")?;
        let corrected = Draft::reply(
            ORG,
            &errors,
            "Công ty xin gửi lại danh sách đã sửa số CCCD ở dòng 4.",
        )
        .attach(
            "danh_sach_nhan_vien_sua.xlsx",
            XLSX,
            files::roster_xlsx(Kind::T, title, &staff)?,
        )
        .attach("giay_chung_nhan_dkkd.pdf", PDF, document);
        self.send(
            corrected,
            "the organisation answers the errors mail with the corrected list",
        )?;

        let review = self.find_request(OFFICER.0, &code, "xét duyệt")?;
        let partial = Draft::reply(
            OFFICER,
            &review,
            "DUYỆT 1-5\nTỪ CHỐI 6: không thuộc danh sách đi làm trực tiếp\n\nBình",
        );
        self.send(
            partial,
            "the first officer decides part of the list, replying Gmail-style on his reply token",
        )?;

        let review2 = self.find_request(OFFICER2.0, &code, "xét duyệt")?;
        let stolen = Draft::reply(FORGER, &review2, "DUYỆT");
        self.send(
            stolen,
            "a stranger who was forwarded the second officer's request replies DUYỆT on its token from his own address",
        )?;
        let forged = Draft::reply(OFFICER2, &review2, "DUYỆT").forged();
        self.send(
            forged,
            "a forged From: the second officer's address, with no trusted Authentication-Results",
        )?;
        let approve = Draft::reply(OFFICER2, &review2, "Duyệt\n\nHà");
        self.send(
            approve,
            "the second officer approves the rest (DUYỆT: every undecided row)",
        )?;
        let replay = Draft::reply(OFFICER2, &review2, "TỪ CHỐI 7: nhầm người");
        self.send(
            replay,
            "the second officer answers the same request again, after the review has ended",
        )?;

        let stamp = self.find_request(POLICE.0, &code, "đóng dấu")?;
        let stamped = Draft::reply(
            POLICE,
            &stamp,
            "ĐÓNG DẤU\n-- \nCông an phường Trần Hưng Đạo",
        );
        self.send(stamped, "the ward police stamp every approved row")?;

        let revoke = Draft::new(
            POLICE,
            ACCOUNTS[0],
            "Thu hồi giấy đi đường",
            &format!(
                "THU HỒI {code}-0003: nhân viên đã nghỉ việc\n-- \nCông an phường Trần Hưng Đạo"
            ),
        );
        self.send(revoke, "the ward police revoke one permit")?;

        let permits = self.find(ORG.0, &code, "đã được cấp")?;
        let status = Draft::reply(ORG, &permits, "TRẠNG THÁI");
        self.send(status, "the organisation asks for the state of its case")?;
        Ok(())
    }

    fn individuals(&mut self) -> anyhow::Result<()> {
        self.heading("Individuals (C): the area police's list goes straight to the police stamp")?;
        let people = self.sampler.individuals(5);
        let list = Draft::new(
            CSKV,
            ACCOUNTS[1],
            "ĐĂNG KÝ CÁ NHÂN - tổ dân phố số 5",
            "Đề nghị cấp giấy đi đường cho 5 người trong danh sách kèm theo (đã xác minh).\n\n-- \nCSKV phường Trần Hưng Đạo",
        )
        .attach(
            "danh_sach_ca_nhan.xlsx",
            XLSX,
            files::roster_xlsx(Kind::C, "DANH SÁCH CÁ NHÂN ĐỀ NGHỊ CẤP GIẤY ĐI ĐƯỜNG", &people)?,
        );
        let taken = self.send(
            list,
            "the area police send 5 people they checked, to the ward's second account",
        )?;
        let code = opened(&taken)?;
        let stamp = self.find_request(POLICE.0, &code, "đóng dấu")?;
        let reply = Draft::reply(
            POLICE,
            &stamp,
            "ĐÓNG DẤU 1-4\nTỪ CHỐI 5: đề nghị bổ sung giấy xác nhận nơi làm việc",
        );
        self.send(reply, "the ward police stamp four and refuse one")?;
        Ok(())
    }

    fn households(&mut self) -> anyhow::Result<()> {
        self.heading("Households (H): market cards, officers' review then police stamp")?;
        let households = self.sampler.households(6);
        let list = Draft::new(
            CSKV,
            ACCOUNTS[2],
            "THẺ ĐI CHỢ - tổ dân phố số 5",
            "Đề nghị cấp thẻ đi chợ cho 6 hộ gia đình theo danh sách kèm theo.\n\n-- \nCSKV phường Trần Hưng Đạo",
        )
        .attach(
            "the_di_cho_to_5.xlsx",
            XLSX,
            files::roster_xlsx(Kind::H, "DANH SÁCH HỘ GIA ĐÌNH ĐỀ NGHỊ CẤP THẺ ĐI CHỢ", &households)?,
        );
        let taken = self.send(
            list,
            "the area police send 6 households, to the ward's third account",
        )?;
        let code = opened(&taken)?;
        let review = self.find_request(OFFICER.0, &code, "xét duyệt")?;
        self.send(
            Draft::reply(OFFICER, &review, "DUYỆT"),
            "the officer approves every household",
        )?;
        let stamp = self.find_request(POLICE.0, &code, "đóng dấu")?;
        self.send(
            Draft::reply(POLICE, &stamp, "ĐÓNG DẤU"),
            "the ward police stamp the cards",
        )?;
        Ok(())
    }

    fn summary(&mut self, config_path: &Path, started: Instant) -> anyhow::Result<()> {
        let g = Arc::clone(&self.generation);
        writeln!(self.out, "\nCases in the database:")?;
        cases::list(&g.store, &mut self.out)?;

        // Every mailbox and what it holds.
        let mut boxes = Vec::new();
        for entry in std::fs::read_dir(self.mailboxes.root())? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let maildir = self.mailboxes.mailbox(&name)?;
            let count = maildir.list("new")?.len() + maildir.list("cur")?.len();
            boxes.push((name, count));
        }
        boxes.sort();
        writeln!(
            self.out,
            "\nMaildirs under {}:",
            self.mailboxes.root().display()
        )?;
        for (name, count) in &boxes {
            let role = if ACCOUNTS.contains(&name.as_str()) {
                " (ward account: taken-in mail in cur/)"
            } else {
                ""
            };
            writeln!(self.out, "  {count:>3}  {name}{role}")?;
        }

        // The permits the people saved, checked as a checkpoint would.
        let trust = issue::trust_list(&g.config)?;
        let revoked = issue::revocations(&g.store.cases()?);
        let today = self
            .clock
            .to_zoned_datetime(g.config.service.timezone.clone())
            .date();
        let (mut valid, mut not_valid) = (0, Vec::new());
        let files = self.dir.join("files");
        let mut seen = HashSet::new();
        for owner in std::fs::read_dir(&files)? {
            for file in std::fs::read_dir(owner?.path())? {
                let path = file?.path();
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let Some(payload) = pdf::payload_from_pdf(&bytes) else {
                    continue;
                };
                if !seen.insert(payload.clone()) {
                    continue;
                }
                match trust::check(
                    &payload,
                    &trust,
                    Some(&revoked),
                    today,
                    g.config.permits.max_valid_days,
                ) {
                    trust::Verdict::Valid(_) => valid += 1,
                    trust::Verdict::NotValid { claims, why } => not_valid.push(format!(
                        "{}: {why}",
                        claims.map(|c| c.id).unwrap_or_default()
                    )),
                }
            }
        }
        let trust_path = self.dir.join("trust-list.json");
        let revoked_path = self.dir.join("revocations.json");
        std::fs::write(&trust_path, trust.to_json_pretty())
            .with_context(|| format!("cannot write {}", trust_path.display()))?;
        std::fs::write(&revoked_path, revoked.to_json_pretty())
            .with_context(|| format!("cannot write {}", revoked_path.display()))?;
        let refusals = g.store.refusals()?;
        let sent = g
            .store
            .outbox()?
            .iter()
            .filter(|e| matches!(e.status, OutboxStatus::Sent { .. }))
            .count();
        writeln!(
            self.out,
            "\n{} mails taken in, {sent} sent; {} refused attempts logged for the officers' daily report.\n\
             Permits in the PDFs the people saved under {}: {valid} VALID against the trust list{}.",
            self.step,
            refusals.len(),
            files.display(),
            if not_valid.is_empty() {
                String::new()
            } else {
                format!(", not valid: {}", not_valid.join("; "))
            }
        )?;
        let config = config_path.display();
        let org_files = files.join(ORG.0);
        writeln!(
            self.out,
            "Done in {:.1} s. Everything is in {}:\n  \
             mail/<address>/new/   the mails each person received, as .eml files (the ward accounts' taken-in mail: cur/)\n  \
             files/<address>/      what each person saved from them: permit PDFs, print sheets, rosters, documents\n  \
             trust-list.json, revocations.json   what a checkpoint's verifier needs\n\
             Try:\n  \
             qrca cases --config {config} show THD-T-0001\n  \
             qrca outbox --config {config} list\n  \
             qrca verify --config {config} --on 2021-09-10 --pdf {}\n  \
             qrca verify --config {config} --on 2021-09-10 --revocations {} --pdf {}",
            started.elapsed().as_secs_f64(),
            self.dir.display(),
            org_files.join("THD-T-0001-0001.pdf").display(),
            revoked_path.display(),
            org_files.join("THD-T-0001-0003.pdf").display(),
        )?;
        Ok(())
    }
}

/// The case a registration opened.
fn opened(taken: &[Taken]) -> anyhow::Result<String> {
    taken
        .iter()
        .find_map(|t| match t {
            Taken::Processed(Processed::Applied { case, .. }) => Some(case.code.clone()),
            _ => None,
        })
        .context("the daemon opened no case for the registration")
}

/// Attachment names, a run of permit PDFs shortened to the first and last.
fn files_line(names: &[&str]) -> String {
    let permits: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| is_permit_file(n))
        .collect();
    let others: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !is_permit_file(n))
        .collect();
    let mut parts = Vec::new();
    match permits.as_slice() {
        [] => {}
        [one] => parts.push((*one).to_owned()),
        [first, .., last] => parts.push(format!("{first} … {last} ({} permits)", permits.len())),
    }
    parts.extend(others.iter().map(|s| (*s).to_owned()));
    parts.join(", ")
}

/// `THD-T-0001-0007.pdf`: one person's permit.
fn is_permit_file(name: &str) -> bool {
    name.strip_suffix(".pdf").is_some_and(|stem| {
        let parts: Vec<&str> = stem.split('-').collect();
        parts.len() == 4 && parts[3].len() == 4 && parts[3].bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{RefusalReason, Template};

    #[test]
    fn the_demo_plays_every_flow_and_refuses_the_forgeries() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("world");
        let code = play(Some(out.clone()), std::io::sink()).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(code, 0);
        let store = Store::open(&out.join("state")).unwrap_or_else(|e| panic!("{e}"));
        let cases = store.cases().unwrap_or_else(|e| panic!("{e}"));
        let codes: Vec<&str> = cases.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["THD-C-0001", "THD-H-0001", "THD-T-0001"]);
        let s: Vec<CaseSummary> = cases.iter().map(CaseSummary::of).collect();
        // T: 8 staff, 1 rejected, 7 issued, then one revoked.
        assert_eq!((s[2].issued, s[2].rejected, s[2].revoked), (6, 1, 1));
        // C: 4 stamped, 1 refused. H: all 6 issued.
        assert_eq!((s[0].issued, s[0].rejected), (4, 1));
        assert_eq!(s[1].issued, 6);
        let refusals = store.refusals().unwrap_or_else(|e| panic!("{e}"));
        let reasons: Vec<_> = refusals.iter().map(|r| r.refusal.reason).collect();
        use RefusalReason::*;
        assert_eq!(reasons, [WrongAddressee, NotAuthenticated, DeadToken]);
        let outbox = store.outbox().unwrap_or_else(|e| panic!("{e}"));
        for e in &outbox {
            assert!(
                matches!(e.status, OutboxStatus::Sent { .. }),
                "{} {:?}",
                e.id,
                e.status
            );
        }
        let templates: HashSet<Template> = outbox.iter().map(|e| e.mail.template).collect();
        for t in [
            Template::CaseOpened,
            Template::RosterInvalid,
            Template::RosterAccepted,
            Template::ReviewRequest,
            Template::DecisionRecorded,
            Template::RowsRejected,
            Template::StampRequest,
            Template::PermitsIssued,
            Template::PermitForPerson,
            Template::RowsRefused,
            Template::PermitsRevoked,
            Template::Status,
        ] {
            assert!(templates.contains(&t), "the demo sends no {t:?}");
        }
        // A second run into the same directory is refused rather than mixed in.
        assert!(play(Some(out), std::io::sink()).is_err());
    }

    #[test]
    fn permit_files_are_told_from_other_attachments() {
        assert!(is_permit_file("THD-T-0001-0007.pdf"));
        assert!(!is_permit_file("THD-T-0001-in-1.pdf"));
        assert_eq!(
            files_line(&[
                "A-T-0001-0001.pdf",
                "A-T-0001-0002.pdf",
                "A-T-0001-in-1.pdf"
            ]),
            "A-T-0001-0001.pdf … A-T-0001-0002.pdf (2 permits), A-T-0001-in-1.pdf"
        );
    }
}
