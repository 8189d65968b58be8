//! The transition function: one event on one case gives the new case and its effects.
//!
//! Shape of every transition: first the ward's authentication rule, once for every
//! event (`authenticated`), then whether the sender may do this at all (a `Refusal`
//! changes nothing and answers nobody: SPEC §3), then work on the case.
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
    if answers_or_changes(&event.body) {
        authenticated(event, ctx)?;
    }
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
    log: String,
}

/// A part of the audit line, written without the formatting machinery: one is written
/// on every change.
struct Note<'a>(&'a mut String);

impl Note<'_> {
    fn s(&mut self, text: &str) -> &mut Self {
        self.0.push_str(text);
        self
    }

    fn n(&mut self, n: u32) -> &mut Self {
        self.0.push_str(itoa::Buffer::new().format(n));
        self
    }

    fn rows(&mut self, stts: &[u32]) -> &mut Self {
        write_rows(self.0, stts);
        self
    }
}

impl Tx {
    fn new(case: Case) -> Tx {
        Tx {
            case,
            effects: Vec::with_capacity(6),
            // One audit line a step; most fit here without growing.
            log: String::with_capacity(160),
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

    /// Records that the case changed: starts the next part of the audit line.
    fn note(&mut self) -> Note<'_> {
        if !self.log.is_empty() {
            self.log.push_str("; ");
        }
        Note(&mut self.log)
    }

    fn finish(mut self, event: &Event, ctx: &Ctx<'_>) -> (Case, Vec<Effect>) {
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

/// Whether an event of this kind can change a case or make the ward send a mail, and
/// so needs authentication where the ward requires it. The ward's addresses are public
/// and a From address is the sender's to write: a forged organisation's roster would put
/// strangers in front of the officers, a forged status request or unreadable reply would
/// make the ward mail whoever the forger names. Every kind does today; a new kind must
/// say here whether it does.
fn answers_or_changes(body: &EventBody) -> bool {
    match body {
        // Open a case and mail the organisation or the area police.
        EventBody::RegisterOrganisation(_) | EventBody::RegisterRoster { .. } => true,
        // A new batch and review requests, or the errors mailed back.
        EventBody::Roster(_) => true,
        // Decisions, stamps, permits; or the help text mailed back.
        EventBody::Reply { .. } => true,
        // Permits revoked and the holders told.
        EventBody::Revoke(_) => true,
        // The case's state mailed back.
        EventBody::Status => true,
    }
}

/// The ward's authentication rule, checked once for every event, before the sender's
/// role or the case is looked at: a mail that fails it changes nothing and is answered
/// by nothing.
fn authenticated(event: &Event, ctx: &Ctx<'_>) -> Result<(), Refusal> {
    if !ctx.ward.accepts(&event.auth) {
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
        revision: 0,
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
                message: "Tệp không có dòng dữ liệu nào.".into(),
            });
        }
        let data = MailData {
            file_name: Some(submission.file_name.clone()),
            roster_errors: errors,
            roster_warnings: roster.warnings.clone(),
            ..case_data(&tx.case)
        };
        tx.mail(Template::RosterInvalid, vec![sender.clone()], data);
        return;
    }

    let no = tx.case.batches.len() as u32 + 1;
    let kind = tx.case.kind;
    let mut holders = holders(&tx.case, ctx.today);
    let by: Arc<str> = sender.as_str().into();
    let rows: Vec<BatchRow> = roster
        .rows
        .iter()
        .map(|person| {
            let id = person.id_number.as_deref();
            let known = id.and_then(|id| holders.get(id));
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
                    by: by.clone(),
                    at: ctx.now,
                },
            };
            // The roster reader refuses a file that names one person twice; should one
            // get here anyway, the second row is reported like any duplicate.
            if let (Some(id), None) = (id, known) {
                holders.insert(
                    id,
                    Holder::Open {
                        batch: no,
                        stt: person.stt,
                    },
                );
            }
            BatchRow {
                person: Arc::clone(person),
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
    let mut note = tx.note();
    note.s("batch ")
        .n(no)
        .s(" received from ")
        .s(sender)
        .s(" (")
        .s(&submission.file_name)
        .s(", ")
        .n(batch.rows.len() as u32)
        .s(" rows)");
    if !duplicates.is_empty() {
        note.s("; rows ")
            .rows(&duplicates)
            .s(" already hold or await a permit on this case");
    }
    let data = MailData {
        batch: Some(no),
        file_name: Some(submission.file_name.clone()),
        roster_warnings: roster.warnings.clone(),
        duplicates: row_notes(&batch, |r| {
            matches!(
                r.state,
                RowState::AlreadyHolds { .. } | RowState::InAnotherBatch { .. }
            )
        }),
        row_list: Some(fmt_rows(
            &batch.rows.iter().map(|r| r.person.stt).collect::<Vec<_>>(),
        )),
        next_stage: Some(match first_stage {
            BatchStage::Review => TokenStage::Review,
            _ => TokenStage::Stamp,
        }),
        ..case_data(&tx.case)
    };
    tx.case.batches.push(Arc::new(batch));
    tx.mail(Template::RosterAccepted, vec![sender.clone()], data);
    let bi = tx.case.batches.len() - 1;
    enter_stage(tx, bi, ctx);
}

/// Who already holds or awaits a permit on a case, by ID number.
enum Holder {
    Permit(Arc<str>),
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
fn is_open(row: &BatchRow, stage: TokenStage) -> bool {
    match stage {
        TokenStage::Review => matches!(row.state, RowState::Pending),
        TokenStage::Stamp => matches!(row.state, RowState::Approved { .. }),
    }
}

/// Rows still to be decided at this stage.
fn open_stts(batch: &Batch, stage: TokenStage) -> Vec<u32> {
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

/// Whether `sender` is a party to `case`: the ward's staff, the case's area police,
/// its organisation, or a sender of one of its rosters.
pub fn is_party(case: &Case, sender: &str, ward: &WardRules) -> bool {
    ward.is_staff(sender)
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

/// What one reply decides, for the answers and the audit line; what is wrong with
/// it; and how to take it back (each changed row with its state before).
struct Decided {
    /// The sender, shared by every row this reply decides.
    by: Arc<str>,
    approved: Vec<u32>,
    rejected: Vec<(u32, Arc<str>)>,
    stamped: Vec<u32>,
    refused: Vec<(u32, Arc<str>)>,
    problems: Vec<ReplyProblem>,
    undo: Vec<(usize, RowState)>,
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
        help(&mut tx, sender, None, commands, unreadable);
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
        help(&mut tx, sender, Some(token), commands, unreadable);
        return Ok(tx);
    }

    // Commands apply in place, each change noted in `undo`, so that a reply with any
    // problem is taken back whole. (A case loaded from the store owns its batches, so
    // `make_mut` copies nothing.)
    let code = tx.case.code.clone();
    let mut last_holder = tx.case.last_holder;
    let batch = Arc::make_mut(&mut tx.case.batches[bi]);
    let rows = batch.rows.len();
    let mut decided = Decided {
        by: sender.as_str().into(),
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
    for command in commands {
        apply(batch, stage, command, ctx, &mut decided);
    }
    let issued = if decided.problems.is_empty() {
        issue(batch, &code, &mut last_holder, ctx, &mut decided)
    } else {
        Vec::new()
    };
    if !decided.problems.is_empty() {
        for (i, state) in decided.undo.drain(..).rev() {
            batch.rows[i].state = state;
        }
        let data = MailData {
            batch: Some(batch.no),
            problems: capped_problems(decided.problems),
            undecided: Some(fmt_rows(&open_stts(batch, stage))),
            ..case_data(&tx.case)
        };
        tx.mail(Template::ReplyNotApplied, vec![sender.clone()], data)
            .reply_token = Some(token);
        return Ok(tx);
    }
    let still_open = open_stts(batch, stage);
    tx.case.last_holder = last_holder;
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
        ..case_data(&tx.case)
    };
    tx.mail(Template::DecisionRecorded, vec![sender.clone()], data)
        .reply_token = (!still_open.is_empty()).then_some(token);
    record_decisions(&mut tx, bi, &decided, issued, sender);
    settle(&mut tx, bi, stage, ctx);
    Ok(tx)
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Applies one command to the batch, noting each change in `undo`, or says why it
/// cannot.
fn apply(
    batch: &mut Batch,
    stage: TokenStage,
    command: &Command,
    ctx: &Ctx<'_>,
    decided: &mut Decided,
) {
    let errors = &mut decided.problems;
    let rows = match (stage, command) {
        (TokenStage::Review, Command::Approve(rows))
        | (TokenStage::Review, Command::Reject { rows, .. })
        | (TokenStage::Stamp, Command::Stamp(rows))
        | (TokenStage::Stamp, Command::Reject { rows, .. }) => rows,
        (TokenStage::Review, Command::Stamp(_)) | (TokenStage::Stamp, Command::Approve(_)) => {
            errors.push(ReplyProblem::WrongStage {
                command: word(command),
                stage,
            });
            return;
        }
    };
    if let Command::Reject { reason, .. } = command
        && reason.trim().is_empty()
    {
        errors.push(ReplyProblem::ReasonMissing {
            command: CommandWord::Reject,
        });
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
                errors.push(ReplyProblem::NothingLeft {
                    command: word(command),
                });
                return;
            }
            all
        }
        Rows::List(stts) => {
            let mut found = Vec::new();
            for &stt in stts {
                match batch.rows.iter().position(|r| r.person.stt == stt) {
                    None => errors.push(ReplyProblem::NoSuchRow {
                        stt,
                        rows: batch.rows.len(),
                    }),
                    Some(_) if decided.stamped.contains(&stt) => {
                        errors.push(ReplyProblem::StampedTwice { stt })
                    }
                    Some(i) if !open(&batch.rows[i]) => errors.push(ReplyProblem::RowNotOpen {
                        stt,
                        status: RowStatus::of(&batch.rows[i].state),
                    }),
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
    let reason: Option<Arc<str>> = match command {
        Command::Reject { reason, .. } => Some(reason.trim().into()),
        _ => None,
    };
    for i in targets {
        let row = &mut batch.rows[i];
        let stt = row.person.stt;
        let by = decided.by.clone();
        let new = match (command, reason.clone()) {
            (Command::Approve(_), _) => {
                decided.approved.push(stt);
                RowState::Approved { by, at: ctx.now }
            }
            (Command::Reject { .. }, Some(reason)) if stage == TokenStage::Review => {
                decided.rejected.push((stt, reason.clone()));
                RowState::Rejected {
                    by,
                    at: ctx.now,
                    reason,
                }
            }
            (Command::Reject { .. }, Some(reason)) => {
                decided.refused.push((stt, reason.clone()));
                RowState::Refused {
                    by,
                    at: ctx.now,
                    reason,
                }
            }
            (Command::Reject { .. }, None) => continue,
            // The permit is made by `issue` once every line has applied.
            (Command::Stamp(_), _) => {
                decided.stamped.push(stt);
                continue;
            }
        };
        decided
            .undo
            .push((i, std::mem::replace(&mut row.state, new)));
    }
}

/// Makes the permits for the rows stamped by this reply, in roster order, with ids
/// that continue the case's numbering.
fn issue(
    batch: &mut Batch,
    case_code: &str,
    last_holder: &mut u32,
    ctx: &Ctx<'_>,
    decided: &mut Decided,
) -> Vec<IssuedPermit> {
    let mut stamped = decided.stamped.clone();
    stamped.sort_unstable();
    let mut issued = Vec::with_capacity(stamped.len());
    for stt in stamped {
        let Some(i) = batch.rows.iter().position(|r| r.person.stt == stt) else {
            continue;
        };
        let row = &mut batch.rows[i];
        let (valid_from, valid_until) = validity(&row.person, ctx);
        if valid_until < valid_from || valid_until < ctx.today {
            decided.problems.push(ReplyProblem::BadValidity {
                stt,
                from: valid_from,
                until: valid_until,
            });
            continue;
        }
        *last_holder += 1;
        let id: Arc<str> = permit_id(case_code, *last_holder).into();
        let permit = RowState::Issued(Permit {
            id: id.clone(),
            valid_from,
            valid_until,
            issued_at: ctx.now,
            stamped_by: decided.by.clone(),
        });
        decided
            .undo
            .push((i, std::mem::replace(&mut row.state, permit)));
        issued.push(IssuedPermit { stt, permit: id });
    }
    issued
}

fn validity(person: &Row, ctx: &Ctx<'_>) -> (Date, Date) {
    let from = person.valid_from.unwrap_or(ctx.today).max(ctx.today);
    let until = person
        .valid_until
        .unwrap_or_else(|| ctx.ward.validity.last_day(from));
    (from, capped_until(from, until, ctx.ward.max_valid_days))
}

/// The audit line and the mails to the people concerned, for one applied reply.
fn record_decisions(
    tx: &mut Tx,
    bi: usize,
    decided: &Decided,
    issued: Vec<IssuedPermit>,
    sender: &str,
) {
    let batch = Arc::clone(&tx.case.batches[bi]);
    let no = batch.no;
    let mut note = tx.note();
    note.s("batch ").n(no).s(", by ").s(sender).s(":");
    let mut sep = " ";
    if !decided.approved.is_empty() {
        note.s(sep).s("approved rows ").rows(&decided.approved);
        sep = ", ";
    }
    for (stt, reason) in &decided.rejected {
        note.s(sep).s("rejected row ").n(*stt).s(": ").s(reason);
        sep = ", ";
    }
    if let (Some(first), Some(last)) = (issued.first(), issued.last()) {
        let stts: Vec<u32> = issued.iter().map(|p| p.stt).collect();
        note.s(sep)
            .s("stamped rows ")
            .rows(&stts)
            .s(" as ")
            .s(&first.permit);
        if issued.len() > 1 {
            note.s(" … ").s(&last.permit);
        }
        sep = ", ";
    }
    for (stt, reason) in &decided.refused {
        note.s(sep)
            .s("refused to stamp row ")
            .n(*stt)
            .s(": ")
            .s(reason);
        sep = ", ";
    }
    if decided.rejected.is_empty() && decided.refused.is_empty() && issued.is_empty() {
        return;
    }

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
            ..case_data(&tx.case)
        };
        tx.mail(template, to.clone(), data).cc = cc.clone();
    }
    if issued.is_empty() {
        return;
    }
    let ids: Vec<Arc<str>> = issued.iter().map(|p| p.permit.clone()).collect();
    let data = MailData {
        batch: Some(no),
        permits: ids.clone(),
        ..case_data(&tx.case)
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
                ..case_data(&tx.case)
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
    // Find every permit first; change nothing unless all of them can be revoked.
    let mut errors = Vec::new();
    let mut targets: Vec<(usize, usize, &Revocation)> = Vec::new();
    if list.is_empty() {
        errors.push(ReplyProblem::NoPermitNamed);
    }
    for r in list {
        if r.reason.trim().is_empty() {
            errors.push(ReplyProblem::ReasonMissing {
                command: CommandWord::Revoke,
            });
            continue;
        }
        let found = case.batches.iter().enumerate().find_map(|(bi, b)| {
            b.rows
                .iter()
                .position(|row| match &row.state {
                    RowState::Issued(p) | RowState::Revoked { permit: p, .. } => *p.id == *r.permit,
                    _ => false,
                })
                .map(|ri| (bi, ri))
        });
        match found {
            None => errors.push(ReplyProblem::PermitNotOnCase {
                permit: r.permit.clone(),
            }),
            Some((bi, ri)) if !matches!(case.batches[bi].rows[ri].state, RowState::Issued(_)) => {
                errors.push(ReplyProblem::PermitAlreadyRevoked {
                    permit: r.permit.clone(),
                })
            }
            Some(_) if targets.iter().any(|(_, _, t)| t.permit == r.permit) => {
                errors.push(ReplyProblem::PermitNamedTwice {
                    permit: r.permit.clone(),
                })
            }
            Some((bi, ri)) => targets.push((bi, ri, r)),
        }
    }
    let mut tx = Tx::new(case);
    if !errors.is_empty() {
        let data = MailData {
            problems: capped_problems(errors),
            ..case_data(&tx.case)
        };
        tx.mail(Template::ReplyNotApplied, vec![sender.clone()], data);
        return Ok(tx);
    }
    let by: Arc<str> = sender.as_str().into();
    for &(bi, ri, r) in &targets {
        let row = &mut Arc::make_mut(&mut tx.case.batches[bi]).rows[ri];
        if let RowState::Issued(permit) = &row.state {
            row.state = RowState::Revoked {
                permit: permit.clone(),
                by: by.clone(),
                at: ctx.now,
                reason: r.reason.trim().into(),
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
    let mut note = tx.note();
    note.s("revoked ");
    for (i, r) in revoked.iter().enumerate() {
        if i > 0 {
            note.s(", ");
        }
        note.s(&r.permit).s(": ").s(&r.reason);
    }
    let (to, mut cc) = notify(&tx.case);
    cc.push(sender.clone());
    let data = MailData {
        revoked,
        ..case_data(&tx.case)
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
    let data = status_data(&tx.case);
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
) {
    let data = MailData {
        understood: commands.to_vec(),
        unreadable: unreadable.to_vec(),
        ..status_data(&tx.case)
    };
    tx.mail(Template::Help, vec![sender.to_string()], data)
        .reply_token = token;
}

fn case_data(case: &Case) -> MailData {
    MailData {
        case: case.code.clone(),
        kind: Some(case.kind),
        organisation: case.organisation.as_ref().map(|o| o.name.clone()),
        ..MailData::default()
    }
}

fn status_data(case: &Case) -> MailData {
    MailData {
        batches: case.batches.iter().map(|b| BatchStatus::of(b)).collect(),
        ..case_data(case)
    }
}

/// The rows that `which` picks, in roster order, as a mail shows them.
fn row_notes(batch: &Batch, which: impl Fn(&BatchRow) -> bool) -> Vec<RowNote> {
    batch
        .rows
        .iter()
        .filter(|r| which(r))
        .map(row_note)
        .collect()
}

fn row_note(row: &BatchRow) -> RowNote {
    let (permit, earlier) = match &row.state {
        RowState::AlreadyHolds { permit } => (Some(permit.clone()), None),
        RowState::InAnotherBatch { batch, stt } => (
            None,
            Some(RowRef {
                batch: *batch,
                stt: *stt,
            }),
        ),
        RowState::Issued(p) | RowState::Revoked { permit: p, .. } => (Some(p.id.clone()), None),
        _ => (None, None),
    };
    RowNote {
        stt: row.person.stt,
        name: row.person.name.clone(),
        birth_date: row.person.birth_date,
        status: RowStatus::of(&row.state),
        permit,
        earlier,
        reason: None,
    }
}

/// Rows decided with a reason (rejected, refused), with that reason.
fn notes_with_reasons(batch: &Batch, list: &[(u32, Arc<str>)]) -> Vec<RowNote> {
    list.iter()
        .filter_map(|(stt, reason)| {
            let row = batch.rows.iter().find(|r| r.person.stt == *stt)?;
            Some(RowNote {
                reason: Some(reason.clone()),
                ..row_note(row)
            })
        })
        .collect()
}

fn word(command: &Command) -> CommandWord {
    match command {
        Command::Approve(_) => CommandWord::Approve,
        Command::Reject { .. } => CommandWord::Reject,
        Command::Stamp(_) => CommandWord::Stamp,
    }
}

/// `1-5, 8, 10-12`: the form officers write row lists in.
pub fn fmt_rows(stts: &[u32]) -> String {
    let mut out = String::with_capacity(stts.len() * 4);
    write_rows(&mut out, stts);
    out
}

fn write_rows(out: &mut String, stts: &[u32]) {
    // Lists come in roster order as a rule; only copy one that does not.
    let copy;
    let sorted: &[u32] = if stts.windows(2).all(|w| w[0] < w[1]) {
        stts
    } else {
        let mut v = stts.to_vec();
        v.sort_unstable();
        v.dedup();
        copy = v;
        &copy
    };
    let mut buffer = itoa::Buffer::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if start != sorted[0] {
            out.push_str(", ");
        }
        out.push_str(buffer.format(start));
        if end != start {
            out.push('-');
            out.push_str(buffer.format(end));
        }
        i += 1;
    }
}
