//! `qrca report --ward CODE` on the database `qrca demo` leaves, with refused attempts
//! added: the report is queued once with what it covers; then there is nothing to report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/demo_world.rs"]
mod demo_world;

use demo_world::{demo_world, qrca, text};
use qrca::store::{Committed, OutboxStatus, Outcome, SeenMarker, Store, Update};
use qrca::workflow::{Refusal, RefusalReason, Template};

#[test]
fn report_queues_the_refusals_once_then_has_nothing_to_report() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = demo_world(dir.path());
    let config = qrca::config::load(&config_path).unwrap().config;
    let ward = config.wards[0].code().to_owned();
    let officers = config.wards[0].rules.officers.clone();

    // Whatever the demo left, report it first so that only ours remain.
    let out = qrca(&["report", "--ward", &ward], &config_path);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let before = {
        let store = Store::open(&config.service.state_dir).unwrap();
        for (uid, reason) in [
            (900, RefusalReason::WrongAddressee),
            (901, RefusalReason::NotAuthenticated),
        ] {
            let committed = store
                .commit(
                    &Update {
                        seen: SeenMarker {
                            account: "report-test@example".into(),
                            uidvalidity: 1,
                            uid,
                            message_id: format!("<{uid}@evil.example>"),
                            sender: String::new(),
                            references: Vec::new(),
                            digest: String::new(),
                        },
                        outcome: Outcome::Refused {
                            ward: ward.clone(),
                            case: None,
                            sender: "mallory@evil.example".into(),
                            message_id: format!("<{uid}@evil.example>"),
                            at: jiff::Timestamp::now(),
                            refusal: Refusal {
                                reason,
                                detail: "test".into(),
                            },
                        },
                    },
                    jiff::Timestamp::now(),
                )
                .unwrap();
            assert!(matches!(committed, Committed::Applied { .. }));
        }
        store.outbox().unwrap().len()
    };

    let out = qrca(&["report", "--ward", &ward], &config_path);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("queued the report of 2 refused attempt(s)"),
        "{said}"
    );
    {
        let store = Store::open(&config.service.state_dir).unwrap();
        let outbox = store.outbox().unwrap();
        assert_eq!(outbox.len(), before + 1);
        let report = outbox.last().unwrap();
        assert_eq!(report.mail.template, Template::DailyReport);
        assert_eq!(report.case, "");
        assert_eq!(report.mail.to, officers);
        assert_eq!(report.status, OutboxStatus::Pending);
        let reasons: Vec<RefusalReason> =
            report.mail.data.refusals.iter().map(|r| r.reason).collect();
        assert_eq!(
            reasons,
            [
                RefusalReason::WrongAddressee,
                RefusalReason::NotAuthenticated
            ]
        );
        assert!(store.reported_until(&ward).unwrap().is_some());
        assert!(store.unreported_refusals(&ward).unwrap().is_empty());
    }

    let out = qrca(&["report", "--ward", &ward], &config_path);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("nothing to report"),
        "{}",
        text(&out.stdout)
    );

    let out = qrca(&["report", "--ward", "no.such"], &config_path);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no ward"),
        "{}",
        text(&out.stderr)
    );
}
