//! The checkpoint page (issue 12): its JavaScript verdict agrees with `qrca verify` over
//! vectors the Rust side writes, and the real page, driven in headless Chromium with a
//! fake camera showing real permit PDFs, says what an officer must see.
//!
//! Needs Node (≥ 18) with `tests/checkpoint/node_modules` (`npm ci` there), Debian's
//! `chromium`, `ffmpeg` and poppler's `pdftoppm`; scripts/test.sh installs them all.
//! Screenshots of each verdict are left in `$CARGO_TARGET_DIR/checkpoint-screens/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/browser.rs"]
mod browser;

use browser::{blank_camera, camera, chromium, node, out_dir, repo, run, text, tool};
use ed25519_dalek::SigningKey;
use jiff::Timestamp;
use jiff::civil::Date;
use qrca::permit::checkpoint;
use qrca::permit::payload::{self, Claims};
use qrca::permit::pdf::{Labels, Paper, PermitFace, Renderer};
use qrca::permit::trust::{self, RevocationList, Revoked, RevokedKey, TrustList, TrustedKey, Why};
use qrca::workflow::Kind;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const THD: &str = "hoankiem.tranhungdao";
const HB: &str = "hoankiem.hangbac";
const MAX_DAYS: u32 = 30;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn claims(kid: &str, id: &str, ward: &str, from: Date, until: Date) -> Claims {
    Claims {
        kid: kid.into(),
        id: id.into(),
        kind: Kind::T,
        name: "Nguyễn Thị Ngọc Ánh".into(),
        birth_year: Some(1990),
        masked_id: payload::mask_id("001190012345"),
        valid_from: from,
        valid_until: until,
        ward: ward.into(),
        organisation: Some("Công ty TNHH Thực phẩm Bình Minh, kho 50% | số 2".into()),
        route: Some("Hoàn Kiếm – Long Biên".into()),
        vehicle: Some("29A-123.45".into()),
        market: None,
        days: None,
    }
}

/// The two wards' keys, the trust list (THD and HB; a third ward's key is left out), and
/// the revocation list. THD also has a retired key (its window ends on 2021-09-09) and a
/// compromised one, revoked as a whole.
struct Keys {
    thd: SigningKey,
    hb: SigningKey,
    other: SigningKey,
    retired: SigningKey,
    lost: SigningKey,
    trust: TrustList,
    revoked: RevocationList,
}

fn kid(short: &str, k: &SigningKey) -> String {
    payload::kid(short, &k.verifying_key())
}

fn keys() -> Keys {
    let (thd, hb, other, retired, lost) = (key(1), key(2), key(3), key(4), key(5));
    let day = |y, m, d| Date::new(y, m, d).unwrap();
    let trust = TrustList::new(vec![
        TrustedKey::for_key(
            kid("THD", &thd),
            THD,
            "Phường Trần Hưng Đạo",
            "Quận Hoàn Kiếm",
            &thd.verifying_key(),
            day(2021, 1, 1),
            None,
        ),
        TrustedKey::for_key(
            kid("HB", &hb),
            HB,
            "Phường Hàng Bạc",
            "Quận Hoàn Kiếm",
            &hb.verifying_key(),
            day(2021, 1, 1),
            Some(day(2099, 12, 31)),
        ),
        TrustedKey::for_key(
            kid("THD", &retired),
            THD,
            "Phường Trần Hưng Đạo",
            "Quận Hoàn Kiếm",
            &retired.verifying_key(),
            day(2021, 1, 1),
            Some(day(2021, 9, 9)),
        ),
        TrustedKey::for_key(
            kid("THD", &lost),
            THD,
            "Phường Trần Hưng Đạo",
            "Quận Hoàn Kiếm",
            &lost.verifying_key(),
            day(2021, 1, 1),
            None,
        ),
        // A small-order key (the identity point): a lax verifier accepts anything
        // "signed" by it; payload.rs's verify_strict and the page refuse it.
        TrustedKey {
            kid: "SO-aaaaaaaa".into(),
            ward: "small.order".into(),
            ward_name: "Phường Thử".into(),
            district: "Quận Thử".into(),
            public_key: data_encoding::BASE64URL_NOPAD.encode(&identity()),
            not_before: day(2021, 1, 1),
            not_after: None,
        },
    ]);
    let revoked = RevocationList::new(vec![Revoked {
        permit: "THD-T-0001-0003".into(),
        at: "2021-09-08T03:00:00Z".parse().unwrap(),
        reason: "mất giấy".into(),
    }])
    .with_keys(vec![RevokedKey {
        kid: kid("THD", &lost),
        from: "2021-09-12T02:00:00Z".parse().unwrap(),
        reason: "máy tính giữ khóa bị mất".into(),
    }]);
    Keys {
        thd,
        hb,
        other,
        retired,
        lost,
        trust,
        revoked,
    }
}

/// `Why` as the page names it.
fn code(why: &Why) -> &'static str {
    match why {
        Why::Malformed(_) => "malformed",
        Why::UnknownKid(_) => "unknown_kid",
        Why::BadPublicKey(_) => "bad_public_key",
        Why::BadSignature => "bad_signature",
        Why::WrongWard { .. } => "wrong_ward",
        Why::KeyRevoked { .. } => "key_revoked",
        Why::KeyNotValidThen { .. } => "key_not_valid_then",
        Why::Revoked { .. } => "revoked",
        Why::TooLong { .. } => "too_long",
        Why::NotYetValid(_) => "not_yet_valid",
        Why::Expired(_) => "expired",
    }
}

/// Replaces field `key=`'s raw value (or removes it), without signing again.
fn with(payload: &str, key: &str, value: Option<&str>) -> String {
    let mut out = Vec::new();
    for part in payload.split('|') {
        if part.starts_with(&format!("{key}=")) {
            if let Some(v) = value {
                out.push(format!("{key}={v}"));
            }
        } else {
            out.push(part.to_owned());
        }
    }
    out.join("|")
}

/// Signs `message` (everything before `|s=`) as is, so a malformed field can be tested
/// with a good signature.
fn signed_raw(message: &str, k: &SigningKey) -> String {
    use ed25519_dalek::Signer;
    let sig = k.sign(message.as_bytes());
    format!(
        "{message}|s={}",
        data_encoding::BASE64URL_NOPAD.encode(&sig.to_bytes())
    )
}

/// The vectors: name, payload, the day to check on. Every verdict, every malformation
/// payload.rs names, and the edges of escapes, dates and the signature's encoding.
fn vectors(k: &Keys) -> Vec<(String, String, Date)> {
    let t = Date::new(2021, 9, 10).unwrap();
    let (from, until) = (
        Date::new(2021, 9, 8).unwrap(),
        Date::new(2021, 9, 21).unwrap(),
    );
    let thd = kid("THD", &k.thd);
    let good = payload::sign(&claims(&thd, "THD-T-0001-0007", THD, from, until), &k.thd).unwrap();
    let message = &good[..good.find("|s=").unwrap()];
    let mut v: Vec<(String, String, Date)> = Vec::new();
    let mut add = |name: &str, p: String, day: Date| v.push((name.into(), p, day));
    add("valid", good.clone(), t);
    add("valid on its first day", good.clone(), from);
    add("valid on its last day", good.clone(), until);
    add(
        "expired the day after",
        good.clone(),
        until.tomorrow().unwrap(),
    );
    add(
        "not yet valid the day before",
        good.clone(),
        from.yesterday().unwrap(),
    );
    add("tampered name", good.replacen("Ánh", "Anh", 1), t);
    add(
        "tampered date",
        good.replacen("|u=2021-09-21", "|u=2021-09-28", 1),
        t,
    );
    let hb = kid("HB", &k.hb);
    add(
        "other ward's valid permit",
        payload::sign(&claims(&hb, "HB-C-0002-0001", HB, from, until), &k.hb).unwrap(),
        t,
    );
    add(
        "unknown key",
        payload::sign(
            &claims(&kid("XYZ", &k.other), "XYZ-T-0001-0001", "x.y", from, until),
            &k.other,
        )
        .unwrap(),
        t,
    );
    add(
        "trusted kid, other key",
        payload::sign(&claims(&thd, "THD-T-0001-0007", THD, from, until), &k.other).unwrap(),
        t,
    );
    add(
        "wrong ward",
        payload::sign(&claims(&thd, "THD-T-0001-0007", HB, from, until), &k.thd).unwrap(),
        t,
    );
    add(
        "before the key's window",
        payload::sign(
            &claims(
                &thd,
                "THD-T-0001-0007",
                THD,
                Date::new(2020, 12, 31).unwrap(),
                until,
            ),
            &k.thd,
        )
        .unwrap(),
        t,
    );
    add(
        "too long",
        payload::sign(
            &claims(
                &thd,
                "THD-T-0001-0007",
                THD,
                from,
                Date::new(2021, 10, 8).unwrap(),
            ),
            &k.thd,
        )
        .unwrap(),
        t,
    );
    add(
        "30 days is not too long",
        payload::sign(
            &claims(
                &thd,
                "THD-T-0001-0007",
                THD,
                from,
                Date::new(2021, 10, 7).unwrap(),
            ),
            &k.thd,
        )
        .unwrap(),
        t,
    );
    add(
        "revoked",
        payload::sign(&claims(&thd, "THD-T-0001-0003", THD, from, until), &k.thd).unwrap(),
        t,
    );
    // A retired key's permit started inside its window (to 2021-09-09) and runs past it.
    let retired = kid("THD", &k.retired);
    let by_retired = payload::sign(
        &claims(&retired, "THD-T-0001-0009", THD, from, until),
        &k.retired,
    )
    .unwrap();
    add(
        "retired key, started in its window, ends after it",
        by_retired.clone(),
        t,
    );
    add(
        "retired key, on the last day, after the key's end",
        by_retired,
        until,
    );
    add(
        "retired key, starts after its window",
        payload::sign(
            &claims(&retired, "THD-T-0001-0009", THD, t, until),
            &k.retired,
        )
        .unwrap(),
        t,
    );
    // A revoked key voids what it signed, even checked before its `from`.
    let by_lost = payload::sign(
        &claims(&kid("THD", &k.lost), "THD-T-0001-0010", THD, from, until),
        &k.lost,
    )
    .unwrap();
    add("revoked key", by_lost.clone(), t);
    add("revoked key, checked after its from", by_lost, until);
    let mut household = claims(&thd, "THD-H-0001-0001", THD, from, until);
    household.kind = Kind::H;
    household.birth_year = None;
    household.route = None;
    household.vehicle = None;
    household.market = Some("Chợ Hàng Bè".into());
    household.days = Some("T2, T4, T6".into());
    add(
        "household card",
        payload::sign(&household, &k.thd).unwrap(),
        t,
    );
    let mut long = claims(&thd, "THD-T-0001-0008", THD, from, until);
    long.organisation = Some("Tổng công ty ".repeat(40));
    long.route = Some("%|\n".repeat(30));
    add("cut long values", payload::sign(&long, &k.thd).unwrap(), t);

    // Malformed, each with a good signature over what it says.
    let raw = |name: &str, key: &str, value: Option<&str>| {
        (
            name.to_owned(),
            signed_raw(&with(message, key, value), &k.thd),
        )
    };
    let mut malformed = vec![
        raw("bad kid", "k", Some("THD_bad")),
        raw("long kid", "k", Some("ABCDEFGHIJKLMNOPQ")),
        raw("empty id", "i", Some("")),
        raw("escaped pipe in id", "i", Some("a%7Cb")),
        raw("kind X", "t", Some("X")),
        raw("kind lower", "t", Some("t")),
        raw("bad escape", "n", Some("bad%4")),
        raw("escape at end", "n", Some("bad%")),
        raw("needless escape", "n", Some("%41")),
        raw("lower-case escape", "n", Some("%7c")),
        raw("half a UTF-8 char", "n", Some("%C3")),
        raw("raw tab", "n", Some("a\tb")),
        raw("raw C1 control", "n", Some("a\u{85}b")),
        raw("escaped C1 control", "n", Some("a%C2%85b")),
        raw("NFD name", "n", Some("A\u{301}nh")),
        raw("year with a letter", "b", Some("19x0")),
        raw("three-digit year", "b", Some("990")),
        raw("year 0999", "b", Some("0999")),
        raw("negative year", "b", Some("-990")),
        raw("empty year", "b", Some("")),
        raw("bad escape in d", "d", Some("%ZZ")),
        raw("short date", "f", Some("2021-9-08")),
        raw("30 February", "f", Some("2021-02-30")),
        raw("29 February 2020", "f", Some("2020-02-29")),
        raw("29 February 2100", "f", Some("2100-02-29")),
        raw("until before from", "u", Some("2021-09-01")),
        raw("slashes", "u", Some("2021/09/21")),
        raw("empty ward", "w", Some("")),
        raw("empty optional", "o", Some("")),
        raw("no id", "i", None),
        raw("no ward", "w", None),
        raw("no vehicle (optional)", "v", None),
    ];
    malformed.push(("unknown key".into(), format!("{message}|z=1|s=AAAA")));
    malformed.push((
        "unknown key signed".into(),
        signed_raw(&format!("{message}|z=1"), &k.thd),
    ));
    malformed.push((
        "not key=value".into(),
        signed_raw(&format!("{message}|oops"), &k.thd),
    ));
    malformed.push((
        "duplicate".into(),
        signed_raw(&format!("{message}|o=again"), &k.thd),
    ));
    malformed.push((
        "out of order".into(),
        signed_raw(&format!("{message}|m=x|r=y"), &k.thd),
    ));
    malformed.push(("field after s".into(), format!("{good}|y=late")));
    malformed.push(("no signature".into(), message.to_owned()));
    malformed.push(("signature too long".into(), good.replace("|s=", "|s=A")));
    malformed.push((
        "signature not base64url".into(),
        format!("{}{}", &good[..good.len() - 2], "+/"),
    ));
    let last = good.chars().last().unwrap();
    let mut spare = good.clone();
    spare.pop();
    // The last character of 86 carries 2 bits and 4 spare bits, which must be 0.
    spare.push(if last == 'B' { 'C' } else { 'B' });
    malformed.push(("signature with spare bits".into(), spare));
    malformed.push(("version 2".into(), good.replacen("QRCA1", "QRCA2", 1)));
    malformed.push(("not qrca".into(), good.replacen("QRCA1", "XYZ", 1)));
    malformed.push(("empty".into(), String::new()));
    malformed.push((
        "400 bytes".into(),
        good.replacen("|o=", &format!("|o={}", "x".repeat(400 - good.len())), 1),
    ));
    malformed.push((
        "399 bytes".into(),
        signed_raw(
            &message.replacen("|o=", &format!("|o={}", "x".repeat(399 - good.len())), 1),
            &k.thd,
        ),
    ));
    malformed.push(("trailing newline".into(), format!("{good}\n")));
    malformed.push(("small-order key".into(), small_order(message)));
    for (name, p) in malformed {
        add(&name, p, t);
    }
    v
}

/// The encoding of the identity point, a point of small order.
fn identity() -> [u8; 32] {
    let mut p = [0u8; 32];
    p[0] = 1;
    p
}

/// A payload under the small-order key, "signed" with R = identity and S = 0, which
/// satisfies the verification equation: a strict verifier must still refuse it.
fn small_order(message: &str) -> String {
    let message = message
        .replacen(
            &message[message.find("|k=").unwrap()..message.find("|i=").unwrap()],
            "|k=SO-aaaaaaaa",
            1,
        )
        .replacen(&format!("|w={THD}"), "|w=small.order", 1);
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&identity());
    format!(
        "{}|s={}",
        message,
        data_encoding::BASE64URL_NOPAD.encode(&sig)
    )
}

fn today() -> Date {
    Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").unwrap())
        .date()
}

/// Writes the vectors with their verdicts from `trust::check` (what `qrca verify`
/// prints) to `dir/vectors.json`, and returns the file.
fn write_vectors(dir: &Path, k: &Keys) -> (PathBuf, Vec<Value>) {
    let mut list = Vec::new();
    for (name, p, day) in vectors(k) {
        let verdict = trust::check(&p, &k.trust, Some(&k.revoked), day, MAX_DAYS);
        let (code, field, why) = match &verdict {
            trust::Verdict::Valid(_) => ("valid", 0, "VALID".to_owned()),
            trust::Verdict::NotValid { why, .. } => (
                code(why),
                match why {
                    Why::Malformed(m) => m.field,
                    _ => 0,
                },
                why.to_string(),
            ),
        };
        list.push(json!({"name": name, "payload": p, "today": day.to_string(),
                         "code": code, "field": field, "why": why}));
    }
    let file = dir.join("vectors.json");
    let doc = json!({"keys": k.trust.keys, "revoked": k.revoked.revoked,
                     "revoked_keys": k.revoked.revoked_keys,
                     "max_valid_days": MAX_DAYS, "vectors": list});
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    (file, list)
}

#[test]
fn page_verdicts_agree_with_qrca_verify() {
    let dir = out_dir("checkpoint-vectors");
    let k = keys();
    let (file, list) = write_vectors(&dir, &k);
    // The vectors cover every verdict.
    for c in [
        "valid",
        "malformed",
        "unknown_kid",
        "bad_signature",
        "wrong_ward",
        "key_revoked",
        "key_not_valid_then",
        "too_long",
        "revoked",
        "not_yet_valid",
        "expired",
    ] {
        assert!(list.iter().any(|v| v["code"] == c), "no vector for {c}");
    }
    // `qrca verify` itself says the same as trust::check on each (exit 0 iff valid).
    std::fs::write(dir.join("trust.json"), k.trust.to_json_pretty()).unwrap();
    std::fs::write(dir.join("revoked.json"), k.revoked.to_json_pretty()).unwrap();
    for v in &list {
        let payload = v["payload"].as_str().unwrap();
        // `qrca verify` trims a scanner's newline and takes no empty argument.
        if payload.is_empty() || payload.ends_with('\n') {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_qrca"))
            .args(["verify", payload, "--trust-list"])
            .arg(dir.join("trust.json"))
            .arg("--revocations")
            .arg(dir.join("revoked.json"))
            .args(["--on", v["today"].as_str().unwrap()])
            .output()
            .unwrap();
        let valid = v["code"] == "valid";
        assert_eq!(
            out.status.code(),
            Some(if valid { 0 } else { 1 }),
            "{}: {}",
            v["name"],
            text(&out.stdout)
        );
        if !valid {
            let why = v["why"].as_str().unwrap();
            assert!(
                text(&out.stdout).contains(why),
                "{}: {}",
                v["name"],
                text(&out.stdout)
            );
        }
    }
    let out = run(
        {
            let mut c = node();
            c.arg(repo().join("tests/checkpoint/vectors.cjs"))
                .arg(&file);
            c
        },
        "node",
    );
    assert!(
        out.status.success(),
        "the page's verify.js disagrees with qrca:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

// --- The real page in headless Chromium ------------------------------------------------

/// The permit PDF qrca's renderer makes for `payload` (the face from its claims).
fn permit_pdf(payload: &str, face_from: &Claims) -> Vec<u8> {
    let renderer = Renderer::new(Labels::builtin().unwrap(), Paper::A6).unwrap();
    let face = PermitFace {
        kind: face_from.kind,
        id: face_from.id.clone(),
        name: face_from.name.clone(),
        birth_date: Date::new(1990, 5, 17).ok(),
        masked_id: face_from.masked_id.clone(),
        organisation_or_address: face_from.organisation.clone(),
        route: face_from.route.clone(),
        vehicle: face_from.vehicle.clone(),
        market: None,
        days: None,
        valid_from: face_from.valid_from,
        valid_until: face_from.valid_until,
        ward_name: "Phường Trần Hưng Đạo".into(),
        district: "Quận Hoàn Kiếm".into(),
        stamp_role: "Công an Phường Trần Hưng Đạo".into(),
        payload: payload.to_owned(),
    };
    renderer.permit(&face).unwrap()
}

/// `qrca checkpoint page` on `dir/trust.json` and `revocations`: the page's path.
fn checkpoint_page(dir: &Path, revocations: &Path) -> PathBuf {
    let page = dir.join("kiem-tra.html");
    let out = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["checkpoint", "page", "--out"])
        .arg(&page)
        .arg("--trust-list")
        .arg(dir.join("trust.json"))
        .arg("--revocations")
        .arg(revocations)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    page
}

#[test]
fn the_page_in_chromium_with_a_fake_camera() {
    let dir = out_dir("checkpoint-browser");
    let screens = out_dir("checkpoint-screens");
    let k = keys();
    let (vectors, _) = write_vectors(&dir, &k);
    let day = today();
    let days = |n: i64| day.checked_add(jiff::Span::new().days(n)).unwrap();
    let thd = kid("THD", &k.thd);
    // A long organisation and route make a ~399-byte payload: a version-15 code.
    let mut valid = claims(&thd, "THD-T-0001-0007", THD, days(-2), days(12));
    valid.organisation = Some("Công ty TNHH Thực phẩm và Dịch vụ Hậu cần Bình Minh ".repeat(3));
    valid.route =
        Some("Số 12 Trần Hưng Đạo, Hoàn Kiếm – Khu công nghiệp Sài Đồng B, Long Biên".into());
    let valid_payload = payload::sign(&valid, &k.thd).unwrap();
    assert!(valid_payload.len() > 380, "{}", valid_payload.len());
    let tampered = valid_payload.replacen("Ánh", "Anh", 1);
    let other = claims(
        &kid("XYZ", &k.other),
        "XYZ-T-0001-0001",
        "x.y",
        days(-2),
        days(12),
    );
    let revoked = claims(&thd, "THD-T-0001-0003", THD, days(-2), days(12));
    let expired = claims(&thd, "THD-T-0001-0004", THD, days(-20), days(-6));
    let not_yet = claims(&thd, "THD-T-0001-0005", THD, days(3), days(12));
    let lost = claims(
        &kid("THD", &k.lost),
        "THD-T-0001-0006",
        THD,
        days(-2),
        days(12),
    );
    let cam = |name: &str, payload: &str, c: &Claims| camera(&dir, name, &permit_pdf(payload, c));
    let valid_cam = cam("valid", &valid_payload, &valid);
    let cameras = [
        ("tampered", cam("tampered", &tampered, &valid)),
        (
            "other-ward-key",
            cam("other", &payload::sign(&other, &k.other).unwrap(), &other),
        ),
        (
            "revoked",
            cam(
                "revoked",
                &payload::sign(&revoked, &k.thd).unwrap(),
                &revoked,
            ),
        ),
        (
            "expired",
            cam(
                "expired",
                &payload::sign(&expired, &k.thd).unwrap(),
                &expired,
            ),
        ),
        (
            "key-revoked",
            cam(
                "key-revoked",
                &payload::sign(&lost, &k.lost).unwrap(),
                &lost,
            ),
        ),
        (
            "not-yet-valid",
            cam(
                "not-yet",
                &payload::sign(&not_yet, &k.thd).unwrap(),
                &not_yet,
            ),
        ),
    ];
    // The photo: a JPEG of the permit, slightly turned and soft, as a phone takes it; the
    // camera meanwhile shows a blank frame.
    let photo = dir.join("photo.jpg");
    let sharp = dir.join("valid-300dpi");
    let valid_pdf = dir.join("valid.pdf");
    tool(
        "pdftoppm",
        &[
            "-r",
            "300",
            "-png",
            "-singlefile",
            valid_pdf.to_str().unwrap(),
            sharp.to_str().unwrap(),
        ],
    );
    tool(
        "ffmpeg",
        &[
            "-loglevel",
            "error",
            "-y",
            "-i",
            dir.join("valid-300dpi.png").to_str().unwrap(),
            "-vf",
            "rotate=0.06:fillcolor=white,gblur=sigma=0.8",
            "-q:v",
            "4",
            photo.to_str().unwrap(),
        ],
    );
    let blank_cam = blank_camera(&dir);

    std::fs::write(dir.join("trust.json"), k.trust.to_json_pretty()).unwrap();
    std::fs::write(dir.join("revoked.json"), k.revoked.to_json_pretty()).unwrap();
    let page = checkpoint_page(&dir, &dir.join("revoked.json"));
    let size = std::fs::metadata(&page).unwrap().len();
    assert!(size < 1_500_000, "the page is {size} bytes");

    const HOUR: i64 = 3_600_000;
    let case = |name: &str, camera: &Path, expect: Value| json!({"name": name, "camera": camera, "expect": expect});
    let valid_expect = json!({"verdict": "valid", "reason": "valid", "permit": "THD-T-0001-0007",
                              "name_shown": "Nguyễn Thị Ngọc Ánh", "title": "HỢP LỆ"});
    let mut cases = vec![case("valid", &valid_cam, valid_expect.clone())];
    for (name, cam) in &cameras {
        let reason = match *name {
            "tampered" => "bad_signature",
            "other-ward-key" => "unknown_kid",
            "revoked" => "revoked",
            "expired" => "expired",
            "key-revoked" => "key_revoked",
            _ => "not_yet_valid",
        };
        cases.push(case(
            name,
            cam,
            json!({"verdict": "invalid", "reason": reason, "title": "KHÔNG HỢP LỆ"}),
        ));
    }
    let mut stale = case(
        "lists-80h-old",
        &valid_cam,
        json!({"verdict": "stale", "reason": "valid"}),
    );
    stale["clock_offset_ms"] = json!(80 * HOUR);
    let mut old = case(
        "lists-8-days-old",
        &valid_cam,
        json!({"verdict": "refused", "reason": "too_old"}),
    );
    old["clock_offset_ms"] = json!(8 * 24 * HOUR);
    let mut back = case(
        "clock-set-back",
        &valid_cam,
        json!({"verdict": "refused", "reason": "clock_set_back"}),
    );
    back["last_seen_offset_ms"] = json!(24 * HOUR);
    let mut before = case(
        "clock-before-lists",
        &valid_cam,
        json!({"verdict": "refused", "reason": "clock_before_generation"}),
    );
    before["clock_offset_ms"] = json!(-2 * HOUR);
    let mut noble = case(
        "noble-forced",
        &valid_cam,
        json!({"verdict": "valid", "engine": "noble"}),
    );
    noble["hash"] = json!("#noble");
    let mut localhost = case("http-localhost", &valid_cam, valid_expect.clone());
    localhost["http"] = json!(true);
    localhost["expect"]["engine"] = json!("webcrypto");
    let mut photo_case = case("photo", &blank_cam, valid_expect);
    photo_case["photo"] = json!(photo);
    cases.extend([stale, old, back, before, noble, localhost, photo_case]);
    // "expired" also checks that the screen clears and that nothing else is stored.
    for c in cases.iter_mut().filter(|c| c["name"] == "expired") {
        c["check_clear"] = json!(true);
    }
    cases[0]["expect"]["engine"] = json!("webcrypto");
    cases[0]["expect"]["decoder"] = json!("jsqr");

    let manifest = dir.join("manifest.json");
    let chromium = chromium();
    std::fs::write(
        &manifest,
        serde_json::to_string_pretty(
            &json!({"chromium": chromium, "page": page, "screens": screens,
                                             "vectors": vectors, "cases": cases}),
        )
        .unwrap(),
    )
    .unwrap();
    let out = run(
        {
            let mut c = node();
            c.arg(repo().join("tests/checkpoint/browser.cjs"))
                .arg(&manifest);
            c
        },
        "node",
    );
    let report = text(&out.stdout);
    println!("page: {size} bytes\n{report}");
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
}

/// Decode success for the README (issue 12's goal: at least 48 of 50): five real
/// permits of different lengths rendered at 300 dpi by pdftoppm, each varied ten ways
/// (scale to 35–100 %, Gaussian blur up to σ 1.6, turned up to ±20°), 50 JPEGs read
/// through the page's photo input in Chromium (about 20 s; the figures:
/// `cargo test --test checkpoint_page decode_success -- --nocapture`).
#[test]
fn decode_success_over_50_renders() {
    let dir = out_dir("checkpoint-measure");
    let k = keys();
    let thd = kid("THD", &k.thd);
    let day = today();
    let days = |n: i64| day.checked_add(jiff::Span::new().days(n)).unwrap();
    let names = [
        "Lê Văn An",
        "Nguyễn Thị Ngọc Ánh",
        "Trần Thị Thu Hương",
        "Phạm Quốc Việt",
        "Hoàng Thị Bích Ngọc",
    ];
    let mut images = Vec::new();
    for (p, name) in names.iter().enumerate() {
        let id = format!("THD-T-0001-{:04}", p + 10);
        let mut c = claims(&thd, &id, THD, days(-1), days(10));
        c.name = (*name).into();
        // From a short payload (~230 bytes) to the longest (~399).
        c.organisation = Some("Công ty TNHH Dịch vụ Bình Minh ".repeat(p * 2 + 1));
        if p == 0 {
            c.route = None;
            c.vehicle = None;
        }
        let payload = payload::sign(&c, &k.thd).unwrap();
        let pdf = dir.join(format!("p{p}.pdf"));
        std::fs::write(&pdf, permit_pdf(&payload, &c)).unwrap();
        let png = dir.join(format!("p{p}"));
        tool(
            "pdftoppm",
            &[
                "-r",
                "300",
                "-png",
                "-singlefile",
                pdf.to_str().unwrap(),
                png.to_str().unwrap(),
            ],
        );
        for v in 0..10usize {
            let n = p * 10 + v;
            let scale = 0.35 + 0.65 * ((n * 7) % 10) as f64 / 9.0;
            let sigma = 1.6 * ((n * 3) % 5) as f64 / 4.0;
            let angle = (((n * 13) % 11) as f64 - 5.0) / 5.0 * 0.35;
            let out = dir.join(format!("r{n:02}.jpg"));
            let filter = format!(
                "scale=iw*{scale:.3}:-2,rotate={angle:.3}:ow=rotw({angle:.3}):oh=roth({angle:.3}):fillcolor=white{}",
                if sigma > 0.0 {
                    format!(",gblur=sigma={sigma:.2}")
                } else {
                    String::new()
                }
            );
            tool(
                "ffmpeg",
                &[
                    "-loglevel",
                    "error",
                    "-y",
                    "-i",
                    dir.join(format!("p{p}.png")).to_str().unwrap(),
                    "-vf",
                    &filter,
                    "-q:v",
                    "4",
                    out.to_str().unwrap(),
                ],
            );
            images.push(
                json!({"path": out, "permit": id, "scale": scale, "sigma": sigma, "angle": angle}),
            );
        }
    }
    let camera = blank_camera(&dir);
    std::fs::write(dir.join("trust.json"), k.trust.to_json_pretty()).unwrap();
    let page = checkpoint_page(&dir, &repo().join("tests/checkpoint/no-revocations.json"));
    let manifest = dir.join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::to_string_pretty(&json!({"chromium": chromium(), "page": page,
            "measure": {"camera": camera, "images": images}}))
        .unwrap(),
    )
    .unwrap();
    let out = run(
        {
            let mut c = node();
            c.arg(repo().join("tests/checkpoint/browser.cjs"))
                .arg(&manifest);
            c
        },
        "node",
    );
    let report = text(&out.stdout);
    println!("{report}");
    let result: Value = serde_json::from_str(report.trim()).unwrap();
    assert!(result["decoded"].as_u64().unwrap() >= 48, "{report}");
}

/// The shared vectors through the real scan path: each payload (of those checked on the
/// vectors' usual day) printed on a permit PDF by qrca's renderer, rendered by pdftoppm,
/// and read by the page's photo input in Chromium, on a page whose lists were made that
/// morning and whose clock is set to that day. The page must name the same reason as
/// `qrca verify` for each.
#[test]
fn shared_vectors_through_the_scan_path() {
    let dir = out_dir("checkpoint-scan-vectors");
    let k = keys();
    let (_, list) = write_vectors(&dir, &k);
    let face = claims(
        "THD-aaaaaaaa",
        "THD-T-0001-0007",
        THD,
        Date::new(2021, 9, 8).unwrap(),
        Date::new(2021, 9, 21).unwrap(),
    );
    let mut images = Vec::new();
    for (n, v) in list.iter().enumerate() {
        let payload = v["payload"].as_str().unwrap();
        // Only the vectors of the usual day; and a QR code cannot carry nothing.
        if v["today"] != "2021-09-10" || payload.is_empty() {
            continue;
        }
        let pdf = dir.join(format!("v{n:02}.pdf"));
        std::fs::write(&pdf, permit_pdf(payload, &face)).unwrap();
        let png = dir.join(format!("v{n:02}"));
        tool(
            "pdftoppm",
            &[
                "-r",
                "200",
                "-png",
                "-singlefile",
                pdf.to_str().unwrap(),
                png.to_str().unwrap(),
            ],
        );
        images.push(
            json!({"path": dir.join(format!("v{n:02}.png")), "name": v["name"],
                           "code": v["code"], "field": v["field"]}),
        );
    }
    assert!(images.len() >= 55, "{}", images.len());
    let page = checkpoint::render(&checkpoint::PageInput {
        keys: k.trust.keys.clone(),
        revoked: k.revoked.revoked.clone(),
        revoked_keys: k.revoked.revoked_keys.clone(),
        generated_at: "2021-09-10T01:00:00Z".parse().unwrap(),
        fresh_hours: checkpoint::DEFAULT_FRESH_HOURS,
        max_valid_days: MAX_DAYS,
    });
    let page_path = dir.join("kiem-tra.html");
    std::fs::write(&page_path, &page.html).unwrap();
    let camera = blank_camera(&dir);
    let clock: Timestamp = "2021-09-10T03:00:00Z".parse().unwrap();
    let manifest = dir.join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::to_string_pretty(&json!({"chromium": chromium(), "page": page_path,
            "scan_vectors": {"camera": camera, "clock_ms": clock.as_millisecond(), "images": images}}))
        .unwrap(),
    )
    .unwrap();
    let out = run(
        {
            let mut c = node();
            c.arg(repo().join("tests/checkpoint/browser.cjs"))
                .arg(&manifest);
            c
        },
        "node",
    );
    let report = text(&out.stdout);
    println!("{report}");
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
}
