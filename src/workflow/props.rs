//! Property tests: random sequences of mails against a case, from every kind of sender,
//! with live, dead, foreign and missing tokens, must never break the rules of SPEC §3.

use super::fixtures::*;
use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const SENDERS: [&str; 6] = [OFFICER, OFFICER2, POLICE, CSKV, ORG, STRANGER];
/// A sender index meaning "whoever holds the first live token": the path that moves a case.
const DECIDER: usize = SENDERS.len();

fn sender(case: &Case, who: usize) -> &str {
    match SENDERS.get(who) {
        Some(s) => s,
        None => case
            .tokens
            .iter()
            .find(|g| g.live)
            .map_or(OFFICER, |g| g.addressee.as_str()),
    }
}

#[derive(Debug, Clone)]
enum Action {
    Roster {
        n: u32,
        id_base: u64,
        invalid: bool,
    },
    Reply {
        who: usize,
        /// `Some(None)`: the live token addressed to the sender, if any; `Some(Some(i))`:
        /// index into every token the case ever issued (past the end: a forged token);
        /// `None`: no token at all.
        token: Option<Option<usize>>,
        commands: Vec<Command>,
        auth_ok: bool,
        unreadable: bool,
        /// Turn approvals into stamps (and back) to fit the token's stage, as a real
        /// officer or police would; otherwise send the commands as generated.
        fit: bool,
    },
    Revoke {
        who: usize,
        holder: u32,
        reason: bool,
    },
    Status {
        who: usize,
    },
    Days(i64),
}

fn rows_strategy() -> impl Strategy<Value = Rows> {
    prop_oneof![
        2 => Just(Rows::All),
        3 => prop::collection::vec(1u32..7, 1..4).prop_map(Rows::List),
    ]
}

fn command_strategy() -> impl Strategy<Value = Command> {
    prop_oneof![
        rows_strategy().prop_map(Command::Approve),
        (rows_strategy(), prop::bool::weighted(0.9)).prop_map(|(rows, r)| Command::Reject {
            rows,
            reason: if r { "lý do".into() } else { String::new() },
        }),
        rows_strategy().prop_map(Command::Stamp),
    ]
}

/// Mostly the people who decide, sometimes anyone.
fn sender_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![2 => Just(0usize), 1 => Just(1usize), 2 => Just(2usize), 1 => 3usize..6, 4 => Just(DECIDER)]
}

fn action_strategy() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (1u32..7, 0u64..3, prop::bool::weighted(0.2))
            .prop_map(|(n, b, invalid)| Action::Roster { n, id_base: b * 3, invalid }),
        8 => (
            sender_strategy(),
            prop::option::weighted(0.9, prop::option::weighted(0.25, 0usize..8)),
            prop_oneof![
                1 => Just(Vec::new()),
                6 => prop::collection::vec(command_strategy(), 1..3),
            ],
            prop::bool::weighted(0.9),
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.7),
        )
            .prop_map(|(who, token, commands, auth_ok, unreadable, fit)| Action::Reply {
                who,
                token,
                commands,
                auth_ok,
                unreadable,
                fit,
            }),
        1 => (0usize..6, 1u32..10, prop::bool::weighted(0.9))
            .prop_map(|(who, holder, reason)| Action::Revoke { who, holder, reason }),
        1 => (0usize..6).prop_map(|who| Action::Status { who }),
        1 => (0i64..20).prop_map(Action::Days),
    ]
}

fn opening_strategy() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::T), Just(Kind::C), Just(Kind::H)]
}

fn event_for(w: &mut World, case: &Case, action: &Action) -> Option<Event> {
    let ev = match action {
        Action::Roster {
            n,
            id_base,
            invalid,
        } => {
            let sender = if case.kind == Kind::T { ORG } else { CSKV };
            let sub = if *invalid {
                invalid_submission()
            } else {
                submission(*n, *id_base)
            };
            w.event(sender, EventBody::Roster(sub))
        }
        Action::Reply {
            who,
            token,
            commands,
            auth_ok,
            unreadable,
            fit,
        } => {
            let token = pick_token(case, *who, *token);
            let commands = fit_commands(case, token.as_ref(), commands, *fit);
            let mut ev = w.event(
                sender(case, *who),
                EventBody::Reply {
                    token,
                    commands,
                    unreadable: if *unreadable {
                        vec!["???".into()]
                    } else {
                        vec![]
                    },
                },
            );
            if !auth_ok {
                ev.auth = AuthEvidence::Fail {
                    detail: "dmarc=fail".into(),
                };
            }
            ev
        }
        Action::Revoke {
            who,
            holder,
            reason,
        } => w.event(
            SENDERS[*who],
            EventBody::Revoke(vec![Revocation {
                permit: permit_id(&case.code, *holder),
                reason: if *reason {
                    "hết nhu cầu".into()
                } else {
                    String::new()
                },
            }]),
        ),
        Action::Status { who } => w.event(SENDERS[*who], EventBody::Status),
        Action::Days(n) => {
            w.today = w.today.checked_add(jiff::Span::new().days(*n)).ok()?;
            w.now = w.now.checked_add(jiff::Span::new().hours(24 * n)).ok()?;
            return None;
        }
    };
    Some(ev)
}

/// The token an `Action::Reply` names: none, the sender's live one, or one of the
/// case's by index (past the end: a forged one).
fn pick_token(case: &Case, who: usize, token: Option<Option<usize>>) -> Option<ReplyToken> {
    match token {
        None => None,
        Some(None) => live_token(case, sender(case, who)),
        Some(Some(i)) => Some(
            case.tokens
                .get(i)
                .map(|g| g.token.clone())
                .unwrap_or_else(|| ReplyToken(format!("forged{i:020}"))),
        ),
    }
}

/// With `fit`, approvals become stamps on a stamp token and stamps approvals on a
/// review token; otherwise the commands as generated.
fn fit_commands(
    case: &Case,
    token: Option<&ReplyToken>,
    commands: &[Command],
    fit: bool,
) -> Vec<Command> {
    let stage = token
        .and_then(|t| case.tokens.iter().find(|g| g.token == *t))
        .map(|g| g.stage);
    commands
        .iter()
        .map(|c| match (c, stage, fit) {
            (Command::Approve(rows), Some(TokenStage::Stamp), true) => Command::Stamp(rows.clone()),
            (Command::Stamp(rows), Some(TokenStage::Review), true) => {
                Command::Approve(rows.clone())
            }
            _ => c.clone(),
        })
        .collect()
}

/// Rules that hold of any case at any time.
fn check_case(case: &Case, today: jiff::civil::Date) -> Result<(), TestCaseError> {
    let mut ids = BTreeSet::new();
    let mut valid_holders: BTreeMap<&str, u32> = BTreeMap::new();
    for batch in &case.batches {
        for row in &batch.rows {
            if let RowState::Issued(p) | RowState::Revoked { permit: p, .. } = &row.state {
                prop_assert!(ids.insert(p.id.clone()), "permit {} issued twice", p.id);
                prop_assert_eq!(case_of_permit(&p.id), Some(case.code.as_str()));
            }
            if let RowState::Issued(p) = &row.state
                && p.valid_until >= today
                && let Some(id) = row.person.id_number.as_deref()
            {
                *valid_holders.entry(id).or_default() += 1;
            }
        }
        // Pending rows exist only under review; approved rows wait only for a stamp.
        for row in &batch.rows {
            match row.state {
                RowState::Pending => prop_assert_eq!(batch.stage, BatchStage::Review),
                RowState::Approved { .. } => prop_assert_ne!(batch.stage, BatchStage::Closed),
                _ => {}
            }
        }
    }
    prop_assert!(ids.len() as u32 <= case.last_holder);
    for (id, n) in valid_holders {
        prop_assert!(n <= 1, "{id} holds {n} valid permits on one case");
    }
    // A live token always belongs to its batch's current stage.
    for g in case.tokens.iter().filter(|g| g.live) {
        let batch = case.batches.iter().find(|b| b.no == g.batch);
        let stage = batch.map(|b| b.stage);
        let want = match g.stage {
            TokenStage::Review => BatchStage::Review,
            TokenStage::Stamp => BatchStage::Stamp,
        };
        prop_assert_eq!(stage, Some(want), "live token of a closed stage");
    }
    Ok(())
}

/// Every token of a closed stage is refused, whoever uses it and whatever it says.
fn check_dead_tokens(w: &mut World, case: &Case) -> Result<(), TestCaseError> {
    let dead: Vec<TokenGrant> = case.tokens.iter().filter(|g| !g.live).cloned().collect();
    for g in dead {
        for commands in [
            vec![Command::Approve(Rows::All)],
            vec![Command::Stamp(Rows::All)],
            vec![],
        ] {
            let ev = w.event(
                &g.addressee,
                EventBody::Reply {
                    token: Some(g.token.clone()),
                    commands,
                    unreadable: vec![],
                },
            );
            let out = w.step(Some(case), &ev);
            prop_assert!(
                matches!(&out, Err(r) if r.reason == RefusalReason::DeadToken),
                "dead token accepted: {:?}",
                out.map(|(_, e)| mails(&e))
            );
        }
    }
    Ok(())
}

/// Plays the actions, checking every rule; returns how many permits were issued, so
/// that a test can show the generator reaches the interesting states.
fn play(kind: Kind, actions: &[Action]) -> Result<usize, TestCaseError> {
    let mut w = World::default();
    let mut case = open_case(&mut w, kind);
    let mut seen = Seen::default();
    for action in actions {
        let Some(ev) = event_for(&mut w, &case, action) else {
            continue;
        };
        match w.step(Some(&case), &ev) {
            Err(refusal) => {
                prop_assert!(!refusal.detail.is_empty());
                // The case we hold is untouched: the next step starts from it.
            }
            Ok((new, effects)) => {
                seen.accepted(&case, &new, &effects)?;
                case = new;
            }
        }
        check_case(&case, w.today)?;
    }
    prop_assert_eq!(seen.audit_entries, seen.accepted_changes);
    check_dead_tokens(&mut w, &case)?;
    Ok(seen.issued.len())
}

/// The case a sequence starts from: an organisation's, or one opened by a roster of
/// four.
fn open_case(w: &mut World, kind: Kind) -> Case {
    match kind {
        Kind::T => w.open_t(),
        Kind::C | Kind::H => {
            w.ok(
                None,
                CSKV,
                EventBody::RegisterRoster {
                    kind,
                    submission: submission(4, 0),
                },
            )
            .0
        }
    }
}

/// What a sequence has done so far, for the rules that span steps.
#[derive(Default)]
struct Seen {
    // Rows that were ever rejected or refused, and the permit each issued row got.
    ever_refused: BTreeSet<(u32, u32)>,
    issued: BTreeMap<(u32, u32), std::sync::Arc<str>>,
    accepted_changes: usize,
    audit_entries: usize,
}

impl Seen {
    /// Checks an accepted step from `case` to `new`: one audit entry exactly when the
    /// case changed, and the permits announced are exactly the rows newly issued.
    fn accepted(
        &mut self,
        case: &Case,
        new: &Case,
        effects: &[Effect],
    ) -> Result<(), TestCaseError> {
        let audits = audits(effects);
        prop_assert!(audits <= 1, "{audits} audit entries for one event");
        if audits == 0 {
            prop_assert_eq!(new, case, "changed without an audit entry");
        } else {
            prop_assert_ne!(new, case, "audit entry without a change");
            self.accepted_changes += 1;
        }
        self.audit_entries += audits;
        // Permits announced are exactly the rows that became issued.
        let announced = announced_permits(effects);
        let fresh = self.rows(new)?;
        prop_assert_eq!(announced, fresh);
        Ok(())
    }

    /// Follows every row of `new`: a refused row is never issued, an issued row keeps
    /// its permit and never goes back. Returns the permits issued by this step.
    fn rows(&mut self, new: &Case) -> Result<BTreeSet<std::sync::Arc<str>>, TestCaseError> {
        let mut fresh = BTreeSet::new();
        for b in &new.batches {
            for r in &b.rows {
                let key = (b.no, r.person.stt);
                match &r.state {
                    RowState::Rejected { .. } | RowState::Refused { .. } => {
                        self.ever_refused.insert(key);
                    }
                    RowState::Issued(p) | RowState::Revoked { permit: p, .. } => {
                        prop_assert!(
                            !self.ever_refused.contains(&key),
                            "a refused row was issued"
                        );
                        match self.issued.get(&key) {
                            Some(old) => {
                                prop_assert_eq!(old, &p.id, "a row was issued twice")
                            }
                            None => {
                                self.issued.insert(key, p.id.clone());
                                fresh.insert(p.id.clone());
                            }
                        }
                    }
                    _ => {
                        prop_assert!(!self.issued.contains_key(&key), "an issued row went back")
                    }
                }
            }
        }
        Ok(fresh)
    }
}

/// The permits a step's effects announce for signing.
fn announced_permits(effects: &[Effect]) -> BTreeSet<std::sync::Arc<str>> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::IssuePermits { rows, .. } => Some(rows.iter().map(|r| r.permit.clone())),
            _ => None,
        })
        .flatten()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn no_event_sequence_breaks_the_rules(
        kind in opening_strategy(),
        actions in prop::collection::vec(action_strategy(), 1..40),
    ) {
        play(kind, &actions)?;
    }
}

/// Guards against a vacuous property: the random sequences must often get as far as
/// issuing permits, or the rules above were never tested where they matter.
#[test]
fn random_sequences_reach_issued_permits() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (
        opening_strategy(),
        prop::collection::vec(action_strategy(), 1..40),
    );
    let mut reached = 0;
    for _ in 0..200 {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            panic!("strategy failed")
        };
        let (kind, actions) = tree.current();
        match play(kind, &actions) {
            Ok(n) if n > 0 => reached += 1,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        reached >= 40,
        "only {reached} of 200 sequences issued a permit"
    );
}
