//! Hostile and broken configs: whatever the text, loading never panics, and every
//! error it reports names the file and a line and column that exist in it.

use proptest::prelude::*;
use qrca::config::{self, ConfigError};
use std::path::Path;

const EXAMPLE: &str = include_str!("../config/qrca.example.toml");

/// Checks one text: no panic, and diagnostics that point inside the file.
fn check(text: &str) -> Result<(), TestCaseError> {
    let path = Path::new("/nonexistent-qrca-test/qrca.toml");
    match config::load_str(text, path) {
        Ok(_) => {}
        Err(ConfigError::Invalid(diagnostics)) => {
            prop_assert!(!diagnostics.is_empty(), "invalid with no error");
            let lines = text.split('\n').count();
            for d in diagnostics {
                let shown = d.to_string();
                prop_assert!(
                    shown.starts_with("/nonexistent-qrca-test/qrca.toml:"),
                    "{shown}"
                );
                prop_assert!(
                    d.line >= 1 && d.line <= lines,
                    "line {} of {lines}: {shown}",
                    d.line
                );
                prop_assert!(d.column >= 1, "{shown}");
                prop_assert!(!shown.contains('\n'), "one line per error: {shown:?}");
            }
        }
        Err(other) => prop_assert!(false, "a text cannot be unreadable: {other}"),
    }
    Ok(())
}

/// The example with a slice cut out, a slice repeated, or some bytes replaced.
fn mutated() -> impl Strategy<Value = String> {
    let len = EXAMPLE.len();
    (0..len, 0..len, 0u8..3, "[\\[\\]={}\"#a-z0-9 \n.,'-]{0,12}").prop_map(
        move |(a, b, how, junk)| {
            let (lo, hi) = (a.min(b), a.max(b));
            let at = |i: usize| {
                (0..=i)
                    .rev()
                    .find(|&j| EXAMPLE.is_char_boundary(j))
                    .unwrap_or(0)
            };
            let (lo, hi) = (at(lo), at(hi));
            match how {
                0 => format!("{}{}", &EXAMPLE[..lo], &EXAMPLE[hi..]),
                1 => format!("{}{}", &EXAMPLE[..hi], &EXAMPLE[lo..]),
                _ => format!(
                    "{}{junk}{}",
                    &EXAMPLE[..lo],
                    &EXAMPLE[at(hi.min(lo + 8)).max(lo)..]
                ),
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_text_gets_an_answer_not_a_panic(text in "\\PC{0,400}") {
        check(&text)?;
    }

    #[test]
    fn a_damaged_example_gets_errors_that_point_into_it(text in mutated()) {
        check(&text)?;
    }
}

#[test]
fn the_example_itself_only_lacks_its_secret_files() {
    // Its paths are under /etc/qrca, which this machine need not have: every error
    // must then be about a missing file, and nothing else.
    match config::load_str(EXAMPLE, Path::new("config/qrca.example.toml")) {
        Ok(_) => {}
        Err(ConfigError::Invalid(diagnostics)) => {
            for d in diagnostics {
                assert!(d.message.contains("does not exist"), "{d}");
            }
        }
        Err(other) => panic!("{other}"),
    }
}
