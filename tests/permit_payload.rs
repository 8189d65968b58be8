//! The permit QR payload (SPEC §5) from outside: the published test vector, and
//! properties of sign → decode → check over any Unicode input.

use ed25519_dalek::SigningKey;
use jiff::civil::Date;
use proptest::prelude::*;
use qrca::permit::payload::{self, Claims, MAX_PAYLOAD, decode, kid, mask_id, sign};
use qrca::permit::trust::{TrustList, TrustedKey, Verdict, check};
use qrca::workflow::Kind;
use std::collections::BTreeMap;
use unicode_normalization::UnicodeNormalization;

const VECTOR: &str = "tests/fixtures/permit/vector.txt";
/// No cap on a permit's length: these tests are about the payload and its signature
/// (the cap has its own tests in `permit::trust`).
const ANY_LENGTH: u32 = u32::MAX;

/// The vector's payload, pinned: Ed25519 signatures are deterministic, so a change here
/// means every printed permit would stop verifying.
const PAYLOAD: &str = "QRCA1|k=THD-kzdvvj2u|i=THD-T-0001-0007|t=T|n=Nguyễn Thị Ngọc Ánh|b=1990|d=********2345|f=2021-09-08|u=2021-09-21|w=hoankiem.tranhungdao|o=Công ty TNHH Sen Vàng %7C Kho 100%25|r=Số 5 Trần Hưng Đạo → Bệnh viện Việt Đức|s=xr_2x0rfrYfaPAOXiJu0q54yuprEXVv81YeLj_aOSIciC0ut44eihzlnNxFAWFm42OH8zOh5G1XPxso3YqZsAA";

fn date(y: i16, m: i8, d: i8) -> Date {
    Date::new(y, m, d).unwrap_or_else(|e| panic!("{e}"))
}

fn vector_key() -> SigningKey {
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = u8::try_from(i).unwrap_or(0);
    }
    SigningKey::from_bytes(&seed)
}

fn vector_claims() -> Claims {
    Claims {
        kid: kid("THD", &vector_key().verifying_key()),
        id: "THD-T-0001-0007".into(),
        kind: Kind::T,
        name: "Nguyễn Thị Ngọc Ánh".into(),
        birth_year: Some(1990),
        masked_id: mask_id("001190012345"),
        valid_from: date(2021, 9, 8),
        valid_until: date(2021, 9, 21),
        ward: "hoankiem.tranhungdao".into(),
        organisation: Some("Công ty TNHH Sen Vàng | Kho 100%".into()),
        route: Some("Số 5 Trần Hưng Đạo → Bệnh viện Việt Đức".into()),
        vehicle: None,
        market: None,
        days: None,
    }
}

fn trust_list(key: &SigningKey, short: &str, ward: &str) -> TrustList {
    TrustList::new(vec![TrustedKey::for_key(
        kid(short, &key.verifying_key()),
        ward,
        "Phường Trần Hưng Đạo",
        "Hoàn Kiếm",
        &key.verifying_key(),
        date(2020, 1, 1),
        None,
    )])
}

/// The vector file's `name: value` lines.
fn read_vector() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(VECTOR).unwrap_or_else(|e| panic!("{VECTOR}: {e}"));
    let mut fields = BTreeMap::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{VECTOR}: line {line:?} is not `name: value`"));
        fields.insert(name.to_owned(), value.to_owned());
    }
    fields
}

#[test]
fn the_vector_file_agrees_with_the_code() {
    let v = read_vector();
    let get = |name: &str| {
        v.get(name)
            .cloned()
            .unwrap_or_else(|| panic!("{VECTOR} has no {name}"))
    };
    let key = vector_key();
    let seed: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(get("seed_hex"), seed);
    let public = data_encoding::BASE64URL_NOPAD.encode(key.verifying_key().as_bytes());
    assert_eq!(get("public_key_base64url"), public);
    let claims = vector_claims();
    assert_eq!(get("kid"), claims.kid);
    assert!(claims.name.nfc().eq(claims.name.chars()), "the name is NFC");

    let opt = |name: &str| v.get(name).cloned();
    let from_file = Claims {
        kid: get("claim.k"),
        id: get("claim.i"),
        kind: Kind::from_letter(get("claim.t").chars().next().unwrap_or('?'))
            .unwrap_or_else(|| panic!("claim.t")),
        name: get("claim.n"),
        birth_year: Some(get("claim.b").parse().unwrap_or_else(|e| panic!("{e}"))),
        masked_id: get("claim.d"),
        valid_from: get("claim.f").parse().unwrap_or_else(|e| panic!("{e}")),
        valid_until: get("claim.u").parse().unwrap_or_else(|e| panic!("{e}")),
        ward: get("claim.w"),
        organisation: opt("claim.o"),
        route: opt("claim.r"),
        vehicle: opt("claim.v"),
        market: opt("claim.m"),
        days: opt("claim.y"),
    };
    assert_eq!(from_file, claims);

    let signed = sign(&claims, &key).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(signed, PAYLOAD);
    assert_eq!(get("payload"), signed);
    assert_eq!(get("payload_bytes"), signed.len().to_string());
    let read = decode(&signed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(get("message"), read.message);
    assert_eq!(
        get("signature_base64url"),
        data_encoding::BASE64URL_NOPAD.encode(&read.signature.to_bytes())
    );
    assert_eq!(read.claims, claims);
    assert!(read.verify_with(&key.verifying_key()));

    let trust = trust_list(&key, "THD", "hoankiem.tranhungdao");
    let verdict = check(&signed, &trust, None, date(2021, 9, 10), ANY_LENGTH);
    assert_eq!(verdict, Verdict::Valid(claims));
    let verdict = check(&signed, &trust, None, date(2021, 9, 22), ANY_LENGTH);
    assert_eq!(
        verdict.to_string(),
        "NOT VALID: expired on 2021-09-21",
        "{verdict:?}"
    );
}

/// The test's own encoder, written from SPEC §5 independently of the crate's.
fn escape(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if c == '%' || c == '|' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn nfc(value: &str) -> String {
    value.nfc().collect()
}

/// The payload without its signature, by SPEC §5, with nothing cut.
fn oracle_message(c: &Claims) -> String {
    let mut m = format!(
        "QRCA1|k={}|i={}|t={}|n={}|b={}|d={}|f={}|u={}|w={}",
        c.kid,
        escape(&nfc(&c.id)),
        c.kind,
        escape(&nfc(&c.name)),
        c.birth_year.map(|y| y.to_string()).unwrap_or_default(),
        escape(&nfc(&c.masked_id)),
        c.valid_from,
        c.valid_until,
        escape(&nfc(&c.ward)),
    );
    for (key, value) in [
        ("o", &c.organisation),
        ("r", &c.route),
        ("v", &c.vehicle),
        ("m", &c.market),
        ("y", &c.days),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            m.push_str(&format!("|{key}={}", escape(&nfc(v))));
        }
    }
    m
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

fn claims_strategy(max: usize) -> impl Strategy<Value = Claims> {
    (
        (
            text(max),
            proptest::option::of(text(max)),
            proptest::option::of(text(max)),
            proptest::option::of(text(max / 4 + 1)),
            proptest::option::of(text(max / 4 + 1)),
            proptest::option::of(text(max / 4 + 1)),
        ),
        (
            proptest::option::of(1000i16..=9999),
            0usize..3,
            0i32..2000,
            0i32..400,
            "[A-Z]{2,6}",
            "[A-Za-z0-9.-]{1,30}",
            "[0-9]{9,12}",
        ),
    )
        .prop_map(
            |(
                (name, organisation, route, vehicle, market, days),
                (b, k, from, len, short, ward, idn),
            )| {
                let key = vector_key();
                let valid_from = date(2020, 1, 1)
                    .checked_add(jiff::Span::new().days(from))
                    .unwrap_or_else(|e| panic!("{e}"));
                let valid_until = valid_from
                    .checked_add(jiff::Span::new().days(len))
                    .unwrap_or_else(|e| panic!("{e}"));
                Claims {
                    kid: kid(&short, &key.verifying_key()),
                    id: format!("{short}-T-0001-0007"),
                    kind: Kind::ALL[k],
                    name,
                    birth_year: b,
                    masked_id: mask_id(&idn),
                    valid_from,
                    valid_until,
                    ward,
                    organisation,
                    route,
                    vehicle,
                    market,
                    days,
                }
            },
        )
}

/// `got` is `want` NFC-normalised, or (when the payload had to be cut) a beginning of it.
fn same_or_cut(got: &str, want: &str, cut: bool) -> bool {
    let want = nfc(want);
    got == want || (cut && want.starts_with(got))
}

fn same_or_cut_opt(got: &Option<String>, want: &Option<String>, cut: bool) -> bool {
    let want = want.as_deref().unwrap_or("");
    match got {
        None => want.is_empty() || cut,
        Some(g) => !g.is_empty() && same_or_cut(g, want, cut),
    }
}

proptest! {
    #[test]
    fn decode_gives_back_what_was_signed(claims in claims_strategy(120)) {
        let key = vector_key();
        let payload = sign(&claims, &key).unwrap_or_else(|e| panic!("{e}"));
        prop_assert!(payload.len() < MAX_PAYLOAD);
        let read = decode(&payload).unwrap_or_else(|e| panic!("{e}: {payload}"));
        prop_assert!(read.verify_with(&key.verifying_key()));
        let oracle = oracle_message(&claims);
        let cut = oracle.len() + 3 + 86 >= MAX_PAYLOAD;
        if !cut {
            prop_assert_eq!(read.message, oracle.as_str());
        }
        let got = &read.claims;
        prop_assert_eq!(&got.kid, &claims.kid);
        prop_assert_eq!(&got.id, &claims.id);
        prop_assert_eq!(got.kind, claims.kind);
        prop_assert_eq!(got.birth_year, claims.birth_year);
        prop_assert_eq!(&got.masked_id, &claims.masked_id);
        prop_assert_eq!(got.valid_from, claims.valid_from);
        prop_assert_eq!(got.valid_until, claims.valid_until);
        prop_assert_eq!(&got.ward, &claims.ward);
        prop_assert!(same_or_cut(&got.name, &claims.name, cut), "n: {:?}", got.name);
        for (g, w) in [
            (&got.organisation, &claims.organisation),
            (&got.route, &claims.route),
            (&got.vehicle, &claims.vehicle),
            (&got.market, &claims.market),
            (&got.days, &claims.days),
        ] {
            prop_assert!(same_or_cut_opt(g, w, cut), "{:?} from {:?}", g, w);
        }
    }

    #[test]
    fn one_changed_byte_is_never_valid(
        claims in claims_strategy(30),
        at in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let key = vector_key();
        let payload = sign(&claims, &key).unwrap_or_else(|e| panic!("{e}"));
        let trust = trust_list(&key, claims.kid.split('-').next().unwrap_or(""), &claims.ward);
        let today = claims.valid_from;
        prop_assert!(check(&payload, &trust, None, today, ANY_LENGTH).is_valid());
        let mut bytes = payload.clone().into_bytes();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        if let Ok(changed) = String::from_utf8(bytes) {
            let verdict = check(&changed, &trust, None, today, ANY_LENGTH);
            prop_assert!(!verdict.is_valid(), "{changed} was valid");
        }
    }

}

proptest! {
    // Each case draws 6,000 characters; fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn long_values_stay_under_the_limit(
        chars in proptest::collection::vec(
            prop_oneof![any::<char>(), proptest::char::range('\u{10000}', '\u{10FFFF}')],
            6000,
        ),
        base in claims_strategy(4),
    ) {
        let key = vector_key();
        let part = |i: usize| String::from_iter(&chars[i * 1000..(i + 1) * 1000]);
        let claims = Claims {
            name: part(0),
            organisation: Some(part(1)),
            route: Some(part(2)),
            vehicle: Some(part(3)),
            market: Some(part(4)),
            days: Some(part(5)),
            ..base
        };
        let payload = sign(&claims, &key).unwrap_or_else(|e| panic!("{e}"));
        prop_assert!(payload.len() < MAX_PAYLOAD, "{} bytes", payload.len());
        let read = decode(&payload).unwrap_or_else(|e| panic!("{e}"));
        prop_assert!(read.verify_with(&key.verifying_key()));
        prop_assert!(same_or_cut(&read.claims.name, &claims.name, true));
    }
}

#[test]
fn four_byte_characters_are_cut_whole() {
    let key = vector_key();
    let mut claims = vector_claims();
    claims.organisation = Some("😀".repeat(1000));
    claims.name = "𠀀".repeat(1000);
    let payload = sign(&claims, &key).unwrap_or_else(|e| panic!("{e}"));
    assert!(payload.len() < MAX_PAYLOAD);
    let read = decode(&payload).unwrap_or_else(|e| panic!("{e}"));
    let o = read.claims.organisation.unwrap_or_default();
    assert!(!o.is_empty() && o.chars().all(|c| c == '😀'), "{o}");
    assert!(read.claims.name.chars().all(|c| c == '𠀀'));
    // The longest is cut first, so both end up about the same length.
    let diff = o.len().abs_diff(read.claims.name.len());
    assert!(diff <= 4, "{o} / {}", read.claims.name);
}

#[test]
fn payload_module_is_reachable() {
    assert!(payload::is_valid_kid("THD-k3m9x2ab"));
}
