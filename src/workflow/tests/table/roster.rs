//! Table rows for a roster arriving on an open case: valid, invalid, from someone who
//! may not send one, or a later roster that becomes the next batch.

use super::*;

/// A roster on an open case: accepted, sent back with its errors, or refused.
pub(super) fn rosters() -> Vec<Case_> {
    vec![
        Case_ {
            name: "the organisation sends a valid roster: review requested",
            setup: |w| {
                let case = w.open_t();
                let ev = w.event(ORG, EventBody::Roster(submission(5, 0)));
                (Some(case), ev)
            },
            expect: accepted(
                &[Review],
                &[
                    (M::RosterAccepted, ORG),
                    (M::ReviewRequest, OFFICER),
                    (M::ReviewRequest, OFFICER2),
                ],
                true,
            ),
        },
        Case_ {
            name: "an invalid roster gets its errors back and the case waits",
            setup: |w| {
                let case = w.open_t();
                let ev = w.event(ORG, EventBody::Roster(invalid_submission()));
                (Some(case), ev)
            },
            expect: accepted(&[], &[(M::RosterInvalid, ORG)], false),
        },
        Case_ {
            name: "an empty roster is invalid",
            setup: |w| {
                let case = w.open_t();
                let ev = w.event(ORG, EventBody::Roster(submission(0, 0)));
                (Some(case), ev)
            },
            expect: accepted(&[], &[(M::RosterInvalid, ORG)], false),
        },
        Case_ {
            name: "a roster from a stranger is refused",
            setup: |w| {
                let case = w.open_t();
                let ev = w.event(STRANGER, EventBody::Roster(submission(5, 0)));
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::NotPermitted),
        },
    ]
}

/// A later roster is the next batch; a mail on another ward's case is refused.
pub(super) fn later_rosters() -> Vec<Case_> {
    vec![
        Case_ {
            name: "a later roster is a new batch",
            setup: |w| {
                let case = w.t_closed(3);
                let ev = w.event(ORG, EventBody::Roster(submission(2, 100)));
                (Some(case), ev)
            },
            expect: accepted(
                &[Closed, Review],
                &[
                    (M::RosterAccepted, ORG),
                    (M::ReviewRequest, OFFICER),
                    (M::ReviewRequest, OFFICER2),
                ],
                true,
            ),
        },
        Case_ {
            name: "a later roster of people who all hold valid permits closes at once",
            setup: |w| {
                let case = w.t_closed(3);
                let ev = w.event(ORG, EventBody::Roster(submission(3, 0)));
                (Some(case), ev)
            },
            expect: accepted(&[Closed, Closed], &[(M::RosterAccepted, ORG)], true),
        },
        Case_ {
            name: "a mail on another ward's case is refused",
            setup: |w| {
                let mut case = w.open_t();
                case.ward = "hoankiem.hangbac".into();
                let ev = w.event(ORG, EventBody::Status);
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::NotPermitted),
        },
    ]
}
