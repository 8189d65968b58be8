//! The transition table: one row per transition of SPEC §2 and §3, kept by topic in
//! the files beside this one, and the test that runs every row. A row builds a case (or
//! none) and an event, and says whether the step refuses it or what it leaves behind:
//! the batch stages, the mails and whether the case changed.

use super::*;

mod auth;
mod open;
mod review;
mod revoke;
mod roster;
mod stamp;

/// What a row of the table expects.
enum Expect {
    Refused(RefusalReason),
    /// Accepted: the batch stages after the step, the mails (template, first recipient),
    /// and whether the case changed (one audit entry) or not (none).
    Accepted {
        stages: Vec<BatchStage>,
        mails: Vec<(Template, &'static str)>,
        changed: bool,
    },
}

use BatchStage::{Closed, Review, Stamp};
use Template as M;

struct Case_ {
    name: &'static str,
    /// Builds the case (or none) and the event to apply to it.
    setup: fn(&mut World) -> (Option<Case>, Event),
    expect: Expect,
}

fn accepted(stages: &[BatchStage], mails: &[(Template, &'static str)], changed: bool) -> Expect {
    Expect::Accepted {
        stages: stages.to_vec(),
        mails: mails.to_vec(),
        changed,
    }
}

/// Every row of the table, topic by topic.
fn table() -> Vec<Case_> {
    [
        open::organisations(),
        open::people(),
        open::openings_that_go_wrong(),
        roster::rosters(),
        roster::later_rosters(),
        review::review_decisions(),
        review::review_ends(),
        review::review_problems(),
        review::review_tokens(),
        review::review_refusals(),
        review::review_help(),
        stamp::stamping(),
        stamp::stamping_problems(),
        stamp::permits_for_individuals(),
        revoke::revocation_and_status(),
        auth::spoofed_staff(),
        auth::forged_mail(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `ev` as a mail whose trusted server did not vouch for its From address.
fn forged(mut ev: Event) -> Event {
    ev.auth = AuthEvidence::Fail {
        detail: "mx.google.com said dmarc=fail".into(),
    };
    ev
}

/// `ev` as a mail read on an account whose `trusted_authserv_ids` is empty, in a ward
/// whose other accounts trust a server.
fn not_required(mut ev: Event) -> Event {
    ev.auth = AuthEvidence::NotRequired;
    ev
}

#[test]
fn every_transition_does_what_the_table_says() {
    let table = table();
    assert!(table.len() >= 40, "the table lost rows");
    let mut failures = Vec::new();
    for row in table {
        let mut w = World::default();
        let (case, event) = (row.setup)(&mut w);
        let out = w.step(case.as_ref(), &event);
        match (&row.expect, out) {
            (Expect::Refused(want), Err(got)) => {
                assert_eq!(*want, got.reason, "{}: {}", row.name, got.detail);
                assert!(
                    !got.detail.is_empty(),
                    "{}: a refusal needs a reason",
                    row.name
                );
            }
            (Expect::Refused(want), Ok((_, effects))) => {
                panic!(
                    "{}: expected refusal {want:?}, got {:?}",
                    row.name,
                    mails(&effects)
                )
            }
            (Expect::Accepted { .. }, Err(r)) => panic!("{}: refused: {r}", row.name),
            (
                Expect::Accepted {
                    stages: want_stages,
                    mails: want_mails,
                    changed,
                },
                Ok((new, effects)),
            ) => {
                assert_eq!(&stages(&new), want_stages, "{}: stages", row.name);
                let got: Vec<(Template, String)> = mails(&effects)
                    .into_iter()
                    .map(|(t, to)| (t, to.first().cloned().unwrap_or_default()))
                    .collect();
                let want: Vec<(Template, String)> = want_mails
                    .iter()
                    .map(|(t, to)| (*t, to.to_string()))
                    .collect();
                if got != want {
                    failures.push(format!("{}: mails {got:?}, want {want:?}", row.name));
                    continue;
                }
                assert_eq!(
                    audits(&effects),
                    usize::from(*changed),
                    "{}: audit entries",
                    row.name
                );
                if !changed {
                    assert_eq!(
                        case.as_ref(),
                        Some(&new),
                        "{}: the case must not change",
                        row.name
                    );
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
