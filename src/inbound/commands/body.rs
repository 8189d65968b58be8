//! A whole reply: every line read in the mail's order, the reply's bounds kept across
//! lines (rows and permit ids named in all, unreadable lines quoted back), and the
//! rule that prose is reported only when nothing at all was read.

use super::line::{Line, NotRead, read_line};
use super::{MAX_LISTED, MAX_SHOWN_CHARS, MAX_UNREADABLE, Parsed};
use unicode_normalization::UnicodeNormalization;

/// Reads the commands of a reply's own words (see the module doc for the rules).
pub fn parse_reply(own_words: &str) -> Parsed {
    let text: String = own_words.nfc().collect();
    let mut parsed = Parsed::default();
    // Unread lines in the mail's order; which of them are reported depends on whether
    // anything at all was read, known only at the end.
    let mut unread: Vec<(&str, NotRead)> = Vec::new();
    let mut budget = MAX_LISTED;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match read_line(line, &mut budget) {
            Ok(Line::Command(command)) => parsed.commands.push(command),
            Ok(Line::Revocations(list)) => parsed.revocations.extend(list),
            Ok(Line::Status) => parsed.status = true,
            Err(why) => unread.push((line, why)),
        }
    }
    // Prose beside a command is greetings and thanks; alone, it is a reply to answer.
    let report_prose = !parsed.understood_anything();
    let mut reported = unread
        .into_iter()
        .filter(|(_, why)| report_prose || matches!(why, NotRead::Broken));
    parsed.unreadable = reported
        .by_ref()
        .take(MAX_UNREADABLE)
        .map(|(line, _)| shown(line))
        .collect();
    let more = reported.count();
    if more > 0 {
        parsed
            .unreadable
            .push(format!("… và {more} dòng khác không đọc được"));
    }
    parsed
}

/// A line as the answer quotes it: cut at [`MAX_SHOWN_CHARS`] characters.
fn shown(line: &str) -> String {
    match line.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}
