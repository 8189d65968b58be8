//! Table rows for the officers' review: approvals and rejections, when the review
//! ends, replies with problems, the reply token's checks, and help.

use super::*;

/// Officers approve and reject rows; the organisation hears of rejections.
pub(super) fn review_decisions() -> Vec<Case_> {
    vec![
        Case_ {
            name: "an officer approves everything: stamp requested",
            setup: |w| {
                let case = w.t_review(5);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![Command::Approve(Rows::All)],
                );
                (Some(case), ev)
            },
            expect: accepted(
                &[Stamp],
                &[(M::DecisionRecorded, OFFICER), (M::StampRequest, POLICE)],
                true,
            ),
        },
        Case_ {
            name: "a partial approval keeps the review open",
            setup: |w| {
                let case = w.t_review(5);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![Command::Approve(Rows::List(vec![1, 2]))],
                );
                (Some(case), ev)
            },
            expect: accepted(&[Review], &[(M::DecisionRecorded, OFFICER)], true),
        },
        Case_ {
            name: "a rejection goes back to the organisation",
            setup: |w| {
                let case = w.t_review(5);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![reject(Rows::List(vec![5]), "thiếu giấy tờ")],
                );
                (Some(case), ev)
            },
            expect: accepted(
                &[Review],
                &[(M::DecisionRecorded, OFFICER), (M::RowsRejected, ORG)],
                true,
            ),
        },
    ]
}

/// The review ends when no row is left: on to the stamp, or closed.
pub(super) fn review_ends() -> Vec<Case_> {
    vec![
        Case_ {
            name: "approve some, reject the rest: review ends, stamp requested",
            setup: |w| {
                let case = w.t_review(5);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![
                        Command::Approve(Rows::List(vec![1, 2, 3])),
                        reject(Rows::All, "không đủ điều kiện"),
                    ],
                );
                (Some(case), ev)
            },
            expect: accepted(
                &[Stamp],
                &[
                    (M::DecisionRecorded, OFFICER),
                    (M::RowsRejected, ORG),
                    (M::StampRequest, POLICE),
                ],
                true,
            ),
        },
        Case_ {
            name: "everything rejected: the batch closes without a stamp request",
            setup: |w| {
                let case = w.t_review(2);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![reject(Rows::All, "không đủ điều kiện")],
                );
                (Some(case), ev)
            },
            expect: accepted(
                &[Closed],
                &[(M::DecisionRecorded, OFFICER), (M::RowsRejected, ORG)],
                true,
            ),
        },
    ]
}

/// A reply with a problem is not applied at all.
pub(super) fn review_problems() -> Vec<Case_> {
    vec![
        Case_ {
            name: "a rejection without a reason is not applied",
            setup: |w| {
                let case = w.t_review(5);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![reject(Rows::List(vec![2]), " ")],
                );
                (Some(case), ev)
            },
            expect: accepted(&[Review], &[(M::ReplyNotApplied, OFFICER)], false),
        },
        Case_ {
            name: "a row that does not exist: nothing applied",
            setup: |w| {
                let case = w.t_review(5);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![
                        Command::Approve(Rows::List(vec![1])),
                        Command::Approve(Rows::List(vec![99])),
                    ],
                );
                (Some(case), ev)
            },
            expect: accepted(&[Review], &[(M::ReplyNotApplied, OFFICER)], false),
        },
        Case_ {
            name: "a row decided twice in one reply: nothing applied",
            setup: |w| {
                let case = w.t_review(5);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![
                        Command::Approve(Rows::List(vec![1])),
                        reject(Rows::List(vec![1]), "nhầm"),
                    ],
                );
                (Some(case), ev)
            },
            expect: accepted(&[Review], &[(M::ReplyNotApplied, OFFICER)], false),
        },
        Case_ {
            name: "an officer cannot stamp",
            setup: |w| {
                let case = w.t_review(5);
                let ev = reply_ev(w, &case, OFFICER, OFFICER, vec![Command::Stamp(Rows::All)]);
                (Some(case), ev)
            },
            expect: accepted(&[Review], &[(M::ReplyNotApplied, OFFICER)], false),
        },
    ]
}

/// A decision counts only on a token of this case addressed to its sender.
pub(super) fn review_tokens() -> Vec<Case_> {
    vec![
        Case_ {
            name: "a decision without a token is refused",
            setup: |w| {
                let case = w.t_review(5);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    "nobody",
                    vec![Command::Approve(Rows::All)],
                );
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::NoToken),
        },
        Case_ {
            name: "a token the case never issued is refused",
            setup: |w| {
                let case = w.t_review(5);
                let ev = w.event(
                    OFFICER,
                    EventBody::Reply {
                        token: Some(ReplyToken("forged0000000000000000000".into())),
                        commands: vec![Command::Approve(Rows::All)],
                        unreadable: vec![],
                    },
                );
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::UnknownToken),
        },
        Case_ {
            name: "another officer's token is refused",
            setup: |w| {
                let case = w.t_review(5);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER2,
                    OFFICER,
                    vec![Command::Approve(Rows::All)],
                );
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::WrongAddressee),
        },
    ]
}

/// A forged, removed or late decider is refused.
pub(super) fn review_refusals() -> Vec<Case_> {
    vec![
        Case_ {
            name: "a spoofed officer address without authentication is refused",
            setup: |w| {
                let case = w.t_review(5);
                let mut ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![Command::Approve(Rows::All)],
                );
                ev.auth = AuthEvidence::Fail {
                    detail: "no trusted Authentication-Results".into(),
                };
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
        Case_ {
            name: "an officer removed from the config can no longer decide",
            setup: |w| {
                let case = w.t_review(5);
                w.ward.officers.retain(|o| o != OFFICER);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![Command::Approve(Rows::All)],
                );
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::NotPermitted),
        },
        Case_ {
            name: "a review token after the review ended is dead",
            setup: |w| {
                let case = w.t_review(3);
                let token = live_token(&case, OFFICER);
                let (case, _) = match w.reply(&case, OFFICER, vec![Command::Approve(Rows::All)]) {
                    Ok(out) => out,
                    Err(r) => panic!("{r}"),
                };
                let ev = w.event(
                    OFFICER,
                    EventBody::Reply {
                        token,
                        commands: vec![reject(Rows::All, "đổi ý")],
                        unreadable: vec![],
                    },
                );
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::DeadToken),
        },
    ]
}

/// A reply without commands gets help, if it comes from a party.
pub(super) fn review_help() -> Vec<Case_> {
    vec![
        Case_ {
            name: "an unreadable reply on a token gets help and changes nothing",
            setup: |w| {
                let case = w.t_review(3);
                let token = live_token(&case, OFFICER);
                let ev = w.event(
                    OFFICER,
                    EventBody::Reply {
                        token,
                        commands: vec![Command::Approve(Rows::List(vec![1]))],
                        unreadable: vec!["DUYET HET TRU SO 3".into()],
                    },
                );
                (Some(case), ev)
            },
            expect: accepted(&[Review], &[(M::Help, OFFICER)], false),
        },
        Case_ {
            name: "a plain reply from the organisation gets help",
            setup: |w| {
                let case = w.t_review(3);
                let ev = w.event(
                    ORG,
                    EventBody::Reply {
                        token: None,
                        commands: vec![],
                        unreadable: vec!["Cảm ơn anh chị".into()],
                    },
                );
                (Some(case), ev)
            },
            expect: accepted(&[Review], &[(M::Help, ORG)], false),
        },
        Case_ {
            name: "a plain reply from a stranger is refused",
            setup: |w| {
                let case = w.t_review(3);
                let ev = w.event(
                    STRANGER,
                    EventBody::Reply {
                        token: None,
                        commands: vec![],
                        unreadable: vec!["?".into()],
                    },
                );
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::NotPermitted),
        },
    ]
}
