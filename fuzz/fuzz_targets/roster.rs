//! Roster bytes → `read_roster` for every kind, with a fixed date and default limits.
//!
//! `read_roster` catches panics from calamine and turns them into a "corrupt file" error
//! (see `src/roster/mod.rs`). libfuzzer-sys installs a panic hook that aborts before any
//! unwinding, which would report those handled panics as crashes; `init` puts back a hook
//! that only prints, so a panic counts as a crash only when it escapes `read_roster`
//! (libfuzzer-sys aborts on that). Set `QRCA_FUZZ_STRICT=1` to keep the aborting hook and
//! find the caught panics too.
#![no_main]

use jiff::civil::date;
use libfuzzer_sys::fuzz_target;
use qrca::config::RosterSettings;
use qrca::roster::{Arrival, Limits, read_roster};
use qrca::workflow::{Kind, PermitRules, Validity};

fuzz_target!(
    init: {
        if std::env::var_os("QRCA_FUZZ_STRICT").is_none() {
            let _ = std::panic::take_hook();
            std::panic::set_hook(Box::new(|info| eprintln!("caught panic: {info}")));
        }
    },
    |data: &[u8]| {
        let settings = RosterSettings::default();
        let limits = Limits::default();
        let arrival = Arrival {
            today: date(2026, 11, 25),
            permits: PermitRules {
                validity: Validity::Days(14),
                max_valid_days: 30,
            },
        };
        for kind in Kind::ALL {
            let _ = read_roster(data, "fuzz.xlsx", kind, &settings, arrival, &limits);
        }
    }
);
