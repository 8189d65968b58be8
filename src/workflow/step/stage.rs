//! A batch's stages: entering one sends the requests, with a fresh reply token for each
//! addressee (officers review, police stamp); once a stage has nothing left to decide,
//! its tokens die and the batch moves on, to the stamp or closed.

use super::common::{case_data, fmt_rows, row_notes};
use super::tx::Tx;
use crate::workflow::Ctx;
use crate::workflow::model::*;
use std::sync::Arc;

pub(super) fn stage_name(stage: TokenStage) -> &'static str {
    match stage {
        TokenStage::Review => "review",
        TokenStage::Stamp => "stamp",
    }
}

/// The token stage a batch stage is decided on, if it is still open.
fn token_stage(stage: BatchStage) -> Option<TokenStage> {
    match stage {
        BatchStage::Review => Some(TokenStage::Review),
        BatchStage::Stamp => Some(TokenStage::Stamp),
        BatchStage::Closed => None,
    }
}

/// Starts the batch's current stage: requests with fresh tokens to the people who
/// decide it, or, when nothing is left to decide there, moves on.
pub(super) fn enter_stage(tx: &mut Tx, bi: usize, ctx: &mut Ctx<'_>) {
    loop {
        let batch = &tx.case.batches[bi];
        let no = batch.no;
        let Some(stage) = token_stage(batch.stage) else {
            tx.note().s("batch ").n(no).s(" closed");
            return;
        };
        let open_rows = open_stts(batch, stage);
        if open_rows.is_empty() {
            let next = next_stage(batch);
            Arc::make_mut(&mut tx.case.batches[bi]).stage = next;
            continue;
        }
        let (template, addressees) = match stage {
            TokenStage::Review => (Template::ReviewRequest, &ctx.ward.officers),
            TokenStage::Stamp => (Template::StampRequest, &ctx.ward.police),
        };
        let row_list = fmt_rows(&open_rows);
        let data = MailData {
            batch: Some(no),
            rows: row_notes(batch, |r| is_open(r, stage)),
            row_list: Some(row_list.clone()),
            ..case_data(&tx.case)
        };
        let mut attachments = vec![AttachmentRef::NormalisedRoster { batch: no }];
        if stage == TokenStage::Review {
            attachments.extend(batch.documents.iter().cloned().map(AttachmentRef::Document));
        }
        // Each addressee gets the same request with a token of their own; the last one
        // takes the data itself rather than a copy.
        let mut shared = Some((data, attachments));
        for (i, addressee) in addressees.iter().enumerate() {
            let Some((data, attachments)) = (if i + 1 == addressees.len() {
                shared.take()
            } else {
                shared.clone()
            }) else {
                break;
            };
            let token = (ctx.fresh_token)();
            tx.case.tokens.push(TokenGrant {
                token: token.clone(),
                batch: no,
                stage,
                addressee: addressee.clone(),
                live: true,
            });
            let mail = tx.mail(template, vec![addressee.clone()], data);
            mail.reply_token = Some(token);
            mail.attachments = attachments;
        }
        tx.note()
            .s("batch ")
            .n(no)
            .s(": ")
            .s(stage_name(stage))
            .s(" requested for rows ")
            .s(&row_list);
        return;
    }
}

/// Where a batch goes once its current stage has nothing left to decide.
fn next_stage(batch: &Batch) -> BatchStage {
    let approved = |r: &BatchRow| matches!(r.state, RowState::Approved { .. });
    match batch.stage {
        BatchStage::Review if batch.rows.iter().any(approved) => BatchStage::Stamp,
        _ => BatchStage::Closed,
    }
}

/// Whether a row is still to be decided at this stage.
pub(super) fn is_open(row: &BatchRow, stage: TokenStage) -> bool {
    match stage {
        TokenStage::Review => matches!(row.state, RowState::Pending),
        TokenStage::Stamp => matches!(row.state, RowState::Approved { .. }),
    }
}

/// Rows still to be decided at this stage.
pub(super) fn open_stts(batch: &Batch, stage: TokenStage) -> Vec<u32> {
    let mut open = Vec::with_capacity(batch.rows.len());
    open.extend(
        batch
            .rows
            .iter()
            .filter(|r| is_open(r, stage))
            .map(|r| r.person.stt),
    );
    open
}

/// After decisions: if the stage has nothing left, its tokens die and the batch moves on.
pub(super) fn settle(tx: &mut Tx, bi: usize, stage: TokenStage, ctx: &mut Ctx<'_>) {
    let batch = &tx.case.batches[bi];
    if batch.rows.iter().any(|r| is_open(r, stage)) {
        return;
    }
    let no = batch.no;
    let next = next_stage(batch);
    for grant in tx
        .case
        .tokens
        .iter_mut()
        .filter(|g| g.batch == no && g.stage == stage)
    {
        grant.live = false;
    }
    Arc::make_mut(&mut tx.case.batches[bi]).stage = next;
    enter_stage(tx, bi, ctx);
}
