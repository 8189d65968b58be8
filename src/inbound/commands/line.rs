//! The grammar of one line of a reply: a leading bullet, the command word (folded, with
//! its ASCII and English aliases, never glued to more letters), what follows it up to
//! the first `:`, and the reason after it. A line is a command, a broken command or
//! prose; what it names is charged against what the whole reply may still name.

use super::codes::{is_case_code, parse_permits};
use super::rows::parse_rows;
use super::{MAX_REASON_CHARS, fold};
use crate::workflow::model::{Command, Revocation, Rows};

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
pub(super) enum Line {
    Command(Command),
    Revocations(Vec<Revocation>),
    Status,
}

/// Why a line was not a command.
pub(super) enum NotRead {
    /// No command word at its start.
    Prose,
    /// A command word, then something that cannot be read.
    Broken,
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

pub(super) fn read_line(line: &str, budget: &mut usize) -> Result<Line, NotRead> {
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
pub(super) fn split_colon(s: &str) -> Option<(&str, &str)> {
    let at = s.find([':', '：'])?;
    let colon_len = s[at..].chars().next().map_or(1, char::len_utf8);
    Some((&s[..at], &s[at + colon_len..]))
}

/// Drops one leading list bullet: people paste commands as lists.
pub(super) fn strip_bullet(line: &str) -> &str {
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
