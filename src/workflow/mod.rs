//! The pure workflow core: `step(case, event, ctx)` decides everything (DESIGN.md §1).
//!
//! It owns the rules of SPEC §2 and §3: who may open, decide, stamp and revoke; which
//! rows move where; which tokens live and die; what mails to send. It must not do
//! I/O, read the clock or draw randomness: `Ctx` brings the time, fresh tokens and the
//! next serial, and effects come back as data. `tests/core_is_pure.rs` fails the build
//! if this module imports tokio, sled, lettre, std::fs, std::net, a clock or an RNG.

#[cfg(test)]
mod fixtures;
pub mod model;
#[cfg(test)]
mod props;
mod step;
#[cfg(test)]
mod tests;

pub use model::*;
pub use step::{fmt_rows, is_party, step};

use jiff::Timestamp;
use jiff::civil::Date;

/// What a step may know of the world besides the case and the event.
pub struct Ctx<'a> {
    pub now: Timestamp,
    /// The ward's calendar date at `now` (permit validity counts in days).
    pub today: Date,
    pub ward: &'a WardRules,
    /// The serial a case opened by this step gets (per ward and kind, from the store).
    pub next_serial: u32,
    /// Fresh reply tokens, at least 96 random bits each.
    pub fresh_token: &'a mut dyn FnMut() -> ReplyToken,
}

/// `THD-T-0001`.
pub fn case_code(short: &str, kind: Kind, serial: u32) -> String {
    let mut code = String::with_capacity(short.len() + 8);
    code.push_str(short);
    code.push('-');
    code.push(kind.letter());
    code.push('-');
    push_padded(&mut code, serial, 4);
    code
}

/// `THD-T-0001-0007`.
pub fn permit_id(case: &str, holder: u32) -> String {
    let mut id = String::with_capacity(case.len() + 6);
    id.push_str(case);
    id.push('-');
    push_padded(&mut id, holder, 4);
    id
}

/// Appends `n` in decimal, zero-padded to `width`. Codes and row lists are made on
/// every step, so they skip the formatting machinery.
fn push_padded(out: &mut String, n: u32, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// The case code a permit id belongs to, if it is shaped like one
/// (`SHORT-K-serial-holder`, numbers of at least four digits).
pub fn case_of_permit(permit: &str) -> Option<&str> {
    let (case, holder) = permit.rsplit_once('-')?;
    let mut parts = case.split('-');
    let (short, kind, serial) = (parts.next()?, parts.next()?, parts.next()?);
    let number = |s: &str| s.len() >= 4 && s.bytes().all(|b| b.is_ascii_digit());
    let shaped = parts.next().is_none()
        && !short.is_empty()
        && short.bytes().all(|b| b.is_ascii_uppercase())
        && kind.len() == 1
        && kind.chars().next().and_then(Kind::from_letter).is_some()
        && number(serial)
        && number(holder);
    shaped.then_some(case)
}
