//! The print queue (issue 15) against a real CUPS (`scripts/cups.sh`: cupsd with two
//! queues whose backend keeps every job's bytes): the stamp of a kind the ward prints
//! queues its sheet in the same commit; the worker prints it on the first printer,
//! byte for byte the sheet the permits mail carries; a stopped first printer hands it
//! to the second; both stopped, the officers are told once and the sheet waits, then
//! prints once when a printer is started again; a job a crash caught mid-submission
//! that CUPS already has is not printed again; `check --connect` finds a missing
//! printer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/cups.rs"]
mod cups;
#[path = "support/ward_config.rs"]
mod ward_config;

use cups::TestCups;
use qrca::config::{self, Config};
use qrca::daemon::Generation;
use qrca::daemon::print::{PrintPass, print_due};
use qrca::engine::{self, Inbound, Processed};
use qrca::store::{PrintStatus, SeenMarker, Store};
use qrca::transport::cups::Cups;
use qrca::workflow::*;
use std::path::Path;
use std::sync::Arc;
use ward_config::{WardSpec, write_config};

const OFFICER: &str = "canbo.thd@example.gov.vn";
const POLICE: &str = "congan.thd@example.gov.vn";
const CSKV: &str = "cskv.thd@example.gov.vn";
const ORG: &str = "nhansu@congty.example.vn";

/// A ward printing its organisations' sheets on `laser1`, then `laser2`.
fn world(dir: &Path, kinds: &str) -> Config {
    let thd = WardSpec {
        code: "hoankiem.tranhungdao",
        short: "THD",
        name: "Phường Trần Hưng Đạo",
        officers: &[OFFICER],
        police: &[POLICE],
        area_police: &[CSKV],
        accounts: &["qrca.hoankiem.tranhungdao1@gmail.com"],
    };
    write_config(dir, &[thd], true);
    let path = dir.join("qrca.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[permits]\nprinters = [\"laser1\", \"laser2\"]\nprint_kinds = [{kinds}]\n"
    ));
    std::fs::write(&path, text).unwrap();
    config::load(&path).unwrap_or_else(|e| panic!("{e}")).config
}

fn inbound(uid: u32, sender: &str, case: Option<&str>, body: EventBody) -> Inbound {
    Inbound {
        seen: SeenMarker {
            account: "qrca.hoankiem.tranhungdao1@gmail.com".into(),
            uidvalidity: 7,
            uid,
            message_id: format!("<m{uid}@example>"),
            sender: String::new(),
            references: Vec::new(),
            digest: String::new(),
        },
        ward: "hoankiem.tranhungdao".into(),
        case: case.map(str::to_string),
        event: Event {
            sender: sender.into(),
            message_id: format!("<m{uid}@example>"),
            auth: AuthEvidence::Pass {
                authserv_id: "mx.google.com".into(),
                method: "dmarc".into(),
                domain: "example.gov.vn".into(),
            },
            body,
        },
        also: Vec::new(),
    }
}

fn applied(p: Processed) -> (Case, Vec<Effect>) {
    match p {
        Processed::Applied { case, effects, .. } => (*case, effects),
        other => panic!("expected applied, got {other:?}"),
    }
}

fn token_for(case: &Case, who: &str) -> ReplyToken {
    case.tokens
        .iter()
        .find(|g| g.live && g.addressee == who)
        .map(|g| g.token.clone())
        .unwrap_or_else(|| panic!("no live token for {who}"))
}

/// An organisation's case of `n` people, approved and stamped: its effects at the stamp.
fn stamped(store: &Store, config: &Config, n: u32) -> (Case, Vec<Effect>) {
    let now = jiff::Timestamp::now();
    let run = |uid, sender: &str, case: Option<&str>, body| {
        applied(engine::process(store, config, &inbound(uid, sender, case, body), now).unwrap())
    };
    let org = Organisation {
        name: "Công ty In Thử".into(),
        email: ORG.into(),
        ..Organisation::default()
    };
    let (case, _) = run(1, OFFICER, None, EventBody::RegisterOrganisation(org));
    let rows = (1..=n)
        .map(|stt| {
            Arc::new(Row {
                stt,
                sheet_row: stt + 1,
                name: Some(format!(
                    "Nguyễn Văn {}",
                    ["An", "Bình", "Cường", "Dũng"][stt as usize % 4]
                )),
                id_number: Some(format!("{:012}", 5_000 + stt)),
                ..Row::default()
            })
        })
        .collect();
    let roster = RosterSubmission {
        file_name: "ds.xlsx".into(),
        roster: Roster {
            rows,
            errors: vec![],
            warnings: vec![],
        },
        documents: vec![],
    };
    let (case, _) = run(2, ORG, Some(&case.code.clone()), EventBody::Roster(roster));
    let reply = |token, command| EventBody::Reply {
        token: Some(token),
        commands: vec![command],
        unreadable: vec![],
    };
    let (case, _) = run(
        3,
        OFFICER,
        None,
        reply(token_for(&case, OFFICER), Command::Approve(Rows::All)),
    );
    run(
        4,
        POLICE,
        None,
        reply(token_for(&case, POLICE), Command::Stamp(Rows::All)),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn pass(g: &Arc<Generation>, cups: &Cups, at: jiff::Timestamp) -> PrintPass {
    runtime().block_on(print_due(g, cups, at)).unwrap()
}

#[test]
fn the_stamp_prints_its_sheet_once_on_the_first_printer_that_takes_it() {
    let printers = TestCups::start(&["laser1", "laser2"]);
    let cups = Cups::at(&printers.server);
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path(), "\"T\"");
    let store = Store::open(&config.service.state_dir).unwrap();
    let (case, effects) = stamped(&store, &config, 6);
    // The core asked for the sheet, and the stamp's commit queued it.
    let permits: Vec<Arc<str>> = effects
        .iter()
        .find_map(|e| match e {
            Effect::Print { permits, .. } => Some(permits.clone()),
            _ => None,
        })
        .expect("a print effect at the stamp");
    assert_eq!(permits.len(), 6);
    let jobs = store.print_jobs().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].status, PrintStatus::Pending);
    assert_eq!(jobs[0].case, case.code);
    let g = Arc::new(Generation::load(config, store).unwrap());
    let now = jiff::Timestamp::now();

    // Printed on laser1, byte for byte the sheet the permits mail carries.
    let done = pass(&g, &cups, now);
    assert_eq!(done.printed, [jobs[0].id], "{done:?}");
    let printed = printers.wait_printed("laser1", 1);
    assert_eq!(printed.len(), 1);
    let sheet = qrca::outbound::print_sheet(&case, &permits, &g.render_ctx(&case.ward))
        .unwrap()
        .unwrap();
    assert_eq!(printed[0].1, sheet, "the printed bytes are the sheet");
    assert!(printed[0].1.starts_with(b"%PDF-"));
    let job = g.store.print_job(jobs[0].id).unwrap().unwrap();
    assert!(
        matches!(&job.status, PrintStatus::Printed { printer, job, .. } if printer == "laser1" && *job == i32::try_from(printed[0].0).unwrap()),
        "{:?}",
        job.status
    );
    // Nothing is due: a second pass prints nothing.
    assert_eq!(pass(&g, &cups, now), PrintPass::default());
    assert!(printers.printed("laser2").is_empty());
    // A printed job stays for qrca print list about a month, then the worker removes it.
    let days = |n: i64| now + jiff::SignedDuration::from_hours(24 * n);
    assert_eq!(pass(&g, &cups, days(29)), PrintPass::default());
    assert_eq!(g.store.print_jobs().unwrap().len(), 1);
    let later = pass(&g, &cups, days(31));
    assert_eq!(later.pruned, 1, "{later:?}");
    assert!(later.printed.is_empty());
    assert!(g.store.print_jobs().unwrap().is_empty());
    assert_eq!(printers.printed("laser1").len(), 1, "nothing printed again");
}

#[test]
fn a_stopped_printer_hands_the_sheet_on_and_both_stopped_tell_the_officers_once() {
    let printers = TestCups::start(&["laser1", "laser2"]);
    let cups = Cups::at(&printers.server);
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path(), "\"T\", \"C\"");
    let store = Store::open(&config.service.state_dir).unwrap();
    stamped(&store, &config, 3);
    let g = Arc::new(Generation::load(config, store).unwrap());
    let now = jiff::Timestamp::now();
    let id = g.store.print_jobs().unwrap()[0].id;
    let notices = |g: &Generation| {
        g.store
            .outbox()
            .unwrap()
            .into_iter()
            .filter(|e| e.mail.template == Template::PrintFailed)
            .count()
    };

    // Both stopped: it waits, and the officers are told.
    printers.stop_queue("laser1");
    printers.stop_queue("laser2");
    let done = pass(&g, &cups, now);
    assert_eq!(done.retrying, [id], "{done:?}");
    let job = g.store.print_job(id).unwrap().unwrap();
    let PrintStatus::RetryAt { at } = job.status else {
        panic!("{:?}", job.status)
    };
    assert!(at > now);
    let error = job.last_error.unwrap();
    assert!(
        error.contains("laser1 is stopped") && error.contains("laser2 is stopped"),
        "{error}"
    );
    assert_eq!(notices(&g), 1);
    // Not due before its time; due after, still stopped: not told again.
    assert_eq!(pass(&g, &cups, now), PrintPass::default());
    let later = at + jiff::SignedDuration::from_secs(1);
    assert_eq!(pass(&g, &cups, later).retrying, [id]);
    assert_eq!(notices(&g), 1, "told once");
    assert!(printers.printed("laser1").is_empty() && printers.printed("laser2").is_empty());

    // laser2 started again (laser1 still stopped): printed there, once.
    printers.start_queue("laser2");
    let job = g.store.print_job(id).unwrap().unwrap();
    let PrintStatus::RetryAt { at } = job.status else {
        panic!("{:?}", job.status)
    };
    let done = pass(&g, &cups, at + jiff::SignedDuration::from_secs(1));
    assert_eq!(done.printed, [id], "{done:?}");
    assert_eq!(printers.wait_printed("laser2", 1).len(), 1);
    let job = g.store.print_job(id).unwrap().unwrap();
    assert!(matches!(&job.status, PrintStatus::Printed { printer, .. } if printer == "laser2"));
    assert_eq!(
        pass(&g, &cups, later + jiff::SignedDuration::from_hours(1)),
        PrintPass::default()
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(printers.printed("laser2").len(), 1, "printed once");
    assert!(printers.printed("laser1").is_empty());
}

#[test]
fn a_job_a_crash_caught_that_cups_already_has_is_not_printed_again() {
    let printers = TestCups::start(&["laser1", "laser2"]);
    let cups = Cups::at(&printers.server);
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path(), "\"T\"");
    let store = Store::open(&config.service.state_dir).unwrap();
    stamped(&store, &config, 2);
    let g = Arc::new(Generation::load(config, store).unwrap());
    let now = jiff::Timestamp::now();
    let job = g.store.print_jobs().unwrap().remove(0);
    // CUPS took the sheet, and the process died before recording it: the job is
    // still `Printing` on laser1.
    cups.print("laser1", &job.title(), b"%PDF-1.7 the sheet".to_vec())
        .unwrap();
    g.store
        .update_print(job.id, now, |j| {
            j.status = PrintStatus::Printing {
                printer: "laser1".into(),
            }
        })
        .unwrap();
    let done = pass(&g, &cups, now);
    assert_eq!(done.found, [job.id], "{done:?}");
    assert_eq!(printers.wait_printed("laser1", 1).len(), 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        printers.printed("laser1").len(),
        1,
        "not printed a second time"
    );
    assert!(matches!(
        g.store.print_job(job.id).unwrap().unwrap().status,
        PrintStatus::Printed { .. }
    ));
}

#[test]
fn a_kind_the_ward_does_not_print_queues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path(), "\"C\"");
    let store = Store::open(&config.service.state_dir).unwrap();
    let (_, effects) = stamped(&store, &config, 2);
    assert!(!effects.iter().any(|e| matches!(e, Effect::Print { .. })));
    assert!(store.print_jobs().unwrap().is_empty());
}

fn qrca(args: &[&str], config: &Path, cups: &str) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("CUPS_SERVER", cups)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `qrca print list` and `retry`, and `check --connect`'s line for each printer.
#[test]
fn the_admin_sees_the_queue_retries_a_sheet_and_checks_the_printers() {
    let printers = TestCups::start(&["laser1"]);
    let cups = Cups::at(&printers.server);
    let dir = tempfile::tempdir().unwrap();
    let config = world(dir.path(), "\"T\"");
    let path = config.path.clone();
    let store = Store::open(&config.service.state_dir).unwrap();
    stamped(&store, &config, 5);
    let g = Arc::new(Generation::load(config, store).unwrap());
    let id = g.store.print_jobs().unwrap()[0].id;
    // laser2 of the config does not exist at this CUPS; laser1 is stopped.
    printers.stop_queue("laser1");
    let now = jiff::Timestamp::now();
    assert_eq!(pass(&g, &cups, now).retrying, [id]);
    drop(g);

    let (code, out, err) = qrca(&["print", "list"], &path, &printers.server);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("{id}")) && out.contains("THD-T-0001") && out.contains("retrying at"),
        "{out}"
    );
    assert!(out.contains("why: printer laser1 is stopped"), "{out}");
    assert!(out.contains("there is no printer laser2"), "{out}");
    let (code, out, _) = qrca(
        &["print", "retry", &id.to_string()],
        &path,
        &printers.server,
    );
    assert_eq!(code, 0);
    assert!(out.contains("tried again now"), "{out}");
    let (code, _, err) = qrca(&["print", "retry", "999999"], &path, &printers.server);
    assert_eq!(code, 1);
    assert!(err.contains("there is no print job 999999"), "{err}");

    let (_, out, _) = qrca(&["check", "--connect"], &path, &printers.server);
    assert!(
        out.contains("printer laser1: printer laser1 is stopped"),
        "{out}"
    );
    assert!(
        out.contains("printer laser2: there is no printer laser2"),
        "{out}"
    );
    printers.start_queue("laser1");
    let (_, out, _) = qrca(&["check", "--connect"], &path, &printers.server);
    assert!(
        out.contains(&format!("printer laser1 CUPS {}: ok", printers.server)),
        "{out}"
    );

    // Back in line: the next pass prints it.
    let store = Store::open(&dir.path().join("state")).unwrap();
    assert_eq!(
        store.print_job(id).unwrap().unwrap().status,
        PrintStatus::Pending
    );
    let g = Arc::new(Generation::load(config::load(&path).unwrap().config, store).unwrap());
    assert_eq!(pass(&g, &cups, jiff::Timestamp::now()).printed, [id]);
    assert_eq!(printers.wait_printed("laser1", 1).len(), 1);
    drop(g);
    let (_, out, _) = qrca(&["print", "list"], &path, &printers.server);
    assert!(out.contains("printed on laser1 (job "), "{out}");
}
