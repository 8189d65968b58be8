//! The merged lists, their signatures, the publication's timing and its mail.

use super::*;
use crate::city::model::{KeyRecord, StoredList, WardEntry};
use crate::permit::payload;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn record(seed: u8, ward: &str, state: KeyState) -> KeyRecord {
    KeyRecord {
        entry: TrustedKey::for_key(
            payload::kid("W", &key(seed).verifying_key()),
            ward,
            "Phường",
            "Quận",
            &key(seed).verifying_key(),
            jiff::civil::date(2026, 12, 1),
            None,
        ),
        state,
    }
}

fn ward(code: &str, keys: Vec<KeyRecord>, revoked: &[&str]) -> WardState {
    let mut w = WardState::new(WardEntry {
        code: code.into(),
        name: "Phường".into(),
        district: "Quận".into(),
        accounts: [1, 2, 3].map(|n| format!("{code}{n}@example.org")),
    });
    w.keys = keys;
    if !revoked.is_empty() {
        let list = RevocationList::new(
            revoked
                .iter()
                .map(|p| Revoked {
                    permit: (*p).into(),
                    at: at("2026-12-05T09:00:00Z"),
                    reason: "mất".into(),
                })
                .collect(),
        );
        let doc = WardRevocations::new(code, 1, at("2026-12-05T09:30:00Z"), list);
        let bytes = signed::to_bytes(&doc);
        w.revocations = Some(StoredList {
            sequence: 1,
            document: String::from_utf8_lossy(&bytes).into_owned(),
            signature: String::new(),
            signed_by: String::new(),
            issued_at: doc.issued_at,
            received_at: doc.issued_at,
        });
    }
    w
}

fn rules() -> PublishRules {
    PublishRules {
        city_name: "Thành phố Hà Nội".into(),
        checkpoints: vec!["kt1@example.org".into(), "kt2@example.org".into()],
        fresh_hours: 72,
        max_valid_days: 30,
        at_most_every_minutes: 60,
        at_least_every_hours: 24,
    }
}

fn city() -> (String, SigningKey) {
    let k = key(99);
    (payload::kid("CITY", &k.verifying_key()), k)
}

fn two_wards() -> Vec<WardState> {
    let compromised = KeyState::Compromised {
        from: at("2026-12-04T00:00:00Z"),
        reason: "lộ khóa".into(),
    };
    let announced = KeyState::Announced {
        codes: Default::default(),
        answered: Default::default(),
    };
    vec![
        ward(
            "b.ward",
            vec![record(1, "b.ward", KeyState::Active)],
            &["B-T-0001-0001"],
        ),
        ward(
            "a.ward",
            vec![
                record(2, "a.ward", compromised),
                record(3, "a.ward", KeyState::Active),
                record(4, "a.ward", announced),
            ],
            &["A-T-0001-0002", "A-C-0003-0001"],
        ),
    ]
}

#[test]
fn the_lists_hold_every_listed_key_and_revocation_but_no_announced_key() {
    let lists = lists(&two_wards());
    let wards: Vec<&str> = lists.keys.iter().map(|k| k.ward.as_str()).collect();
    assert_eq!(wards, ["a.ward", "a.ward", "b.ward"]);
    let announced = payload::kid("W", &key(4).verifying_key());
    assert!(lists.keys.iter().all(|k| k.kid != announced));
    assert_eq!(lists.revoked_keys.len(), 1);
    assert_eq!(
        lists.revoked_keys[0].kid,
        payload::kid("W", &key(2).verifying_key())
    );
    let permits: Vec<&str> = lists.revoked.iter().map(|r| r.permit.as_str()).collect();
    assert_eq!(permits, ["A-C-0003-0001", "A-T-0001-0002", "B-T-0001-0001"]);
}

#[test]
fn the_signed_lists_verify_with_the_city_key_over_their_exact_bytes() {
    let (kid, k) = city();
    let mut wards = two_wards();
    wards[1].keys.remove(0); // no compromised key: the list reads as today's format
    let files = sign(&lists(&wards), &kid, &k);
    for (bytes, sig) in [
        (&files.trust, &files.trust_sig),
        (&files.revocations, &files.revocations_sig),
    ] {
        let sig = Detached::parse("x.sig", sig).unwrap_or_else(|e| panic!("{e}"));
        assert!(sig.check("x", &kid, &k.verifying_key(), bytes).is_ok());
    }
    let trust = TrustList::from_json(&String::from_utf8_lossy(&files.trust));
    assert_eq!(trust.map(|t| t.keys.len()).ok(), Some(2));
    let revoked = RevocationList::from_json(&String::from_utf8_lossy(&files.revocations));
    assert_eq!(revoked.map(|r| r.revoked.len()).ok(), Some(3));
    // The same lists, the same bytes and fingerprint; one revocation more, another.
    assert_eq!(sign(&lists(&wards), &kid, &k), files);
    wards[0] = ward(
        "b.ward",
        wards[0].keys.clone(),
        &["B-T-0001-0001", "B-T-0001-0002"],
    );
    assert_ne!(
        sign(&lists(&wards), &kid, &k).fingerprint,
        files.fingerprint
    );
}

#[test]
fn revoked_keys_go_into_the_merged_revocation_list() {
    let (kid, k) = city();
    let files = sign(&lists(&two_wards()), &kid, &k);
    let json: serde_json::Value =
        serde_json::from_slice(&files.revocations).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["revoked_keys"][0]["reason"], "lộ khóa");
}

#[test]
fn a_publication_is_due_on_change_at_most_hourly_and_at_least_daily() {
    let r = rules();
    let last = Mark {
        fingerprint: "aaaa".into(),
        at: at("2026-12-05T10:00:00Z"),
    };
    assert!(is_due(None, "aaaa", last.at, &r));
    for (now, fp, due) in [
        ("2026-12-05T10:30:00Z", "bbbb", false),
        ("2026-12-05T11:00:00Z", "bbbb", true),
        ("2026-12-05T11:00:00Z", "aaaa", false),
        ("2026-12-06T09:59:59Z", "aaaa", false),
        ("2026-12-06T10:00:00Z", "aaaa", true),
    ] {
        assert_eq!(is_due(Some(&last), fp, at(now), &r), due, "{now} {fp}");
    }
}

#[test]
fn the_mail_carries_the_page_and_both_signed_lists_to_every_checkpoint() {
    let (kid, k) = city();
    let lists = lists(&two_wards());
    let files = sign(&lists, &kid, &k);
    let now = at("2026-12-05T10:00:00Z");
    let page = page(&lists, now, &rules());
    assert!(page.html.contains(&page.fingerprint));
    let mail = mail(&files, &page, now, &rules());
    assert_eq!(mail.to, rules().checkpoints);
    let names: Vec<&str> = mail.attachments.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            PAGE_FILE,
            "trust-list.json",
            "trust-list.json.sig",
            "revocations.json",
            "revocations.json.sig"
        ]
    );
    assert!(mail.subject.contains(&page.fingerprint));
}
