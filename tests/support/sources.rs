//! Reading the crate's own sources for the tests that hold its shape (`core_is_pure`,
//! `house`): which files there are, which are test code, what a file's code is once
//! comments and tests are left out, and which module paths it names.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// The crate's `src` folder.
pub fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, subfolders included, in a stable order.
pub fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// The part of a file that is not its unit tests: the lines before the first one that
/// opens with `#[cfg(test)]` (the project keeps tests at the end of a file).
pub fn before_tests(source: &str) -> impl Iterator<Item = &str> {
    source
        .lines()
        .take_while(|l| !l.starts_with("#[cfg(test)]"))
}

/// The names of the child modules `source` declares for tests only
/// (`#[cfg(test)]` then `mod name;`): their files are test code.
pub fn test_children(source: &str) -> Vec<String> {
    let lines: Vec<&str> = source.lines().map(str::trim).collect();
    let mut names = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if *line != "#[cfg(test)]" {
            continue;
        }
        let next = lines[n + 1..].iter().find(|l| !l.starts_with("#["));
        let declared = next.and_then(|l| {
            l.strip_prefix("pub(crate) mod ")
                .or_else(|| l.strip_prefix("pub mod "))
                .or_else(|| l.strip_prefix("mod "))
        });
        if let Some(name) = declared.and_then(|d| d.strip_suffix(';')) {
            names.push(name.trim().to_string());
        }
    }
    names
}

/// The files under `src` that are test code: declared `#[cfg(test)] mod x;` by their
/// parent, and everything below such a module.
pub fn test_files(src: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for path in sources(src) {
        let source = std::fs::read_to_string(&path).unwrap();
        // A `mod.rs`, `lib.rs` or `main.rs` declares children beside it; `x.rs` in `x/`.
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let parent = path.parent().unwrap();
        let dir = if ["mod", "lib", "main"].contains(&stem.as_str()) {
            parent.to_path_buf()
        } else {
            parent.join(&stem)
        };
        for child in test_children(&source) {
            found.push(dir.join(format!("{child}.rs")));
            found.push(dir.join(&child));
        }
    }
    found
}

/// Whether `path` is one of `tests` (a test file, or a file inside a test folder).
pub fn is_test_file(path: &Path, tests: &[PathBuf]) -> bool {
    tests.iter().any(|t| path == t || path.starts_with(t))
}

/// A line without its `//` comment.
pub fn code_of(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}

/// Every path `compact` (code without whitespace) names from `root` (`crate` or
/// `super`), as its segments after the root; each item of a `root::a::{b, c::d}`
/// group is its own path (`a::b`, `a::c::d`), one level of nesting deep.
pub fn paths_from(compact: &str, root: &str) -> Vec<Vec<String>> {
    let marker = format!("{root}::");
    let mut found = Vec::new();
    for (at, _) in compact.match_indices(&marker) {
        // The second `super::` of `super::super::` is not a root of its own. (Whitespace
        // is gone, so a word before the root, `usecrate::`, cannot be told apart.)
        if compact[..at].ends_with("::") {
            continue;
        }
        let rest = &compact[at + marker.len()..];
        let (prefix, group) = split_group(rest);
        match group {
            None => found.push(prefix),
            Some(items) => {
                for item in items {
                    let mut path = prefix.clone();
                    path.extend(segments(&item));
                    found.push(path);
                }
            }
        }
    }
    found
}

/// The leading `a::b::` segments of `rest`, and the top-level items of the `{…}` group
/// that follows them, if one does.
fn split_group(rest: &str) -> (Vec<String>, Option<Vec<String>>) {
    let mut prefix = Vec::new();
    let mut tail = rest;
    loop {
        if let Some(group) = tail.strip_prefix('{') {
            return (prefix, Some(group_items(group)));
        }
        let word: String = tail
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if word.is_empty() {
            return (prefix, None);
        }
        tail = &tail[word.len()..];
        prefix.push(word);
        match tail.strip_prefix("::") {
            Some(more) => tail = more,
            None => return (prefix, None),
        }
    }
}

fn group_items(group: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut item = String::new();
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    if !item.is_empty() {
        items.push(item);
    }
    items
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .map(|s| {
            s.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .take_while(|s| !s.is_empty())
        .collect()
}
