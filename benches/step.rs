//! Throughput of the pure workflow core: how many events `step` decides per second on
//! one core (goal: ≥ 1,000,000/s, issue 3). No I/O is involved, so this is the ceiling
//! the store and the mail adapters work under.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use jiff::civil::date;
use qrca::workflow::*;
use std::hint::black_box;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn ward() -> WardRules {
    WardRules {
        code: "hoankiem.tranhungdao".into(),
        short: "THD".into(),
        name: "Phường Trần Hưng Đạo".into(),
        district: "Quận Hoàn Kiếm".into(),
        officers: vec!["canbo1.thd@example.gov.vn".into()],
        police: vec!["congan.thd@example.gov.vn".into()],
        area_police: vec!["cskv1.thd@example.gov.vn".into()],
        validity: Validity::Days(14),
        max_valid_days: 30,
        require_auth: true,
        print_kinds: Vec::new(),
    }
}

fn event(sender: &str, body: EventBody) -> Event {
    Event {
        sender: sender.into(),
        message_id: "<bench@example.gov.vn>".into(),
        auth: AuthEvidence::Pass {
            authserv_id: "mx.google.com".into(),
            method: "dmarc".into(),
            domain: "example.gov.vn".into(),
        },
        body,
    }
}

fn roster(n: u32) -> RosterSubmission {
    RosterSubmission {
        file_name: "danh_sach.xlsx".into(),
        roster: Roster {
            rows: (1..=n)
                .map(|stt| Row {
                    stt,
                    sheet_row: stt + 1,
                    name: Some("Nguyễn Thị Ngọc Ánh".into()),
                    id_number: Some(format!("{:012}", 1_000_000 + stt)),
                    birth_date: Some(date(1990, 1, 1)),
                    ..Row::default()
                })
                .map(std::sync::Arc::new)
                .collect(),
            errors: vec![],
            warnings: vec![],
        },
        documents: vec![],
    }
}

/// The edge, played cheaply: a fixed clock and a pool of tokens. Making tokens (OS
/// randomness, base32) is the engine's work, not the core's, so it is kept out.
struct Harness {
    ward: WardRules,
    n: usize,
    pool: Vec<ReplyToken>,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            ward: ward(),
            n: 0,
            pool: (0..64).map(|i| ReplyToken(format!("{i:026}"))).collect(),
        }
    }

    fn step(&mut self, case: Option<Case>, ev: &Event) -> Result<(Case, Vec<Effect>), Refusal> {
        let mut n = self.n;
        let pool = &self.pool;
        let mut fresh = || {
            n += 1;
            pool[n % pool.len()].clone()
        };
        let mut ctx = Ctx {
            now: jiff::Timestamp::UNIX_EPOCH,
            today: date(2021, 9, 8),
            ward: &self.ward,
            next_serial: 1,
            fresh_token: &mut fresh,
        };
        let out = step(case, ev, &mut ctx);
        self.n = n;
        out
    }
}

fn review_case(h: &mut Harness, rows: u32) -> Case {
    let org = Organisation {
        name: "Công ty TNHH Thép Hoà Phát".into(),
        email: "nhansu@hoaphat.example.vn".into(),
        ..Organisation::default()
    };
    let open = event(
        "canbo1.thd@example.gov.vn",
        EventBody::RegisterOrganisation(org),
    );
    let Ok((case, _)) = h.step(None, &open) else {
        panic!("open refused")
    };
    let roster = event("nhansu@hoaphat.example.vn", EventBody::Roster(roster(rows)));
    let Ok((case, _)) = h.step(Some(case), &roster) else {
        panic!("roster refused")
    };
    case
}

fn reply(token: &ReplyToken, sender: &str, commands: Vec<Command>) -> Event {
    event(
        sender,
        EventBody::Reply {
            token: Some(token.clone()),
            commands,
            unreadable: vec![],
        },
    )
}

fn bench(c: &mut Criterion) {
    let mut h = Harness::new();
    let mut g = c.benchmark_group("step");
    g.throughput(Throughput::Elements(1));
    let officer = "canbo1.thd@example.gov.vn";

    let case = review_case(&mut h, 20);
    let token = case.tokens[0].token.clone();
    let small = review_case(&mut h, 3);
    let small_token = small.tokens[0].token.clone();
    let forged = ReplyToken("forged".into());
    let events = [
        (
            "refused decision (unknown token)",
            &case,
            reply(&forged, officer, vec![Command::Approve(Rows::All)]),
        ),
        (
            "status query, 20-row case",
            &case,
            event("nhansu@hoaphat.example.vn", EventBody::Status),
        ),
        (
            "approve one row, 20-row case",
            &case,
            reply(&token, officer, vec![Command::Approve(Rows::List(vec![3]))]),
        ),
        (
            "approve all, 3-row case (opens the stamp stage)",
            &small,
            reply(&small_token, officer, vec![Command::Approve(Rows::All)]),
        ),
    ];
    for (name, case, ev) in &events {
        // The engine hands `step` the case it just read from the store, which owns its
        // batches: the input is made the same way, outside the timed routine. The
        // result goes back to criterion, which drops it untimed (the engine stores it);
        // a refused event drops its input inside `step`, and that is timed.
        let stored = serde_json::to_vec(case).unwrap_or_else(|e| panic!("{e}"));
        g.bench_function(*name, |b| {
            b.iter_batched(
                || serde_json::from_slice::<Case>(&stored).unwrap_or_else(|e| panic!("{e}")),
                |c| h.step(Some(c), black_box(ev)),
                BatchSize::SmallInput,
            )
        });
    }
    // A whole organisation flow, as the events of a morning come: registration, a
    // 5-row roster, an officer's DUYỆT, the police's ĐÓNG DẤU, a status query. The
    // events are made once, outside the timing; the token counter restarts each
    // round so the prepared replies carry the tokens the round hands out.
    let org = Organisation {
        name: "Công ty TNHH Thép Hoà Phát".into(),
        email: "nhansu@hoaphat.example.vn".into(),
        ..Organisation::default()
    };
    let open = event(officer, EventBody::RegisterOrganisation(org));
    let roster5 = event("nhansu@hoaphat.example.vn", EventBody::Roster(roster(5)));
    let start = h.n;
    let Ok((case, _)) = h.step(None, &open) else {
        panic!("open refused")
    };
    let Ok((case, _)) = h.step(Some(case), &roster5) else {
        panic!("roster refused")
    };
    let approve = reply(
        &case.tokens[0].token,
        officer,
        vec![Command::Approve(Rows::All)],
    );
    let Ok((case, _)) = h.step(Some(case), &approve) else {
        panic!("approval refused")
    };
    let Some(stamp_token) = case.tokens.iter().find(|g| g.live).map(|g| g.token.clone()) else {
        panic!("no stamp token")
    };
    let stamp = reply(
        &stamp_token,
        "congan.thd@example.gov.vn",
        vec![Command::Stamp(Rows::All)],
    );
    let status = event("nhansu@hoaphat.example.vn", EventBody::Status);
    g.throughput(Throughput::Elements(5));
    g.bench_function("whole T flow, 5 rows (per event)", |b| {
        b.iter(|| {
            h.n = start;
            let mut case = None;
            for ev in [&open, &roster5, &approve, &stamp, &status] {
                match h.step(case.take(), black_box(ev)) {
                    Ok((next, effects)) => {
                        black_box(effects);
                        case = Some(next);
                    }
                    Err(r) => panic!("{r}"),
                }
            }
            case
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
