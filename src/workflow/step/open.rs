//! Opening a case: an organisation registered by an officer or an area police (T), or
//! a roster of individuals or households registered by an area police (C, H), which
//! opens its case and arrives as its first batch at once.

use super::common::case_data;
use super::refuse;
use super::roster::receive_roster;
use super::tx::Tx;
use crate::workflow::model::*;
use crate::workflow::{Ctx, case_code};

fn new_case(
    kind: Kind,
    event: &Event,
    ctx: &Ctx<'_>,
    organisation: Option<Organisation>,
    area_police: Vec<String>,
) -> Case {
    Case {
        code: case_code(&ctx.ward.short, kind, ctx.next_serial),
        ward: ctx.ward.code.clone(),
        kind,
        serial: ctx.next_serial,
        opened_at: ctx.now,
        updated_at: ctx.now,
        opened_by: event.sender.clone(),
        organisation,
        area_police,
        batches: Vec::new(),
        tokens: Vec::new(),
        last_holder: 0,
        revision: 0,
    }
}

pub(super) fn open_organisation(
    org: &Organisation,
    event: &Event,
    ctx: &Ctx<'_>,
) -> Result<Tx, Refusal> {
    let ward = ctx.ward;
    let sender = &event.sender;
    let by_area_police = ward.is_area_police(sender);
    if !by_area_police && !ward.is_officer(sender) {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!(
                "{sender} is neither an officer nor an area police of {}, so it may not register an organisation",
                ward.name
            ),
        ));
    }
    let mut missing = Vec::new();
    if org.name.trim().is_empty() {
        missing.push("Tên tổ chức");
    }
    if org.email.trim().is_empty() {
        missing.push("Email");
    }
    if !missing.is_empty() {
        return Err(refuse(
            RefusalReason::Malformed,
            format!("the registration lacks {}", missing.join(" and ")),
        ));
    }
    let area_police = if by_area_police {
        vec![sender.clone()]
    } else {
        ward.area_police.clone()
    };
    let mut tx = Tx::new(new_case(
        Kind::T,
        event,
        ctx,
        Some(org.clone()),
        area_police,
    ));
    let mut cc = tx.case.area_police.clone();
    if !by_area_police {
        cc.push(sender.clone());
    }
    let data = case_data(&tx.case);
    tx.mail(Template::CaseOpened, vec![org.email.clone()], data)
        .cc = cc;
    let code = tx.case.code.clone();
    tx.note()
        .s("opened case ")
        .s(&code)
        .s(" for organisation ")
        .s(&org.name);
    Ok(tx)
}

pub(super) fn open_roster_case(
    kind: Kind,
    submission: &RosterSubmission,
    event: &Event,
    ctx: &mut Ctx<'_>,
) -> Result<Tx, Refusal> {
    let sender = &event.sender;
    if kind == Kind::T {
        return Err(refuse(
            RefusalReason::Malformed,
            "an organisation's staff list comes as a reply on its case, not as a registration",
        ));
    }
    if !ctx.ward.is_area_police(sender) {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!(
                "{sender} is not an area police of {}, so it may not register individuals or households",
                ctx.ward.name
            ),
        ));
    }
    let mut tx = Tx::new(new_case(kind, event, ctx, None, vec![sender.clone()]));
    let code = tx.case.code.clone();
    let kind = match kind {
        Kind::T => "T",
        Kind::C => "C",
        Kind::H => "H",
    };
    tx.note().s("opened case ").s(&code).s(" for kind ").s(kind);
    receive_roster(&mut tx, submission, event, ctx);
    Ok(tx)
}
