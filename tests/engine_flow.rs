//! The engine on a real config file and a real sled store: every flow step committed
//! with its seen-marker, exactly once, across wards, threads and reopenings.

#[path = "support/ward_config.rs"]
mod ward_config;

use qrca::config::Config;
use qrca::engine::{self, Inbound, Processed};
use qrca::store::{SeenMarker, Store};
use qrca::workflow::*;
use std::path::Path;
use std::sync::Arc;
use ward_config::{WardSpec, write_config};

const OFFICER: &str = "canbo.thd@example.gov.vn";
const OFFICER2: &str = "phochutich.thd@example.gov.vn";
const POLICE: &str = "congan.thd@example.gov.vn";
const CSKV: &str = "cskv.thd@example.gov.vn";
const ORG: &str = "nhansu@congty.example.vn";
const HB_OFFICER: &str = "canbo.hb@example.gov.vn";

fn world(dir: &Path) -> Config {
    let thd = WardSpec {
        code: "hoankiem.tranhungdao",
        short: "THD",
        name: "Phường Trần Hưng Đạo",
        officers: &[OFFICER, OFFICER2],
        police: &[POLICE],
        area_police: &[CSKV],
        accounts: &["qrca.hoankiem.tranhungdao1@gmail.com"],
    };
    write_config(dir, &[thd, ward_config::HANG_BAC], true)
}

struct Mailer {
    uid: u32,
    ward: &'static str,
}

impl Mailer {
    fn inbound(&mut self, sender: &str, case: Option<&str>, body: EventBody) -> Inbound {
        self.uid += 1;
        Inbound {
            seen: SeenMarker {
                account: format!("qrca.{}1@gmail.com", self.ward),
                uidvalidity: 7,
                uid: self.uid,
                message_id: format!("<{}.{}@example>", self.ward, self.uid),
                sender: String::new(),
                references: Vec::new(),
                digest: String::new(),
            },
            ward: self.ward.into(),
            case: case.map(str::to_string),
            event: Event {
                sender: sender.into(),
                message_id: format!("<{}.{}@example>", self.ward, self.uid),
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
}

fn organisation() -> Organisation {
    Organisation {
        name: "Công ty TNHH Một Thành Viên Bánh Kẹo Hà Nội".into(),
        email: ORG.into(),
        ..Organisation::default()
    }
}

fn roster(n: u32) -> RosterSubmission {
    RosterSubmission {
        file_name: "ds.xlsx".into(),
        roster: Roster {
            rows: (1..=n)
                .map(|stt| Row {
                    stt,
                    sheet_row: stt + 1,
                    name: Some(format!(
                        "Nguyễn Văn {}",
                        ["An", "Bình", "Cường", "Dũng"][stt as usize % 4]
                    )),
                    id_number: Some(format!("{:012}", 1_000 + stt)),
                    ..Row::default()
                })
                .map(std::sync::Arc::new)
                .collect(),
            errors: vec![],
            warnings: vec![],
        },
        documents: vec![],
    }
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn applied(p: Processed) -> (Case, Vec<Effect>) {
    match p {
        Processed::Applied { case, effects, .. } => (*case, effects),
        other => panic!("expected applied, got {other:?}"),
    }
}

fn run(store: &Store, config: &Config, inbound: &Inbound) -> Processed {
    engine::process(store, config, inbound, now()).unwrap_or_else(|e| panic!("{e}"))
}

fn token_for(case: &Case, who: &str) -> ReplyToken {
    case.tokens
        .iter()
        .find(|g| g.live && g.addressee == who)
        .map(|g| g.token.clone())
        .unwrap_or_else(|| panic!("no live token for {who}"))
}

fn reply(token: ReplyToken, commands: Vec<Command>) -> EventBody {
    EventBody::Reply {
        token: Some(token),
        commands,
        unreadable: vec![],
    }
}

#[test]
fn a_whole_flow_is_committed_step_by_step_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = world(dir.path());
    let state = config.service.state_dir.clone();
    let mut m = Mailer {
        uid: 0,
        ward: "hoankiem.tranhungdao",
    };
    let code;
    {
        let store = Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
        let (case, _) = applied(run(
            &store,
            &config,
            &m.inbound(
                OFFICER,
                None,
                EventBody::RegisterOrganisation(organisation()),
            ),
        ));
        code = case.code.clone();
        assert_eq!(code, "THD-T-0001");
        let (case, _) = applied(run(
            &store,
            &config,
            &m.inbound(ORG, Some(&code), EventBody::Roster(roster(3))),
        ));
        // The officer replies without naming the case: the token finds it.
        let (case, _) = applied(run(
            &store,
            &config,
            &m.inbound(
                OFFICER,
                None,
                reply(token_for(&case, OFFICER), vec![Command::Approve(Rows::All)]),
            ),
        ));
        let (case, effects) = applied(run(
            &store,
            &config,
            &m.inbound(
                POLICE,
                None,
                reply(token_for(&case, POLICE), vec![Command::Stamp(Rows::All)]),
            ),
        ));
        assert!(
            effects
                .iter()
                .any(|e| matches!(e, Effect::IssuePermits { rows, .. } if rows.len() == 3))
        );
        assert_eq!(case.batches[0].stage, BatchStage::Closed);
    }
    // Reopen: everything is still there, and the permit index finds the case.
    let store = Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
    let case = store
        .case(&code)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("case lost"));
    assert_eq!(case.last_holder, 3);
    assert_eq!(
        store
            .case_by_permit("THD-T-0001-0002")
            .ok()
            .flatten()
            .as_deref(),
        Some("THD-T-0001")
    );
    assert_eq!(store.audit(&code).map(|a| a.len()).ok(), Some(4));
    // A revocation names only the permit: the engine finds the case from it.
    let (case, _) = applied(run(
        &store,
        &config,
        &m.inbound(
            POLICE,
            None,
            EventBody::Revoke(vec![Revocation {
                permit: "THD-T-0001-0002".into(),
                reason: "mất thẻ".into(),
            }]),
        ),
    ));
    assert!(matches!(
        case.batches[0].rows[1].state,
        RowState::Revoked { .. }
    ));
}

#[test]
fn the_same_message_twice_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut m = Mailer {
        uid: 0,
        ward: "hoankiem.tranhungdao",
    };
    let open = m.inbound(
        OFFICER,
        None,
        EventBody::RegisterOrganisation(organisation()),
    );
    applied(run(&store, &config, &open));
    let outbox = store.outbox().map(|o| o.len()).ok();
    assert!(matches!(
        run(&store, &config, &open),
        Processed::AlreadySeen
    ));
    // After a UIDVALIDITY change the same mail has a new server position but the same
    // Message-ID: still already seen.
    let mut moved = open.clone();
    moved.seen.uidvalidity = 8;
    moved.seen.uid = 1;
    assert!(matches!(
        run(&store, &config, &moved),
        Processed::AlreadySeen
    ));
    assert_eq!(store.outbox().map(|o| o.len()).ok(), outbox);
    assert_eq!(store.cases().map(|c| c.len()).ok(), Some(1));
    assert_eq!(
        store.last_serial("hoankiem.tranhungdao", Kind::T).ok(),
        Some(1)
    );
}

#[test]
fn a_refused_mail_is_logged_once_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut m = Mailer {
        uid: 0,
        ward: "hoankiem.tranhungdao",
    };
    let (case, _) = applied(run(
        &store,
        &config,
        &m.inbound(
            OFFICER,
            None,
            EventBody::RegisterOrganisation(organisation()),
        ),
    ));
    let (case, _) = applied(run(
        &store,
        &config,
        &m.inbound(ORG, Some(&case.code), EventBody::Roster(roster(2))),
    ));
    let before = store.case(&case.code).ok().flatten();
    // The organisation tries to approve its own list with the officer's token.
    let forged = m.inbound(
        ORG,
        None,
        reply(token_for(&case, OFFICER), vec![Command::Approve(Rows::All)]),
    );
    match run(&store, &config, &forged) {
        Processed::Refused(r) => assert_eq!(r.reason, RefusalReason::WrongAddressee),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run(&store, &config, &forged),
        Processed::AlreadySeen
    ));
    assert_eq!(store.case(&case.code).ok().flatten(), before);
    let refusals = store.refusals().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].sender, ORG);
    assert_eq!(refusals[0].case.as_deref(), Some(case.code.as_str()));
}

#[test]
fn two_wards_number_their_cases_independently() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut thd = Mailer {
        uid: 0,
        ward: "hoankiem.tranhungdao",
    };
    let mut hb = Mailer {
        uid: 0,
        ward: "hoankiem.hangbac",
    };
    let a = applied(run(
        &store,
        &config,
        &thd.inbound(
            OFFICER,
            None,
            EventBody::RegisterOrganisation(organisation()),
        ),
    ))
    .0;
    let b = applied(run(
        &store,
        &config,
        &hb.inbound(
            HB_OFFICER,
            None,
            EventBody::RegisterOrganisation(organisation()),
        ),
    ))
    .0;
    let c = applied(run(
        &store,
        &config,
        &thd.inbound(
            OFFICER,
            None,
            EventBody::RegisterOrganisation(organisation()),
        ),
    ))
    .0;
    assert_eq!(
        [a.code, b.code, c.code],
        ["THD-T-0001", "HB-T-0001", "THD-T-0002"]
    );
    // An officer of one ward has no say in the other.
    match run(
        &store,
        &config,
        &hb.inbound(
            OFFICER,
            None,
            EventBody::RegisterOrganisation(organisation()),
        ),
    ) {
        Processed::Refused(r) => assert_eq!(r.reason, RefusalReason::NotPermitted),
        other => panic!("{other:?}"),
    }
}

#[test]
fn concurrent_openings_get_distinct_serials() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = Arc::new(world(dir.path()));
    let store = Arc::new(Store::open(&config.service.state_dir).unwrap_or_else(|e| panic!("{e}")));
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let (config, store) = (config.clone(), store.clone());
            std::thread::spawn(move || {
                let mut m = Mailer {
                    uid: t * 1000,
                    ward: "hoankiem.tranhungdao",
                };
                (0..10)
                    .map(|_| {
                        let ev = m.inbound(
                            OFFICER,
                            None,
                            EventBody::RegisterOrganisation(organisation()),
                        );
                        applied(run(&store, &config, &ev)).0.serial
                    })
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    let mut serials: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap_or_default())
        .collect();
    serials.sort_unstable();
    assert_eq!(serials, (1..=40).collect::<Vec<u32>>());
}

#[test]
fn an_unknown_ward_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut m = Mailer {
        uid: 0,
        ward: "badinh.phucxa",
    };
    let err = engine::process(
        &store,
        &config,
        &m.inbound(OFFICER, None, EventBody::Status),
        now(),
    );
    assert!(matches!(err, Err(engine::EngineError::UnknownWard(_))));
}

#[test]
fn two_officers_deciding_at_once_lose_nothing() {
    // Three accounts per ward are watched at once, so two replies about one case can
    // be stepped from the same stored case: the second commit must not undo the first.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = Arc::new(world(dir.path()));
    let store = Arc::new(Store::open(&config.service.state_dir).unwrap_or_else(|e| panic!("{e}")));
    let mut m = Mailer {
        uid: 0,
        ward: "hoankiem.tranhungdao",
    };
    let (case, _) = applied(run(
        &store,
        &config,
        &m.inbound(
            OFFICER,
            None,
            EventBody::RegisterOrganisation(organisation()),
        ),
    ));
    let (case, _) = applied(run(
        &store,
        &config,
        &m.inbound(ORG, Some(&case.code), EventBody::Roster(roster(40))),
    ));
    let threads: Vec<_> = [(OFFICER, 1u32), (OFFICER2, 2u32)]
        .into_iter()
        .map(|(officer, first)| {
            let (config, store, case) = (config.clone(), store.clone(), case.clone());
            std::thread::spawn(move || {
                let mut m = Mailer {
                    uid: first * 1000,
                    ward: "hoankiem.tranhungdao",
                };
                let token = token_for(&case, officer);
                for stt in (first..=40).step_by(2) {
                    let command = if first == 1 {
                        Command::Approve(Rows::List(vec![stt]))
                    } else {
                        Command::Reject {
                            rows: Rows::List(vec![stt]),
                            reason: "không đủ điều kiện".into(),
                        }
                    };
                    match run(
                        &store,
                        &config,
                        &m.inbound(officer, None, reply(token.clone(), vec![command])),
                    ) {
                        Processed::Applied { .. } => {}
                        other => panic!("{officer} row {stt}: {other:?}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap_or_else(|_| panic!("a thread panicked"));
    }
    let case = store
        .case(&case.code)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("case lost"));
    let rows = &case.batches[0].rows;
    for row in rows.iter() {
        let want_approved = row.person.stt % 2 == 1;
        match &row.state {
            RowState::Approved { .. } => assert!(want_approved, "row {} approved", row.person.stt),
            RowState::Rejected { .. } => assert!(!want_approved, "row {} rejected", row.person.stt),
            other => panic!("row {} lost its decision: {other:?}", row.person.stt),
        }
    }
    assert_eq!(case.batches[0].stage, BatchStage::Stamp);
    // Register, roster, then one audit entry per reply: none lost, none doubled.
    assert_eq!(store.audit(&case.code).map(|a| a.len()).ok(), Some(2 + 40));
}

/// An organisation's case whose `n` people hold permits, opened by `name`'s
/// registration: its code.
fn issued_case(store: &Store, config: &Config, m: &mut Mailer, name: &str, n: u32) -> Case {
    let org = Organisation {
        name: name.into(),
        ..organisation()
    };
    let (case, _) = applied(run(
        store,
        config,
        &m.inbound(OFFICER, None, EventBody::RegisterOrganisation(org)),
    ));
    let code = case.code.clone();
    let (case, _) = applied(run(
        store,
        config,
        &m.inbound(ORG, Some(&code), EventBody::Roster(roster(n))),
    ));
    let (case, _) = applied(run(
        store,
        config,
        &m.inbound(
            OFFICER,
            None,
            reply(token_for(&case, OFFICER), vec![Command::Approve(Rows::All)]),
        ),
    ));
    applied(run(
        store,
        config,
        &m.inbound(
            POLICE,
            None,
            reply(token_for(&case, POLICE), vec![Command::Stamp(Rows::All)]),
        ),
    ))
    .0
}

/// One mail that revokes permits of two cases and approves the rows of a third
/// (issue 17, item 6): every line applies to its own case, in one commit; the same
/// mail again changes nothing.
#[test]
fn one_mail_revokes_across_cases_and_decides_beside_them_in_one_commit() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut m = Mailer {
        uid: 0,
        ward: "hoankiem.tranhungdao",
    };
    let one = issued_case(&store, &config, &mut m, "Công ty Một", 2);
    let two = issued_case(&store, &config, &mut m, "Công ty Hai", 2);
    let org = Organisation {
        name: "Công ty Ba".into(),
        ..organisation()
    };
    let (three, _) = applied(run(
        &store,
        &config,
        &m.inbound(OFFICER, None, EventBody::RegisterOrganisation(org)),
    ));
    let (three, _) = applied(run(
        &store,
        &config,
        &m.inbound(ORG, Some(&three.code), EventBody::Roster(roster(3))),
    ));
    let audits = |code: &str| store.audit(code).map(|a| a.len()).unwrap_or(0);
    let before = [audits(&one.code), audits(&two.code), audits(&three.code)];

    let mut mail = m.inbound(
        OFFICER,
        Some(&three.code),
        EventBody::Revoke(vec![
            Revocation {
                permit: format!("{}-0001", one.code),
                reason: "mất giấy".into(),
            },
            Revocation {
                permit: format!("{}-0002", two.code),
                reason: "nghỉ việc".into(),
            },
        ]),
    );
    let approve = Event {
        body: reply(
            token_for(&three, OFFICER),
            vec![Command::Approve(Rows::All)],
        ),
        ..mail.event.clone()
    };
    mail.also = vec![(Some(three.code.clone()), approve)];
    let (_, effects) = applied(run(&store, &config, &mail));
    assert!(!effects.is_empty());
    let read = |code: &str| {
        store
            .case(code)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{code} lost"))
    };
    let (one, two, three) = (read(&one.code), read(&two.code), read(&three.code));
    assert!(matches!(
        one.batches[0].rows[0].state,
        RowState::Revoked { .. }
    ));
    assert!(matches!(one.batches[0].rows[1].state, RowState::Issued(_)));
    assert!(matches!(
        two.batches[0].rows[1].state,
        RowState::Revoked { .. }
    ));
    assert!(matches!(two.batches[0].rows[0].state, RowState::Issued(_)));
    assert!(
        three.batches[0]
            .rows
            .iter()
            .all(|r| matches!(r.state, RowState::Approved { .. })),
        "{:?}",
        three.batches[0].rows
    );
    assert_eq!(
        [audits(&one.code), audits(&two.code), audits(&three.code)],
        [before[0] + 1, before[1] + 1, before[2] + 1]
    );
    // The revoked permits left the holder index.
    assert!(
        store
            .case_by_permit(&format!("{}-0001", one.code))
            .unwrap_or_default()
            .is_some()
    );
    // The same mail again: seen, nothing changes.
    assert!(matches!(
        run(&store, &config, &mail),
        Processed::AlreadySeen
    ));
    assert_eq!(audits(&three.code), before[2] + 1);

    // The ward's revocation list, from its index, is the one the cases give, and it
    // goes to the city once, numbered, until it changes or a day passes (SPEC §9).
    let ward = config
        .ward("hoankiem.tranhungdao")
        .unwrap_or_else(|| panic!("no ward"));
    let list = qrca::admin::feed::list(&store, &config, ward).unwrap_or_else(|e| panic!("{e}"));
    let from_cases =
        qrca::permit::issue::revocations(&store.cases().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(list, from_cases);
    let permits: Vec<&str> = list.revoked.iter().map(|r| r.permit.as_str()).collect();
    assert_eq!(permits.len(), 2, "{permits:?}");
    // Every ward sends its list, an empty one too (the city tells silent from quiet).
    let queued =
        qrca::admin::feed::queue_due(&store, &config, now()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(queued.len(), config.wards.len());
    let queued: Vec<_> = queued
        .into_iter()
        .filter(|q| q.ward == ward.code())
        .collect();
    assert_eq!((queued[0].sequence, queued[0].revoked), (1, 2));
    let entry = store
        .outbox()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|e| e.id == queued[0].outbox_id)
        .unwrap_or_else(|| panic!("not queued"));
    assert_eq!(entry.mail.template, Template::TrustRevocations);
    assert_eq!(entry.mail.to, vec![config.service.admin_email.clone()]);
    assert!(
        qrca::admin::feed::queue_due(&store, &config, now())
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    let tomorrow = now() + jiff::SignedDuration::from_hours(24);
    let again =
        qrca::admin::feed::queue_due(&store, &config, tomorrow).unwrap_or_else(|e| panic!("{e}"));
    let again: Vec<_> = again
        .into_iter()
        .filter(|q| q.ward == ward.code())
        .collect();
    assert_eq!((again[0].sequence, again[0].revoked), (2, 2));
}

/// The key-compromise drill's re-issue (issue 13): every permit still valid, not the
/// revoked one, by case, to whom the case's permits went; queued once however often
/// the drill runs; and rendered only under the new key.
#[test]
fn the_drill_reissues_each_case_s_valid_permits_once_under_the_new_key() {
    use qrca::admin::reissue;
    use qrca::outbound::{self, RenderCtx, Templates};
    use qrca::permit::issue::{self, Signer};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = world(dir.path());
    let store = Store::open(&config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    let mut m = Mailer {
        uid: 0,
        ward: "hoankiem.tranhungdao",
    };
    let one = issued_case(&store, &config, &mut m, "Công ty Một", 3);
    let two = issued_case(&store, &config, &mut m, "Công ty Hai", 1);
    let revoke = m.inbound(
        OFFICER,
        Some(&one.code),
        EventBody::Revoke(vec![Revocation {
            permit: format!("{}-0002", one.code),
            reason: "nghỉ việc".into(),
        }]),
    );
    applied(run(&store, &config, &revoke));
    let today = now()
        .to_zoned_datetime(config.service.timezone.clone())
        .date();
    let plans =
        reissue::plan(&store, "hoankiem.tranhungdao", today).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(String, Vec<String>, usize)> = plans
        .iter()
        .map(|p| (p.case.clone(), p.to.clone(), p.permits.len()))
        .collect();
    assert_eq!(
        got,
        vec![
            (one.code.clone(), vec![ORG.to_owned()], 2),
            (two.code.clone(), vec![ORG.to_owned()], 1)
        ]
    );
    // Long after every permit ended, nothing is left to re-issue.
    let later = today
        .checked_add(jiff::Span::new().days(400))
        .unwrap_or(today);
    assert!(
        reissue::plan(&store, "hoankiem.tranhungdao", later)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );

    let ward = config
        .ward("hoankiem.tranhungdao")
        .unwrap_or_else(|| panic!("no ward"));
    let old = Signer::load(ward).unwrap_or_else(|e| panic!("{e}"));
    let new = Signer::new("THD", ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
    let run_drill = |dry_run| {
        let mut out = Vec::new();
        let code = reissue::execute(
            &store,
            "hoankiem.tranhungdao",
            &old.kid,
            &new.kid,
            "mất máy",
            dry_run,
            today,
            now(),
            &mut out,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        (code, String::from_utf8_lossy(&out).into_owned())
    };
    let outbox = || store.outbox().map(|o| o.len()).unwrap_or(0);
    let before = outbox();
    let (code, said) = run_drill(true);
    assert_eq!(code, 0);
    assert!(
        said.contains("would re-issue 3 permits") && said.contains("in 2 mails"),
        "{said}"
    );
    assert_eq!(outbox(), before);
    let (code, said) = run_drill(false);
    assert_eq!(code, 0, "{said}");
    assert_eq!(outbox(), before + 2);
    let (code, said) = run_drill(false);
    assert_eq!(code, 1);
    assert!(said.contains("already re-issued"), "{said}");
    assert_eq!(outbox(), before + 2);

    // Rendered under the new key; held back while the daemon still has the old one.
    let entry = store
        .outbox()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|e| e.mail.template == Template::PermitsReissued && e.case == one.code)
        .unwrap_or_else(|| panic!("no re-issue mail"));
    let case = store
        .case(&one.code)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no case"));
    let templates = Templates::load(None).unwrap_or_else(|e| panic!("{e}"));
    let renderer = issue::renderer(&config).unwrap_or_else(|e| panic!("{e}"));
    let blobs = qrca::store::blobs::Blobs::new(&config.service.state_dir);
    let ctx = |signer| RenderCtx {
        config: &config,
        templates: &templates,
        permits: &renderer,
        signer: Some(signer),
        blobs: &blobs,
    };
    let account = "qrca.hoankiem.tranhungdao1@gmail.com";
    match outbound::render(&entry, Some(&case), account, &ctx(&old)) {
        Err(e) => assert!(e.is_retryable() && e.to_string().contains(&new.kid), "{e}"),
        Ok(_) => panic!("re-issued under the compromised key"),
    }
    let rendered = outbound::render(&entry, Some(&case), account, &ctx(&new))
        .unwrap_or_else(|e| panic!("{e}"));
    let message = String::from_utf8_lossy(&rendered[0].message).into_owned();
    for permit in ["0001", "0003"] {
        assert!(
            message.contains(&format!("{}-{permit}.pdf", one.code)),
            "{permit}"
        );
    }
    assert!(!message.contains(&format!("{}-0002.pdf", one.code)));
}

/// Issue 14: a standby that applies the active's journal, entry by entry, holds what
/// the active holds, byte for byte; an entry out of order or altered is refused and
/// changes nothing; after a takeover, serials and outbox ids go on from the active's.
#[test]
fn a_standby_that_applies_the_journal_holds_what_the_active_holds() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = world(dir.path());
    let active = Store::open(&config.service.state_dir).unwrap_or_else(|e| panic!("{e}"));
    active.set_journalling(true);
    let mut m = Mailer {
        uid: 0,
        ward: "hoankiem.tranhungdao",
    };
    let case = issued_case(&active, &config, &mut m, "Công ty A", 3);
    issued_case(&active, &config, &mut m, "Công ty B", 2);
    applied(run(
        &active,
        &config,
        &m.inbound(
            POLICE,
            None,
            EventBody::Revoke(vec![Revocation {
                permit: format!("{}-0002", case.code),
                reason: "mất thẻ".into(),
            }]),
        ),
    ));
    // The outbox's own writes: a part sent (with the quota), a notice.
    let first = active.outbox().unwrap_or_else(|e| panic!("{e}"))[0].clone();
    active
        .outbox_part_sent(first.id, &first.message_id, "a@b", 3, true, now())
        .unwrap_or_else(|e| panic!("{e}"));
    active
        .note_sent("a@b", now(), 2)
        .unwrap_or_else(|e| panic!("{e}"));

    let standby_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let standby = Store::open(standby_dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let entries = active
        .journal_unpublished()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(entries.len() >= 10, "{}", entries.len());
    let (last, _) = entries[entries.len() - 1].clone();
    assert_eq!(active.journal_seq().ok(), Some(last));
    // Out of order: refused, nothing applied.
    let gap = standby.apply_journal(entries[1].0, &entries[1].1);
    assert!(
        gap.as_ref()
            .is_err_and(|e| e.to_string().contains("entries 1 to 1 are missing")),
        "{gap:?}"
    );
    // Altered: refused.
    let mut bad = entries[0].1.clone();
    bad.truncate(bad.len() - 1);
    assert!(standby.apply_journal(entries[0].0, &bad).is_err());
    assert_eq!(standby.journal_seq().ok(), Some(0));
    for (seq, bytes) in &entries {
        standby
            .apply_journal(*seq, bytes)
            .unwrap_or_else(|e| panic!("entry {seq}: {e}"));
    }
    let a = active.contents().unwrap_or_else(|e| panic!("{e}"));
    let b = standby.contents().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.0, b.0);
    assert!(a.1 == b.1, "the standby differs from the active");
    // A snapshot of the active makes a new store the same, and a half-applied one
    // blocks entries until a whole one is applied.
    let (seq, snap) = active.snapshot().unwrap_or_else(|e| panic!("{e}"));
    let fresh_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fresh = Store::open(fresh_dir.path()).unwrap_or_else(|e| panic!("{e}"));
    fresh
        .apply_snapshot(seq, &snap)
        .unwrap_or_else(|e| panic!("{e}"));
    let c = fresh.contents().unwrap_or_else(|e| panic!("{e}"));
    assert!(c == a, "the snapshot's store differs from the active");
    assert!(fresh.apply_snapshot(seq, &snap[..snap.len() - 3]).is_err());
    // The same entry again is a gap, not a second application.
    assert!(standby.apply_journal(entries[0].0, &entries[0].1).is_err());
    // Published: the active forgets them.
    active
        .journal_published(last)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(active.journal_unpublished().is_ok_and(|v| v.is_empty()));

    // Takeover: the standby goes on where the active stopped.
    drop(active);
    standby.set_journalling(true);
    let ids_before: Vec<u64> = standby
        .outbox()
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|e| e.id)
        .collect();
    let next = issued_case(&standby, &config, &mut m, "Công ty C", 1);
    assert_eq!(next.code, "THD-T-0003", "serials go on");
    let new_ids: Vec<u64> = standby
        .outbox()
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|e| e.id)
        .filter(|id| !ids_before.contains(id))
        .collect();
    let top = ids_before.iter().max().copied().unwrap_or(0);
    assert!(!new_ids.is_empty() && new_ids.iter().all(|id| *id > top));
    assert_eq!(
        standby
            .journal_unpublished()
            .ok()
            .and_then(|v| v.first().map(|e| e.0)),
        Some(last + 1),
        "the new active's journal goes on from the old one's number"
    );
}
