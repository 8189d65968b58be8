//! Reading a header of a rendered or delivered message as it stands in the bytes.
//!
//! Include it with `#[path = "support/headers.rs"] mod headers;`.
#![allow(dead_code)]

/// The header's value as it stands in the message, unfolded; `None` when it has none.
pub fn header(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        if let Some(value) = line.strip_prefix(&format!("{name}: ")) {
            let mut value = value.to_owned();
            while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                value.push_str(next);
                lines.next();
            }
            return Some(value);
        }
    }
    None
}
