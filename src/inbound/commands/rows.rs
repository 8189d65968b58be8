//! Row lists as officers type them: `1-5, 8, 10-12`, `1 đến 5`, `1->5`, `hàng 3`,
//! `tất cả`. Each row is 1 to [`MAX_ROW`], and no list may name more rows than the
//! reply has left to name, checked before the rows are made.

use super::MAX_ROW;
use crate::workflow::model::Rows;

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
pub(super) fn parse_rows(text: &str, budget: usize) -> Option<Rows> {
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
