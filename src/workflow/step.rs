//! The transition function: one event on one case gives the new case and its effects.
//!
//! Shape of every transition: first decide whether the sender may do this at all
//! (a `Refusal` changes nothing and answers nobody: SPEC §3), then work on a copy of
//! the case. An authorised sender whose mail does not make sense (a row that does not
//! exist, a reply the parser could not read) gets an answer and the case stays as it
//! was. Every transition that changes the case emits exactly one `Audit`.

use super::model::*;
use super::{Ctx, case_code, permit_id};
use jiff::civil::Date;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Decides what an event does to a case. `case` is `None` for an event that opens one.
pub fn step(
    case: Option<&Case>,
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
            effects: Vec::new(),
            log: Vec::new(),
        }
    }

    fn mail(
        &mut self,
        template: Template,
        to: Vec<String>,
        cc: Vec<String>,
        reply_token: Option<ReplyToken>,
        attachments: Vec<AttachmentRef>,
        data: Value,
    ) {
        self.effects.push(Effect::SendMail(OutMail {
            template,
            to,
            cc,
            reply_token,
            attachments,
            data,
        }));
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
    tx.mail(
        Template::CaseOpened,
        vec![org.email.clone()],
        cc,
        None,
        Vec::new(),
        data,
    );
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
    case: &Case,
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
    let mut tx = Tx::new(case.clone());
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
        let mut data = case_data(&tx.case, ctx);
        data["file_name"] = json!(submission.file_name);
        data["errors"] = json!(errors);
        data["warnings"] = json!(roster.warnings);
        tx.mail(
            Template::RosterInvalid,
            vec![sender.clone()],
            Vec::new(),
            None,
            Vec::new(),
            data,
        );
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
                person: person.clone(),
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
    tx.case.batches.push(Batch {
        no,
        received_at: ctx.now,
        from: sender.clone(),
        file_name: submission.file_name.clone(),
        documents: submission.documents.clone(),
        stage: if kind.needs_review() {
            BatchStage::Review
        } else {
            BatchStage::Stamp
        },
        rows,
    });
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

    let bi = tx.case.batches.len() - 1;
    let mut data = case_data(&tx.case, ctx);
    data["batch"] = json!(no);
    data["file_name"] = json!(submission.file_name);
    data["row_count"] = json!(roster.rows.len());
    data["warnings"] = json!(roster.warnings);
    data["duplicates"] = rows_json(&tx.case.batches[bi], &duplicates);
    data["next"] = json!(if kind.needs_review() {
        "review"
    } else {
        "stamp"
    });
    tx.mail(
        Template::RosterAccepted,
        vec![sender.clone()],
        Vec::new(),
        None,
        Vec::new(),
        data,
    );
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

/// Starts the batch's current stage: requests with fresh tokens to the people who
/// decide it, or, when nothing is left to decide there, moves on.
fn enter_stage(tx: &mut Tx, bi: usize, ctx: &mut Ctx<'_>) {
    loop {
        let batch = &tx.case.batches[bi];
        let (stage, open) = match batch.stage {
            BatchStage::Review => (
                TokenStage::Review,
                count(batch, |s| matches!(s, RowState::Pending)),
            ),
            BatchStage::Stamp => (
                TokenStage::Stamp,
                count(batch, |s| matches!(s, RowState::Approved { .. })),
            ),
            BatchStage::Closed => {
                let no = batch.no;
                tx.changed(format!("batch {no} closed"));
                return;
            }
        };
        if open == 0 {
            let next = next_stage(batch);
            tx.case.batches[bi].stage = next;
            continue;
        }
        let (template, addressees) = match stage {
            TokenStage::Review => (Template::ReviewRequest, ctx.ward.officers.clone()),
            TokenStage::Stamp => (Template::StampRequest, ctx.ward.police.clone()),
        };
        let no = batch.no;
        let open_rows = open_stts(batch, stage);
        let mut data = case_data(&tx.case, ctx);
        data["batch"] = json!(no);
        data["rows"] = rows_json(&tx.case.batches[bi], &open_rows);
        data["row_list"] = json!(fmt_rows(&open_rows));
        data["row_count"] = json!(open_rows.len());
        let mut attachments = vec![AttachmentRef::NormalisedRoster { batch: no }];
        if stage == TokenStage::Review {
            attachments.extend(
                tx.case.batches[bi]
                    .documents
                    .iter()
                    .cloned()
                    .map(AttachmentRef::Document),
            );
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
            tx.mail(
                template,
                vec![addressee],
                Vec::new(),
                Some(token),
                attachments.clone(),
                data.clone(),
            );
        }
        let label = match stage {
            TokenStage::Review => "review",
            TokenStage::Stamp => "stamp",
        };
        tx.changed(format!(
            "batch {no}: {label} requested for rows {}",
            fmt_rows(&open_rows)
        ));
        return;
    }
}

/// Where a batch goes once its current stage has nothing left to decide.
fn next_stage(batch: &Batch) -> BatchStage {
    match batch.stage {
        BatchStage::Review if count(batch, |s| matches!(s, RowState::Approved { .. })) > 0 => {
            BatchStage::Stamp
        }
        _ => BatchStage::Closed,
    }
}

fn count(batch: &Batch, pred: impl Fn(&RowState) -> bool) -> usize {
    batch.rows.iter().filter(|r| pred(&r.state)).count()
}

/// Rows still to be decided at this stage.
fn open_stts(batch: &Batch, stage: TokenStage) -> Vec<u32> {
    batch
        .rows
        .iter()
        .filter(|r| match stage {
            TokenStage::Review => matches!(r.state, RowState::Pending),
            TokenStage::Stamp => matches!(r.state, RowState::Approved { .. }),
        })
        .map(|r| r.person.stt)
        .collect()
}

/// After decisions: if the stage has nothing left, its tokens die and the batch moves on.
fn settle(tx: &mut Tx, bi: usize, stage: TokenStage, ctx: &mut Ctx<'_>) {
    let batch = &tx.case.batches[bi];
    if !open_stts(batch, stage).is_empty() {
        return;
    }
    let no = batch.no;
    for grant in tx
        .case
        .tokens
        .iter_mut()
        .filter(|g| g.batch == no && g.stage == stage)
    {
        grant.live = false;
    }
    let next = next_stage(batch);
    tx.case.batches[bi].stage = next;
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
    case: &Case,
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
        if !is_party(case, sender, ctx.ward) {
            return Err(refuse(
                RefusalReason::NotPermitted,
                format!("{sender} is not a party to case {}", case.code),
            ));
        }
        let mut tx = Tx::new(case.clone());
        help(&mut tx, sender, None, commands, unreadable, ctx);
        return Ok(tx);
    };
    let grant = case
        .tokens
        .iter()
        .find(|g| g.token == *token)
        .ok_or_else(|| {
            refuse(
                RefusalReason::UnknownToken,
                format!("case {} never issued the reply token used", case.code),
            )
        })?;
    let stage_name = match grant.stage {
        TokenStage::Review => "review",
        TokenStage::Stamp => "stamp",
    };
    if !grant.live {
        return Err(refuse(
            RefusalReason::DeadToken,
            format!(
                "the reply token for the {stage_name} of batch {} of case {} belongs to a stage that has ended",
                grant.batch, case.code
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
    let allowed = match grant.stage {
        TokenStage::Review => ctx.ward.is_officer(sender),
        TokenStage::Stamp => ctx.ward.is_police(sender),
    };
    if !allowed {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!(
                "{sender} is not {} of {}",
                match grant.stage {
                    TokenStage::Review => "an officer",
                    TokenStage::Stamp => "a police officer",
                },
                ctx.ward.name
            ),
        ));
    }
    authenticated(event, ctx)?;
    let Some(bi) = case.batches.iter().position(|b| b.no == grant.batch) else {
        return Err(refuse(
            RefusalReason::UnknownToken,
            format!(
                "the reply token names batch {}, which case {} does not have",
                grant.batch, case.code
            ),
        ));
    };
    let stage = grant.stage;
    let token = grant.token.clone();

    let mut tx = Tx::new(case.clone());
    if commands.is_empty() || !unreadable.is_empty() {
        help(&mut tx, sender, Some(token), commands, unreadable, ctx);
        return Ok(tx);
    }

    let mut batch = case.batches[bi].clone();
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
    let issued = if errors.is_empty() {
        issue(
            &mut batch,
            &case.code,
            &mut tx.case.last_holder,
            &decided,
            sender,
            ctx,
            &mut errors,
        )
    } else {
        Vec::new()
    };
    if !errors.is_empty() {
        tx.case.last_holder = case.last_holder;
        let mut data = case_data(&tx.case, ctx);
        data["batch"] = json!(batch.no);
        data["errors"] = json!(errors);
        data["undecided"] = json!(fmt_rows(&open_stts(&case.batches[bi], stage)));
        tx.mail(
            Template::ReplyNotApplied,
            vec![sender.clone()],
            Vec::new(),
            Some(token),
            Vec::new(),
            data,
        );
        return Ok(tx);
    }
    let no = batch.no;
    tx.case.batches[bi] = batch;
    let still_open = open_stts(&tx.case.batches[bi], stage);
    let mut data = case_data(&tx.case, ctx);
    data["batch"] = json!(no);
    data["approved"] = json!(fmt_rows(&decided.approved));
    data["rejected"] = json!(decided.rejected);
    data["stamped"] = json!(fmt_rows(&decided.stamped));
    data["refused"] = json!(decided.refused);
    data["permits"] = json!(issued.iter().map(|p| &p.permit).collect::<Vec<_>>());
    data["undecided"] = json!(fmt_rows(&still_open));
    tx.mail(
        Template::DecisionRecorded,
        vec![sender.clone()],
        Vec::new(),
        (!still_open.is_empty()).then_some(token),
        Vec::new(),
        data,
    );
    record_decisions(&mut tx, bi, &decided, &issued, sender, ctx);
    settle(&mut tx, bi, stage, ctx);
    Ok(tx)
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
    let open = |row: &BatchRow| match stage {
        TokenStage::Review => matches!(row.state, RowState::Pending),
        TokenStage::Stamp => {
            matches!(row.state, RowState::Approved { .. })
                && !decided.stamped.contains(&row.person.stt)
        }
    };
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
    let mut issued = Vec::new();
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

fn record_decisions(
    tx: &mut Tx,
    bi: usize,
    decided: &Decided,
    issued: &[IssuedPermit],
    sender: &str,
    ctx: &Ctx<'_>,
) {
    let no = tx.case.batches[bi].no;
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
            fmt_permits(issued)
        ));
    }
    for (stt, reason) in &decided.refused {
        parts.push(format!("refused to stamp row {stt}: {reason}"));
    }
    tx.changed(format!("batch {no}, by {sender}: {}", parts.join(", ")));

    let (to, cc) = notify(&tx.case);
    let batch = &tx.case.batches[bi];
    if !decided.rejected.is_empty() || !decided.refused.is_empty() {
        let (template, list) = if decided.rejected.is_empty() {
            (Template::RowsRefused, &decided.refused)
        } else {
            (Template::RowsRejected, &decided.rejected)
        };
        let mut data = case_data(&tx.case, ctx);
        data["batch"] = json!(no);
        data["rows"] = json!(
            list.iter()
                .map(|(stt, reason)| {
                    let name = batch
                        .rows
                        .iter()
                        .find(|r| r.person.stt == *stt)
                        .and_then(|r| r.person.name.clone());
                    json!({"stt": stt, "name": name, "reason": reason})
                })
                .collect::<Vec<_>>()
        );
        tx.mail(template, to.clone(), cc.clone(), None, Vec::new(), data);
    }
    if !issued.is_empty() {
        let ids: Vec<String> = issued.iter().map(|p| p.permit.clone()).collect();
        let mut data = case_data(&tx.case, ctx);
        data["batch"] = json!(no);
        data["permits"] = json!(ids);
        tx.effects.push(Effect::IssuePermits {
            case: tx.case.code.clone(),
            batch: no,
            rows: issued.to_vec(),
        });
        tx.mail(
            Template::PermitsIssued,
            to,
            cc,
            None,
            vec![
                AttachmentRef::Permits {
                    permits: ids.clone(),
                },
                AttachmentRef::PrintSheet { permits: ids },
            ],
            data,
        );
        if tx.case.kind == Kind::C {
            let batch = &tx.case.batches[bi];
            let personal: Vec<(String, String, Option<String>)> = issued
                .iter()
                .filter_map(|p| {
                    let row = batch.rows.iter().find(|r| r.person.stt == p.stt)?;
                    let email = row.person.email.clone()?;
                    Some((email, p.permit.clone(), row.person.name.clone()))
                })
                .collect();
            for (email, permit, name) in personal {
                let mut data = case_data(&tx.case, ctx);
                data["permit"] = json!(permit);
                data["name"] = json!(name);
                tx.mail(
                    Template::PermitForPerson,
                    vec![email],
                    Vec::new(),
                    None,
                    vec![AttachmentRef::Permits {
                        permits: vec![permit],
                    }],
                    data,
                );
            }
        }
    }
}

fn on_revoke(
    case: &Case,
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
    let mut tx = Tx::new(case.clone());
    let mut errors = Vec::new();
    let mut done = Vec::new();
    if list.is_empty() {
        errors.push("THU HỒI needs a permit id, e.g. \"THU HỒI THD-T-0001-0007: lý do\"".into());
    }
    for r in list {
        if r.reason.trim().is_empty() {
            errors.push(format!("THU HỒI {} needs a reason after a colon", r.permit));
            continue;
        }
        let row = tx
            .case
            .batches
            .iter_mut()
            .flat_map(|b| b.rows.iter_mut())
            .find(|row| match &row.state {
                RowState::Issued(p) | RowState::Revoked { permit: p, .. } => p.id == r.permit,
                _ => false,
            });
        match row {
            None => errors.push(format!(
                "permit {} was not issued on case {}",
                r.permit, case.code
            )),
            Some(row) => match std::mem::replace(&mut row.state, RowState::Pending) {
                RowState::Issued(permit) => {
                    row.state = RowState::Revoked {
                        permit,
                        by: sender.clone(),
                        at: ctx.now,
                        reason: r.reason.trim().to_string(),
                    };
                    done.push(r);
                }
                other => {
                    row.state = other;
                    errors.push(format!("permit {} is already revoked", r.permit));
                }
            },
        }
    }
    if !errors.is_empty() {
        let mut tx = Tx::new(case.clone());
        let mut data = case_data(case, ctx);
        data["errors"] = json!(errors);
        tx.mail(
            Template::ReplyNotApplied,
            vec![sender.clone()],
            Vec::new(),
            None,
            Vec::new(),
            data,
        );
        return Ok(tx);
    }
    let mut data = case_data(&tx.case, ctx);
    data["revoked"] = json!(done);
    let (to, mut cc) = notify(&tx.case);
    cc.push(sender.clone());
    tx.mail(Template::PermitsRevoked, to, cc, None, Vec::new(), data);
    tx.changed(format!(
        "revoked {}",
        done.iter()
            .map(|r| format!("{}: {}", r.permit, r.reason.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(tx)
}

fn on_status(case: &Case, event: &Event, ctx: &Ctx<'_>) -> Result<Tx, Refusal> {
    let sender = &event.sender;
    if !is_party(case, sender, ctx.ward) {
        return Err(refuse(
            RefusalReason::NotPermitted,
            format!("{sender} is not a party to case {}", case.code),
        ));
    }
    let mut tx = Tx::new(case.clone());
    let data = status_data(&tx.case, ctx);
    tx.mail(
        Template::Status,
        vec![sender.clone()],
        Vec::new(),
        None,
        Vec::new(),
        data,
    );
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
    let mut data = status_data(&tx.case, ctx);
    data["understood"] = json!(commands);
    data["unreadable"] = json!(unreadable);
    tx.mail(
        Template::Help,
        vec![sender.to_string()],
        Vec::new(),
        token,
        Vec::new(),
        data,
    );
}

fn case_data(case: &Case, ctx: &Ctx<'_>) -> Value {
    json!({
        "case": case.code,
        "kind": case.kind,
        "ward_name": ctx.ward.name,
        "district": ctx.ward.district,
        "organisation": case.organisation.as_ref().map(|o| &o.name),
    })
}

fn status_data(case: &Case, ctx: &Ctx<'_>) -> Value {
    let mut data = case_data(case, ctx);
    data["batches"] = json!(
        case.batches
            .iter()
            .map(|b| {
                let of = |p: fn(&RowState) -> bool| count(b, p);
                json!({
                    "batch": b.no,
                    "stage": b.stage,
                    "rows": b.rows.len(),
                    "pending": of(|s| matches!(s, RowState::Pending)),
                    "approved": of(|s| matches!(s, RowState::Approved { .. })),
                    "rejected": of(|s| matches!(s, RowState::Rejected { .. } | RowState::Refused { .. })),
                    "issued": of(|s| matches!(s, RowState::Issued(_))),
                    "revoked": of(|s| matches!(s, RowState::Revoked { .. })),
                    "duplicates": of(|s| matches!(s, RowState::AlreadyHolds { .. } | RowState::InAnotherBatch { .. })),
                })
            })
            .collect::<Vec<_>>()
    );
    data
}

fn rows_json(batch: &Batch, stts: &[u32]) -> Value {
    json!(
        stts.iter()
            .filter_map(|stt| batch.rows.iter().find(|r| r.person.stt == *stt))
            .map(|r| json!({
                "stt": r.person.stt,
                "name": r.person.name,
                "birth_date": r.person.birth_date,
                "state": describe_state(&r.state),
            }))
            .collect::<Vec<_>>()
    )
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
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

fn fmt_permits(issued: &[IssuedPermit]) -> String {
    match issued {
        [] => String::new(),
        [one] => one.permit.clone(),
        [first, .., last] => format!("{} … {}", first.permit, last.permit),
    }
}
