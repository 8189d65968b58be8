//! Table rows for authentication: it is the ward's to require, and every mail that
//! changes a case or is answered needs it (issue 11).

use super::*;

/// A spoofed staff address read on an account that trusts no server does nothing.
pub(super) fn spoofed_staff() -> Vec<Case_> {
    vec![
        Case_ {
            name: "a spoofed area police read on an account that trusts no server opens no C case",
            setup: |w| {
                let ev = w.event(
                    CSKV,
                    EventBody::RegisterRoster {
                        kind: Kind::C,
                        submission: submission(3, 0),
                    },
                );
                (None, not_required(ev))
            },
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
        Case_ {
            name: "a spoofed officer read on an account that trusts no server revokes nothing",
            setup: |w| {
                let case = w.t_closed(2);
                let ev = w.event(
                    OFFICER,
                    EventBody::Revoke(vec![Revocation {
                        permit: "THD-T-0001-0002".into(),
                        reason: "giả mạo".into(),
                    }]),
                );
                (Some(case), not_required(ev))
            },
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
        Case_ {
            name: "a spoofed officer read on an account that trusts no server decides nothing",
            setup: |w| {
                let case = w.t_review(3);
                let ev = reply_ev(
                    w,
                    &case,
                    OFFICER,
                    OFFICER,
                    vec![Command::Approve(Rows::All)],
                );
                (Some(case), not_required(ev))
            },
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
    ]
}

/// Forged mail from the organisation or anyone else changes and answers nothing.
pub(super) fn forged_mail() -> Vec<Case_> {
    vec![
        Case_ {
            name: "a forged organisation roster puts nobody in front of the officers",
            setup: |w| {
                let case = w.open_t();
                let ev = w.event(ORG, EventBody::Roster(submission(5, 0)));
                (Some(case), forged(ev))
            },
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
        Case_ {
            name: "a forged organisation roster read on an account that trusts no server is refused",
            setup: |w| {
                let case = w.open_t();
                let ev = w.event(ORG, EventBody::Roster(submission(5, 0)));
                (Some(case), not_required(ev))
            },
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
        Case_ {
            name: "a forged invalid roster gets no errors mailed back",
            setup: |w| {
                let case = w.open_t();
                let ev = w.event(ORG, EventBody::Roster(invalid_submission()));
                (Some(case), forged(ev))
            },
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
        Case_ {
            name: "a forged status request is not answered",
            setup: |w| {
                let case = w.t_review(3);
                let ev = w.event(ORG, EventBody::Status);
                (Some(case), forged(ev))
            },
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
        Case_ {
            name: "a forged unreadable reply without a token gets no help text",
            setup: |w| {
                let case = w.t_review(3);
                let ev = w.event(
                    ORG,
                    EventBody::Reply {
                        token: None,
                        commands: vec![],
                        unreadable: vec!["xin chào".into()],
                    },
                );
                (Some(case), forged(ev))
            },
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
        Case_ {
            name: "a forged mail on no case is refused as unauthenticated",
            setup: |w| (None, forged(w.event(ORG, EventBody::Status))),
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
    ]
}
