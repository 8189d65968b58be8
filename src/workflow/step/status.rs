//! Answers that change nothing: a party's status request gets where each batch
//! stands, and a reply without commands (or with lines the reader could not read) gets
//! the short help text.

use super::common::{case_data, is_party};
use super::refuse;
use super::tx::Tx;
use crate::workflow::Ctx;
use crate::workflow::model::*;

pub(super) fn on_status(case: Case, event: &Event, ctx: &Ctx<'_>) -> Result<Tx, Refusal> {
    let sender = &event.sender;
    if !is_party(&case, sender, ctx.ward) {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!("{sender} is not a party to case {}", case.code),
        ));
    }
    let mut tx = Tx::new(case);
    let data = status_data(&tx.case);
    tx.mail(Template::Status, vec![sender.clone()], data);
    Ok(tx)
}

/// The short help text, with what the reader understood and what it could not read.
pub(super) fn help(
    tx: &mut Tx,
    sender: &str,
    token: Option<ReplyToken>,
    commands: &[Command],
    unreadable: &[String],
) {
    let data = MailData {
        understood: commands.to_vec(),
        unreadable: unreadable.to_vec(),
        ..status_data(&tx.case)
    };
    tx.mail(Template::Help, vec![sender.to_string()], data)
        .reply_token = token;
}

fn status_data(case: &Case) -> MailData {
    MailData {
        batches: case.batches.iter().map(|b| BatchStatus::of(b)).collect(),
        ..case_data(case)
    }
}
