//! Tests of the core: the transition table (`table`, one row per transition of SPEC §2
//! and §3) and, here, the tests that follow a case through several steps or look
//! closer at one.

use super::fixtures::*;
use super::step::fmt_rows;
use super::*;
use jiff::civil::date;
use std::sync::Arc;

mod table;

fn reply_ev(
    w: &mut World,
    case: &Case,
    sender: &str,
    token_of: &str,
    commands: Vec<Command>,
) -> Event {
    let token = live_token(case, token_of);
    w.event(
        sender,
        EventBody::Reply {
            token,
            commands,
            unreadable: vec![],
        },
    )
}

fn reject(rows: Rows, reason: &str) -> Command {
    Command::Reject {
        rows,
        reason: reason.into(),
    }
}

#[test]
fn opening_numbers_cases_per_ward_and_kind() {
    let mut w = World {
        serial: 7,
        ..World::default()
    };
    let case = w.open_t();
    assert_eq!(case.code, "THD-T-0007");
    assert_eq!(case.kind, Kind::T);
    assert_eq!(case.opened_by, OFFICER);
    // Registered by an officer: every area police of the ward is kept informed.
    assert_eq!(case.area_police, vec![CSKV.to_string(), CSKV2.to_string()]);
    let (c, _) = w.ok(
        None,
        CSKV2,
        EventBody::RegisterRoster {
            kind: Kind::H,
            submission: submission(2, 0),
        },
    );
    assert_eq!(c.code, "THD-H-0008");
    assert_eq!(c.area_police, vec![CSKV2.to_string()]);
}

#[test]
fn confirmation_goes_to_the_organisation_cc_the_area_police() {
    let mut w = World::default();
    let ev = w.event(CSKV, EventBody::RegisterOrganisation(organisation()));
    let Ok((_, effects)) = w.step(None, &ev) else {
        panic!("refused")
    };
    let Some(Effect::SendMail(m)) = effects.first() else {
        panic!("no mail")
    };
    assert_eq!(m.to, vec![ORG.to_string()]);
    assert_eq!(m.cc, vec![CSKV.to_string()]);
    assert_eq!(m.data.case, "THD-T-0001");
    assert_eq!(
        m.data.organisation.as_deref(),
        Some("Công ty TNHH Thép Hoà Phát Hà Nội")
    );
}

#[test]
fn review_requests_carry_one_token_per_officer_and_the_roster() {
    let mut w = World::default();
    let case = w.t_review(5);
    let grants: Vec<&TokenGrant> = case.tokens.iter().filter(|g| g.live).collect();
    assert_eq!(grants.len(), 2);
    assert!(
        grants
            .iter()
            .all(|g| g.stage == TokenStage::Review && g.batch == 1)
    );
    assert_ne!(grants[0].token, grants[1].token);
    assert_eq!(grants[0].addressee, OFFICER);
    assert_eq!(grants[1].addressee, OFFICER2);
}

#[test]
fn permits_are_numbered_per_case_and_never_reused_across_batches() {
    let mut w = World::default();
    let case = w.t_closed(3);
    let ids: Vec<String> = case.batches[0]
        .rows
        .iter()
        .filter_map(|r| match &r.state {
            RowState::Issued(p) => Some(p.id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        ids,
        ["THD-T-0001-0001", "THD-T-0001-0002", "THD-T-0001-0003"]
    );
    let Some(RowState::Issued(p)) = case.batches[0].rows.first().map(|r| &r.state) else {
        panic!("row 1 not issued")
    };
    assert_eq!(p.valid_from, date(2021, 9, 8));
    assert_eq!(p.valid_until, date(2021, 9, 21));
    assert_eq!(&*p.stamped_by, POLICE);

    // Revoke one, then a new batch with that person and two new ones.
    let (case, _) = w.ok(
        Some(&case),
        OFFICER,
        EventBody::Revoke(vec![Revocation {
            permit: "THD-T-0001-0002".into(),
            reason: "nghỉ việc".into(),
        }]),
    );
    let mut sub = submission(2, 100);
    sub.roster.rows.push(Arc::new(Row {
        stt: 3,
        ..rows(2, 0)[1].clone()
    }));
    let (case, _) = w.ok(Some(&case), ORG, EventBody::Roster(sub));
    let (case, _) = match w.reply(&case, OFFICER, vec![Command::Approve(Rows::All)]) {
        Ok(out) => out,
        Err(r) => panic!("{r}"),
    };
    let (case, effects) = match w.reply(&case, POLICE, vec![Command::Stamp(Rows::All)]) {
        Ok(out) => out,
        Err(r) => panic!("{r}"),
    };
    let issued: Vec<String> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::IssuePermits { rows, .. } => Some(rows.iter().map(|r| r.permit.to_string())),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        issued,
        ["THD-T-0001-0004", "THD-T-0001-0005", "THD-T-0001-0006"]
    );
    assert_eq!(case.last_holder, 6);
}

#[test]
fn a_permit_never_lasts_longer_than_the_wards_maximum() {
    // Row 1 asks for a year, row 2 for the maximum to the day, row 3 for nothing
    // (the ward's default); the ward allows 30 days from 2021-09-08.
    let mut w = World::default();
    let case = w.open_t();
    let mut sub = submission(3, 0);
    let asks = [Some(date(2022, 9, 7)), Some(date(2021, 10, 7)), None];
    for (row, until) in sub.roster.rows.iter_mut().zip(asks) {
        Arc::make_mut(row).valid_until = until;
    }
    let (case, _) = w.ok(Some(&case), ORG, EventBody::Roster(sub));
    let case = match w.reply(&case, OFFICER, vec![Command::Approve(Rows::All)]) {
        Ok((c, _)) => c,
        Err(r) => panic!("{r}"),
    };
    let case = match w.reply(&case, POLICE, vec![Command::Stamp(Rows::All)]) {
        Ok((c, _)) => c,
        Err(r) => panic!("{r}"),
    };
    let until: Vec<Date> = case.batches[0]
        .rows
        .iter()
        .filter_map(|r| match &r.state {
            RowState::Issued(p) => Some(p.valid_until),
            _ => None,
        })
        .collect();
    assert_eq!(
        until,
        [date(2021, 10, 7), date(2021, 10, 7), date(2021, 9, 21)]
    );
}

#[test]
fn a_row_that_ends_before_the_stamp_is_answered_not_issued() {
    // The roster's reader judged the row on the day it arrived (8 September, ending on
    // the 10th: fine); the police stamp on the 11th, when the same rule finds nothing
    // left. The stamp is answered with the row and the dates; nothing is issued.
    let mut w = World::default();
    let case = w.open_t();
    let mut sub = submission(2, 0);
    Arc::make_mut(&mut sub.roster.rows[0]).valid_until = Some(date(2021, 9, 10));
    let (case, _) = w.ok(Some(&case), ORG, EventBody::Roster(sub));
    let case = match w.reply(&case, OFFICER, vec![Command::Approve(Rows::All)]) {
        Ok((c, _)) => c,
        Err(r) => panic!("{r}"),
    };
    w.today = date(2021, 9, 11);
    let (after, effects) = match w.reply(&case, POLICE, vec![Command::Stamp(Rows::All)]) {
        Ok(out) => out,
        Err(r) => panic!("{r}"),
    };
    assert_eq!(after.batches, case.batches, "the case stays as it was");
    let problems: Vec<&ReplyProblem> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::SendMail(m) => Some(m.data.problems.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        problems,
        [&ReplyProblem::BadValidity {
            stt: 1,
            from: date(2021, 9, 11),
            until: date(2021, 9, 10),
        }]
    );
}

#[test]
fn a_rows_validity_is_one_rule_on_arrival_and_at_stamping() {
    let rules = PermitRules {
        validity: Validity::Days(14),
        max_valid_days: 30,
    };
    let day = date(2021, 9, 8);
    let v = |from, until| rules.row_validity(from, until, day);
    // A start already past counts from the day; no end is the ward's 14 days.
    let open = v(Some(date(2021, 9, 1)), None);
    assert_eq!(
        (open.from, open.until, open.problem),
        (day, date(2021, 9, 21), None)
    );
    // The last day may be the day itself.
    assert_eq!(v(None, Some(day)).problem, None);
    let ended = v(None, Some(date(2021, 9, 7)));
    assert_eq!(ended.problem, Some(ValidityProblem::Ended));
    assert!(ended.is_empty());
    assert_eq!(
        v(Some(date(2021, 9, 20)), Some(date(2021, 9, 15))).problem,
        Some(ValidityProblem::EndsBeforeStart)
    );
    // Too long is a problem, but not an empty permit: stamping cuts it to 30 days.
    let long = v(None, Some(date(2021, 10, 8)));
    assert_eq!(long.problem, Some(ValidityProblem::TooLong { days: 31 }));
    assert!(!long.is_empty());
    assert_eq!(long.until, date(2021, 10, 7));
    assert_eq!(v(None, Some(date(2021, 10, 7))).problem, None);
}

#[test]
fn a_person_holding_a_valid_permit_is_reported_not_issued_twice() {
    let mut w = World::default();
    let case = w.t_closed(2);
    let mut sub = submission(1, 500);
    sub.roster.rows.push(Arc::new(Row {
        stt: 2,
        ..rows(1, 0)[0].clone()
    }));
    let (case, effects) = w.ok(Some(&case), ORG, EventBody::Roster(sub));
    assert_eq!(
        case.batches[1].rows[1].state,
        RowState::AlreadyHolds {
            permit: "THD-T-0001-0001".into()
        }
    );
    let accepted = effects.iter().find_map(|e| match e {
        Effect::SendMail(m) if m.template == Template::RosterAccepted => Some(m),
        _ => None,
    });
    assert_eq!(
        accepted.map(|m| m.data.duplicates.iter().map(|r| r.stt).collect::<Vec<_>>()),
        Some(vec![2])
    );
    // The review asks only about the new person.
    let review = effects.iter().find_map(|e| match e {
        Effect::SendMail(m) if m.template == Template::ReviewRequest => Some(m),
        _ => None,
    });
    assert_eq!(
        review.and_then(|m| m.data.row_list.clone()),
        Some("1".into())
    );

    // Once that permit has expired, the same person may apply again.
    w.today = date(2021, 10, 1);
    let mut sub = submission(0, 0);
    sub.roster.rows.push(Arc::new(rows(1, 0)[0].clone()));
    let (case, _) = w.ok(Some(&case), ORG, EventBody::Roster(sub));
    assert_eq!(case.batches[2].rows[0].state, RowState::Pending);
}

#[test]
fn a_person_in_an_open_batch_is_reported_in_the_next() {
    let mut w = World::default();
    let case = w.t_review(2);
    let (case, _) = w.ok(Some(&case), ORG, EventBody::Roster(submission(2, 0)));
    assert_eq!(
        case.batches[1].rows[0].state,
        RowState::InAnotherBatch { batch: 1, stt: 1 }
    );
    assert_eq!(case.batches[1].stage, BatchStage::Closed);
}

#[test]
fn decisions_across_several_replies_and_officers() {
    let mut w = World::default();
    let case = w.t_review(6);
    let (case, e1) = w
        .reply(
            &case,
            OFFICER,
            vec![Command::Approve(Rows::List(vec![1, 2]))],
        )
        .unwrap_or_else(|r| panic!("{r}"));
    let ack = e1.iter().find_map(|e| match e {
        Effect::SendMail(m) if m.template == Template::DecisionRecorded => Some(m),
        _ => None,
    });
    assert_eq!(
        ack.and_then(|m| m.data.undecided.clone()),
        Some("3-6".into())
    );
    assert!(
        ack.is_some_and(|m| m.reply_token.is_some()),
        "the ack keeps the token while rows remain"
    );
    let (case, _) = w
        .reply(
            &case,
            OFFICER2,
            vec![reject(Rows::List(vec![3, 4]), "trùng lặp")],
        )
        .unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(stages(&case), [BatchStage::Review]);
    let (case, effects) = w
        .reply(&case, OFFICER, vec![Command::Approve(Rows::All)])
        .unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(stages(&case), [BatchStage::Stamp]);
    let stamp = effects.iter().find_map(|e| match e {
        Effect::SendMail(m) if m.template == Template::StampRequest => Some(m),
        _ => None,
    });
    assert_eq!(
        stamp.and_then(|m| m.data.row_list.clone()),
        Some("1-2, 5-6".into())
    );
    // Every review token is dead, for both officers.
    assert!(
        case.tokens
            .iter()
            .filter(|g| g.stage == TokenStage::Review)
            .all(|g| !g.live)
    );
    let Some(RowState::Rejected { by, reason, .. }) = case.batches[0].rows.get(2).map(|r| &r.state)
    else {
        panic!("row 3 not rejected")
    };
    assert_eq!((&**by, &**reason), (OFFICER2, "trùng lặp"));
}

#[test]
fn audit_entries_name_sender_message_and_evidence() {
    let mut w = World::default();
    let case = w.t_review(5);
    let ev = reply_ev(
        &mut w,
        &case,
        OFFICER,
        OFFICER,
        vec![
            Command::Approve(Rows::List(vec![1, 2, 3, 5])),
            reject(Rows::List(vec![4]), "thiếu giấy tờ"),
        ],
    );
    let (_, effects) = w.step(Some(&case), &ev).unwrap_or_else(|r| panic!("{r}"));
    let audit: Vec<&AuditEntry> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audit(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].sender, OFFICER);
    assert_eq!(audit[0].message_id, ev.message_id);
    assert_eq!(audit[0].auth_evidence, pass());
    assert!(
        audit[0].decision.contains("approved rows 1-3, 5"),
        "{}",
        audit[0].decision
    );
    assert!(
        audit[0].decision.contains("rejected row 4: thiếu giấy tờ"),
        "{}",
        audit[0].decision
    );
}

#[test]
fn authentication_is_not_required_when_the_config_trusts_no_server() {
    let mut w = World::default();
    w.ward.require_auth = false;
    let case = w.t_review(2);
    let mut ev = reply_ev(
        &mut w,
        &case,
        OFFICER,
        OFFICER,
        vec![Command::Approve(Rows::All)],
    );
    ev.auth = AuthEvidence::NotRequired;
    assert!(w.step(Some(&case), &ev).is_ok());
}

#[test]
fn row_lists_print_as_officers_write_them() {
    assert_eq!(fmt_rows(&[]), "");
    assert_eq!(fmt_rows(&[3]), "3");
    assert_eq!(fmt_rows(&[1, 2, 3, 4, 5, 8, 10, 11, 12]), "1-5, 8, 10-12");
    assert_eq!(fmt_rows(&[5, 1, 2, 2]), "1-2, 5");
}

#[test]
fn permit_ids_name_their_case() {
    assert_eq!(permit_id("THD-T-0001", 7), "THD-T-0001-0007");
    assert_eq!(case_of_permit("THD-T-0001-0007"), Some("THD-T-0001"));
    assert_eq!(case_of_permit("THD-T-0001-12345"), Some("THD-T-0001"));
    assert_eq!(case_of_permit("THD-T-0001"), None);
    assert_eq!(case_of_permit("THD-X-0001-0001"), None);
    assert_eq!(case_of_permit("nonsense"), None);
    assert_eq!(case_of_permit("THD-T-0001-00a7"), None);
}

#[test]
fn a_reply_not_applied_names_every_problem() {
    let mut w = World::default();
    let case = w.t_review(5);
    let (case, _) = w
        .reply(&case, OFFICER, vec![reject(Rows::List(vec![2]), "trùng")])
        .unwrap_or_else(|r| panic!("{r}"));
    let (after, effects) = w
        .reply(
            &case,
            OFFICER,
            vec![
                Command::Approve(Rows::List(vec![1, 2, 99])),
                Command::Stamp(Rows::All),
                reject(Rows::List(vec![3]), ""),
            ],
        )
        .unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(after, case);
    let Some(Effect::SendMail(m)) = effects.first() else {
        panic!("no answer")
    };
    assert_eq!(m.template, Template::ReplyNotApplied);
    assert!(
        m.reply_token.is_some(),
        "the answer keeps the token for a corrected reply"
    );
    assert_eq!(
        m.data.problems,
        [
            ReplyProblem::RowNotOpen {
                stt: 2,
                status: RowStatus::Rejected
            },
            ReplyProblem::NoSuchRow { stt: 99, rows: 5 },
            ReplyProblem::WrongStage {
                command: CommandWord::Stamp,
                stage: TokenStage::Review
            },
            ReplyProblem::ReasonMissing {
                command: CommandWord::Reject
            },
        ]
    );
    assert_eq!(m.data.undecided.as_deref(), Some("1, 3-5"));
}

#[test]
fn an_answer_lists_at_most_a_hundred_problems_and_counts_the_rest() {
    let mut w = World::default();
    let case = w.t_closed(2);
    let list: Vec<Revocation> = (1..=5_000)
        .map(|n| Revocation {
            permit: format!("THD-T-0009-{n:04}"),
            reason: "giả".into(),
        })
        .collect();
    let ev = w.event(POLICE, EventBody::Revoke(list));
    let (after, effects) = w.step(Some(&case), &ev).unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(after, case);
    let Some(Effect::SendMail(m)) = effects.first() else {
        panic!("no answer")
    };
    assert_eq!(m.template, Template::ReplyNotApplied);
    assert_eq!(m.data.problems.len(), MAX_PROBLEMS_SHOWN + 1);
    assert_eq!(
        m.data.problems[0],
        ReplyProblem::PermitNotOnCase {
            permit: "THD-T-0009-0001".into()
        }
    );
    assert_eq!(
        m.data.problems.last(),
        Some(&ReplyProblem::More { count: 4_900 })
    );
    // A hundred problems or fewer: every one listed, nothing added.
    assert_eq!(
        capped_problems(vec![ReplyProblem::NoPermitNamed; 100]).len(),
        100
    );
}

#[test]
fn a_person_named_twice_in_one_roster_is_decided_once() {
    let mut w = World::default();
    let case = w.open_t();
    let mut sub = submission(2, 0);
    sub.roster.rows.push(Arc::new(Row {
        stt: 3,
        ..rows(1, 0)[0].clone()
    }));
    let (case, _) = w.ok(Some(&case), ORG, EventBody::Roster(sub));
    assert_eq!(
        case.batches[0].rows[2].state,
        RowState::InAnotherBatch { batch: 1, stt: 1 }
    );
    let (case, _) = w
        .reply(&case, OFFICER, vec![Command::Approve(Rows::All)])
        .unwrap_or_else(|r| panic!("{r}"));
    let (case, _) = w
        .reply(&case, POLICE, vec![Command::Stamp(Rows::All)])
        .unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(case.last_holder, 2, "two people, two permits");
}
