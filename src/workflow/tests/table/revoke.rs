//! Table rows for revocation and status requests: who may revoke, what cannot be
//! revoked, and who gets a case's status.

use super::*;

/// Revoking permits, and asking for the status.
pub(super) fn revocation_and_status() -> Vec<Case_> {
    vec![
        Case_ {
            name: "an officer revokes a permit",
            setup: |w| {
                let case = w.t_closed(2);
                let ev = w.event(
                    OFFICER,
                    EventBody::Revoke(vec![Revocation {
                        permit: "THD-T-0001-0002".into(),
                        reason: "nghỉ việc".into(),
                    }]),
                );
                (Some(case), ev)
            },
            expect: accepted(&[Closed], &[(M::PermitsRevoked, ORG)], true),
        },
        Case_ {
            name: "revoking a permit the case never issued is not applied",
            setup: |w| {
                let case = w.t_closed(2);
                let ev = w.event(
                    POLICE,
                    EventBody::Revoke(vec![Revocation {
                        permit: "THD-T-0001-0009".into(),
                        reason: "nghỉ việc".into(),
                    }]),
                );
                (Some(case), ev)
            },
            expect: accepted(&[Closed], &[(M::ReplyNotApplied, POLICE)], false),
        },
        Case_ {
            name: "the organisation cannot revoke",
            setup: |w| {
                let case = w.t_closed(2);
                let ev = w.event(
                    ORG,
                    EventBody::Revoke(vec![Revocation {
                        permit: "THD-T-0001-0001".into(),
                        reason: "x".into(),
                    }]),
                );
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::NotPermitted),
        },
        Case_ {
            name: "any party gets the status",
            setup: |w| {
                let case = w.t_review(3);
                let ev = w.event(ORG, EventBody::Status);
                (Some(case), ev)
            },
            expect: accepted(&[Review], &[(M::Status, ORG)], false),
        },
        Case_ {
            name: "a stranger gets no status",
            setup: |w| {
                let case = w.t_review(3);
                let ev = w.event(STRANGER, EventBody::Status);
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::NotPermitted),
        },
    ]
}
