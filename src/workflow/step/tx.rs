//! `Tx`, the case a step is building with the effects it will have, and `Note`, the
//! writer of its one audit line. Every transition starts from `Tx::new` and ends in
//! `Tx::finish`, which adds the audit entry and the revision exactly when the case
//! changed.

use super::common::write_rows;
use crate::workflow::Ctx;
use crate::workflow::model::*;

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
