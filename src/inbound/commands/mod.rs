//! Reply commands (SPEC §3), registration bodies (SPEC §2) and the subject words that
//! open a case: the reply's own words in, typed values out.
//!
//! Owns the reading of what people type by hand: the command words `DUYỆT`, `TỪ CHỐI`,
//! `ĐÓNG DẤU`, `THU HỒI`, `TRẠNG THÁI` and their ASCII and English aliases, row lists,
//! permit ids, `Label: value` registration lines, and the `[QRCA <code>]` tag and
//! registration words of a subject. It must not decide whether a command is allowed,
//! whether a row exists or whether a permit belongs to a case (the workflow core does),
//! nor strip quoted text (that is [`super::reply`]); it does no I/O and reads no clock.
//!
//! # How a reply is read
//! Each line is folded (NFD, combining marks dropped, `đ` → `d`, lower case, runs of
//! white space made one space) before the command word is looked for at its start; a
//! trailing `.` or `!` does not matter, and a leading list bullet (`-`, `*`, `•`) is
//! allowed. Whatever follows the first `:` is the reason, kept as written (trimmed, NFC).
//!
//! Every non-empty line is one of three things:
//! - a **command** that was read in full;
//! - a **broken command**: it starts with a command word but the rest cannot be read
//!   (`DUYỆT 1-5, x`, a range backwards, a row 0 or over [`MAX_ROW`]). It is always
//!   reported in [`Parsed::unreadable`] and nothing of it is applied: guessing the
//!   part that looked right could approve rows the officer did not mean;
//! - **prose** with no command word at its start (greetings, thanks, a name). Prose is
//!   ignored when at least one command was read in the mail, and reported as unreadable
//!   when none was, so that a reply that decides nothing is answered with help, never
//!   with silence.
//!
//! Rules chosen where SPEC is silent:
//! - `DUYỆT`/`ĐÓNG DẤU` take no reason; a `:` after them may introduce the row list
//!   (`DUYỆT: 1-5`), and anything else after it makes the line unreadable.
//! - `tất cả`, `toàn bộ`, `hết`, `all` mean every row, like no list at all.
//! - A row list may repeat a row; the rows are kept in the order written and the core
//!   reports repeats. Once the lines read so far name [`MAX_LISTED`] rows and permit ids
//!   in all, every further list is unreadable: the bound is the whole reply's, not one
//!   line's, so a body of ten thousand `DUYỆT 1-99999` lines asks for no more memory
//!   than one. A reason longer than [`MAX_REASON_CHARS`] makes its line unreadable, and
//!   at most [`MAX_UNREADABLE`] unreadable lines are kept (each cut to
//!   [`MAX_SHOWN_CHARS`]), with the count of the rest.
//! - `THU HỒI` without a permit id is unreadable; `TỪ CHỐI`/`THU HỒI` without a reason
//!   is a command with an empty reason, which the core reports.
//! - `TRẠNG THÁI` may be followed by `?` or by a case code, and by nothing else.
//! - A command word glued to more letters ("Approved", "Statuses") is prose, not a
//!   broken command; a `?` at the end is not ignored ("DUYỆT?" asks, it does not decide).
//! - In a registration, the first non-empty value of a field wins, and a value is one
//!   line (a wrapped address keeps only its first line). Labels also match common
//!   synonyms ("Tên công ty", "Company", "SĐT", "Phone", "Ngành nghề"…) and may carry a
//!   note or a star ("Email (bắt buộc)*"); the email may be written `<a@b.vn>`,
//!   `Name <a@b.vn>` or as Outlook's `a@b.vn<mailto:a@b.vn>`.
//!
//! # Where it lives
//! This file: the bounds, [`Parsed`] and the folding every reader shares. `body.rs`:
//! a whole reply read line by line under the reply's bounds; `line.rs`: the grammar of
//! one line (command word, reason, what follows); `rows.rs`: row lists; `codes.rs`:
//! case codes and permit ids; `subject.rs`: the subject's words and tag;
//! `registration.rs`: `Label: value` registration bodies.

mod body;
mod codes;
mod line;
mod registration;
mod rows;
mod subject;

pub use body::parse_reply;
pub use registration::{EMAIL_LABEL, NAME_LABEL, RegistrationError, parse_registration};
pub use subject::{case_code_in_subject, registration_kind};

use crate::workflow::model::{Command, Revocation};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The largest STT a row list may name; rosters are far smaller, so a larger number is
/// a typing slip (or a date, or a phone number) rather than a row.
pub const MAX_ROW: u32 = 100_000;

/// The most rows and permit ids one reply may name in all, ranges expanded: twice the
/// largest roster (50,000 rows), so no real reply meets it.
pub const MAX_LISTED: usize = 100_000;

/// The longest reason a `TỪ CHỐI` or `THU HỒI` line may give, in characters; a reason
/// is copied into every row and permit it names, so its length is bounded too.
pub const MAX_REASON_CHARS: usize = 1_000;

/// How many unreadable lines a reply's answer quotes back.
pub const MAX_UNREADABLE: usize = 50;

/// How much of one unreadable line is quoted back, in characters.
pub const MAX_SHOWN_CHARS: usize = 200;

/// What a reply asks for, line by line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Decisions, in the order written.
    pub commands: Vec<Command>,
    /// `THU HỒI` lines, one entry per permit id, in the order written.
    pub revocations: Vec<Revocation>,
    /// Whether a `TRẠNG THÁI` line was read.
    pub status: bool,
    /// Lines that could not be read, as written (trimmed, at most [`MAX_UNREADABLE`],
    /// each cut to [`MAX_SHOWN_CHARS`], then one line that counts the rest); see the
    /// module doc.
    pub unreadable: Vec<String>,
}

impl Parsed {
    /// Whether any line was read as a command, revocation or status request.
    pub fn understood_anything(&self) -> bool {
        !self.commands.is_empty() || !self.revocations.is_empty() || self.status
    }
}

/// Folds text for matching words typed with or without diacritics: NFD, combining marks
/// dropped, `đ`/`Đ` → `d`, lower case, invisible format characters dropped, every run
/// of white space (including no-break spaces) made one space, trimmed.
pub(crate) fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.nfd() {
        if is_combining_mark(c) || is_invisible(c) {
            continue;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        match c {
            // U+00D0 (Ð) is what some legacy keyboards type for Đ.
            'đ' | 'Đ' | 'ð' | 'Ð' => out.push('d'),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Characters mail clients and word processors slip into text that a reader never sees.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// NFC with runs of white space made one space, trimmed: how values are kept.
fn tidy(text: &str) -> String {
    let nfc: String = text.nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_drops_marks_and_spacing() {
        assert_eq!(fold("  TỪ   CHỐI\u{a0}Đơn "), "tu choi don");
        assert_eq!(fold("ĐÓNG DẤU"), "dong dau");
        assert_eq!(fold("ÐÓNG DẤU"), "dong dau");
    }
}
