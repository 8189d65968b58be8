//! TOML text → `RawConfig`, reporting every syntax and shape error, not just the first.
//!
//! Owns the loop that gets all of serde's complaints out of a file: serde stops at
//! the first unknown key or wrong type, so the document is parsed once into toml's
//! spanned tree (`DeTable`), and then deserialized again and again; after each
//! error the offending key (or array item) is located by its span, reported with
//! its table, and removed from the tree before the next attempt. Keys removed this
//! way are remembered, so that the validator does not also call them missing.
//! This module must not judge values; it only knows the shape `raw` declares.

use super::diag::{Diagnostic, Seg, Source, rewrite_serde_message};
use super::raw::RawConfig;
use serde::Deserialize;
use std::collections::HashSet;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, Deserializer};

/// A config this broken is best fixed from the top; more errors would only bury them.
const MAX_SHAPE_ERRORS: usize = 100;

/// The file read into `RawConfig`, minus the keys that had the wrong shape.
pub(crate) struct Shaped {
    pub raw: RawConfig,
    /// The span of the document itself, where top-level problems are reported.
    pub root_span: Range<usize>,
    pub removed: Removed,
}

/// Keys taken out of the document because their value had the wrong shape, by the
/// span of the table they were in (which is the span `Spanned` gives that table).
#[derive(Debug, Default)]
pub(crate) struct Removed(HashSet<(usize, usize, String)>);

impl Removed {
    fn note(&mut self, table: &Range<usize>, key: &str) {
        self.0.insert((table.start, table.end, key.to_owned()));
    }

    pub(crate) fn contains(&self, table: &Range<usize>, key: &str) -> bool {
        self.0.contains(&(table.start, table.end, key.to_owned()))
    }
}

/// Parses and shapes the document. Syntax errors end it there (the tree after a
/// syntax error is a guess); shape errors are all collected. Returns `None` when
/// `errors` holds why nothing could be shaped.
pub(crate) fn read(src: &Source<'_>, errors: &mut Vec<Diagnostic>) -> Option<Shaped> {
    let (mut root, syntax) = DeTable::parse_recoverable(src.text());
    if !syntax.is_empty() {
        for e in syntax {
            let span = e.span().unwrap_or(0..0);
            let message = syntax_message(src.text(), &span, e.message());
            errors.push(src.diagnostic(&span, message));
        }
        return None;
    }
    let root_span = root.span();
    let mut removed = Removed::default();
    for _ in 0..MAX_SHAPE_ERRORS {
        let e = match RawConfig::deserialize(Deserializer::from(root.clone())) {
            Ok(raw) => {
                return Some(Shaped {
                    raw,
                    root_span,
                    removed,
                });
            }
            Err(e) => e,
        };
        let span = e.span().unwrap_or(0..0);
        let Some((path, at_key)) = locate(&root, &span) else {
            // Not a key or a value of this document: report it as it is and stop,
            // since there is nothing to remove before trying again.
            errors.push(src.diagnostic(&span, e.message().to_owned()));
            return None;
        };
        errors.push(src.diagnostic(&span, rewrite_serde_message(&path, at_key, e.message())));
        if !remove(&mut root, &path, &mut removed) {
            return None;
        }
    }
    errors.push(src.diagnostic(
        &root_span,
        format!("stopped after {MAX_SHAPE_ERRORS} errors; fix these and run qrca check again"),
    ));
    None
}

/// "duplicate key" says which key when the key is quoted; other parser messages
/// are kept as they are.
fn syntax_message(text: &str, span: &Range<usize>, message: &str) -> String {
    match text.get(span.clone()) {
        Some(key) if message == "duplicate key" && !key.is_empty() => {
            format!(
                "TOML syntax error: duplicate key \"{}\"",
                key.trim_matches('"')
            )
        }
        _ => format!("TOML syntax error: {message}"),
    }
}

/// The path to the key (`true`) or value (`false`) whose span is `span`. The
/// shallowest match wins: an array of tables shares its span with its first table,
/// and an error with that span is about the array.
fn locate(root: &Spanned<DeTable<'_>>, span: &Range<usize>) -> Option<(Vec<Seg>, bool)> {
    let mut path = Vec::new();
    let at_key = locate_in_table(root.get_ref(), span, &mut path)?;
    Some((path, at_key))
}

fn locate_in_table(table: &DeTable<'_>, span: &Range<usize>, path: &mut Vec<Seg>) -> Option<bool> {
    for (key, value) in table.iter() {
        if key.span() == *span || value.span() == *span {
            path.push(Seg::Key(key.get_ref().to_string()));
            return Some(key.span() == *span);
        }
    }
    for (key, value) in table.iter() {
        path.push(Seg::Key(key.get_ref().to_string()));
        if let Some(at_key) = locate_in_value(value.get_ref(), span, path) {
            return Some(at_key);
        }
        path.pop();
    }
    None
}

fn locate_in_value(value: &DeValue<'_>, span: &Range<usize>, path: &mut Vec<Seg>) -> Option<bool> {
    match value {
        DeValue::Table(table) => locate_in_table(table, span, path),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                if item.span() == *span {
                    return Some(false);
                }
                if let Some(at_key) = locate_in_value(item.get_ref(), span, path) {
                    return Some(at_key);
                }
                path.pop();
            }
            None
        }
        _ => None,
    }
}

/// Removes the key or array item at `path`, noting the key it belonged to.
fn remove(root: &mut Spanned<DeTable<'_>>, path: &[Seg], removed: &mut Removed) -> bool {
    let span = root.span();
    remove_in_table(root.get_mut(), &span, path, removed)
}

fn remove_in_table(
    table: &mut DeTable<'_>,
    table_span: &Range<usize>,
    path: &[Seg],
    removed: &mut Removed,
) -> bool {
    let Some((Seg::Key(key), rest)) = path.split_first() else {
        return false;
    };
    if rest.is_empty() {
        removed.note(table_span, key);
        return table.remove(key.as_str()).is_some();
    }
    let Some(value) = table.get_mut(key.as_str()) else {
        return false;
    };
    let value_span = value.span();
    match value.get_mut() {
        DeValue::Table(inner) => remove_in_table(inner, &value_span, rest, removed),
        DeValue::Array(items) => {
            let Some((Seg::Index(i), rest)) = rest.split_first() else {
                return false;
            };
            if rest.is_empty() {
                // The key stays, one item shorter; an array the validator finds empty
                // because of this is not reported a second time.
                removed.note(table_span, key);
                return remove_item(items, *i);
            }
            let Some(item) = items.get_mut(*i) else {
                return false;
            };
            let item_span = item.span();
            match item.get_mut() {
                DeValue::Table(inner) => remove_in_table(inner, &item_span, rest, removed),
                _ => false,
            }
        }
        _ => false,
    }
}

fn remove_item(items: &mut DeArray<'_>, index: usize) -> bool {
    if index >= items.len() {
        return false;
    }
    let old = std::mem::replace(items, DeArray::new());
    *items = old
        .into_iter()
        .enumerate()
        .filter_map(|(i, item)| (i != index).then_some(item))
        .collect();
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn shape(text: &str) -> (Option<Shaped>, Vec<String>) {
        let src = Source::new(Path::new("c.toml"), text);
        let mut errors = Vec::new();
        let shaped = read(&src, &mut errors);
        (shaped, errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn reports_every_unknown_key_and_wrong_type() {
        let text = "[mail]\nimap_host = \"x\"\nsmtp_host = \"y\"\ndaily_send_limit = \"many\"\n\n[[ward]]\nofficers = [\"a@b.c\", 3]\ncolour = 1\n";
        let (shaped, errors) = shape(text);
        assert!(shaped.is_some());
        let mut errors = errors;
        errors.sort();
        assert_eq!(
            errors,
            [
                "c.toml:2:1: unknown key \"imap_host\" in [mail]; expected one of imap, smtp, ca_file, daily_send_limit, max_message_bytes, processed_folder, quarantine_folder, answers_per_sender_per_day, trusted_authserv_ids",
                "c.toml:3:1: unknown key \"smtp_host\" in [mail]; expected one of imap, smtp, ca_file, daily_send_limit, max_message_bytes, processed_folder, quarantine_folder, answers_per_sender_per_day, trusted_authserv_ids",
                "c.toml:4:20: key \"daily_send_limit\" in [mail] must be an integer, not the string \"many\"",
                "c.toml:7:22: item 2 of key \"officers\" in [[ward]] must be a string, not the integer 3",
                "c.toml:8:1: unknown key \"colour\" in [[ward]]; expected one of code, short, name, district, signing_key, signing_key_since, officers, police, area_police, account, retired_key",
            ]
        );
    }

    #[test]
    fn remembers_what_it_removed() {
        let (shaped, errors) = shape("[[ward]]\nofficers = 3\n");
        assert_eq!(errors.len(), 1);
        let shaped = shaped.unwrap_or_else(|| unreachable!("shaped"));
        let ward = &shaped.raw.ward[0];
        assert!(ward.get_ref().officers.is_none());
        assert!(shaped.removed.contains(&ward.span(), "officers"));
        assert!(!shaped.removed.contains(&ward.span(), "police"));
    }

    #[test]
    fn a_single_ward_table_is_explained() {
        let (_, errors) = shape("[ward]\ncode = \"a.b\"\n");
        assert_eq!(
            errors,
            [
                "c.toml:1:1: key \"ward\" in the top level must be an array of tables, written [[ward]], not a single table"
            ]
        );
    }

    #[test]
    fn syntax_errors_are_all_reported_and_stop_there() {
        let (shaped, errors) = shape("a = \nb = \"x\nc = 1\nc = 2\n");
        assert!(shaped.is_none());
        assert!(errors.len() >= 2, "{errors:?}");
        assert!(
            errors.iter().all(|e| e.contains("TOML syntax error")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e == "c.toml:4:1: TOML syntax error: duplicate key \"c\""),
            "{errors:?}"
        );
    }
}
