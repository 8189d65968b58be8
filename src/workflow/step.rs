//! The transition function: one event on one case gives the new case and its effects.
//!
//! Shape of every transition: first decide whether the sender may do this at all
//! (a `Refusal` changes nothing and answers nobody: SPEC §3), then work on the case.
//! An authorised sender whose mail does not make sense (a row that does not exist, a
//! reply the parser could not read) gets an answer and the case stays exactly as it
//! was: every check runs before the first change. Every transition that changes the
//! case emits exactly one `Audit`.
//!
//! The case comes in by value: the caller loaded it to hand it over, and a step that
//! changes one row of one batch should not copy the rest (batches and people are
//! shared, copied on write).

use super::model::*;
use super::{Ctx, case_code, permit_id};
use jiff::civil::Date;
use std::collections::HashMap;
use std::sync::Arc;

/// Decides what an event does to a case. `case` is `None` for an event that opens one.
pub fn step(
    case: Option<Case>,
    event: &Event,
    ctx: &mut Ctx<'_>,
) -> Result<(Case, Vec<Effect>), Refusal> {
    let tx = match case {
        None => match &event.body {
            EventBody::RegisterOrganisation(org) => open_organisation(org, event, ctx)?,
            EventBody::RegisterRoster { kind, submission } => {
                open_roster_case(*kind, submission, event, ctx)?
            }
            _ => {
                return Err(refuse(
                    RefusalReason::NoSuchCase,
                    "the mail refers to no known case",
                ));
            }
        },
        Some(case) => {
            if case.ward != ctx.ward.code {
                return Err(refuse(
                    RefusalReason::NotPermitted,
                    format!(
                        "case {} belongs to ward {}, not {}",
                        case.code, case.ward, ctx.ward.code
                    ),
                ));
            }
            match &event.body {
                EventBody::RegisterOrganisation(_) | EventBody::RegisterRoster { .. } => {
                    return Err(refuse(
                        RefusalReason::NoSuchCase,
                        format!(
                            "a registration cannot be applied to the existing case {}",
                            case.code
                        ),
                    ));
                }
                EventBody::Roster(sub) => on_roster(case, sub, event, ctx)?,
                EventBody::Reply {
                    token,
                    commands,
                    unreadable,
                } => on_reply(case, token.as_ref(), commands, unreadable, event, ctx)?,
                EventBody::Revoke(list) => on_revoke(case, list, event, ctx)?,
                EventBody::Status => on_status(case, event, ctx)?,
            }
        }
    };
    Ok(tx.finish(event, ctx))
}

fn refuse(reason: RefusalReason, detail: impl Into<String>) -> Refusal {
    Refusal {
        reason,
        detail: detail.into(),
    }
}

/// The case being built and what to do about it. `log` is non-empty exactly when the
/// case changed; it becomes the one audit line of this step.
struct Tx {
    case: Case,
    effects: Vec<Effect>,
    log: Vec<String>,
}

impl Tx {
    fn new(case: Case) -> Tx {
        Tx {
            case,
            effects: Vec::with_capacity(6),
            log: Vec::new(),
        }
    }

    fn mail(&mut self, template: Template, to: Vec<String>, data: MailData) -> &mut OutMail {
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

    fn changed(&mut self, what: String) {
        self.log.push(what);
    }

    fn finish(mut self, event: &Event, ctx: &Ctx<'_>) -> (Case, Vec<Effect>) {
        if !self.log.is_empty() {
            self.case.updated_at = ctx.now;
            self.effects.push(Effect::Audit(AuditEntry {
                at: ctx.now,
                case: self.case.code.clone(),
                sender: event.sender.clone(),
                message_id: event.message_id.clone(),
                auth_evidence: event.auth.clone(),
                decision: self.log.join("; "),
            }));
        }
        (self.case, self.effects)
    }
}

fn authenticated(event: &Event, ctx: &Ctx<'_>) -> Result<(), Refusal> {
    if ctx.ward.require_auth && !event.auth.passes() {
        return Err(refuse(
            RefusalReason::NotAuthenticated,
            format!(
                "no trusted Authentication-Results vouch for {} ({})",
                event.sender, event.auth
            ),
        ));
    }
    Ok(())
}

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
    }
}

fn open_organisation(org: &Organisation, event: &Event, ctx: &Ctx<'_>) -> Result<Tx, Refusal> {
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
    authenticated(event, ctx)?;
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
    let data = case_data(&tx.case, ctx);
    tx.mail(Template::CaseOpened, vec![org.email.clone()], data)
        .cc = cc;
    tx.changed(format!(
        "opened case {} for organisation {}",
        tx.case.code, org.name
    ));
    Ok(tx)
}

fn open_roster_case(
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
    authenticated(event, ctx)?;
    let mut tx = Tx::new(new_case(kind, event, ctx, None, vec![sender.clone()]));
    tx.changed(format!("opened case {} for kind {kind}", tx.case.code));
    receive_roster(&mut tx, submission, event, ctx);
    Ok(tx)
}

fn on_roster(
    case: Case,
    submission: &RosterSubmission,
    event: &Event,
    ctx: &mut Ctx<'_>,
) -> Result<Tx, Refusal> {
    let sender = &event.sender;
    let from_org = case
        .organisation
        .as_ref()
        .is_some_and(|o| o.email.eq_ignore_ascii_case(sender));
    let from_area_police = ctx.ward.is_area_police(sender);
    let allowed = match case.kind {
        Kind::T => from_org || from_area_police,
        Kind::C | Kind::H => from_area_police,
    };
    if !allowed {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!("{sender} may not send rosters for case {}", case.code),
        ));
    }
    if from_area_police && !from_org {
        authenticated(event, ctx)?;
    }
    let mut tx = Tx::new(case);
    receive_roster(&mut tx, submission, event, ctx);
    Ok(tx)
}

/// A roster for the case in `tx`, from an allowed sender: errors go back and the case
/// waits; a valid roster becomes a new batch and enters its first stage.
fn receive_roster(tx: &mut Tx, submission: &RosterSubmission, event: &Event, ctx: &mut Ctx<'_>) {
    let sender = &event.sender;
    let roster = &submission.roster;
    if !roster.is_valid() {
        let mut errors = roster.errors.clone();
        if roster.rows.is_empty() && errors.is_empty() {
            errors.push(RosterIssue {
                row: None,
                column: None,
                message: "the file has no rows".into(),
            });
        }
        let data = MailData {
            file_name: Some(submission.file_name.clone()),
            roster_errors: errors,
            roster_warnings: roster.warnings.clone(),
            ..case_data(&tx.case, ctx)
        };
        tx.mail(Template::RosterInvalid, vec![sender.clone()], data);
        return;
    }

    let no = tx.case.batches.len() as u32 + 1;
    let kind = tx.case.kind;
    let holders = holders(&tx.case, ctx.today);
    let rows: Vec<BatchRow> = roster
        .rows
        .iter()
        .map(|person| {
            let known = person.id_number.as_deref().and_then(|id| holders.get(id));
            let state = match known {
                Some(Holder::Permit(permit)) => RowState::AlreadyHolds {
                    permit: permit.clone(),
                },
                Some(Holder::Open { batch, stt }) => RowState::InAnotherBatch {
                    batch: *batch,
                    stt: *stt,
                },
                None if kind.needs_review() => RowState::Pending,
                // The area police checked these people before sending (SPEC §2, C).
                None => RowState::Approved {
                    by: sender.clone(),
                    at: ctx.now,
                },
            };
            BatchRow {
                person: Arc::new(person.clone()),
                state,
            }
        })
        .collect();
    let duplicates: Vec<u32> = rows
        .iter()
        .filter(|r| {
            matches!(
                r.state,
                RowState::AlreadyHolds { .. } | RowState::InAnotherBatch { .. }
            )
        })
        .map(|r| r.person.stt)
        .collect();
    let first_stage = if kind.needs_review() {
        BatchStage::Review
    } else {
        BatchStage::Stamp
    };
    let batch = Batch {
        no,
        received_at: ctx.now,
        from: sender.clone(),
        file_name: submission.file_name.clone(),
        documents: submission.documents.clone(),
        stage: first_stage,
        rows,
    };
    let mut what = format!(
        "batch {no} received from {} ({}, {} rows)",
        sender,
        submission.file_name,
        roster.rows.len()
    );
    if !duplicates.is_empty() {
        what.push_str(&format!(
            "; rows {} already hold or await a permit on this case",
            fmt_rows(&duplicates)
        ));
    }
    tx.changed(what);
    let data = MailData {
        batch: Some(no),
        file_name: Some(submission.file_name.clone()),
        roster_warnings: roster.warnings.clone(),
        duplicates: row_notes(&batch, |r| duplicates.contains(&r.person.stt)),
        row_list: Some(fmt_rows(
            &batch.rows.iter().map(|r| r.person.stt).collect::<Vec<_>>(),
        )),
        next_stage: Some(match first_stage {
            BatchStage::Review => TokenStage::Review,
            _ => TokenStage::Stamp,
        }),
        ..case_data(&tx.case, ctx)
    };
    tx.case.batches.push(Arc::new(batch));
    tx.mail(Template::RosterAccepted, vec![sender.clone()], data);
    let bi = tx.case.batches.len() - 1;
    enter_stage(tx, bi, ctx);
}

/// Who already holds or awaits a permit on a case, by ID number.
enum Holder {
    Permit(String),
    Open { batch: u32, stt: u32 },
}

fn holders(case: &Case, today: Date) -> HashMap<&str, Holder> {
    let mut map = HashMap::new();
    for batch in &case.batches {
        for row in &batch.rows {
            let Some(id) = row.person.id_number.as_deref() else {
                continue;
            };
            match &row.state {
                RowState::Issued(p) if p.valid_until >= today => {
                    map.insert(id, Holder::Permit(p.id.clone()));
                }
                RowState::Pending | RowState::Approved { .. } => {
                    map.entry(id).or_insert(Holder::Open {
                        batch: batch.no,
                        stt: row.person.stt,
                    });
                }
                _ => {}
            }
        }
    }
    map
}

fn stage_name(stage: TokenStage) -> &'static str {
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
fn enter_stage(tx: &mut Tx, bi: usize, ctx: &mut Ctx<'_>) {
    loop {
        let batch = &tx.case.batches[bi];
        let no = batch.no;
        let Some(stage) = token_stage(batch.stage) else {
            tx.changed(format!("batch {no} closed"));
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
            ..case_data(&tx.case, ctx)
        };
        let mut attachments = vec![AttachmentRef::NormalisedRoster { batch: no }];
        if stage == TokenStage::Review {
            attachments.extend(batch.documents.iter().cloned().map(AttachmentRef::Document));
        }
        for addressee in addressees {
            let token = (ctx.fresh_token)();
            tx.case.tokens.push(TokenGrant {
                token: token.clone(),
                batch: no,
                stage,
                addressee: addressee.clone(),
                live: true,
            });
            let mail = tx.mail(template, vec![addressee.clone()], data.clone());
            mail.reply_token = Some(token);
            mail.attachments = attachments.clone();
        }
        tx.changed(format!(
            "batch {no}: {} requested for rows {row_list}",
            stage_name(stage)
        ));
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
fn is_open(row: &BatchRow, stage: TokenStage) -> bool {
    match stage {
        TokenStage::Review => matches!(row.state, RowState::Pending),
        TokenStage::Stamp => matches!(row.state, RowState::Approved { .. }),
    }
}

/// Rows still to be decided at this stage.
fn open_stts(batch: &Batch, stage: TokenStage) -> Vec<u32> {
    batch
        .rows
        .iter()
        .filter(|r| is_open(r, stage))
        .map(|r| r.person.stt)
        .collect()
}

/// After decisions: if the stage has nothing left, its tokens die and the batch moves on.
fn settle(tx: &mut Tx, bi: usize, stage: TokenStage, ctx: &mut Ctx<'_>) {
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

fn is_party(case: &Case, sender: &str, ward: &WardRules) -> bool {
    ward.is_officer(sender)
        || ward.is_police(sender)
        || ward.is_area_police(sender)
        || case
            .area_police
            .iter()
            .any(|a| a.eq_ignore_ascii_case(sender))
        || case
            .organisation
            .as_ref()
            .is_some_and(|o| o.email.eq_ignore_ascii_case(sender))
        || case
            .batches
            .iter()
            .any(|b| b.from.eq_ignore_ascii_case(sender))
}

/// The people told about a case's outcomes: the organisation with the area police in
/// copy (T), or the area police (C, H).
fn notify(case: &Case) -> (Vec<String>, Vec<String>) {
    match &case.organisation {
        Some(org) if case.kind == Kind::T => (vec![org.email.clone()], case.area_police.clone()),
        _ => (case.area_police.clone(), Vec::new()),
    }
}

/// What was decided by one reply, for the answers and the audit line.
#[derive(Default)]
struct Decided {
    approved: Vec<u32>,
    rejected: Vec<(u32, String)>,
    stamped: Vec<u32>,
    refused: Vec<(u32, String)>,
}

fn on_reply(
    case: Case,
    token: Option<&ReplyToken>,
    commands: &[Command],
    unreadable: &[String],
    event: &Event,
    ctx: &mut Ctx<'_>,
) -> Result<Tx, Refusal> {
    let sender = &event.sender;
    let Some(token) = token else {
        if !commands.is_empty() {
            return Err(refuse(
                RefusalReason::NoToken,
                format!(
                    "a decision on case {} counts only as a reply to the request mail, and this one did not come to its reply address",
                    case.code
                ),
            ));
        }
        if !is_party(&case, sender, ctx.ward) {
            return Err(refuse(
                RefusalReason::NotPermitted,
                format!("{sender} is not a party to case {}", case.code),
            ));
        }
        let mut tx = Tx::new(case);
        help(&mut tx, sender, None, commands, unreadable, ctx);
        return Ok(tx);
    };
    let Some(grant) = case.tokens.iter().find(|g| g.token == *token) else {
        return Err(refuse(
            RefusalReason::UnknownToken,
            format!("case {} never issued the reply token used", case.code),
        ));
    };
    if !grant.live {
        return Err(refuse(
            RefusalReason::DeadToken,
            format!(
                "the reply token for the {} of batch {} of case {} belongs to a stage that has ended",
                stage_name(grant.stage),
                grant.batch,
                case.code
            ),
        ));
    }
    if !grant.addressee.eq_ignore_ascii_case(sender) {
        return Err(refuse(
            RefusalReason::WrongAddressee,
            format!(
                "the reply token of case {} was issued to {}, not to {sender}",
                case.code, grant.addressee
            ),
        ));
    }
    let (allowed, role) = match grant.stage {
        TokenStage::Review => (ctx.ward.is_officer(sender), "an officer"),
        TokenStage::Stamp => (ctx.ward.is_police(sender), "a police officer"),
    };
    if !allowed {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!("{sender} is not {role} of {}", ctx.ward.name),
        ));
    }
    authenticated(event, ctx)?;
    let stage = grant.stage;
    let Some(bi) = case.batches.iter().position(|b| b.no == grant.batch) else {
        return Err(refuse(
            RefusalReason::UnknownToken,
            format!(
                "the reply token names batch {}, which case {} does not have",
                grant.batch, case.code
            ),
        ));
    };
    let token = grant.token.clone();

    let mut tx = Tx::new(case);
    if commands.is_empty() || !unreadable.is_empty() {
        help(&mut tx, sender, Some(token), commands, unreadable, ctx);
        return Ok(tx);
    }

    // Every command is checked against a copy of the batch before anything changes.
    let mut batch = Batch::clone(&tx.case.batches[bi]);
    let mut errors = Vec::new();
    let mut decided = Decided::default();
    for command in commands {
        apply(
            &mut batch,
            stage,
            command,
            sender,
            ctx,
            &mut decided,
            &mut errors,
        );
    }
    let mut last_holder = tx.case.last_holder;
    let issued = if errors.is_empty() {
        issue(
            &mut batch,
            &tx.case.code,
            &mut last_holder,
            &decided,
            sender,
            ctx,
            &mut errors,
        )
    } else {
        Vec::new()
    };
    if !errors.is_empty() {
        let data = MailData {
            batch: Some(batch.no),
            errors,
            undecided: Some(fmt_rows(&open_stts(&tx.case.batches[bi], stage))),
            ..case_data(&tx.case, ctx)
        };
        tx.mail(Template::ReplyNotApplied, vec![sender.clone()], data)
            .reply_token = Some(token);
        return Ok(tx);
    }
    let still_open = open_stts(&batch, stage);
    tx.case.last_holder = last_holder;
    tx.case.batches[bi] = Arc::new(batch);
    let batch = &tx.case.batches[bi];
    let mut notes = notes_with_reasons(batch, &decided.rejected);
    notes.extend(notes_with_reasons(batch, &decided.refused));
    let data = MailData {
        batch: Some(batch.no),
        approved: non_empty(fmt_rows(&decided.approved)),
        stamped: non_empty(fmt_rows(&decided.stamped)),
        rows: notes,
        permits: issued.iter().map(|p| p.permit.clone()).collect(),
        undecided: Some(fmt_rows(&still_open)),
        ..case_data(&tx.case, ctx)
    };
    tx.mail(Template::DecisionRecorded, vec![sender.clone()], data)
        .reply_token = (!still_open.is_empty()).then_some(token);
    record_decisions(&mut tx, bi, &decided, issued, sender, ctx);
    settle(&mut tx, bi, stage, ctx);
    Ok(tx)
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Applies one command to a working copy of a batch, or says why it cannot.
fn apply(
    batch: &mut Batch,
    stage: TokenStage,
    command: &Command,
    sender: &str,
    ctx: &Ctx<'_>,
    decided: &mut Decided,
    errors: &mut Vec<String>,
) {
    let rows = match (stage, command) {
        (TokenStage::Review, Command::Approve(rows))
        | (TokenStage::Review, Command::Reject { rows, .. })
        | (TokenStage::Stamp, Command::Stamp(rows))
        | (TokenStage::Stamp, Command::Reject { rows, .. }) => rows,
        (TokenStage::Review, Command::Stamp(_)) => {
            errors.push("ĐÓNG DẤU is for the ward police, after the review".into());
            return;
        }
        (TokenStage::Stamp, Command::Approve(_)) => {
            errors.push(
                "DUYỆT is for the ward officers; the police reply ĐÓNG DẤU or TỪ CHỐI".into(),
            );
            return;
        }
    };
    if let Command::Reject { reason, .. } = command
        && reason.trim().is_empty()
    {
        errors
            .push("TỪ CHỐI needs a reason after a colon, e.g. \"TỪ CHỐI 6: thiếu giấy tờ\"".into());
        return;
    }
    // Rows stamped by an earlier line of this reply stay Approved until `issue` runs,
    // so they are excluded here: one row, one decision per reply.
    let open = |row: &BatchRow| is_open(row, stage) && !decided.stamped.contains(&row.person.stt);
    let targets: Vec<usize> = match rows {
        Rows::All => {
            let all: Vec<usize> = (0..batch.rows.len())
                .filter(|&i| open(&batch.rows[i]))
                .collect();
            if all.is_empty() {
                errors.push("no rows are left for this command".into());
                return;
            }
            all
        }
        Rows::List(stts) => {
            let mut found = Vec::new();
            for &stt in stts {
                match batch.rows.iter().position(|r| r.person.stt == stt) {
                    None => errors.push(format!(
                        "row {stt} does not exist (batch {} has rows 1-{})",
                        batch.no,
                        batch.rows.len()
                    )),
                    Some(_) if decided.stamped.contains(&stt) => {
                        errors.push(format!("row {stt} is stamped twice in this reply"))
                    }
                    Some(i) if !open(&batch.rows[i]) => errors.push(format!(
                        "row {stt} is {}",
                        describe_state(&batch.rows[i].state)
                    )),
                    Some(i) => {
                        if !found.contains(&i) {
                            found.push(i);
                        }
                    }
                }
            }
            found
        }
    };
    for i in targets {
        let row = &mut batch.rows[i];
        let stt = row.person.stt;
        row.state = match command {
            Command::Approve(_) => {
                decided.approved.push(stt);
                RowState::Approved {
                    by: sender.to_string(),
                    at: ctx.now,
                }
            }
            Command::Reject { reason, .. } if stage == TokenStage::Review => {
                decided.rejected.push((stt, reason.trim().to_string()));
                RowState::Rejected {
                    by: sender.to_string(),
                    at: ctx.now,
                    reason: reason.trim().to_string(),
                }
            }
            Command::Reject { reason, .. } => {
                decided.refused.push((stt, reason.trim().to_string()));
                RowState::Refused {
                    by: sender.to_string(),
                    at: ctx.now,
                    reason: reason.trim().to_string(),
                }
            }
            // The permit is made by `issue` once every line has applied.
            Command::Stamp(_) => {
                decided.stamped.push(stt);
                continue;
            }
        };
    }
}

/// Makes the permits for the rows stamped by this reply, in roster order, with ids
/// that continue the case's numbering.
fn issue(
    batch: &mut Batch,
    case_code: &str,
    last_holder: &mut u32,
    decided: &Decided,
    sender: &str,
    ctx: &Ctx<'_>,
    errors: &mut Vec<String>,
) -> Vec<IssuedPermit> {
    let mut stamped = decided.stamped.clone();
    stamped.sort_unstable();
    let mut issued = Vec::with_capacity(stamped.len());
    for stt in stamped {
        let Some(row) = batch.rows.iter_mut().find(|r| r.person.stt == stt) else {
            continue;
        };
        let (valid_from, valid_until) = validity(&row.person, ctx);
        if valid_until < valid_from || valid_until < ctx.today {
            errors.push(format!(
                "row {stt} would be valid only from {valid_from} to {valid_until}; check the dates in the roster or the config's [permits]"
            ));
            continue;
        }
        *last_holder += 1;
        let id = permit_id(case_code, *last_holder);
        row.state = RowState::Issued(Permit {
            id: id.clone(),
            valid_from,
            valid_until,
            issued_at: ctx.now,
            stamped_by: sender.to_string(),
        });
        issued.push(IssuedPermit { stt, permit: id });
    }
    issued
}

fn validity(person: &Row, ctx: &Ctx<'_>) -> (Date, Date) {
    let from = person.valid_from.unwrap_or(ctx.today).max(ctx.today);
    let until = person.valid_until.unwrap_or(match ctx.ward.validity {
        Validity::Days(n) => from
            .checked_add(jiff::Span::new().days(i64::from(n.max(1)) - 1))
            .unwrap_or(Date::MAX),
        Validity::Until(date) => date,
    });
    (from, until)
}

/// The audit line and the mails to the people concerned, for one applied reply.
fn record_decisions(
    tx: &mut Tx,
    bi: usize,
    decided: &Decided,
    issued: Vec<IssuedPermit>,
    sender: &str,
    ctx: &Ctx<'_>,
) {
    let batch = Arc::clone(&tx.case.batches[bi]);
    let no = batch.no;
    let mut parts = Vec::new();
    if !decided.approved.is_empty() {
        parts.push(format!("approved rows {}", fmt_rows(&decided.approved)));
    }
    for (stt, reason) in &decided.rejected {
        parts.push(format!("rejected row {stt}: {reason}"));
    }
    if !issued.is_empty() {
        let stts: Vec<u32> = issued.iter().map(|p| p.stt).collect();
        parts.push(format!(
            "stamped rows {} as {}",
            fmt_rows(&stts),
            fmt_permits(&issued)
        ));
    }
    for (stt, reason) in &decided.refused {
        parts.push(format!("refused to stamp row {stt}: {reason}"));
    }
    tx.changed(format!("batch {no}, by {sender}: {}", parts.join(", ")));

    let (to, cc) = notify(&tx.case);
    for (template, list) in [
        (Template::RowsRejected, &decided.rejected),
        (Template::RowsRefused, &decided.refused),
    ] {
        if list.is_empty() {
            continue;
        }
        let data = MailData {
            batch: Some(no),
            rows: notes_with_reasons(&batch, list),
            ..case_data(&tx.case, ctx)
        };
        tx.mail(template, to.clone(), data).cc = cc.clone();
    }
    if issued.is_empty() {
        return;
    }
    let ids: Vec<String> = issued.iter().map(|p| p.permit.clone()).collect();
    let data = MailData {
        batch: Some(no),
        permits: ids.clone(),
        ..case_data(&tx.case, ctx)
    };
    let mail = tx.mail(Template::PermitsIssued, to, data);
    mail.cc = cc;
    mail.attachments = vec![
        AttachmentRef::Permits {
            permits: ids.clone(),
        },
        AttachmentRef::PrintSheet { permits: ids },
    ];
    if tx.case.kind == Kind::C {
        // Each person with an email also gets their own permit (SPEC §2, C).
        for p in &issued {
            let Some(row) = batch.rows.iter().find(|r| r.person.stt == p.stt) else {
                continue;
            };
            let Some(email) = row.person.email.clone() else {
                continue;
            };
            let data = MailData {
                permits: vec![p.permit.clone()],
                rows: row_notes(&batch, |r| r.person.stt == p.stt),
                ..case_data(&tx.case, ctx)
            };
            tx.mail(Template::PermitForPerson, vec![email], data)
                .attachments = vec![AttachmentRef::Permits {
                permits: vec![p.permit.clone()],
            }];
        }
    }
    tx.effects.push(Effect::IssuePermits {
        case: tx.case.code.clone(),
        batch: no,
        rows: issued,
    });
}

fn on_revoke(
    case: Case,
    list: &[Revocation],
    event: &Event,
    ctx: &mut Ctx<'_>,
) -> Result<Tx, Refusal> {
    let sender = &event.sender;
    if !ctx.ward.is_officer(sender) && !ctx.ward.is_police(sender) {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!(
                "{sender} is neither an officer nor a police officer of {}, so it may not revoke permits",
                ctx.ward.name
            ),
        ));
    }
    authenticated(event, ctx)?;
    // Find every permit first; change nothing unless all of them can be revoked.
    let mut errors = Vec::new();
    let mut targets: Vec<(usize, usize, &Revocation)> = Vec::new();
    if list.is_empty() {
        errors.push("THU HỒI needs a permit id, e.g. \"THU HỒI THD-T-0001-0007: lý do\"".into());
    }
    for r in list {
        if r.reason.trim().is_empty() {
            errors.push(format!("THU HỒI {} needs a reason after a colon", r.permit));
            continue;
        }
        let found = case.batches.iter().enumerate().find_map(|(bi, b)| {
            b.rows
                .iter()
                .position(|row| match &row.state {
                    RowState::Issued(p) | RowState::Revoked { permit: p, .. } => p.id == r.permit,
                    _ => false,
                })
                .map(|ri| (bi, ri))
        });
        match found {
            None => errors.push(format!(
                "permit {} was not issued on case {}",
                r.permit, case.code
            )),
            Some((bi, ri)) if !matches!(case.batches[bi].rows[ri].state, RowState::Issued(_)) => {
                errors.push(format!("permit {} is already revoked", r.permit))
            }
            Some(_) if targets.iter().any(|(_, _, t)| t.permit == r.permit) => {
                errors.push(format!("permit {} is named twice", r.permit))
            }
            Some((bi, ri)) => targets.push((bi, ri, r)),
        }
    }
    let mut tx = Tx::new(case);
    if !errors.is_empty() {
        let data = MailData {
            errors,
            ..case_data(&tx.case, ctx)
        };
        tx.mail(Template::ReplyNotApplied, vec![sender.clone()], data);
        return Ok(tx);
    }
    for &(bi, ri, r) in &targets {
        let row = &mut Arc::make_mut(&mut tx.case.batches[bi]).rows[ri];
        if let RowState::Issued(permit) = &row.state {
            row.state = RowState::Revoked {
                permit: permit.clone(),
                by: sender.clone(),
                at: ctx.now,
                reason: r.reason.trim().to_string(),
            };
        }
    }
    let revoked: Vec<Revocation> = targets
        .iter()
        .map(|(_, _, r)| Revocation {
            permit: r.permit.clone(),
            reason: r.reason.trim().to_string(),
        })
        .collect();
    tx.changed(format!(
        "revoked {}",
        revoked
            .iter()
            .map(|r| format!("{}: {}", r.permit, r.reason))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let (to, mut cc) = notify(&tx.case);
    cc.push(sender.clone());
    let data = MailData {
        revoked,
        ..case_data(&tx.case, ctx)
    };
    tx.mail(Template::PermitsRevoked, to, data).cc = cc;
    Ok(tx)
}

fn on_status(case: Case, event: &Event, ctx: &Ctx<'_>) -> Result<Tx, Refusal> {
    let sender = &event.sender;
    if !is_party(&case, sender, ctx.ward) {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!("{sender} is not a party to case {}", case.code),
        ));
    }
    let mut tx = Tx::new(case);
    let data = status_data(&tx.case, ctx);
    tx.mail(Template::Status, vec![sender.clone()], data);
    Ok(tx)
}

/// The short help text, with what the reader understood and what it could not read.
fn help(
    tx: &mut Tx,
    sender: &str,
    token: Option<ReplyToken>,
    commands: &[Command],
    unreadable: &[String],
    ctx: &Ctx<'_>,
) {
    let data = MailData {
        understood: commands.to_vec(),
        unreadable: unreadable.to_vec(),
        ..status_data(&tx.case, ctx)
    };
    tx.mail(Template::Help, vec![sender.to_string()], data)
        .reply_token = token;
}

fn case_data(case: &Case, ctx: &Ctx<'_>) -> MailData {
    MailData {
        case: case.code.clone(),
        kind: Some(case.kind),
        ward_name: ctx.ward.name.clone(),
        district: ctx.ward.district.clone(),
        organisation: case.organisation.as_ref().map(|o| o.name.clone()),
        ..MailData::default()
    }
}

fn status_data(case: &Case, ctx: &Ctx<'_>) -> MailData {
    let batches = case
        .batches
        .iter()
        .map(|b| {
            let mut s = BatchStatus {
                batch: b.no,
                stage: b.stage,
                rows: b.rows.len(),
                pending: 0,
                approved: 0,
                rejected: 0,
                issued: 0,
                revoked: 0,
                duplicates: 0,
            };
            for row in &b.rows {
                *match row.state {
                    RowState::Pending => &mut s.pending,
                    RowState::Approved { .. } => &mut s.approved,
                    RowState::Rejected { .. } | RowState::Refused { .. } => &mut s.rejected,
                    RowState::Issued(_) => &mut s.issued,
                    RowState::Revoked { .. } => &mut s.revoked,
                    RowState::AlreadyHolds { .. } | RowState::InAnotherBatch { .. } => {
                        &mut s.duplicates
                    }
                } += 1;
            }
            s
        })
        .collect();
    MailData {
        batches,
        ..case_data(case, ctx)
    }
}

/// The rows that `which` picks, in roster order, as a mail shows them.
fn row_notes(batch: &Batch, which: impl Fn(&BatchRow) -> bool) -> Vec<RowNote> {
    batch
        .rows
        .iter()
        .filter(|r| which(r))
        .map(|r| RowNote {
            stt: r.person.stt,
            name: r.person.name.clone(),
            birth_date: r.person.birth_date,
            state: describe_state(&r.state),
            reason: None,
        })
        .collect()
}

fn notes_with_reasons(batch: &Batch, list: &[(u32, String)]) -> Vec<RowNote> {
    list.iter()
        .map(|(stt, reason)| {
            let row = batch.rows.iter().find(|r| r.person.stt == *stt);
            RowNote {
                stt: *stt,
                name: row.and_then(|r| r.person.name.clone()),
                birth_date: row.and_then(|r| r.person.birth_date),
                state: row.map(|r| describe_state(&r.state)).unwrap_or_default(),
                reason: Some(reason.clone()),
            }
        })
        .collect()
}

/// A row's state in a sentence fragment, for answers ("row 6 is …").
fn describe_state(state: &RowState) -> String {
    match state {
        RowState::Pending => "undecided".into(),
        RowState::AlreadyHolds { permit } => format!("already holding permit {permit}"),
        RowState::InAnotherBatch { batch, stt } => {
            format!("already in batch {batch} as row {stt}")
        }
        RowState::Approved { .. } => "approved, awaiting the stamp".into(),
        RowState::Rejected { reason, .. } => format!("already rejected ({reason})"),
        RowState::Refused { reason, .. } => format!("refused by the police ({reason})"),
        RowState::Issued(p) => format!("already issued as {}", p.id),
        RowState::Revoked { permit, .. } => format!("revoked ({})", permit.id),
    }
}

/// `1-5, 8, 10-12`: the form officers write row lists in.
pub fn fmt_rows(stts: &[u32]) -> String {
    let mut sorted = stts.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&start.to_string());
        if end != start {
            out.push('-');
            out.push_str(&end.to_string());
        }
        i += 1;
    }
    out
}

fn fmt_permits(issued: &[IssuedPermit]) -> String {
    match issued {
        [] => String::new(),
        [one] => one.permit.clone(),
        [first, .., last] => format!("{} … {}", first.permit, last.permit),
    }
}
