//! Table rows for opening a case: an organisation registered by an officer or an area
//! police, individuals and households registered with their roster, and openings that
//! go wrong.

use super::*;

/// An organisation registered, or not: who may, and what it needs.
pub(super) fn organisations() -> Vec<Case_> {
    vec![
        Case_ {
            name: "an officer registers an organisation",
            setup: |w| {
                (
                    None,
                    w.event(OFFICER, EventBody::RegisterOrganisation(organisation())),
                )
            },
            expect: accepted(&[], &[(M::CaseOpened, ORG)], true),
        },
        Case_ {
            name: "an area police registers an organisation",
            setup: |w| {
                (
                    None,
                    w.event(CSKV, EventBody::RegisterOrganisation(organisation())),
                )
            },
            expect: accepted(&[], &[(M::CaseOpened, ORG)], true),
        },
        Case_ {
            name: "a stranger cannot register an organisation",
            setup: |w| {
                (
                    None,
                    w.event(STRANGER, EventBody::RegisterOrganisation(organisation())),
                )
            },
            expect: Expect::Refused(RefusalReason::NotPermitted),
        },
        Case_ {
            name: "the police cannot register an organisation",
            setup: |w| {
                (
                    None,
                    w.event(POLICE, EventBody::RegisterOrganisation(organisation())),
                )
            },
            expect: Expect::Refused(RefusalReason::NotPermitted),
        },
        Case_ {
            name: "a registration without passing authentication is refused",
            setup: |w| {
                let mut ev = w.event(OFFICER, EventBody::RegisterOrganisation(organisation()));
                ev.auth = AuthEvidence::Fail {
                    detail: "dmarc=fail".into(),
                };
                (None, ev)
            },
            expect: Expect::Refused(RefusalReason::NotAuthenticated),
        },
        Case_ {
            name: "a registration without a name is malformed",
            setup: |w| {
                let mut org = organisation();
                org.name = " ".into();
                (None, w.event(OFFICER, EventBody::RegisterOrganisation(org)))
            },
            expect: Expect::Refused(RefusalReason::Malformed),
        },
        Case_ {
            name: "a registration on an existing case is refused",
            setup: |w| {
                let case = w.open_t();
                let ev = w.event(OFFICER, EventBody::RegisterOrganisation(organisation()));
                (Some(case), ev)
            },
            expect: Expect::Refused(RefusalReason::NoSuchCase),
        },
    ]
}

/// Individuals and households registered by the area police with their roster.
pub(super) fn people() -> Vec<Case_> {
    vec![
        Case_ {
            name: "an area police registers individuals: straight to the police",
            setup: |w| {
                let ev = w.event(
                    CSKV,
                    EventBody::RegisterRoster {
                        kind: Kind::C,
                        submission: submission(3, 0),
                    },
                );
                (None, ev)
            },
            expect: accepted(
                &[Stamp],
                &[(M::RosterAccepted, CSKV), (M::StampRequest, POLICE)],
                true,
            ),
        },
        Case_ {
            name: "an area police registers households: officers review first",
            setup: |w| {
                let ev = w.event(
                    CSKV,
                    EventBody::RegisterRoster {
                        kind: Kind::H,
                        submission: submission(3, 0),
                    },
                );
                (None, ev)
            },
            expect: accepted(
                &[Review],
                &[
                    (M::RosterAccepted, CSKV),
                    (M::ReviewRequest, OFFICER),
                    (M::ReviewRequest, OFFICER2),
                ],
                true,
            ),
        },
        Case_ {
            name: "an officer cannot register individuals",
            setup: |w| {
                let ev = w.event(
                    OFFICER,
                    EventBody::RegisterRoster {
                        kind: Kind::C,
                        submission: submission(3, 0),
                    },
                );
                (None, ev)
            },
            expect: Expect::Refused(RefusalReason::NotPermitted),
        },
        Case_ {
            name: "a registration of kind T with a roster is malformed",
            setup: |w| {
                let ev = w.event(
                    CSKV,
                    EventBody::RegisterRoster {
                        kind: Kind::T,
                        submission: submission(3, 0),
                    },
                );
                (None, ev)
            },
            expect: Expect::Refused(RefusalReason::Malformed),
        },
    ]
}

/// A roster registration with errors, and a mail on no case.
pub(super) fn openings_that_go_wrong() -> Vec<Case_> {
    vec![
        Case_ {
            name: "an invalid roster registration opens the case and sends the errors",
            setup: |w| {
                let ev = w.event(
                    CSKV,
                    EventBody::RegisterRoster {
                        kind: Kind::C,
                        submission: invalid_submission(),
                    },
                );
                (None, ev)
            },
            expect: accepted(&[], &[(M::RosterInvalid, CSKV)], true),
        },
        Case_ {
            name: "a mail on no case is refused",
            setup: |w| (None, w.event(ORG, EventBody::Status)),
            expect: Expect::Refused(RefusalReason::NoSuchCase),
        },
    ]
}
