//! Bytes as (lossy) UTF-8 → the reply's own words → commands and registrations; the
//! first line as a subject.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qrca::inbound::{commands, reply};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let words = reply::own_words(&text);
    let _ = commands::parse_reply(&words);
    let _ = commands::parse_registration(&words);
    // Unstripped text too: a registration forwarded whole, and HTML bodies.
    let _ = commands::parse_registration(&text);
    let html_words = reply::own_words_html(&text);
    let _ = commands::parse_reply(&html_words);
    let subject = text.lines().next().unwrap_or("");
    let _ = commands::registration_kind(subject);
    let _ = commands::case_code_in_subject(subject);
});
