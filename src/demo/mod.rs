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
mod flows;
mod mails;
mod people;
mod world;

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
        refused: None,
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
    world.explain_refused(&config_path)?;
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
    /// The first mail the daemon refused (the account it came to, its bytes), which the
    /// demo explains at the end.
    refused: Option<(String, Vec<u8>)>,
    out: W,
}

#[cfg(test)]
mod tests {
    use super::world::{files_line, is_permit_file};
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
