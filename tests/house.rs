//! The shape of the house (issue 16), checked from the sources: the arrows between
//! modules point one way (nothing below the command line reaches up into `cli` or
//! `demo`, and no two modules use each other, at any level), no file is too long to
//! enter, and the workflow core reads as short named steps. ARCHITECTURE.md draws
//! the same map; this test fails the build when the code leaves it.

#![allow(clippy::unwrap_used)]

#[path = "support/sources.rs"]
mod sources;

use sources::{before_tests, code_of, is_test_file, paths_from, sources, src_dir, test_files};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The most non-blank lines a source file may have before its unit tests.
const MAX_FILE_LINES: usize = 600;
/// The longest a function of the workflow core may be, `fn` line to closing brace.
const MAX_CORE_FN_LINES: usize = 80;
/// The modules at the top, which nothing else may name.
const TOP: &[&str] = &["cli", "demo"];

/// The module a file under `src` holds, as its path segments (`[]` for the crate root).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut segments: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        segments.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        segments.pop();
    }
    segments
}

/// The absolute module paths (from the crate root) that `code` of module `me` names.
fn named_paths(me: &[String], code: &str) -> Vec<Vec<String>> {
    let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let mut found = paths_from(&compact, "crate");
    for path in paths_from(&compact, "super") {
        let mut base = me[..me.len().saturating_sub(1)].to_vec();
        let mut rest = path.into_iter().peekable();
        while rest.peek().is_some_and(|s| s == "super") {
            rest.next();
            base.pop();
        }
        base.extend(rest);
        found.push(base);
    }
    found
}

/// The arrow a use of `target` from module `me` draws: between the two modules where
/// their paths part (siblings under one parent, or two modules at the top); none when
/// one contains the other.
fn arrow(me: &[String], target: &[String]) -> Option<(String, String)> {
    let at = me.iter().zip(target).position(|(a, b)| a != b)?;
    Some((me[..=at].join("::"), target[..=at].join("::")))
}

/// Every file's code (comments and unit tests left out), by module, test files left out.
fn code_by_module() -> Vec<(std::path::PathBuf, Vec<String>, String)> {
    let src = src_dir();
    let tests = test_files(&src);
    sources(&src)
        .into_iter()
        .filter(|f| !is_test_file(f, &tests))
        .map(|file| {
            let source = std::fs::read_to_string(&file).unwrap();
            let code: Vec<&str> = before_tests(&source).map(code_of).collect();
            (file.clone(), module_of(&src, &file), code.join("\n"))
        })
        .collect()
}

/// The module graph: each arrow, with one file that draws it.
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut arrows: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (file, me, code) in code_by_module() {
        for target in named_paths(&me, &code) {
            if let Some((from, to)) = arrow(&me, &target) {
                arrows
                    .entry(from)
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| file.display().to_string());
            }
        }
    }
    arrows
}

/// The circles of `arrows`: each strongly connected set of two or more modules.
fn circles(arrows: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<BTreeSet<String>> {
    let reaches = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(node) = todo.pop() {
            for next in arrows.get(&node).into_iter().flat_map(|m| m.keys()) {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let mut found: Vec<BTreeSet<String>> = Vec::new();
    for node in arrows.keys() {
        let mut circle: BTreeSet<String> = reaches(node)
            .into_iter()
            .filter(|other| other != node && reaches(other).contains(node))
            .collect();
        if !circle.is_empty() {
            circle.insert(node.clone());
            if !found.contains(&circle) {
                found.push(circle);
            }
        }
    }
    found
}

#[test]
fn the_checker_reads_paths_and_arrows() {
    let me: Vec<String> = ["permit", "qr"].map(String::from).to_vec();
    let paths = named_paths(
        &me,
        "use super::pdf::{PdfError, draw};\nuse crate::{keys, workflow::Case};",
    );
    let joined: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert!(joined.contains(&"keys".to_string()), "{joined:?}");
    assert!(joined.contains(&"workflow::Case".to_string()), "{joined:?}");
    assert!(
        joined.contains(&"permit::pdf::PdfError".to_string()),
        "{joined:?}"
    );
    let target: Vec<String> = ["permit", "pdf", "PdfError"].map(String::from).to_vec();
    assert_eq!(
        arrow(&me, &target),
        Some(("permit::qr".into(), "permit::pdf".into()))
    );
    // A child naming its parent's items draws no arrow.
    assert_eq!(arrow(&me, &["permit".to_string()]), None);
    let deep: Vec<String> = ["workflow", "step", "open"].map(String::from).to_vec();
    let up = named_paths(&deep, "use super::super::model::Case;");
    assert_eq!(up[0].join("::"), "workflow::model::Case");
    let mut arrows = BTreeMap::new();
    arrows.insert(
        "a".to_string(),
        BTreeMap::from([("b".to_string(), String::new())]),
    );
    arrows.insert(
        "b".to_string(),
        BTreeMap::from([("a".to_string(), String::new())]),
    );
    assert_eq!(circles(&arrows).len(), 1);
}

#[test]
fn nothing_below_the_command_line_reaches_up_into_it() {
    let mut offences = Vec::new();
    for (file, me, code) in code_by_module() {
        let Some(top) = me.first() else { continue }; // main.rs dispatches to both
        for target in named_paths(&me, &code) {
            let Some(named) = target.first() else {
                continue;
            };
            let reaches_up = TOP.contains(&named.as_str()) && named != top;
            // `demo` runs the product's own modules, never the command line.
            if reaches_up && !(top == "cli" && named == "demo") {
                offences.push(format!("{}: names {}", file.display(), target.join("::")));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the daemon and the core must not depend on the command line or the demo:\n{}",
        offences.join("\n")
    );
}

#[test]
fn no_two_modules_use_each_other() {
    let arrows = graph();
    assert!(arrows.contains_key("daemon"), "no arrows read: {arrows:?}");
    let found: Vec<String> = circles(&arrows)
        .iter()
        .map(|circle| {
            let members: Vec<&String> = circle.iter().collect();
            let witnesses: Vec<String> = members
                .iter()
                .flat_map(|from| {
                    let to = &arrows[*from];
                    members.iter().filter_map(move |m| {
                        to.get(*m).map(|file| format!("  {from} -> {m} ({file})"))
                    })
                })
                .collect();
            format!("circle {members:?}:\n{}", witnesses.join("\n"))
        })
        .collect();
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn no_source_file_is_too_long_to_enter() {
    let src = src_dir();
    let tests = test_files(&src);
    let mut long = Vec::new();
    let mut counted = 0;
    for file in sources(&src) {
        if is_test_file(&file, &tests) {
            continue;
        }
        counted += 1;
        let source = std::fs::read_to_string(&file).unwrap();
        let lines = before_tests(&source)
            .filter(|l| !l.trim().is_empty())
            .count();
        if lines > MAX_FILE_LINES {
            long.push(format!("{}: {lines} lines", file.display()));
        }
    }
    assert!(counted > 50, "read only {counted} source files");
    assert!(
        long.is_empty(),
        "source files over {MAX_FILE_LINES} non-blank lines before their tests (cut each along \
         the concern a reader looks for):\n{}",
        long.join("\n")
    );
}

/// Each function of `source` longer than `max` lines, from its `fn` line to the brace
/// that closes it at the same indentation: (name, first line, length).
fn long_functions(source: &str, max: usize) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let code = code_of(line);
        let trimmed = code.trim_start();
        let indent = &code[..code.len() - trimmed.len()];
        let Some(at) = trimmed.find("fn ") else {
            continue;
        };
        let head = &trimmed[..at];
        let is_fn = head.split_whitespace().all(|w| {
            [
                "pub",
                "pub(crate)",
                "pub(super)",
                "const",
                "async",
                "unsafe",
            ]
            .contains(&w)
        });
        if !is_fn || code.trim_end().ends_with(';') {
            continue;
        }
        let close = format!("{indent}}}");
        let Some(end) = lines[n..].iter().position(|l| l.trim_end() == close) else {
            continue;
        };
        if end + 1 > max {
            let name: String = trimmed[at + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push((name, n + 1, end + 1));
        }
    }
    found
}

#[test]
fn the_checker_measures_functions() {
    let short = "fn a() {\n    x();\n}\n";
    assert!(long_functions(short, 3).is_empty());
    assert_eq!(long_functions(short, 2), vec![("a".to_string(), 1, 3)]);
    let nested = "impl X {\n    pub(crate) fn b(&self) {\n        if y {\n        }\n    }\n}\n";
    assert_eq!(long_functions(nested, 3), vec![("b".to_string(), 2, 4)]);
}

#[test]
fn the_workflow_core_reads_as_short_named_steps() {
    let dir = src_dir().join("workflow");
    let mut long = Vec::new();
    for file in sources(&dir) {
        let source = std::fs::read_to_string(&file).unwrap();
        for (name, line, length) in long_functions(&source, MAX_CORE_FN_LINES) {
            long.push(format!(
                "{}:{line}: fn {name}, {length} lines",
                file.display()
            ));
        }
    }
    assert!(
        long.is_empty(),
        "functions of the workflow core over {MAX_CORE_FN_LINES} lines (make each a short list \
         of named steps):\n{}",
        long.join("\n")
    );
}
