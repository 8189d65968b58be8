//! The city's publication at full size (issue 13, "Measured"): a generated city of 600
//! wards, each with one active Ed25519 key and a signed revocation list, ~9,600
//! revocations in all (a city of ~300,000 permit holders, ~3 % withdrawn), spread
//! unevenly across the wards.
//!
//! The city database is built through the store's public API, as `qrca city run` writes
//! it: the wards imported (`import_wards`), then per ward one mail that activates its
//! key and one that brings its list (`commit_mail`, each with its audit line and
//! seen-marker). Printed once: the page's bytes (and what takes them), the two signed
//! lists' bytes, and the database's size on disk, before and after one queued
//! publication.
//!
//! Timed: `read_wards` (`CityStore::wards`, what every publisher pass reads),
//! `merge_and_publish` (`publish::lists` + `publish::sign` + `publish::page` on the
//! wards as read; `lists` and `sign` also alone), `publisher_pass` (read + merge + sign: what a pass costs when no
//! publication is due), `page` (the page render alone), and the merge of the
//! revocations alone (`merge_revoked`) beside the quadratic one it replaced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use qrca::city::model::{
    AuditLine, Decision, KeyRecord, KeyState, StoredList, Verdict, WardEntry, WardState,
};
use qrca::city::publish::{self, Mark, PublishRules};
use qrca::city::store::CityStore;
use qrca::permit::checkpoint;
use qrca::permit::payload;
use qrca::permit::signed::{self, Detached, WardRevocations};
use qrca::permit::trust::{RevocationList, Revoked, TrustedKey};
use qrca::workflow::{Kind, case_code, permit_id};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

const WARDS: usize = 600;
/// ~300,000 permit holders, ~3.2 % of them withdrawn.
const REVOCATIONS: usize = 9_600;

const DISTRICTS: [(&str, &str); 30] = [
    ("Quận Ba Đình", "badinh"),
    ("Quận Hoàn Kiếm", "hoankiem"),
    ("Quận Tây Hồ", "tayho"),
    ("Quận Long Biên", "longbien"),
    ("Quận Cầu Giấy", "caugiay"),
    ("Quận Đống Đa", "dongda"),
    ("Quận Hai Bà Trưng", "haibatrung"),
    ("Quận Hoàng Mai", "hoangmai"),
    ("Quận Thanh Xuân", "thanhxuan"),
    ("Quận Nam Từ Liêm", "namtuliem"),
    ("Quận Bắc Từ Liêm", "bactuliem"),
    ("Quận Hà Đông", "hadong"),
    ("Thị xã Sơn Tây", "sontay"),
    ("Huyện Ba Vì", "bavi"),
    ("Huyện Phúc Thọ", "phuctho"),
    ("Huyện Đan Phượng", "danphuong"),
    ("Huyện Hoài Đức", "hoaiduc"),
    ("Huyện Quốc Oai", "quocoai"),
    ("Huyện Thạch Thất", "thachthat"),
    ("Huyện Chương Mỹ", "chuongmy"),
    ("Huyện Thanh Oai", "thanhoai"),
    ("Huyện Thường Tín", "thuongtin"),
    ("Huyện Phú Xuyên", "phuxuyen"),
    ("Huyện Ứng Hòa", "unghoa"),
    ("Huyện Mỹ Đức", "myduc"),
    ("Huyện Thanh Trì", "thanhtri"),
    ("Huyện Gia Lâm", "gialam"),
    ("Huyện Đông Anh", "donganh"),
    ("Huyện Sóc Sơn", "socson"),
    ("Huyện Mê Linh", "melinh"),
];

const WARD_NAMES: [(&str, &str); 20] = [
    ("Phường Trần Hưng Đạo", "tranhungdao"),
    ("Phường Hàng Bạc", "hangbac"),
    ("Phường Điện Biên", "dienbien"),
    ("Phường Quán Thánh", "quanthanh"),
    ("Phường Nguyễn Trung Trực", "nguyentrungtruc"),
    ("Phường Phúc Xá", "phucxa"),
    ("Phường Ngọc Khánh", "ngockhanh"),
    ("Phường Liễu Giai", "lieugiai"),
    ("Phường Thành Công", "thanhcong"),
    ("Phường Kim Mã", "kimma"),
    ("Phường Yên Hòa", "yenhoa"),
    ("Phường Trung Hòa", "trunghoa"),
    ("Phường Nghĩa Đô", "nghiado"),
    ("Phường Láng Thượng", "langthuong"),
    ("Phường Văn Miếu", "vanmieu"),
    ("Phường Bạch Đằng", "bachdang"),
    ("Phường Thanh Nhàn", "thanhnhan"),
    ("Phường Vĩnh Tuy", "vinhtuy"),
    ("Xã Đông Hội", "donghoi"),
    ("Thị trấn Trâu Quỳ", "trauquy"),
];

const REASONS: [&str; 9] = [
    "Nghỉ việc",
    "Sai thông tin",
    "Mất giấy",
    "Đổi lộ trình",
    "Hết nhu cầu đi lại",
    "Cấp trùng",
    "Doanh nghiệp tạm dừng hoạt động",
    "Theo đề nghị của đơn vị",
    "Là F1, phải cách ly",
];

/// A small deterministic generator (xorshift64*), so every run builds the same city.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The ward's short code (2–6 capitals, SPEC §5): three letters from its index.
fn short(i: usize) -> String {
    let l = |n: usize| char::from(b'A' + (n % 26) as u8);
    [l(i / 676), l(i / 26), l(i)].iter().collect()
}

fn entry(i: usize) -> WardEntry {
    let (district, d) = DISTRICTS[i % DISTRICTS.len()];
    let (name, w) = WARD_NAMES[(i / DISTRICTS.len()) % WARD_NAMES.len()];
    let code = format!("{d}.{w}");
    WardEntry {
        accounts: [1, 2, 3].map(|n| format!("{w}.{d}.{n}@example.gov.vn")),
        code,
        name: name.into(),
        district: district.into(),
    }
}

fn ward_key(i: usize) -> SigningKey {
    let seed: [u8; 32] = Sha256::digest(format!("ward key {i}").as_bytes()).into();
    SigningKey::from_bytes(&seed)
}

/// How many of the city's revocations each ward holds: skewed (a few busy wards with a
/// hundred or more, many with a handful), summing to `REVOCATIONS`.
fn spread(rng: &mut Rng) -> Vec<usize> {
    let weights: Vec<f64> = (0..WARDS).map(|_| rng.unit().powi(3) + 0.01).collect();
    let total: f64 = weights.iter().sum();
    let mut counts: Vec<usize> = weights
        .iter()
        .map(|w| (w / total * REVOCATIONS as f64) as usize)
        .collect();
    let mut missing = REVOCATIONS - counts.iter().sum::<usize>();
    let mut i = 0;
    while missing > 0 {
        counts[i % WARDS] += 1;
        missing -= 1;
        i += 7;
    }
    counts
}

/// The ward's signed revocation list of `n` permits of its own, withdrawn over the
/// last 30 days.
fn ward_list(rng: &mut Rng, short: &str, n: usize, now: Timestamp) -> Vec<Revoked> {
    let mut permits = BTreeSet::new();
    while permits.len() < n {
        let kind = match rng.below(10) {
            0 => Kind::C,
            1 => Kind::H,
            _ => Kind::T,
        };
        let case = case_code(short, kind, 1 + rng.below(400) as u32);
        permits.insert(permit_id(&case, 1 + rng.below(60) as u32));
    }
    let mut revoked: Vec<Revoked> = permits
        .into_iter()
        .map(|permit| Revoked {
            permit,
            at: now - SignedDuration::from_secs(rng.below(30 * 86_400) as i64),
            reason: REASONS[rng.below(REASONS.len() as u64) as usize].into(),
        })
        .collect();
    revoked.sort_by_key(|r| r.at);
    revoked
}

fn audit(at: Timestamp, ward: &WardEntry, what: &str, n: usize) -> AuditLine {
    AuditLine {
        at,
        ward: Some(ward.code.clone()),
        sender: ward.accounts[0].clone(),
        message_id: format!("<{what}.{n}.{}@mail.gmail.com>", ward.code),
        auth: "dkim=pass spf=pass dmarc=pass".into(),
        accepted: true,
        what: what.into(),
    }
}

fn accepted(ward: WardState, line: AuditLine) -> Decision {
    Decision {
        verdict: Verdict::Accepted(line.what.clone()),
        ward: Some(ward),
        mails: Vec::new(),
        audit: Some(line),
    }
}

/// Builds the city in `state_dir`; returns the store.
fn build_city(state_dir: &Path, now: Timestamp) -> CityStore {
    let store = CityStore::open(state_dir).unwrap();
    let entries: Vec<WardEntry> = (0..WARDS).map(entry).collect();
    store.import_wards(&entries).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let counts = spread(&mut rng);
    for (i, e) in entries.iter().enumerate() {
        let short = short(i);
        let key = ward_key(i);
        let kid = payload::kid(&short, &key.verifying_key());
        // The key's activation.
        let before = store.ward(&e.code).unwrap().unwrap();
        let mut ward = before.clone();
        ward.keys.push(KeyRecord {
            entry: TrustedKey::for_key(
                kid.clone(),
                &e.code,
                &e.name,
                &e.district,
                &key.verifying_key(),
                jiff::civil::date(2026, 11, 1),
                None,
            ),
            state: KeyState::Active,
        });
        let line = audit(now, e, "key activated", 1);
        let id = line.message_id.clone();
        store
            .commit_mail(&id, Some(&before), &accepted(ward.clone(), line))
            .unwrap();
        // Its latest revocation list, signed by the key.
        let list = RevocationList::new(ward_list(&mut rng, &short, counts[i], now));
        let sequence = 1 + rng.below(40);
        let doc = WardRevocations::new(&e.code, sequence, now, list);
        let bytes = signed::to_bytes(&doc);
        let sig = Detached::sign(&kid, &key, &bytes).to_bytes();
        let before = ward;
        let mut ward = before.clone();
        ward.revocations = Some(StoredList {
            sequence,
            document: String::from_utf8(bytes).unwrap(),
            signature: String::from_utf8(sig).unwrap(),
            signed_by: kid,
            issued_at: now,
            received_at: now,
        });
        let line = audit(now, e, "revocation list", 2);
        let id = line.message_id.clone();
        store
            .commit_mail(&id, Some(&before), &accepted(ward, line))
            .unwrap();
    }
    store
}

fn dir_bytes(path: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            dir_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

fn rules() -> PublishRules {
    PublishRules {
        city_name: "Thành phố Hà Nội".into(),
        checkpoints: (1..=40)
            .map(|n| format!("chot{n}.congan@example.gov.vn"))
            .collect(),
        fresh_hours: 72,
        max_valid_days: 30,
        at_most_every_minutes: 60,
        at_least_every_hours: 24,
    }
}

/// `checkpoint::merge_revoked` as it was: each entry looked for among those kept.
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

fn json_len<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_string(value).unwrap().len()
}

fn city(c: &mut Criterion) {
    let now = ts("2026-12-05T10:00:00Z");
    let dir = tempfile::tempdir().unwrap();
    let store = build_city(dir.path(), now);
    let db_path = dir.path().join("city.sled");
    let db_bytes = dir_bytes(&db_path);
    let city_key = SigningKey::from_bytes(&[99; 32]);
    let city_kid = payload::kid("CITY", &city_key.verifying_key());
    let rules = rules();

    let wards = store.wards().unwrap();
    let lists = publish::lists(&wards);
    let files = publish::sign(&lists, &city_kid, &city_key);
    let page = publish::page(&lists, now, &rules);
    let mail = publish::mail(&files, &page, now, &rules);
    store
        .queue_publication(
            &mail,
            &Mark {
                fingerprint: files.fingerprint.clone(),
                at: now,
            },
        )
        .unwrap();
    let db_after = dir_bytes(&db_path);
    let vendor = include_str!("../templates/checkpoint/vendor/vendor.min.js").len();
    let code = ["page.html", "page.css", "verify.js", "app.js"]
        .iter()
        .map(|f| {
            std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("templates/checkpoint/")
                    .join(f),
            )
            .map_or(0, |b| b.len())
        })
        .sum::<usize>();
    let mut per_ward: Vec<usize> = wards
        .iter()
        .filter_map(|w| w.revocations.as_ref())
        .map(|l| {
            WardRevocations::parse("", l.document.as_bytes())
                .unwrap()
                .list
                .revoked
                .len()
        })
        .collect();
    per_ward.sort_unstable();
    eprintln!(
        "city: {} wards, {} keys, {} revocations ({} lists; a list holds {} to {}, median {}), \
         {} revoked keys",
        wards.len(),
        lists.keys.len(),
        lists.revoked.len(),
        per_ward.len(),
        per_ward[0],
        per_ward[per_ward.len() - 1],
        per_ward[per_ward.len() / 2],
        lists.revoked_keys.len()
    );
    let keys_json = json_len(&lists.keys);
    eprintln!(
        "city: page {} bytes (cap {}): vendor JS {}, page code and style {}, keys JSON {}, \
         the rest (revocations, compact) {}; the revocations as the lists' objects would be {}",
        page.html.len(),
        checkpoint::MAX_PAGE_BYTES,
        vendor,
        code,
        keys_json,
        page.html.len() - vendor - code - keys_json,
        json_len(&lists.revoked),
    );
    eprintln!(
        "city: trust-list.json {} bytes, revocations.json {} bytes, signatures {} + {} bytes",
        files.trust.len(),
        files.revocations.len(),
        files.trust_sig.len(),
        files.revocations_sig.len()
    );
    eprintln!(
        "city: database {} bytes on disk; {} bytes after one queued publication",
        db_bytes, db_after
    );

    let mut g = c.benchmark_group("city");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("read_wards_600", |b| {
        b.iter(|| black_box(store.wards().unwrap()))
    });
    g.bench_function("merge_and_publish_600", |b| {
        b.iter(|| {
            let lists = publish::lists(black_box(&wards));
            let files = publish::sign(&lists, &city_kid, &city_key);
            let page = publish::page(&lists, now, &rules);
            black_box((files, page))
        })
    });
    g.bench_function("lists_600", |b| {
        b.iter(|| black_box(publish::lists(black_box(&wards))))
    });
    g.bench_function("sign_600", |b| {
        b.iter(|| black_box(publish::sign(black_box(&lists), &city_kid, &city_key)))
    });
    g.bench_function("publisher_pass_600", |b| {
        b.iter(|| {
            let lists = publish::lists(&store.wards().unwrap());
            black_box(publish::sign(&lists, &city_kid, &city_key))
        })
    });
    g.bench_function("page_600", |b| {
        b.iter(|| black_box(publish::page(black_box(&lists), now, &rules)))
    });
    // The merge of the 600 lists' revocations alone, and the quadratic merge
    // (`Vec::contains`) it replaced, kept as the baseline.
    let ward_lists: Vec<Vec<Revoked>> = wards
        .iter()
        .filter_map(|w| w.revocations.as_ref())
        .map(|l| {
            WardRevocations::parse("", l.document.as_bytes())
                .unwrap()
                .list
                .revoked
        })
        .collect();
    g.bench_function("merge_revoked_600", |b| {
        b.iter(|| black_box(checkpoint::merge_revoked(ward_lists.clone())))
    });
    g.bench_function("merge_revoked_quadratic_600", |b| {
        b.iter(|| black_box(merge_revoked_quadratic(ward_lists.clone())))
    });
    g.finish();
}

criterion_group!(benches, city);
criterion_main!(benches);
