//! Table rows for the police's stamp: permits issued and sent, rows refused, what the
//! police may not do, and individuals' own permits.

use super::*;

/// The police stamp rows, all or some, or refuse one with a reason.
pub(super) fn stamping() -> Vec<Case_> {
    vec![
        Case_ {
            name: "the police stamp every approved row: permits go out, the batch closes",
            setup: |w| {
                let case = w.t_stamp(4, &[1, 2, 3]);
                let ev = reply_ev(w, &case, POLICE, POLICE, vec![Command::Stamp(Rows::All)]);
                (Some(case), ev)
            },
            expect: accepted(
                &[Closed],
                &[(M::DecisionRecorded, POLICE), (M::PermitsIssued, ORG)],
                true,
            ),
        },
        Case_ {
            name: "the police stamp some rows: the stage stays open",
            setup: |w| {
                let case = w.t_stamp(4, &[1, 2, 3]);
                let ev = reply_ev(
                    w,
                    &case,
                    POLICE,
                    POLICE,
                    vec![Command::Stamp(Rows::List(vec![1, 2]))],
                );
                (Some(case), ev)
            },
            expect: accepted(
                &[Stamp],
                &[(M::DecisionRecorded, POLICE), (M::PermitsIssued, ORG)],
                true,
            ),
        },
        Case_ {
            name: "the police refuse a row with a reason",
            setup: |w| {
                let case = w.t_stamp(4, &[1, 2, 3]);
                let ev = reply_ev(
                    w,
                    &case,
                    POLICE,
                    POLICE,
                    vec![
                        Command::Stamp(Rows::List(vec![1, 2])),
                        reject(Rows::List(vec![3]), "sai địa chỉ"),
                    ],
                );
                (Some(case), ev)
            },
            expect: accepted(
                &[Closed],
                &[
                    (M::DecisionRecorded, POLICE),
                    (M::RowsRefused, ORG),
                    (M::PermitsIssued, ORG),
                ],
                true,
            ),
        },
    ]
}

/// What the police cannot stamp, and what only the police can.
pub(super) fn stamping_problems() -> Vec<Case_> {
    vec![
        Case_ {
            name: "the police cannot stamp a rejected row",
            setup: |w| {
                let case = w.t_stamp(4, &[1, 2, 3]);
                let ev = reply_ev(
                    w,
                    &case,
                    POLICE,
                    POLICE,
                    vec![Command::Stamp(Rows::List(vec![4]))],
                );
                (Some(case), ev)
            },
            expect: accepted(&[Stamp], &[(M::ReplyNotApplied, POLICE)], false),
        },
        Case_ {
            name: "the police cannot approve",
            setup: |w| {
                let case = w.t_stamp(4, &[1, 2, 3]);
                let ev = reply_ev(w, &case, POLICE, POLICE, vec![Command::Approve(Rows::All)]);
                (Some(case), ev)
            },
            expect: accepted(&[Stamp], &[(M::ReplyNotApplied, POLICE)], false),
        },
        Case_ {
            name: "an officer cannot use the police's token",
            setup: |w| {
                let case = w.t_stamp(4, &[1, 2, 3]);
                let ev = reply_ev(w, &case, OFFICER, POLICE, vec![Command::Stamp(Rows::All)]);
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::WrongAddressee),
        },
        Case_ {
            name: "a permit that would already be expired is not issued",
            setup: |w| {
                let case = w.t_stamp(2, &[1, 2]);
                w.ward.validity = Validity::Until(date(2021, 9, 1));
                let ev = reply_ev(w, &case, POLICE, POLICE, vec![Command::Stamp(Rows::All)]);
                (Some(case), ev)
            },
            expect: accepted(&[Stamp], &[(M::ReplyNotApplied, POLICE)], false),
        },
    ]
}

/// Kind C: each person with an email gets their own permit.
pub(super) fn permits_for_individuals() -> Vec<Case_> {
    vec![Case_ {
        name: "individuals' permits also go to each person with an email",
        setup: |w| {
            let (case, _) = w.ok(
                None,
                CSKV,
                EventBody::RegisterRoster {
                    kind: Kind::C,
                    submission: submission(3, 0),
                },
            );
            let ev = reply_ev(w, &case, POLICE, POLICE, vec![Command::Stamp(Rows::All)]);
            (Some(case), ev)
        },
        expect: accepted(
            &[Closed],
            &[
                (M::DecisionRecorded, POLICE),
                (M::PermitsIssued, CSKV),
                (M::PermitForPerson, "nguoi1@example.vn"),
                (M::PermitForPerson, "nguoi3@example.vn"),
            ],
            true,
        ),
    }]
}
