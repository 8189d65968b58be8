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

use crate::workflow::model::{Command, Kind, Organisation, Revocation, Rows};
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

// ---------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Approve,
    Reject,
    Stamp,
    Revoke,
    Status,
}

/// Command words as they look once folded.
const WORDS: &[(&str, Word)] = &[
    ("duyet", Word::Approve),
    ("approve", Word::Approve),
    ("tu choi", Word::Reject),
    ("reject", Word::Reject),
    ("dong dau", Word::Stamp),
    ("stamp", Word::Stamp),
    ("thu hoi", Word::Revoke),
    ("revoke", Word::Revoke),
    ("trang thai", Word::Status),
    ("status", Word::Status),
];

/// One line, once read.
enum Line {
    Command(Command),
    Revocations(Vec<Revocation>),
    Status,
}

/// Why a line was not a command.
enum NotRead {
    /// No command word at its start.
    Prose,
    /// A command word, then something that cannot be read.
    Broken,
}

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

/// How many rows a list names (`All` names none by number).
fn listed(rows: &Rows) -> usize {
    match rows {
        Rows::All => 0,
        Rows::List(list) => list.len(),
    }
}

/// Takes `n` named rows or permit ids from what the reply may still name.
fn spend(budget: &mut usize, n: usize) -> Result<(), NotRead> {
    *budget = budget.checked_sub(n).ok_or(NotRead::Broken)?;
    Ok(())
}

fn read_line(line: &str, budget: &mut usize) -> Result<Line, NotRead> {
    let body = strip_bullet(line);
    let (head, tail) = match split_colon(body) {
        Some((head, tail)) => (head, Some(tail.trim())),
        None => (body, None),
    };
    let folded = fold(head);
    let (word, rest) = command_word(&folded).ok_or(NotRead::Prose)?;
    let rest = trim_end_punctuation(rest);
    if tail.is_some_and(|t| t.chars().nth(MAX_REASON_CHARS).is_some()) {
        return Err(NotRead::Broken);
    }
    // The text is NFC already; the reason is kept as typed, only trimmed.
    let reason = || tail.map(str::to_string).unwrap_or_default();
    match word {
        Word::Approve | Word::Stamp => {
            let list = match tail.filter(|t| !t.is_empty()) {
                None => rest.to_string(),
                Some(t) if rest.is_empty() => trim_end_punctuation(&fold(t)).to_string(),
                Some(_) => return Err(NotRead::Broken),
            };
            let rows = parse_rows(&list, *budget).ok_or(NotRead::Broken)?;
            spend(budget, listed(&rows))?;
            Ok(Line::Command(if word == Word::Approve {
                Command::Approve(rows)
            } else {
                Command::Stamp(rows)
            }))
        }
        Word::Reject => {
            let rows = parse_rows(rest, *budget).ok_or(NotRead::Broken)?;
            spend(budget, listed(&rows))?;
            Ok(Line::Command(Command::Reject {
                rows,
                reason: reason(),
            }))
        }
        Word::Revoke => {
            let permits = parse_permits(rest).ok_or(NotRead::Broken)?;
            spend(budget, permits.len())?;
            let reason = reason();
            Ok(Line::Revocations(
                permits
                    .into_iter()
                    .map(|permit| Revocation {
                        permit,
                        reason: reason.clone(),
                    })
                    .collect(),
            ))
        }
        Word::Status => {
            let rest = rest.trim_end_matches(['?', ' ']);
            let tail_empty = tail.is_none_or(str::is_empty);
            if tail_empty && (rest.is_empty() || is_case_code(&rest.to_ascii_uppercase())) {
                Ok(Line::Status)
            } else {
                Err(NotRead::Broken)
            }
        }
    }
}

/// Splits at the first colon (ASCII or full-width, as Vietnamese IMEs sometimes type).
fn split_colon(s: &str) -> Option<(&str, &str)> {
    let at = s.find([':', '：'])?;
    let colon_len = s[at..].chars().next().map_or(1, char::len_utf8);
    Some((&s[..at], &s[at + colon_len..]))
}

/// Drops one leading list bullet: people paste commands as lists.
fn strip_bullet(line: &str) -> &str {
    let line = line.trim();
    let mut chars = line.chars();
    match (chars.next(), chars.next()) {
        (Some('-' | '*' | '•' | '·' | '+' | '–'), Some(c)) if c.is_whitespace() => {
            chars.as_str().trim()
        }
        _ => line,
    }
}

fn trim_end_punctuation(s: &str) -> &str {
    s.trim_end_matches(['.', '!', ' ']).trim_start()
}

/// The command word at the start of a folded line, and what follows it. A word glued
/// to more letters ("approved", "statuses") is not the command word.
fn command_word(folded: &str) -> Option<(Word, &str)> {
    WORDS.iter().find_map(|&(text, word)| {
        let rest = folded.strip_prefix(text)?;
        match rest.chars().next() {
            Some(c) if c.is_alphabetic() => None,
            _ => Some((word, rest.trim())),
        }
    })
}

/// Words that may stand before a row list.
const ROW_PREFIXES: &[&str] = &[
    "cac hang", "cac dong", "hang", "dong", "stt", "rows", "row", "so",
];

/// Words that mean every row.
const ALL_ROWS: &[&str] = &["tat ca", "toan bo", "het", "all"];

/// Reads a folded row list: `1-5, 8, 10-12`, `1 den 5`, `1->5`, `1–5`, `;` or spaces
/// between items, an optional `hàng`/`dòng`/`STT`/`rows` first. Nothing means every
/// row. `None` when any part cannot be read, or when it would name more than `budget`
/// rows (checked before the rows are made).
fn parse_rows(text: &str, budget: usize) -> Option<Rows> {
    let text = text.trim();
    let (text, prefixed) = match ROW_PREFIXES.iter().find_map(|p| {
        let rest = text.strip_prefix(p)?;
        (!rest.starts_with(char::is_alphabetic)).then_some(rest)
    }) {
        Some(rest) => (rest.trim(), true),
        None => (text, false),
    };
    if text.is_empty() {
        // "DUYỆT dòng" names no row: better to ask than to approve them all.
        return (!prefixed).then_some(Rows::All);
    }
    if ALL_ROWS.contains(&text) {
        return Some(Rows::All);
    }
    let tokens = tokenize(text)?;
    let mut rows = Vec::new();
    let mut i = 0;
    loop {
        while matches!(tokens.get(i), Some(Token::Sep | Token::Space)) {
            i += 1;
        }
        let Some(token) = tokens.get(i) else { break };
        let Token::Num(start) = *token else {
            return None;
        };
        i += 1;
        let mut j = i;
        while matches!(tokens.get(j), Some(Token::Space)) {
            j += 1;
        }
        let end = if matches!(tokens.get(j), Some(Token::Dash)) {
            j += 1;
            while matches!(tokens.get(j), Some(Token::Space)) {
                j += 1;
            }
            let Some(&Token::Num(end)) = tokens.get(j) else {
                return None;
            };
            i = j + 1;
            end
        } else {
            start
        };
        if start > end || rows.len() + (end - start) as usize >= budget {
            return None;
        }
        rows.extend(start..=end);
    }
    if rows.is_empty() {
        return None;
    }
    Some(Rows::List(rows))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Num(u32),
    Dash,
    Sep,
    Space,
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            '0'..='9' => {
                let mut digits = String::from(c);
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                Token::Num(row_number(&digits)?)
            }
            '-' => {
                // "1->5": the arrow is one dash.
                chars.next_if_eq(&'>');
                Token::Dash
            }
            '–' | '—' | '−' | '→' | '~' => Token::Dash,
            ',' | ';' | '&' | '+' => Token::Sep,
            c if c.is_whitespace() => Token::Space,
            c if c.is_alphabetic() => {
                let mut word = String::from(c);
                while let Some(d) = chars.next_if(|d| d.is_alphabetic()) {
                    word.push(d);
                }
                match word.as_str() {
                    "den" | "to" | "toi" => Token::Dash,
                    "va" | "and" => Token::Sep,
                    _ => return None,
                }
            }
            _ => return None,
        };
        tokens.push(token);
    }
    Some(tokens)
}

/// A row number: 1 to [`MAX_ROW`]; leading zeros allowed.
fn row_number(digits: &str) -> Option<u32> {
    let significant = digits.trim_start_matches('0');
    if significant.len() > 6 {
        return None;
    }
    let n: u32 = significant.parse().ok()?;
    (1..=MAX_ROW).contains(&n).then_some(n)
}

/// Permit ids separated by commas, semicolons, spaces or "và"/"and", upper-cased.
fn parse_permits(text: &str) -> Option<Vec<String>> {
    let ids: Vec<String> = text
        .split([',', ';', ' ', '&'])
        .filter(|t| !t.is_empty() && *t != "va" && *t != "and")
        .map(str::to_ascii_uppercase)
        .collect();
    if ids.is_empty() || !ids.iter().all(|id| is_permit_id(id)) {
        return None;
    }
    Some(ids)
}

/// `THD-T-0001`: a ward short code (2 to 6 letters), the kind letter, a serial of at
/// least four digits. Upper case expected.
fn is_case_code(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    matches!(parts.as_slice(), [short, kind, serial] if is_code_parts(short, kind, serial))
}

/// `THD-T-0001-0007`: a case code and a holder number of at least four digits.
fn is_permit_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    matches!(parts.as_slice(), [short, kind, serial, holder]
        if is_code_parts(short, kind, serial) && is_number_part(holder))
}

fn is_code_parts(short: &str, kind: &str, serial: &str) -> bool {
    (2..=6).contains(&short.len())
        && short.bytes().all(|b| b.is_ascii_uppercase())
        && matches!(kind, "T" | "C" | "H")
        && is_number_part(serial)
}

fn is_number_part(s: &str) -> bool {
    (4..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

// ---------------------------------------------------------------------------------
// Subjects
// ---------------------------------------------------------------------------------

/// Subject words that open a case, folded.
const KIND_WORDS: &[(&str, Kind)] = &[
    ("dang ky to chuc", Kind::T),
    ("dang ki to chuc", Kind::T),
    ("register organisation", Kind::T),
    ("register organization", Kind::T),
    ("dang ky ca nhan", Kind::C),
    ("dang ki ca nhan", Kind::C),
    ("register individuals", Kind::C),
    ("the di cho", Kind::H),
    ("market cards", Kind::H),
];

/// The kind of case a registration subject opens (SPEC §2), wherever the words stand
/// in it; when several appear, the first one written wins.
pub fn registration_kind(subject: &str) -> Option<Kind> {
    let folded = fold(subject);
    KIND_WORDS
        .iter()
        .filter_map(|&(words, kind)| folded.find(words).map(|at| (at, kind)))
        .min_by_key(|&(at, _)| at)
        .map(|(_, kind)| kind)
}

/// The case code of a `[QRCA THD-T-0001]` tag in a subject, upper-cased. Only a code of
/// the shape SHORT-K-NNNN counts; the first such tag wins.
pub fn case_code_in_subject(subject: &str) -> Option<String> {
    // ASCII lower-casing keeps byte offsets, so positions found in it index `subject`.
    let lower = subject.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("[qrca") {
        let start = from + found + "[qrca".len();
        from = start;
        let rest = &subject[start..];
        if !rest.starts_with([' ', '\t']) {
            continue;
        }
        let Some(close) = rest.find(']') else { break };
        let code = rest[..close].trim().to_ascii_uppercase();
        if is_case_code(&code) {
            return Some(code);
        }
    }
    None
}

// ---------------------------------------------------------------------------------
// Registrations
// ---------------------------------------------------------------------------------

/// The required fields, named as SPEC §2 writes them.
pub const NAME_LABEL: &str = "Tên tổ chức";
pub const EMAIL_LABEL: &str = "Email";

/// Why a registration body does not give an organisation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct RegistrationError {
    /// Required fields that are absent or empty, as SPEC §2 names them, in its order.
    pub missing: Vec<&'static str>,
    /// An `Email` value that is not an address, as written.
    pub bad_email: Option<String>,
}

impl RegistrationError {
    fn sentence(&self) -> String {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "the registration does not give {} (write each as a \"Label: value\" line)",
                self.missing.join(" or ")
            ));
        }
        if let Some(email) = &self.bad_email {
            parts.push(format!(
                "the registration's Email {email:?} is not an email address"
            ));
        }
        parts.join("; and ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Email,
    TaxCode,
    Address,
    Contact,
    Phone,
    Sector,
}

/// Registration labels, folded. Matched whole, so "Địa chỉ email" is not "Địa chỉ".
const LABELS: &[(&str, Field)] = &[
    ("ten to chuc", Field::Name),
    ("ten doanh nghiep", Field::Name),
    ("ten cong ty", Field::Name),
    ("ten don vi", Field::Name),
    ("to chuc", Field::Name),
    ("doanh nghiep", Field::Name),
    ("organisation", Field::Name),
    ("organization", Field::Name),
    ("organisation name", Field::Name),
    ("organization name", Field::Name),
    ("company", Field::Name),
    ("company name", Field::Name),
    ("email", Field::Email),
    ("e-mail", Field::Email),
    ("e mail", Field::Email),
    ("dia chi email", Field::Email),
    ("dia chi e-mail", Field::Email),
    ("thu dien tu", Field::Email),
    ("dia chi thu dien tu", Field::Email),
    ("ma so thue", Field::TaxCode),
    ("mst", Field::TaxCode),
    ("tax code", Field::TaxCode),
    ("tax id", Field::TaxCode),
    ("dia chi", Field::Address),
    ("dia chi tru so", Field::Address),
    ("tru so", Field::Address),
    ("address", Field::Address),
    ("nguoi lien he", Field::Contact),
    ("nguoi lien lac", Field::Contact),
    ("contact", Field::Contact),
    ("contact person", Field::Contact),
    ("dien thoai", Field::Phone),
    ("so dien thoai", Field::Phone),
    ("sdt", Field::Phone),
    ("so dt", Field::Phone),
    ("dt", Field::Phone),
    ("phone", Field::Phone),
    ("telephone", Field::Phone),
    ("tel", Field::Phone),
    ("linh vuc", Field::Sector),
    ("linh vuc hoat dong", Field::Sector),
    ("nganh nghe", Field::Sector),
    ("sector", Field::Sector),
];

/// Reads an organisation from `Label: value` lines (SPEC §2). Labels match with or
/// without diacritics, in any case, after a bullet or a number ("1. Tên tổ chức: …");
/// unknown labels are ignored. Every missing required field, and an email that is not
/// an address, is named in the error.
pub fn parse_registration(own_words: &str) -> Result<Organisation, RegistrationError> {
    let mut values: [Option<String>; 7] = Default::default();
    for line in own_words.lines() {
        let Some((label, value)) = split_colon(strip_numbering(line)) else {
            continue;
        };
        let Some(field) = field_of(label) else {
            continue;
        };
        let value = tidy(value);
        let slot = &mut values[field as usize];
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value);
        }
    }
    let [name, email, tax_code, address, contact, phone, sector] = values;
    let mut error = RegistrationError {
        missing: Vec::new(),
        bad_email: None,
    };
    if name.is_none() {
        error.missing.push(NAME_LABEL);
    }
    let email = match email {
        None => {
            error.missing.push(EMAIL_LABEL);
            None
        }
        Some(written) => {
            let address = extract_address(&written).to_ascii_lowercase();
            if is_email_shape(&address) {
                Some(address)
            } else {
                error.bad_email = Some(written);
                None
            }
        }
    };
    match (name, email) {
        (Some(name), Some(email)) if error.missing.is_empty() => Ok(Organisation {
            name,
            email,
            tax_code,
            address,
            contact,
            phone,
            sector,
        }),
        _ => Err(error),
    }
}

/// The field a written label names, if any.
fn field_of(label: &str) -> Option<Field> {
    let folded = fold(label);
    // "Email (bắt buộc)*": notes and required-field stars are not part of the label.
    let without_notes = match folded.find('(') {
        Some(at) => &folded[..at],
        None => folded.as_str(),
    };
    let key = without_notes.trim_matches(|c: char| c == '*' || c == '.' || c == ' ');
    LABELS
        .iter()
        .find(|&&(text, _)| text == key)
        .map(|&(_, field)| field)
}

/// Drops a leading bullet or list number: "- ", "• ", "1. ", "2) ", "a) ".
fn strip_numbering(line: &str) -> &str {
    let line = strip_bullet(line);
    let after_marker = line
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix(['.', ')']);
    let lettered = {
        let mut chars = line.chars();
        match (chars.next(), chars.next()) {
            (Some(c), Some(')')) if c.is_ascii_alphabetic() => Some(chars.as_str()),
            _ => None,
        }
    };
    let numbered = after_marker.filter(|_| line.starts_with(|c: char| c.is_ascii_digit()));
    match numbered.or(lettered) {
        Some(rest) => rest.trim(),
        None => line,
    }
}

/// The address in a value as mail clients write it: `a@b.vn`, `<a@b.vn>`,
/// `Name <a@b.vn>`, Outlook's `a@b.vn<mailto:a@b.vn>`, `mailto:a@b.vn`.
fn extract_address(value: &str) -> &str {
    let value = value.trim();
    let address = match value.find('<') {
        Some(open) if value[..open].contains('@') => value[..open].trim(),
        Some(open) => {
            let inner = &value[open + 1..];
            inner
                .find('>')
                .map_or(inner, |close| &inner[..close])
                .trim()
        }
        None => value,
    };
    address.strip_prefix("mailto:").unwrap_or(address)
}

/// A plain `local@domain.tld` address: the shape an organisation can receive mail at.
fn is_email_shape(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    local_ok && domain_ok
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

    #[test]
    fn permit_and_case_shapes() {
        assert!(is_permit_id("THD-T-0001-0007"));
        assert!(!is_permit_id("THD-X-0001-0007"));
        assert!(is_case_code("HK-C-12345"));
        assert!(!is_case_code("THD-T-01"));
    }
}
