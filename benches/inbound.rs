//! Reading mail: 1,000 typical mails parsed (MIME → `Mail`) and classified by the gate
//! (→ the engine's event or a reason to drop it) in < 100 ms on one core (issue 4).
//!
//! "Typical" is the fixture set of `tests/fixtures/mail/`: replies from Gmail, Outlook,
//! Apple Mail and Thunderbird, registrations, rosters with spreadsheets, auto-replies,
//! delivery reports and malformed mail, cycled to 1,000. The store's indexes are an
//! in-memory map, so this measures the reading, not sled.

use criterion::{Criterion, criterion_group, criterion_main};
#[path = "../tests/support/ward_config.rs"]
mod ward_config;

use qrca::config::Config;
use qrca::inbound::gate::{self, Lookups};
use qrca::inbound::mail::parse_mail;
use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;
use ward_config::{WardSpec, write_config};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ACCOUNT: &str = "qrca.hoankiem.tranhungdao1@gmail.com";

fn config(dir: &std::path::Path) -> Config {
    let thd = WardSpec {
        code: "hoankiem.tranhungdao",
        short: "THD",
        name: "Phường Trần Hưng Đạo",
        officers: &["canbo.an@hoankiem.hanoi.gov.vn"],
        police: &["congan.thd@hoankiem.hanoi.gov.vn"],
        area_police: &["cskv.thd@hoankiem.hanoi.gov.vn"],
        accounts: &[ACCOUNT],
    };
    write_config(dir, &[thd], false)
}

struct Indexes(HashSet<String>);

impl Lookups for Indexes {
    fn case_by_token(&self, _: &str) -> Option<String> {
        Some("THD-T-0001".into())
    }
    fn case_exists(&self, code: &str) -> bool {
        self.0.contains(code)
    }
    fn active_permits(&self, _: &str, _: &str, _: jiff::civil::Date) -> Vec<String> {
        Vec::new()
    }
}

fn mails() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mail");
    let mut fixtures: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "eml"))
        .map(|path| std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect();
    assert!(fixtures.len() >= 30, "too few fixture mails in {dir}");
    fixtures.sort();
    fixtures.iter().cycle().take(1_000).cloned().collect()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = config(dir.path());
    let lookups = Indexes(["THD-T-0001", "THD-T-0002"].map(String::from).into());
    let today = jiff::civil::date(2021, 9, 8);
    let mails = mails();
    let bytes: usize = mails.iter().map(Vec::len).sum();
    eprintln!("inbound: 1,000 mails, {} KB in all", bytes / 1024);

    let mut group = c.benchmark_group("inbound");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("parse_and_classify_1000_mails", |b| {
        b.iter(|| {
            let mut events = 0;
            for raw in &mails {
                let Ok(mail) = parse_mail(raw, &config.mail.trusted_authserv_ids) else {
                    continue;
                };
                if let gate::Classified::Event { .. } =
                    gate::classify(&mail, ACCOUNT, &config, &lookups, today)
                {
                    events += 1;
                }
            }
            black_box(events)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
