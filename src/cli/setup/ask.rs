//! The answers `qrca setup` needs: from its flags, else asked at the terminal, else
//! (with `--yes`, or with no terminal) an error naming the flag to give.
//!
//! Owns the prompts and reading a password without echo (termios on standard input,
//! with rustix, already in the graph: no crate for one flag of one call). It must not
//! write files or print a password.

use anyhow::{Context, bail};
use std::io::{BufRead, IsTerminal, Write};

/// Where the answers that no flag gave come from.
pub(crate) struct Asker {
    /// A person at a terminal, and no `--yes`.
    prompt: bool,
}

/// What an answer is, for the prompt and for the error when it is missing: the flag,
/// what it is, and the question (Vietnamese, the English term in brackets).
pub(crate) struct Question<'a> {
    pub flag: &'a str,
    pub what: &'a str,
    pub ask: &'a str,
}

impl Asker {
    pub(crate) fn new(yes: bool) -> Self {
        Self {
            prompt: !yes && std::io::stdin().is_terminal(),
        }
    }

    /// Whether a missing answer is asked at the terminal.
    pub(crate) fn prompts(&self) -> bool {
        self.prompt
    }

    /// The flag's value, or the answer typed (not empty).
    pub(crate) fn text(&self, given: Option<String>, q: &Question<'_>) -> anyhow::Result<String> {
        if let Some(value) = given.filter(|v| !v.trim().is_empty()) {
            return Ok(value.trim().to_owned());
        }
        self.must_prompt(q)?;
        loop {
            let answer = read_line(&format!("{}: ", q.ask))?;
            if !answer.is_empty() {
                return Ok(answer);
            }
        }
    }

    /// The flag's values, or addresses typed on one line (commas or spaces between);
    /// an optional list may be answered with nothing.
    pub(crate) fn list(
        &self,
        given: Vec<String>,
        q: &Question<'_>,
        required: bool,
    ) -> anyhow::Result<Vec<String>> {
        if !given.is_empty() {
            return Ok(given.iter().flat_map(|v| split_list(v)).collect());
        }
        if !self.prompt && !required {
            return Ok(Vec::new());
        }
        self.must_prompt(q)?;
        loop {
            let items = split_list(&read_line(&format!("{}: ", q.ask))?);
            if !items.is_empty() || !required {
                return Ok(items);
            }
        }
    }

    /// An app password typed without echo, its spaces taken out ("abcd efgh ijkl mnop"
    /// as Gmail shows it); empty when nothing was typed.
    pub(crate) fn password(&self, q: &Question<'_>) -> anyhow::Result<String> {
        self.must_prompt(q)?;
        let stdin = std::io::stdin();
        let before = rustix::termios::tcgetattr(&stdin).context("reading the terminal's mode")?;
        let mut quiet = before.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        quiet
            .local_modes
            .insert(rustix::termios::LocalModes::ECHONL);
        // Echo goes off before the prompt shows, so nothing typed after it is echoed.
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet)
            .context("turning the terminal's echo off")?;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{}: ", q.ask);
        let _ = err.flush();
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        // Echo back on whatever happened, before any error is reported.
        let restored =
            rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &before);
        read.context("reading the password")?;
        restored.context("turning the terminal's echo back on")?;
        Ok(strip_spaces(&line))
    }

    fn must_prompt(&self, q: &Question<'_>) -> anyhow::Result<()> {
        if self.prompt {
            return Ok(());
        }
        bail!("missing {} ({})", q.flag, q.what)
    }
}

/// One line typed at the terminal after `prompt` (on stderr), trimmed.
fn read_line(prompt: &str) -> anyhow::Result<String> {
    let mut err = std::io::stderr().lock();
    write!(err, "{prompt}")?;
    err.flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        bail!("the terminal closed before the answer");
    }
    Ok(line.trim().to_owned())
}

/// Addresses given as `a@x, b@y` or `a@x b@y`.
fn split_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A password as typed or pasted, every space and line end taken out.
pub(crate) fn strip_spaces(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_passwords_are_read_as_people_type_them() {
        assert_eq!(
            split_list("a@x.vn, b@y.vn;c@z.vn  d@w.vn"),
            ["a@x.vn", "b@y.vn", "c@z.vn", "d@w.vn"]
        );
        assert!(split_list(" , ").is_empty());
        assert_eq!(strip_spaces("abcd efgh ijkl mnop\r\n"), "abcdefghijklmnop");
    }

    #[test]
    fn without_a_terminal_a_missing_answer_names_its_flag() {
        let asker = Asker { prompt: false };
        let q = Question {
            flag: "--name",
            what: "the ward's name, e.g. \"Phường Trần Hưng Đạo\"",
            ask: "",
        };
        let err = asker.text(None, &q).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("missing --name (the ward's name, e.g. \"Phường Trần Hưng Đạo\")")
        );
        assert_eq!(
            asker.text(Some(" P ".into()), &q).ok().as_deref(),
            Some("P")
        );
        assert!(
            asker
                .list(Vec::new(), &q, false)
                .is_ok_and(|l| l.is_empty())
        );
        assert!(asker.list(Vec::new(), &q, true).is_err());
    }
}
