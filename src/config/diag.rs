//! Diagnostics about a config file: one sentence, with file, line and column.
//!
//! Owns the `Diagnostic` type, the byte-offset → line:column arithmetic and the
//! wording of key paths (`[mail.imap]`, `[[ward.account]]`). It must not decide what
//! is wrong with a config; the parser and the validator do that and come here only
//! to say it.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One error or warning about the config, printed as `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The config file as it was named on the command line or in the environment.
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters (not bytes), as editors count.
    pub column: usize,
    /// One sentence naming the key and the table it is in.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// The text of a config file and where its lines start, to turn spans into positions.
pub(crate) struct Source<'a> {
    path: &'a Path,
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub(crate) fn new(path: &'a Path, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            path,
            text,
            line_starts,
        }
    }

    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// 1-based line and column of a byte offset; an offset past the end is clamped.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self
            .line_starts
            .get(line.wrapping_sub(1))
            .copied()
            .unwrap_or(0);
        // Spans from the TOML parser fall on character boundaries; should one not,
        // counting bytes is still a usable column.
        let column = match self.text.get(start..offset) {
            Some(prefix) => prefix.chars().count(),
            None => offset - start,
        };
        (line.max(1), column + 1)
    }

    pub(crate) fn diagnostic(&self, span: &Range<usize>, message: String) -> Diagnostic {
        let (line, column) = self.position(span.start);
        Diagnostic {
            file: self.path.to_path_buf(),
            line,
            column,
            message,
        }
    }
}

/// One step of the way from the top of the document to a key or an array item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// How a table is named in messages: `[mail]`, `[mail.imap]`, `[[ward]]`,
/// `[[ward.account]]`; an array of tables is written with double brackets, as in
/// the file. The top of the document is "the top level".
pub(crate) fn table_name(path: &[Seg]) -> String {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .collect();
    if keys.is_empty() {
        return "the top level".to_owned();
    }
    let dotted = keys.join(".");
    match path.last() {
        Some(Seg::Index(_)) => format!("[[{dotted}]]"),
        _ => format!("[{dotted}]"),
    }
}

/// `key "port" in [mail.imap]`, or `item 2 of key "officers" in [[ward]]`.
pub(crate) fn key_phrase(path: &[Seg]) -> String {
    match path {
        [] => "the document".to_owned(),
        [table @ .., Seg::Key(key)] => format!("key \"{key}\" in {}", table_name(table)),
        [rest @ .., Seg::Index(i)] => format!("item {} of {}", i + 1, key_phrase(rest)),
    }
}

/// Rewrites a message from serde or the TOML deserializer about the value at `path`
/// into one sentence in this module's shape. Unknown shapes are kept, prefixed with
/// the key, so nothing is lost.
pub(crate) fn rewrite_serde_message(path: &[Seg], at_key: bool, message: &str) -> String {
    if at_key && let Some(rest) = message.strip_prefix("unknown field ") {
        let unknown = first_backticked(rest).unwrap_or(rest);
        let table = match path.split_last() {
            Some((_, table)) => table_name(table),
            None => table_name(path),
        };
        let expected = backticked(rest.split_once("expected").map_or("", |(_, e)| e));
        return if expected.is_empty() {
            format!("unknown key \"{unknown}\" in {table}; it takes no keys")
        } else {
            format!(
                "unknown key \"{unknown}\" in {table}; expected one of {}",
                expected.join(", ")
            )
        };
    }
    let subject = key_phrase(path);
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((found, expected)) = rest.rsplit_once(", expected ")
        {
            let found = describe_found(found);
            if found == "a table" && expected == "a sequence" {
                let dotted = dotted_keys(path);
                return format!(
                    "{subject} must be an array of tables, written [[{dotted}]], not a single table"
                );
            }
            return format!(
                "{subject} must be {}, not {found}",
                describe_expected(expected)
            );
        }
    }
    format!("{subject}: {message}")
}

fn dotted_keys(path: &[Seg]) -> String {
    path.iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn first_backticked(s: &str) -> Option<&str> {
    let (_, rest) = s.split_once('`')?;
    let (inner, _) = rest.split_once('`')?;
    Some(inner)
}

fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// serde's words for what it found, in the config's words.
fn describe_found(found: &str) -> String {
    let quoted = || first_backticked(found).unwrap_or(found).to_owned();
    if let Some(s) = found.strip_prefix("string ") {
        return format!("the string {s}");
    }
    if found.starts_with("integer ") {
        return format!("the integer {}", quoted());
    }
    if found.starts_with("floating point ") {
        return format!("the number {}", quoted());
    }
    if found.starts_with("boolean ") {
        return format!("the boolean {}", quoted());
    }
    match found {
        "map" => "a table".to_owned(),
        "sequence" => "an array".to_owned(),
        other => other.to_owned(),
    }
}

/// serde's words for what it expected, in the config's words.
fn describe_expected(expected: &str) -> String {
    match expected {
        "u8" => "an integer from 0 to 255".to_owned(),
        "u16" => "an integer from 0 to 65535".to_owned(),
        "u32" => "an integer from 0 to 4294967295".to_owned(),
        "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "i64" => "an integer".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" => "a table".to_owned(),
        e if e.starts_with("struct ") => "a table".to_owned(),
        e if e.starts_with("a map") => "a table".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Seg {
        Seg::Key(s.to_owned())
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nđường = \"x\"\n\nlast";
        let src = Source::new(Path::new("c.toml"), text);
        assert_eq!(src.position(0), (1, 1));
        assert_eq!(src.position(4), (1, 5));
        assert_eq!(src.position(5), (1, 6));
        assert_eq!(src.position(6), (2, 1));
        // "đường" is 5 characters but 9 bytes: the `=` is column 7.
        let second_eq = text.match_indices('=').nth(1).map(|(i, _)| i);
        assert_eq!(second_eq.map(|i| src.position(i)), Some((2, 7)));
        assert_eq!(src.position(text.len()), (4, 5));
        assert_eq!(src.position(text.len() + 10), (4, 5));
        // Inside a multi-byte character: still a position, no panic.
        assert_eq!(src.position(7).0, 2);
    }

    #[test]
    fn names_tables_as_the_file_writes_them() {
        assert_eq!(table_name(&[]), "the top level");
        assert_eq!(table_name(&[k("mail")]), "[mail]");
        assert_eq!(table_name(&[k("mail"), k("imap")]), "[mail.imap]");
        assert_eq!(table_name(&[k("ward"), Seg::Index(1)]), "[[ward]]");
        assert_eq!(
            table_name(&[k("ward"), Seg::Index(0), k("account"), Seg::Index(2)]),
            "[[ward.account]]"
        );
        assert_eq!(
            key_phrase(&[k("ward"), Seg::Index(0), k("officers"), Seg::Index(1)]),
            "item 2 of key \"officers\" in [[ward]]"
        );
    }

    #[test]
    fn rewrites_serde_messages() {
        let cases: &[(&[Seg], bool, &str, &str)] = &[
            (
                &[k("mail"), k("imap_host")],
                true,
                "unknown field `imap_host`, expected one of `imap`, `smtp`",
                "unknown key \"imap_host\" in [mail]; expected one of imap, smtp",
            ),
            (
                &[k("mail"), k("imap"), k("port")],
                false,
                "invalid type: string \"993\", expected u16",
                "key \"port\" in [mail.imap] must be an integer from 0 to 65535, not the string \"993\"",
            ),
            (
                &[k("mail"), k("daily_send_limit")],
                false,
                "invalid value: integer `-1`, expected u32",
                "key \"daily_send_limit\" in [mail] must be an integer from 0 to 4294967295, not the integer -1",
            ),
            (
                &[k("ward")],
                false,
                "invalid type: map, expected a sequence",
                "key \"ward\" in the top level must be an array of tables, written [[ward]], not a single table",
            ),
            (
                &[k("mail")],
                false,
                "invalid type: integer `3`, expected struct RawMail",
                "key \"mail\" in the top level must be a table, not the integer 3",
            ),
            (
                &[k("x")],
                false,
                "something else",
                "key \"x\" in the top level: something else",
            ),
        ];
        for (path, at_key, message, expected) in cases {
            assert_eq!(rewrite_serde_message(path, *at_key, message), *expected);
        }
    }
}
