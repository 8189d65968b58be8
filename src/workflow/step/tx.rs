//! `Tx`, the case a step is building with the effects it will have, and `Note`, the
//! writer of its one audit line; and `Decided`, what one reply decides and how to
//! take it back whole. Every transition starts from `Tx::new` and ends in
//! `Tx::finish`, which adds the audit entry and the revision exactly when the case
//! changed.

use super::common::write_rows;
use crate::workflow::Ctx;
use crate::workflow::model::*;
use std::sync::Arc;

/// The case being built and what to do about it. `log` is non-empty exactly when the
/// case changed; it becomes the one audit line of this step.
pub(super) struct Tx {
    pub(super) case: Case,
    pub(super) effects: Vec<Effect>,
    log: String,
}

/// A part of the audit line, written without the formatting machinery: one is written
/// on every change.
pub(super) struct Note<'a>(&'a mut String);

impl Note<'_> {
    pub(super) fn s(&mut self, text: &str) -> &mut Self {
        self.0.push_str(text);
        self
    }

    pub(super) fn n(&mut self, n: u32) -> &mut Self {
        self.0.push_str(itoa::Buffer::new().format(n));
        self
    }

    pub(super) fn rows(&mut self, stts: &[u32]) -> &mut Self {
        write_rows(self.0, stts);
        self
    }
}

impl Tx {
    pub(super) fn new(case: Case) -> Tx {
        Tx {
            case,
            effects: Vec::with_capacity(6),
            // One audit line a step; most fit here without growing.
            log: String::with_capacity(160),
        }
    }

    pub(super) fn mail(
        &mut self,
        template: Template,
        to: Vec<String>,
        data: MailData,
    ) -> &mut OutMail {
        self.effects.push(Effect::SendMail(OutMail {
            template,
            to,
            cc: Vec::new(),
            reply_token: None,
            attachments: Vec::new(),
            data: Box::new(data),
        }));
        match self.effects.last_mut() {
            Some(Effect::SendMail(mail)) => mail,
            // Pushed on the line above.
            _ => unreachable!("the mail just pushed is the last effect"),
        }
    }

    /// Records that the case changed: starts the next part of the audit line.
    pub(super) fn note(&mut self) -> Note<'_> {
        if !self.log.is_empty() {
            self.log.push_str("; ");
        }
        Note(&mut self.log)
    }

    pub(super) fn finish(mut self, event: &Event, ctx: &Ctx<'_>) -> (Case, Vec<Effect>) {
        if !self.log.is_empty() {
            self.case.updated_at = ctx.now;
            self.case.revision += 1;
            self.effects.push(Effect::Audit(AuditEntry {
                at: ctx.now,
                case: self.case.code.clone(),
                sender: event.sender.clone(),
                message_id: event.message_id.clone(),
                auth_evidence: event.auth.clone(),
                decision: self.log,
            }));
        }
        (self.case, self.effects)
    }
}

/// What one reply decides, for the answers and the audit line; what is wrong with
/// it; and how to take it back (each changed row with its state before).
pub(super) struct Decided {
    /// The sender, shared by every row this reply decides.
    pub(super) by: Arc<str>,
    pub(super) approved: Vec<u32>,
    pub(super) rejected: Vec<(u32, Arc<str>)>,
    pub(super) stamped: Vec<u32>,
    pub(super) refused: Vec<(u32, Arc<str>)>,
    pub(super) problems: Vec<ReplyProblem>,
    pub(super) undo: Vec<(usize, RowState)>,
}

impl Decided {
    /// Nothing decided yet by `sender` on a batch of `rows` rows at `stage`.
    pub(super) fn new(sender: &str, stage: TokenStage, rows: usize) -> Decided {
        let mut decided = Decided {
            by: sender.into(),
            approved: Vec::new(),
            rejected: Vec::new(),
            stamped: Vec::new(),
            refused: Vec::new(),
            problems: Vec::new(),
            // A reply decides at most every row once; sized up front, it never grows.
            undo: Vec::with_capacity(rows),
        };
        match stage {
            TokenStage::Review => decided.approved.reserve(rows),
            TokenStage::Stamp => decided.stamped.reserve(rows),
        }
        decided
    }
}
