//! The domain's data: cases, batches, rows, tokens, events, effects.
//!
//! Plain data with serde derives, shared by the core (`step`), the store and the
//! adapters. Nothing here does I/O or reads the clock; constructors take every value
//! they need.
//!
//! Cut by noun: `case` (a case, its batches, rows and tokens), `roster` (a roster as
//! read), `ward` (a ward's rules), `event` (what comes in, and refusals), `effect`
//! (what goes out) and `mail` (what a mail's template is given). Every item is
//! re-exported here, so `workflow::model::X` names it wherever it lives.

mod case;
mod effect;
mod event;
mod mail;
mod roster;
mod ward;

pub use case::*;
pub use effect::*;
pub use event::*;
pub use mail::*;
pub use roster::*;
pub use ward::*;
