//! Golden `.eml` fixtures for MIME → `Mail`, and the promise that no input panics.
//!
//! Each `tests/fixtures/mail/<name>.eml` has a `<name>.expected.json` that lists the
//! fields worth asserting: every key it names must match exactly (objects inside are
//! compared the same way, key by key; arrays must have the same length and match element
//! by element). `auth_evidence` is `Mail::auth_evidence()`; `error` is the error's
//! sentence when the mail must not parse. Authentication is read as if the config
//! trusted `mx.google.com`, as a Gmail-hosted ward's does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use qrca::inbound::mail::{Mail, MailError, parse_mail};
use serde_json::{Value, json};

const MIN_FIXTURES: usize = 30;

fn trusted() -> Vec<String> {
    vec!["mx.google.com".to_owned()]
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

/// Every `.eml` fixture, sorted by name.
fn fixtures() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(fixture_dir())
        .map(|dir| {
            dir.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// What the test compares: the mail as JSON, plus the evidence the audit would record.
fn actual(raw: &[u8]) -> Value {
    match parse_mail(raw, &trusted()) {
        Ok(mail) => {
            let mut v = serde_json::to_value(&mail).unwrap();
            v["auth_evidence"] = serde_json::to_value(mail.auth_evidence()).unwrap();
            v
        }
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// Records every place where `actual` does not match what `expected` asks for.
fn compare(path: &str, expected: &Value, actual: &Value, problems: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            for (key, want) in want {
                let at = format!("{path}.{key}");
                match got.get(key) {
                    Some(got) => compare(&at, want, got, problems),
                    None => problems.push(format!("{at}: missing, expected {want}")),
                }
            }
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                problems.push(format!(
                    "{path}: {} elements, expected {}: got {actual}",
                    got.len(),
                    want.len()
                ));
                return;
            }
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                compare(&format!("{path}[{i}]"), w, g, problems);
            }
        }
        _ if expected == actual => {}
        _ => problems.push(format!("{path}: got {actual}, expected {expected}")),
    }
}

#[test]
fn golden_fixtures_read_as_expected() {
    let all = fixtures();
    let mut problems = Vec::new();
    for eml in &all {
        let name = eml.file_stem().unwrap().to_string_lossy().into_owned();
        let expected_path = eml.with_extension("expected.json");
        let Ok(expected) = fs::read_to_string(&expected_path) else {
            problems.push(format!("{name}: no {}", expected_path.display()));
            continue;
        };
        let expected: Value = serde_json::from_str(&expected).unwrap_or_else(|e| {
            panic!("{}: {e}", expected_path.display());
        });
        assert!(
            expected.as_object().is_some_and(|o| !o.is_empty()),
            "{name}: the expected file asserts nothing"
        );
        let raw = fs::read(eml).unwrap();
        compare(&name, &expected, &actual(&raw), &mut problems);
    }
    if all.len() < MIN_FIXTURES {
        problems.push(format!(
            "found {} .eml fixtures in {}, expected at least {MIN_FIXTURES}",
            all.len(),
            fixture_dir().display()
        ));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Prints how a fixture reads, to help write its expected file:
/// `FIXTURE=name cargo test --test inbound_mail -- --ignored --nocapture show_fixture`.
#[test]
#[ignore = "a tool for writing expected files, not a check"]
fn show_fixture() {
    let name = std::env::var("FIXTURE").unwrap_or_default();
    let raw = fs::read(fixture_dir().join(format!("{name}.eml"))).unwrap();
    let mut shown = actual(&raw);
    for a in shown["attachments"].as_array_mut().into_iter().flatten() {
        a["bytes"] = json!("…");
    }
    println!("{}", serde_json::to_string_pretty(&shown).unwrap());
}

#[test]
fn every_expected_file_has_its_fixture() {
    for entry in fs::read_dir(fixture_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".expected.json") {
            assert!(
                path.with_file_name(format!("{stem}.eml")).exists(),
                "{name} has no .eml"
            );
        }
    }
}

#[test]
fn mails_round_trip_through_json() {
    for eml in fixtures() {
        let raw = fs::read(&eml).unwrap();
        if let Ok(mail) = parse_mail(&raw, &trusted()) {
            let json = serde_json::to_string(&mail).unwrap();
            let back: Mail = serde_json::from_str(&json).unwrap();
            assert_eq!(back, mail, "{}", eml.display());
        }
    }
}

/// An officer on a company domain with SPF and nothing else: Gmail writes an `spf=pass`
/// for the bounce address and no DKIM or DMARC result. The aligned SPF pass counts; the
/// same header for another organisation's From does not; a quoted local part cannot
/// smuggle in a `dkim=pass` for the officer's domain.
#[test]
fn an_spf_only_domain_authenticates_by_its_aligned_mail_from() {
    let mail = |from: &str, mailfrom: &str| {
        let raw = format!(
            "Authentication-Results: mx.google.com;\r\n       spf=pass (google.com: domain of {mailfrom} designates 203.162.10.5 as permitted sender) smtp.mailfrom={mailfrom}\r\n\
             From: <{from}>\r\nTo: <qrca.hoankiem.tranhungdao1@gmail.com>\r\nSubject: DUYET\r\n\
             Message-ID: <spf1@congty.com.vn>\r\n\r\nDUYỆT\r\n"
        );
        parse_mail(raw.as_bytes(), &trusted()).unwrap()
    };
    assert_eq!(
        mail("canbo@congty.com.vn", "bounce@mail.congty.com.vn").auth_evidence(),
        qrca::workflow::AuthEvidence::Pass {
            authserv_id: "mx.google.com".into(),
            method: "spf".into(),
            domain: "congty.com.vn".into(),
        }
    );
    assert!(
        !mail("canbo@congty.com.vn", "a@khac.com.vn")
            .auth_evidence()
            .passes()
    );
    let smuggled = mail(
        "canbo@congty.com.vn",
        "\"x;dkim=pass header.d=congty.com.vn\"@attacker.example",
    );
    assert!(smuggled.auth.dkim.is_empty(), "{:?}", smuggled.auth);
    let evidence = smuggled.auth_evidence();
    assert!(!evidence.passes());
    assert!(
        evidence
            .to_string()
            .contains("use a Gmail address, or add DKIM/SPF to the domain"),
        "{evidence}"
    );
}

#[test]
fn without_trusted_servers_nothing_is_required() {
    let raw = fs::read(fixture_dir().join("auth_forged_below_real.eml")).unwrap();
    let mail = parse_mail(&raw, &[]).unwrap();
    assert_eq!(
        mail.auth_evidence(),
        qrca::workflow::AuthEvidence::NotRequired
    );
    assert!(!mail.auth.vouches_for("hoankiem.hanoi.gov.vn"));
}

#[test]
fn hostile_inputs_are_errors_not_panics() {
    for raw in [
        &b""[..],
        b"\n\n\n",
        b"\0\0\0\xff\xfe",
        b"From: \n\n",
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\n--x\n--x--",
    ] {
        assert_ne!(
            parse_mail(raw, &trusted()).err(),
            Some(MailError::ParserFailed)
        );
    }
    // Deep nesting must neither exhaust the stack of the MIME parser or the HTML
    // converter nor hold it for minutes; nor may a header of 100,000 ids.
    let mut deep = String::from("From: a@b.vn\nContent-Type: text/html\n\n");
    for _ in 0..100_000 {
        deep.push_str("<div><blockquote>");
    }
    deep.push_str("DUYET");
    let mail = parse_mail(deep.as_bytes(), &trusted()).unwrap();
    assert_eq!(mail.text, "DUYET");
    let ids: String = (0..100_000).map(|i| format!(" <{i}@x>")).collect();
    let raw = format!(
        "From: a@b.vn\nReferences:{ids}\nTo:{}\n\nx",
        ids.replace('<', "a+").replace('>', ",")
    );
    let started = std::time::Instant::now();
    let mail = parse_mail(raw.as_bytes(), &trusted()).unwrap();
    assert_eq!(mail.references.len(), 100_000);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    let mut nested = String::from("From: a@b.vn\n");
    for i in 0..2_000 {
        nested.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n"
        ));
    }
    assert_ne!(
        parse_mail(nested.as_bytes(), &trusted()).err(),
        Some(MailError::ParserFailed)
    );
}

/// A fixture with some bytes changed, removed or repeated.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let all = fixtures();
    let count = all.len().max(1);
    (
        0..count,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..16),
    )
        .prop_map(move |(which, edits)| {
            let mut bytes = all
                .get(which)
                .and_then(|p| fs::read(p).ok())
                .unwrap_or_default();
            for (at, byte, kind) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = byte,
                    1 => {
                        bytes.remove(i);
                    }
                    2 => bytes.truncate(i),
                    _ => {
                        let end = (i + usize::from(byte)).min(bytes.len());
                        let copy = bytes[i..end].to_vec();
                        bytes.splice(i..i, copy);
                    }
                }
            }
            bytes
        })
}

/// Runs the parser and fails if it only survived by catching a panic: `parse_mail` turns
/// a panic into `ParserFailed` so the daemon lives on, but a test must see it.
fn survives(raw: &[u8]) -> Result<(), TestCaseError> {
    let result = parse_mail(raw, &trusted());
    prop_assert!(
        !matches!(result, Err(MailError::ParserFailed)),
        "the parser panicked"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..4096)) {
        survives(&raw)?;
    }

    #[test]
    fn mutated_fixtures_never_panic(raw in mutated()) {
        survives(&raw)?;
    }
}
