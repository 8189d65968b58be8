//! `qrca outbox list|retry` on the database `qrca demo` leaves: every mail the demo
//! sent is listed; only a dead or retrying mail can be put back in line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/demo_world.rs"]
mod demo_world;

use demo_world::{demo_world, qrca, text};
use qrca::store::{OutboxStatus, Store};

#[test]
fn the_outbox_lists_and_retries() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_world(dir.path());
    let world = config.parent().unwrap().to_path_buf();

    let out = qrca(&["outbox", "list"], &config);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.starts_with("    ID  CASE"), "{listing}");
    assert!(listing.contains("review_request"), "{listing}");
    assert!(listing.contains("sent"), "{listing}");
    assert!(
        !listing.contains("pending"),
        "the demo sends every mail: {listing}"
    );

    let state = world.join("state");
    let first = Store::open(&state).unwrap().outbox().unwrap()[0].id;

    // A sent mail is not put back in line.
    let out = qrca(&["outbox", "retry", &first.to_string()], &config);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("sent"));

    // A dead one goes back in line.
    let id = {
        let store = Store::open(&state).unwrap();
        let id = first;
        store
            .update_outbox(id, jiff::Timestamp::now(), |e| {
                e.status = OutboxStatus::Dead {
                    reason: "550 no such user".into(),
                };
                e.attempts = 3;
            })
            .unwrap();
        id
    };
    let out = qrca(&["outbox", "list"], &config);
    assert!(text(&out.stdout).contains("dead: 550 no such user"));
    let out = qrca(&["outbox", "retry", &id.to_string()], &config);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let store = Store::open(&state).unwrap();
    let entry = store.outbox_entry(id).unwrap().unwrap();
    assert_eq!(entry.status, OutboxStatus::Pending);
    assert_eq!(entry.attempts, 0);
    drop(store);

    let out = qrca(&["outbox", "retry", "999999"], &config);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no outbox entry 999999"));
}
