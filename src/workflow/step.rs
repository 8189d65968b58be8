//! The transition function. Work in progress: filled in by the core's author.

use super::*;

/// Decides what an event does to a case. `case` is `None` for an event that opens one.
pub fn step(
    case: Option<&Case>,
    event: &Event,
    ctx: &mut Ctx<'_>,
) -> Result<(Case, Vec<Effect>), Refusal> {
    let _ = (case, event, ctx);
    Err(Refusal {
        reason: RefusalReason::NoSuchCase,
        detail: "not yet implemented".into(),
    })
}
