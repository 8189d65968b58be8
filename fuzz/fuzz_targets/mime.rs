//! Raw message bytes → `parse_mail` → the reply's own words → the command parser.
//!
//! `parse_mail` catches panics from mail-parser and html2text and turns them into
//! `MailError::ParserFailed` (see `src/inbound/mail.rs`). libfuzzer-sys installs a panic
//! hook that aborts before any unwinding, which would report those handled panics as
//! crashes; `init` puts back a hook that only prints, so a panic counts as a crash only
//! when it escapes the code under test (libfuzzer-sys aborts on that). Set
//! `QRCA_FUZZ_STRICT=1` to keep the aborting hook and find the caught panics too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qrca::inbound::{commands, mail, reply};

fuzz_target!(
    init: {
        if std::env::var_os("QRCA_FUZZ_STRICT").is_none() {
            let _ = std::panic::take_hook();
            std::panic::set_hook(Box::new(|info| eprintln!("caught panic: {info}")));
        }
    },
    |data: &[u8]| {
        let trusted = ["mx.google.com".to_string()];
        if let Ok(mail) = mail::parse_mail(data, &trusted) {
            let words = reply::own_words(&mail.text);
            let _ = commands::parse_reply(&words);
            if let Some(html) = &mail.html {
                let words = reply::own_words_html(html);
                let _ = commands::parse_reply(&words);
            }
            let _ = commands::registration_kind(&mail.subject);
            let _ = commands::case_code_in_subject(&mail.subject);
        }
    }
);
