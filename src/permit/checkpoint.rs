//! The checkpoint page (issue 12, SPEC §9): one self-contained HTML file that checks a
//! permit's QR code offline on a phone, with the trust and revocation lists inside it.
//!
//! The page's code is real files under `templates/checkpoint/` (`page.html`, `page.css`,
//! `verify.js` — the JavaScript port of [`super::payload::decode`] and
//! [`super::trust::check`] —, `app.js`, and the vendored `vendor/vendor.min.js` with jsQR
//! and @noble/ed25519), embedded at build time. This module only merges the lists,
//! stamps the generation time and a fingerprint, and fills in the page's markers; it
//! writes a Content-Security-Policy that allows exactly those inline scripts (by hash)
//! and no connection of any kind.
//!
//! It is pure: the caller reads the list files and the clock. It must not decide a
//! verdict (the page does, as `trust::check` does) nor fetch anything.

use super::trust::{Revoked, RevokedKey, TrustedKey};
use data_encoding::{BASE64, HEXLOWER};
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

const PAGE: &str = include_str!("../../templates/checkpoint/page.html");
const STYLE: &str = include_str!("../../templates/checkpoint/page.css");
const APP: &str = include_str!("../../templates/checkpoint/app.js");
const VERIFY: &str = include_str!("../../templates/checkpoint/verify.js");
const VENDOR: &str = include_str!("../../templates/checkpoint/vendor/vendor.min.js");

/// The page must stay small enough to mail and to open on an old phone (issue 12).
pub const MAX_PAGE_BYTES: usize = 1_500_000;

/// Hours the lists may be old and a valid permit still shown green (issue 12's default).
pub const DEFAULT_FRESH_HOURS: u32 = 72;

/// Days the lists may be old before the page refuses to judge at all; between
/// `fresh_hours` and this, a valid permit is shown amber ("dữ liệu cũ").
pub const STALE_DAYS: u32 = 7;

/// What goes into one page.
#[derive(Debug, Clone)]
pub struct PageInput {
    /// Every trusted key, from one or several trust lists (see [`merge_keys`]).
    pub keys: Vec<TrustedKey>,
    /// Every revocation, from one or several revocation lists.
    pub revoked: Vec<Revoked>,
    /// Every revoked key, from one or several revocation lists (see
    /// [`merge_revoked_keys`]).
    pub revoked_keys: Vec<RevokedKey>,
    /// When the lists were put together; the page measures its data's age from it.
    pub generated_at: Timestamp,
    /// Green only while the lists are at most this old.
    pub fresh_hours: u32,
    /// The longest validity, in days, a permit may have (`[permits] max_valid_days`).
    pub max_valid_days: u32,
}

/// The page's data, as the JSON the page reads from `<script id="qrca-data">`.
///
/// The revocations travel compact, `[permit, at, index into reasons]`, each reason
/// once: they are most of a city's page (600 wards, 9,600 revocations: 867 KB as
/// objects, ~440 KB so). `app.js` turns them back into the lists' objects before
/// `verify.js` reads them.
#[derive(Debug, Serialize)]
struct PageData<'a> {
    generated_at: String,
    fingerprint: String,
    fresh_hours: u32,
    stale_days: u32,
    max_valid_days: u32,
    keys: &'a [TrustedKey],
    revoked: Vec<(&'a str, Timestamp, usize)>,
    reasons: Vec<&'a str>,
    revoked_keys: &'a [RevokedKey],
}

/// The revocations as the page carries them, and their reasons, each once in the order
/// they first appear.
fn compact(revoked: &[Revoked]) -> (Vec<(&str, Timestamp, usize)>, Vec<&str>) {
    let mut reasons: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let entries = revoked
        .iter()
        .map(|r| {
            let i = *index.entry(r.reason.as_str()).or_insert_with(|| {
                reasons.push(r.reason.as_str());
                reasons.len() - 1
            });
            (r.permit.as_str(), r.at, i)
        })
        .collect();
    (entries, reasons)
}

/// Why several lists cannot be made into one page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error(
        "key id {kid} is in {first} and in {second} with different entries; a kid must name \
         one key"
    )]
    ConflictingKid {
        kid: String,
        first: String,
        second: String,
    },
}

/// The keys of several trust lists, each list named by its source (a file name): the
/// same entry twice is kept once; one kid with two different entries is refused.
/// Keys keep the order in which they first appear.
pub fn merge_keys(lists: Vec<(String, Vec<TrustedKey>)>) -> Result<Vec<TrustedKey>, MergeError> {
    let mut merged: Vec<(String, TrustedKey)> = Vec::new();
    // kid → its index in `merged`: a city's 600 lists stay linear.
    let mut index: HashMap<String, usize> = HashMap::new();
    for (source, keys) in lists {
        for key in keys {
            match index.get(&key.kid).map(|&i| &merged[i]) {
                Some((_, k)) if *k == key => {}
                Some((first, _)) => {
                    return Err(MergeError::ConflictingKid {
                        kid: key.kid,
                        first: first.clone(),
                        second: source,
                    });
                }
                None => {
                    index.insert(key.kid.clone(), merged.len());
                    merged.push((source.clone(), key));
                }
            }
        }
    }
    Ok(merged.into_iter().map(|(_, k)| k).collect())
}

/// The revocations of several lists, each kept once.
/// Sorted by permit, then time; entries with the same permit and time (but another
/// reason) keep the order in which they first appear.
///
/// O(n log n): a city merges ~10,000 revocations from 600 lists on every publisher pass
/// (the quadratic `Vec::contains` it replaced took most of that pass).
pub fn merge_revoked(lists: Vec<Vec<Revoked>>) -> Vec<Revoked> {
    let mut all: Vec<(usize, Revoked)> = lists.into_iter().flatten().enumerate().collect();
    // Equal entries side by side, the first occurrence first; keep that one.
    all.sort_unstable_by(|(i, a), (j, b)| {
        (&a.permit, a.at, &a.reason, i).cmp(&(&b.permit, b.at, &b.reason, j))
    });
    all.dedup_by(|(_, later), (_, first)| later == first);
    // Back to first-appearance order among entries with the same permit and time (only
    // differing reasons can be there; usually already in order).
    all.sort_by(|(i, a), (j, b)| (&a.permit, a.at, i).cmp(&(&b.permit, b.at, j)));
    all.into_iter().map(|(_, r)| r).collect()
}

/// The revoked keys of several lists, one per kid: the earliest `from` (with its
/// reason), since from then on nothing the key signed can be trusted. Sorted by kid.
pub fn merge_revoked_keys(lists: Vec<Vec<RevokedKey>>) -> Vec<RevokedKey> {
    let mut merged: BTreeMap<String, RevokedKey> = BTreeMap::new();
    for key in lists.into_iter().flatten() {
        match merged.get_mut(&key.kid) {
            Some(k) if key.from < k.from => *k = key,
            Some(_) => {}
            None => {
                merged.insert(key.kid.clone(), key);
            }
        }
    }
    merged.into_values().collect()
}

/// A short fingerprint of the lists a page carries: the first 8 hex digits of SHA-256
/// over their JSON. Shown on the page so a checkpoint can tell by phone which lists it has.
/// Lists without revoked keys keep the fingerprint they had before keys could be revoked.
pub fn fingerprint(
    keys: &[TrustedKey],
    revoked: &[Revoked],
    revoked_keys: &[RevokedKey],
) -> String {
    let json = if revoked_keys.is_empty() {
        serde_json::to_string(&(keys, revoked))
    } else {
        serde_json::to_string(&(keys, revoked, revoked_keys))
    }
    .unwrap_or_default();
    HEXLOWER.encode(&Sha256::digest(json.as_bytes())[..4])
}

/// A finished page.
#[derive(Debug, Clone)]
pub struct Page {
    pub html: String,
    pub fingerprint: String,
}

/// The page for `input`.
pub fn render(input: &PageInput) -> Page {
    let fingerprint = fingerprint(&input.keys, &input.revoked, &input.revoked_keys);
    let (revoked, reasons) = compact(&input.revoked);
    let data = PageData {
        generated_at: input.generated_at.to_string(),
        fingerprint: fingerprint.clone(),
        fresh_hours: input.fresh_hours,
        stale_days: STALE_DAYS,
        max_valid_days: input.max_valid_days,
        keys: &input.keys,
        revoked,
        reasons,
        revoked_keys: &input.revoked_keys,
    };
    // Inside <script>, "</script" would end the element: JSON may write '<' as \u003c
    // anywhere it can occur (inside strings), so nothing in the data can close it.
    let json = serde_json::to_string(&data)
        .unwrap_or_default()
        .replace('<', "\\u003c");
    let scripts = [VENDOR, VERIFY, APP];
    let hashes: Vec<String> = scripts
        .iter()
        .map(|s| format!("'sha256-{}'", BASE64.encode(&Sha256::digest(s.as_bytes()))))
        .collect();
    let csp = format!(
        "default-src 'none'; script-src {}; style-src 'unsafe-inline'; img-src data: blob:; \
         media-src blob: mediastream:; connect-src 'none'; form-action 'none'; \
         base-uri 'none'",
        hashes.join(" ")
    );
    // Markers are filled in one pass over the template, so text inserted for one marker
    // is never searched for another.
    let mut html = String::with_capacity(PAGE.len() + VENDOR.len() + json.len() + 64_000);
    let mut rest = PAGE;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let marker = &rest[start + 2..start + len];
        let value = match marker {
            "CSP" => csp.as_str(),
            "STYLE" => STYLE,
            "DATA" => json.as_str(),
            "VENDOR" => VENDOR,
            "VERIFY" => VERIFY,
            "APP" => APP,
            _ => {
                html.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                continue;
            }
        };
        html.push_str(&rest[..start]);
        html.push_str(value);
        rest = &rest[start + len + 2..];
    }
    html.push_str(rest);
    Page { html, fingerprint }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn key(kid: &str, ward: &str) -> TrustedKey {
        TrustedKey {
            kid: kid.into(),
            ward: ward.into(),
            ward_name: "Phường Trần Hưng Đạo".into(),
            district: "Quận Hoàn Kiếm".into(),
            public_key: "A".repeat(43),
            not_before: date(2021, 9, 1),
            not_after: None,
        }
    }

    fn input() -> PageInput {
        PageInput {
            keys: vec![key("THD-aaaaaaaa", "hoankiem.tranhungdao")],
            revoked: vec![Revoked {
                permit: "THD-T-0001-0002".into(),
                at: "2021-09-08T03:00:00Z"
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}")),
                reason: "</script><script>alert(1)</script>".into(),
            }],
            revoked_keys: Vec::new(),
            generated_at: "2021-09-08T01:00:00Z"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
            fresh_hours: DEFAULT_FRESH_HOURS,
            max_valid_days: 30,
        }
    }

    #[test]
    fn page_is_whole_and_small() {
        let page = render(&input());
        assert!(page.html.len() < MAX_PAGE_BYTES, "{}", page.html.len());
        assert!(!page.html.contains("{{"), "a marker is left");
        assert_eq!(page.html.matches("</script>").count(), 4);
        assert!(page.html.contains("connect-src 'none'"));
        assert!(page.html.contains(&page.fingerprint));
        assert_eq!(page.fingerprint.len(), 8);
    }

    #[test]
    fn data_cannot_close_its_script() {
        let page = render(&input());
        assert!(!page.html.contains("</script><script>alert"));
        assert!(page.html.contains("\\u003c/script>\\u003cscript>alert(1)"));
    }

    #[test]
    fn merge_keeps_same_entries_once_and_names_conflicts() {
        let a = key("THD-aaaaaaaa", "hoankiem.tranhungdao");
        let b = key("HB-bbbbbbbb", "hoankiem.hangbac");
        let merged = merge_keys(vec![
            ("one.json".into(), vec![a.clone()]),
            ("two.json".into(), vec![a.clone(), b.clone()]),
        ]);
        assert_eq!(merged, Ok(vec![a.clone(), b]));
        let mut other = a.clone();
        other.public_key = "B".repeat(43);
        let err = merge_keys(vec![
            ("one.json".into(), vec![a]),
            ("two.json".into(), vec![other]),
        ]);
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("key id THD-aaaaaaaa is in one.json and in two.json with different entries; a kid must name one key".into())
        );
    }

    fn revoked_key(kid: &str, from: &str, reason: &str) -> RevokedKey {
        RevokedKey {
            kid: kid.into(),
            from: from.parse().unwrap_or_else(|e| panic!("{e}")),
            reason: reason.into(),
        }
    }

    #[test]
    fn fingerprint_follows_the_lists() {
        let i = input();
        let a = fingerprint(&i.keys, &i.revoked, &[]);
        assert_eq!(a, fingerprint(&i.keys, &i.revoked, &[]));
        assert_ne!(a, fingerprint(&i.keys, &[], &[]));
        let gone = [revoked_key("THD-aaaaaaaa", "2021-09-09T00:00:00Z", "lost")];
        assert_ne!(a, fingerprint(&i.keys, &i.revoked, &gone));
    }

    /// One entry per kid, the earliest `from` winning, whichever list it came from.
    #[test]
    fn revoked_keys_merge_by_kid_earliest_first() {
        let merged = merge_revoked_keys(vec![
            vec![
                revoked_key("THD-aaaaaaaa", "2021-09-10T00:00:00Z", "later"),
                revoked_key("HB-bbbbbbbb", "2021-09-01T00:00:00Z", "hb"),
            ],
            vec![
                revoked_key("THD-aaaaaaaa", "2021-09-09T00:00:00Z", "earlier"),
                revoked_key("HB-bbbbbbbb", "2021-09-05T00:00:00Z", "hb again"),
            ],
        ]);
        assert_eq!(
            merged,
            vec![
                revoked_key("HB-bbbbbbbb", "2021-09-01T00:00:00Z", "hb"),
                revoked_key("THD-aaaaaaaa", "2021-09-09T00:00:00Z", "earlier"),
            ]
        );
    }

    fn revoked(permit: &str, at: &str, reason: &str) -> Revoked {
        Revoked {
            permit: permit.into(),
            at: at.parse().unwrap_or_else(|e| panic!("{e}")),
            reason: reason.into(),
        }
    }

    /// Each entry once, sorted by permit and time; two reasons for the same permit and
    /// time stay in the order they first appeared, as the quadratic merge kept them.
    #[test]
    fn revoked_merge_keeps_each_entry_once_in_order() {
        let t1 = "2021-09-08T03:00:00Z";
        let t0 = "2021-09-07T03:00:00Z";
        let merged = merge_revoked(vec![
            vec![
                revoked("B-T-0001-0001", t1, "sai"),
                revoked("A-T-0001-0001", t1, "z"),
                revoked("A-T-0001-0001", t1, "a"),
            ],
            vec![
                revoked("A-T-0001-0001", t1, "z"),
                revoked("A-T-0001-0001", t0, "mất"),
                revoked("B-T-0001-0001", t1, "sai"),
                revoked("A-T-0001-0001", t1, "a"),
            ],
        ]);
        assert_eq!(
            merged,
            vec![
                revoked("A-T-0001-0001", t0, "mất"),
                revoked("A-T-0001-0001", t1, "z"),
                revoked("A-T-0001-0001", t1, "a"),
                revoked("B-T-0001-0001", t1, "sai"),
            ]
        );
    }

    /// The quadratic merge this replaced, kept as the reference.
    fn merge_revoked_quadratic(lists: Vec<Vec<Revoked>>) -> Vec<Revoked> {
        let mut merged: Vec<Revoked> = Vec::new();
        for revoked in lists.into_iter().flatten() {
            if !merged.contains(&revoked) {
                merged.push(revoked);
            }
        }
        merged.sort_by(|a, b| a.permit.cmp(&b.permit).then(a.at.cmp(&b.at)));
        merged
    }

    proptest::proptest! {
        #[test]
        fn revoked_merge_is_the_quadratic_merge(
            lists in proptest::collection::vec(
                proptest::collection::vec((0..4u8, 0..3u8, 0..3u8), 0..12),
                0..5,
            )
        ) {
            let lists: Vec<Vec<Revoked>> = lists
                .into_iter()
                .map(|l| {
                    l.into_iter()
                        .map(|(p, t, r)| {
                            revoked(
                                &format!("A-T-0001-000{p}"),
                                &format!("2021-09-0{}T03:00:00Z", t + 1),
                                &format!("lý do {r}"),
                            )
                        })
                        .collect()
                })
                .collect();
            proptest::prop_assert_eq!(
                merge_revoked(lists.clone()),
                merge_revoked_quadratic(lists)
            );
        }
    }

    /// Each revocation as `[permit, at, reason index]`, each reason once.
    #[test]
    fn revocations_travel_compact() {
        let mut i = input();
        let t = "2021-09-08T03:00:00Z";
        i.revoked = vec![
            revoked("THD-T-0001-0001", t, "Nghỉ việc"),
            revoked("THD-T-0001-0002", t, "Sai thông tin"),
            revoked("THD-T-0001-0003", t, "Nghỉ việc"),
        ];
        let html = render(&i).html;
        assert!(html.contains(
            "\"revoked\":[[\"THD-T-0001-0001\",\"2021-09-08T03:00:00Z\",0],\
             [\"THD-T-0001-0002\",\"2021-09-08T03:00:00Z\",1],\
             [\"THD-T-0001-0003\",\"2021-09-08T03:00:00Z\",0]],\
             \"reasons\":[\"Nghỉ việc\",\"Sai thông tin\"]"
        ));
    }

    #[test]
    fn revoked_keys_reach_the_page() {
        let mut i = input();
        let none = render(&i).html;
        assert!(none.contains("\"revoked_keys\":[]"));
        i.revoked_keys = vec![revoked_key("THD-aaaaaaaa", "2021-09-09T00:00:00Z", "lost")];
        let page = render(&i);
        assert!(page.html.contains(
            "\"revoked_keys\":[{\"kid\":\"THD-aaaaaaaa\",\"from\":\"2021-09-09T00:00:00Z\",\"reason\":\"lost\"}]"
        ));
    }
}
