//! `qrca demo`: all three flows of SPEC §2 through the real workflow core, the real
//! engine and the real sled store, in a directory of its own, with no network.
//!
//! It writes a config (one ward, three accounts) and a signing key, loads them through
//! the real config loader, then plays the mails the people of a ward would send, each
//! as the event the inbound gate makes of a mail. Every line it prints is read back
//! from what the engine returned: nothing here decides anything. Replies use the reply
//! token found in the request the store queued for that person, as a real reply would.
//! It must not talk to any server; mails stay queued in the outbox.

mod people;

use crate::cli::cases;
use crate::config;
use crate::engine::{self, Inbound, Processed};
use crate::store::{CaseSummary, OutboxEntry, SeenMarker, Store};
use crate::workflow::{
    AttachmentRef, AuthEvidence, Command, Effect, Event, EventBody, Kind, Organisation, ReplyToken,
    Revocation, Roster, RosterIssue, RosterSubmission, Row, Rows,
};
use anyhow::{Context, bail};
use people::Sampler;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

const WARD: &str = "hoankiem.tranhungdao";
const ACCOUNT: &str = "qrca.hoankiem.tranhungdao1@gmail.com";
const OFFICER: &str = "canbo.thd@hoankiem.hanoi.gov.vn";
const OFFICER2: &str = "phochutich.thd@hoankiem.hanoi.gov.vn";
const POLICE: &str = "congan.thd@hoankiem.hanoi.gov.vn";
const CSKV: &str = "cskv1.thd@hoankiem.hanoi.gov.vn";
const ORG_EMAIL: &str = "nhansu@duochatay.example.vn";
const FORGER: &str = "ke.gia.mao@gmail.com";

/// Runs the demo; returns the exit code.
pub fn run(out: Option<PathBuf>) -> anyhow::Result<u8> {
    let started = Instant::now();
    let dir = prepare_dir(out)?;
    let config_path = write_world(&dir)?;
    let loaded = match config::load(&config_path) {
        Ok(loaded) => loaded,
        Err(e) => bail!("the demo's own config does not load: {e}"),
    };
    let config = loaded.config;
    let store = Store::open(&config.service.state_dir)?;
    let stdout = std::io::stdout();
    let mut demo = Demo {
        store,
        config,
        uid: 0,
        out: stdout.lock(),
        sampler: Sampler::new(20_210_908),
    };
    writeln!(
        demo.out,
        "qrca demo: the three flows of a ward office, through the real workflow core and store\n\
         world: {} (config qrca.toml, database state/, key keys/)\n\
         ward:  Phường Trần Hưng Đạo, Quận Hoàn Kiếm (THD); mails are queued in the outbox, none leave this machine",
        dir.display()
    )?;
    demo.organisation()?;
    demo.individuals()?;
    demo.households()?;
    demo.summary(&dir, &config_path, started)?;
    Ok(0)
}

fn prepare_dir(out: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match out {
        Some(dir) => dir,
        None => {
            let stamp = jiff::Timestamp::now().as_second();
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
/// variables that the demo never reads: it connects to nothing.
fn write_world(dir: &Path) -> anyhow::Result<PathBuf> {
    let key = dir.join("keys").join(format!("{WARD}.key"));
    crate::keys::generate(&key)?;
    let config = format!(
        r#"# Written by `qrca demo`: one ward, its three accounts and its people.
[service]
state_dir = "state"
timezone = "Asia/Ho_Chi_Minh"
admin_email = "quantri@hanoi.example.gov.vn"

[mail]
# The demo never connects; these only have to be valid.
imap = {{ host = "127.0.0.1", port = 1143, tls = "none" }}
smtp = {{ host = "127.0.0.1", port = 1587, tls = "none" }}
trusted_authserv_ids = ["mx.google.com"]

[permits]
paper = "A6"
valid_days = 14

[[ward]]
code = "{WARD}"
short = "THD"
name = "Phường Trần Hưng Đạo"
district = "Quận Hoàn Kiếm"
signing_key = "keys/{WARD}.key"
officers = ["{OFFICER}", "{OFFICER2}"]
police = ["{POLICE}"]
area_police = ["{CSKV}", "cskv2.thd@hoankiem.hanoi.gov.vn"]

[[ward.account]]
address = "qrca.hoankiem.tranhungdao1@gmail.com"
password_env = "QRCA_DEMO_PASSWORD_1"

[[ward.account]]
address = "qrca.hoankiem.tranhungdao2@gmail.com"
password_env = "QRCA_DEMO_PASSWORD_2"

[[ward.account]]
address = "qrca.hoankiem.tranhungdao3@gmail.com"
password_env = "QRCA_DEMO_PASSWORD_3"
"#
    );
    let path = dir.join("qrca.toml");
    std::fs::write(&path, config).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

struct Demo<W: Write> {
    store: Store,
    config: config::Config,
    uid: u32,
    out: W,
    sampler: Sampler,
}

/// How the demo dresses a mail's authentication: what a trusted server says of a
/// real sender, and what it says of a forged From.
#[derive(Clone, Copy, PartialEq)]
enum Auth {
    Genuine,
    Forged,
}

impl<W: Write> Demo<W> {
    /// Sends one mail as `sender` and prints what the engine made of it.
    fn mail(
        &mut self,
        sender: &str,
        what: &str,
        case: Option<&str>,
        auth: Auth,
        body: EventBody,
    ) -> anyhow::Result<Processed> {
        self.uid += 1;
        let domain = sender.rsplit_once('@').map_or("", |(_, d)| d).to_string();
        let event = Event {
            sender: sender.to_string(),
            message_id: format!("<demo.{}@{domain}>", self.uid),
            auth: match auth {
                Auth::Genuine => AuthEvidence::Pass {
                    authserv_id: "mx.google.com".into(),
                    method: "dmarc".into(),
                    domain,
                },
                Auth::Forged => AuthEvidence::Fail {
                    detail: "dmarc=fail (p=REJECT) for the From domain".into(),
                },
            },
            body,
        };
        let inbound = Inbound {
            seen: SeenMarker {
                account: ACCOUNT.into(),
                uidvalidity: 1,
                uid: self.uid,
                message_id: event.message_id.clone(),
            },
            ward: WARD.into(),
            case: case.map(str::to_string),
            event,
        };
        let processed =
            engine::process(&self.store, &self.config, &inbound, jiff::Timestamp::now())?;
        self.report(sender, what, &processed)?;
        Ok(processed)
    }

    fn report(&mut self, sender: &str, what: &str, processed: &Processed) -> anyhow::Result<()> {
        writeln!(self.out, "  [{:>2}] {sender}\n       {what}", self.uid)?;
        match processed {
            Processed::Applied { case, effects, .. } => {
                let s = CaseSummary::of(case);
                writeln!(
                    self.out,
                    "       ✓ {} now {}: {} pending, {} approved, {} issued, {} rejected, {} revoked",
                    case.code, s.stage, s.pending, s.approved, s.issued, s.rejected, s.revoked
                )?;
                for effect in effects {
                    match effect {
                        Effect::SendMail(m) => {
                            let mut line =
                                format!("       ✉ {} → {}", m.template.name(), m.to.join(", "));
                            if !m.cc.is_empty() {
                                line.push_str(&format!(" (cc {})", m.cc.join(", ")));
                            }
                            if m.reply_token.is_some() {
                                line.push_str(" [reply token]");
                            }
                            for a in &m.attachments {
                                line.push_str(&format!(" + {}", attachment(a)));
                            }
                            writeln!(self.out, "{line}")?;
                        }
                        Effect::IssuePermits { rows, .. } => {
                            let ids: Vec<&str> = rows.iter().map(|r| &*r.permit).collect();
                            writeln!(self.out, "       ★ permits issued: {}", ids.join(", "))?;
                        }
                        Effect::Audit(a) => writeln!(self.out, "       ≡ audit: {}", a.decision)?,
                    }
                }
            }
            Processed::Refused(r) => writeln!(
                self.out,
                "       ✗ refused, nothing changed ({:?}): {}",
                r.reason, r.detail
            )?,
            Processed::Ignored => writeln!(self.out, "       · ignored")?,
            Processed::AlreadySeen => writeln!(self.out, "       · already processed")?,
        }
        Ok(())
    }

    fn heading(&mut self, title: &str) -> anyhow::Result<()> {
        writeln!(self.out, "\n{title}")?;
        Ok(())
    }

    /// The token in the newest request queued for `to` on `case`: what that person's
    /// mail client would put in the reply's To.
    fn token_for(&self, case: &str, to: &str) -> anyhow::Result<ReplyToken> {
        let outbox: Vec<OutboxEntry> = self.store.outbox()?;
        outbox
            .iter()
            .rev()
            .filter(|e| e.case == case && e.mail.to.iter().any(|t| t == to))
            .find_map(|e| e.mail.reply_token.clone())
            .with_context(|| format!("no request with a reply token was queued for {to} on {case}"))
    }

    /// `who` answers the newest request queued for them on `case`, on its reply token,
    /// as their mail client would.
    fn answer(
        &mut self,
        who: &str,
        case: &str,
        what: &str,
        commands: Vec<Command>,
    ) -> anyhow::Result<Processed> {
        let token = self.token_for(case, who)?;
        self.reply(who, case, token, what, commands, Auth::Genuine)
    }

    fn reply(
        &mut self,
        sender: &str,
        case: &str,
        token: ReplyToken,
        what: &str,
        commands: Vec<Command>,
        auth: Auth,
    ) -> anyhow::Result<Processed> {
        self.mail(
            sender,
            what,
            Some(case),
            auth,
            EventBody::Reply {
                token: Some(token),
                commands,
                unreadable: Vec::new(),
            },
        )
    }

    fn organisation(&mut self) -> anyhow::Result<()> {
        self.heading("Organisation (T): registration → staff list → officers' review → police stamp → permits")?;
        let org = Organisation {
            name: "Công ty Cổ phần Dược phẩm Hà Tây".into(),
            email: ORG_EMAIL.into(),
            tax_code: Some("0500391400".into()),
            address: Some("10A Quang Trung, Hà Đông, Hà Nội".into()),
            contact: Some("Nguyễn Thị Ngọc Ánh".into()),
            phone: Some("0912345678".into()),
            sector: Some("Phân phối dược phẩm".into()),
        };
        let opened = self.mail(
            OFFICER,
            "registers the organisation the area police checked (ĐĂNG KÝ TỔ CHỨC)",
            None,
            Auth::Genuine,
            EventBody::RegisterOrganisation(org),
        )?;
        let code = case_code(&opened)?;

        let staff = self.sampler.staff(8);
        let mut broken = staff.clone();
        broken[3].id_number = Some("0010812345".into());
        let errors = vec![RosterIssue {
            row: Some(broken[3].sheet_row),
            column: Some("Số CCCD/CMND".into()),
            message: "số CCCD/CMND phải có 9 hoặc 12 chữ số, ở đây có 10".into(),
        }];
        self.mail(
            ORG_EMAIL,
            "replies with danh_sach_nhan_vien.xlsx: 8 staff, one ID number mistyped",
            Some(&code),
            Auth::Genuine,
            EventBody::Roster(submission("danh_sach_nhan_vien.xlsx", broken, errors)),
        )?;
        self.mail(
            ORG_EMAIL,
            "sends the corrected danh_sach_nhan_vien_sua.xlsx",
            Some(&code),
            Auth::Genuine,
            EventBody::Roster(submission(
                "danh_sach_nhan_vien_sua.xlsx",
                staff,
                Vec::new(),
            )),
        )?;

        self.answer(
            OFFICER,
            &code,
            "replies to the review request: DUYỆT 1-5 / TỪ CHỐI 6: không thuộc danh sách đi làm trực tiếp",
            vec![
                Command::Approve(Rows::List(vec![1, 2, 3, 4, 5])),
                Command::Reject {
                    rows: Rows::List(vec![6]),
                    reason: "không thuộc danh sách đi làm trực tiếp".into(),
                },
            ],
        )?;
        let token2 = self.token_for(&code, OFFICER2)?;
        self.reply(
            FORGER,
            &code,
            token2.clone(),
            "forwards the second officer's review request to himself and replies DUYỆT",
            vec![Command::Approve(Rows::All)],
            Auth::Genuine,
        )?;
        self.reply(
            OFFICER2,
            &code,
            token2.clone(),
            "a forged From: the second officer's address, without DMARC, replies DUYỆT",
            vec![Command::Approve(Rows::All)],
            Auth::Forged,
        )?;
        self.reply(
            OFFICER2,
            &code,
            token2.clone(),
            "the real second officer replies DUYỆT (every undecided row)",
            vec![Command::Approve(Rows::All)],
            Auth::Genuine,
        )?;
        self.reply(
            OFFICER2,
            &code,
            token2,
            "replays the same review reply after the review ended",
            vec![Command::Reject {
                rows: Rows::All,
                reason: "đổi ý".into(),
            }],
            Auth::Genuine,
        )?;
        self.answer(
            POLICE,
            &code,
            "replies to the stamp request: ĐÓNG DẤU",
            vec![Command::Stamp(Rows::All)],
        )?;
        self.mail(
            POLICE,
            &format!("THU HỒI {code}-0003: nhân viên đã nghỉ việc"),
            None,
            Auth::Genuine,
            EventBody::Revoke(vec![Revocation {
                permit: format!("{code}-0003"),
                reason: "nhân viên đã nghỉ việc".into(),
            }]),
        )?;
        self.mail(
            ORG_EMAIL,
            "asks TRẠNG THÁI",
            Some(&code),
            Auth::Genuine,
            EventBody::Status,
        )?;
        Ok(())
    }

    fn individuals(&mut self) -> anyhow::Result<()> {
        self.heading("Individuals (C): the area police's list goes straight to the police stamp")?;
        let people = self.sampler.individuals(5);
        let opened = self.mail(
            CSKV,
            "sends danh_sach_ca_nhan.xlsx, 5 people (ĐĂNG KÝ CÁ NHÂN)",
            None,
            Auth::Genuine,
            EventBody::RegisterRoster {
                kind: Kind::C,
                submission: submission("danh_sach_ca_nhan.xlsx", people, Vec::new()),
            },
        )?;
        let code = case_code(&opened)?;
        self.answer(
            POLICE,
            &code,
            "replies ĐÓNG DẤU 1-4 / TỪ CHỐI 5: đề nghị bổ sung giấy xác nhận nơi làm việc",
            vec![
                Command::Stamp(Rows::List(vec![1, 2, 3, 4])),
                Command::Reject {
                    rows: Rows::List(vec![5]),
                    reason: "đề nghị bổ sung giấy xác nhận nơi làm việc".into(),
                },
            ],
        )?;
        Ok(())
    }

    fn households(&mut self) -> anyhow::Result<()> {
        self.heading("Households (H): market cards, officers' review then police stamp")?;
        let households = self.sampler.households(6);
        let opened = self.mail(
            CSKV,
            "sends the_di_cho_to_5.xlsx, 6 households (THẺ ĐI CHỢ)",
            None,
            Auth::Genuine,
            EventBody::RegisterRoster {
                kind: Kind::H,
                submission: submission("the_di_cho_to_5.xlsx", households, Vec::new()),
            },
        )?;
        let code = case_code(&opened)?;
        self.answer(
            OFFICER,
            &code,
            "replies DUYỆT",
            vec![Command::Approve(Rows::All)],
        )?;
        self.answer(
            POLICE,
            &code,
            "replies ĐÓNG DẤU",
            vec![Command::Stamp(Rows::All)],
        )?;
        Ok(())
    }

    fn summary(&mut self, dir: &Path, config_path: &Path, started: Instant) -> anyhow::Result<()> {
        writeln!(self.out, "\nCases in the database:")?;
        cases::list(&self.store, &mut self.out)?;
        let outbox = self.store.outbox()?;
        let refusals = self.store.refusals()?;
        let audit: usize = self
            .store
            .cases()?
            .iter()
            .map(|c| self.store.audit(&c.code).map(|a| a.len()))
            .sum::<Result<usize, _>>()?;
        writeln!(
            self.out,
            "\n{} mails queued in the outbox, {} audit entries, {} refused attempts logged for the officers' daily report.\n\
             Done in {:.1} s. Everything is in {}; look at it with\n  qrca cases --config {} list\n  qrca cases --config {} show THD-T-0001",
            outbox.len(),
            audit,
            refusals.len(),
            started.elapsed().as_secs_f64(),
            dir.display(),
            config_path.display(),
            config_path.display(),
        )?;
        Ok(())
    }
}

fn case_code(processed: &Processed) -> anyhow::Result<String> {
    match processed {
        Processed::Applied { case, .. } => Ok(case.code.clone()),
        other => bail!("the demo expected a case to open, and got {other:?}"),
    }
}

fn submission(file: &str, rows: Vec<Row>, errors: Vec<RosterIssue>) -> RosterSubmission {
    RosterSubmission {
        file_name: file.into(),
        roster: Roster {
            rows: rows.into_iter().map(std::sync::Arc::new).collect(),
            errors,
            warnings: Vec::new(),
        },
        documents: Vec::new(),
    }
}

fn attachment(a: &AttachmentRef) -> String {
    match a {
        AttachmentRef::NormalisedRoster { batch } => format!("roster of batch {batch} (.xlsx)"),
        AttachmentRef::Document(d) => d.name.clone(),
        AttachmentRef::Permits { permits } => format!("{} permit PDF(s)", permits.len()),
        AttachmentRef::PrintSheet { permits } => {
            format!("print sheet of {} (A4, 4 a page)", permits.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::Template;

    #[test]
    fn the_demo_plays_every_flow_and_refuses_the_forgeries() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("world");
        let code = run(Some(out.clone())).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(code, 0);
        let store = Store::open(&out.join("state")).unwrap_or_else(|e| panic!("{e}"));
        let cases = store.cases().unwrap_or_else(|e| panic!("{e}"));
        let codes: Vec<&str> = cases.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["THD-C-0001", "THD-H-0001", "THD-T-0001"]);
        let summaries: Vec<CaseSummary> = cases.iter().map(CaseSummary::of).collect();
        // T: 8 staff, 1 rejected, 7 issued, then one revoked.
        assert_eq!(
            (
                summaries[2].issued,
                summaries[2].rejected,
                summaries[2].revoked
            ),
            (6, 1, 1)
        );
        // C: 4 stamped, 1 refused.
        assert_eq!((summaries[0].issued, summaries[0].rejected), (4, 1));
        // H: all 6 issued.
        assert_eq!(summaries[1].issued, 6);
        // The forwarded token, the forged From and the replay are all refused.
        let refusals = store.refusals().unwrap_or_else(|e| panic!("{e}"));
        let reasons: Vec<_> = refusals.iter().map(|r| r.refusal.reason).collect();
        use crate::workflow::RefusalReason::*;
        assert_eq!(reasons, [WrongAddressee, NotAuthenticated, DeadToken]);
        let templates: std::collections::HashSet<Template> = store
            .outbox()
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|e| e.mail.template)
            .collect();
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
        assert!(run(Some(out)).is_err());
    }
}
