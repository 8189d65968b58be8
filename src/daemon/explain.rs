//! `qrca explain`: every step the daemon would take on one mail, in Vietnamese with the
//! English terms in brackets, and nothing written (issue 15).
//!
//! Owns only the gathering and the words. The decisions are the daemon's own: the
//! mail is read by `inbound::mail::parse_mail` with the account's trusted servers,
//! classified by `inbound::gate::classify` over the store's indexes, and planned by
//! `engine::plan`, the function `engine::process` commits; this stops before the
//! commit. The evidence shown beside them (the reply token's grant, the reply's own
//! words and what was cut) is read by the gate's own public functions. It must not
//! write the store, keep a document, or count an answer: the daemon may be running,
//! and the same function answers on its control socket (`daemon::control`).

mod words;

use super::intake::{IntakeError, Position};
use crate::config::{Config, Ward};
use crate::engine::{self, Inbound, StoreLookups};
use crate::inbound::commands;
use crate::inbound::gate::{self, Classified};
use crate::inbound::mail::{Mail, parse_mail};
use crate::inbound::reply;
use crate::store::{Outcome, Store};
use crate::workflow::{Case, Effect, EventBody, OutMail};
use jiff::Timestamp;
use std::fmt::Write;
use words::{auth_line, batch_stage, body_lines, refusal_words, token_stage};

/// The most lines of quoted text shown as cut; the rest are counted.
const CUT_LINES_SHOWN: usize = 12;

/// What the daemon would do with the mail, as `qrca explain`'s exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The step would apply it: the case changes, or a status request is answered
    /// (exit 0).
    Applied,
    /// The step would answer it and change nothing: a reply whose lines cannot all be
    /// applied, a roster with errors (exit 1).
    Answered,
    /// The step, or the engine's rate limit, would refuse it (exit 1).
    Refused,
    /// It would not reach the step: unreadable, automatic, for no ward (exit 1).
    Ignored,
}

impl Verdict {
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Applied => 0,
            Verdict::Answered | Verdict::Refused | Verdict::Ignored => 1,
        }
    }
}

/// The account a mail was for: `given`, else the first Delivered-To, To or Cc address
/// (its `+token` aside) that is a ward account of the config.
pub fn account_of(config: &Config, given: Option<&str>, raw: &[u8]) -> Option<String> {
    if let Some(given) = given {
        return config.account(given).map(|(_, a)| a.address.clone());
    }
    let mail = parse_mail(raw, &[]).ok()?;
    mail.delivered_to
        .iter()
        .map(String::as_str)
        .chain(mail.to.iter().chain(&mail.cc).map(|a| a.address.as_str()))
        .find_map(|address| config.account(address).map(|(_, a)| a.address.clone()))
}

/// Explains what the daemon would do with `raw` read on `account` at `now`: the text
/// (one line each) and the verdict. Reads the store, never writes it.
pub fn explain(
    store: &Store,
    config: &Config,
    account: &str,
    raw: &[u8],
    now: Timestamp,
) -> Result<(String, Verdict), IntakeError> {
    let mut out = String::new();
    let verdict = explain_into(&mut out, store, config, account, raw, now)?;
    let _ = writeln!(
        out,
        "Không có gì được ghi vào cơ sở dữ liệu (nothing was written to the database)."
    );
    Ok((out, verdict))
}

fn explain_into(
    out: &mut String,
    store: &Store,
    config: &Config,
    account: &str,
    raw: &[u8],
    now: Timestamp,
) -> Result<Verdict, IntakeError> {
    let Some((ward, settings)) = config.account(account) else {
        let _ = writeln!(
            out,
            "Tài khoản (account): {account} — không phải tài khoản của phường nào (no ward's account) → bỏ qua (ignored)"
        );
        return Ok(Verdict::Ignored);
    };
    let _ = writeln!(
        out,
        "Tài khoản (account): {} — phường (ward): {} [{}]",
        settings.address, ward.rules.name, ward.rules.code
    );
    let limit = settings.mail.max_message_bytes;
    if raw.len() as u64 > limit {
        let _ = writeln!(
            out,
            "Thư quá lớn (too large): {} byte > max_message_bytes {limit}; daemon không đọc thư này (not read) → bỏ qua (ignored)",
            raw.len()
        );
        return Ok(Verdict::Ignored);
    }
    let mail = match parse_mail(raw, &settings.mail.trusted_authserv_ids) {
        Ok(mail) => mail,
        Err(e) => {
            let _ = writeln!(
                out,
                "Không đọc được thư (unreadable mail): {e} → bỏ qua (ignored)"
            );
            return Ok(Verdict::Ignored);
        }
    };
    let at = Position {
        account: settings.address.clone(),
        uidvalidity: 0,
        uid: 0,
    };
    let seen = at.marker(Some(&mail), raw);
    if store.is_seen(&seen)? {
        let _ = writeln!(
            out,
            "Đã xử lý trước đây (already taken in): daemon sẽ không làm gì nữa (would change nothing); dưới đây là điều nó làm nếu thư mới đến, trên dữ liệu hiện tại (below: what it would do were the mail new, on the database as it is now)"
        );
    }
    let sender = gate::sender(&mail);
    let _ = writeln!(
        out,
        "Người gửi (sender): {}",
        if sender.is_empty() { "—" } else { &sender }
    );
    let _ = writeln!(out, "{}", auth_line(&mail, ward));
    token_lines(out, store, &mail, ward)?;
    own_words_lines(out, &mail);
    let today = now
        .to_zoned_datetime(config.service.timezone.clone())
        .date();
    let lookups = StoreLookups::new(store);
    let classified = gate::classify(&mail, &settings.address, config, &lookups, today);
    lookups.finish()?;
    match classified {
        Classified::Drop { reason, answer } => {
            let _ = writeln!(out, "Cổng (gate): bỏ qua (dropped) — {reason}");
            if let Some(answer) = answer {
                let _ = writeln!(out, "Thư sẽ gửi (mail it would send):");
                mail_line(out, &answer);
            }
            let _ = writeln!(
                out,
                "Kết quả (result): bỏ qua (ignored), không có bước nào (no step)"
            );
            Ok(Verdict::Ignored)
        }
        Classified::Event {
            ward: code,
            case,
            event,
            also,
        } => {
            let _ = writeln!(
                out,
                "Hồ sơ theo luồng thư hoặc tiêu đề (case by token, thread or subject): {}",
                case.as_deref().unwrap_or("không có (none)")
            );
            let _ = writeln!(out, "Cổng đọc được (the gate read):");
            for line in body_lines(&event.body) {
                let _ = writeln!(out, "  - {line}");
            }
            for (_, more) in &also {
                for line in body_lines(&more.body) {
                    let _ = writeln!(out, "  - {line}");
                }
            }
            let inbound = Inbound {
                seen,
                ward: code,
                case,
                event,
                also,
            };
            let status = matches!(inbound.event.body, EventBody::Status);
            let outcome = engine::plan(store, config, &inbound, now)?;
            outcome_lines(out, store, &outcome, status)
        }
    }
}

/// The reply token the mail came on, and what the store says of it: the case, whom it
/// was issued to, the stage, whether it is live.
fn token_lines(
    out: &mut String,
    store: &Store,
    mail: &Mail,
    ward: &Ward,
) -> Result<(), IntakeError> {
    let Some(token) = gate::reply_token(mail, ward) else {
        let _ = writeln!(
            out,
            "Mã trả lời (reply token): không có (none) — thư không gửi tới địa chỉ +mã của phường (not sent to a +token address of the ward)"
        );
        return Ok(());
    };
    let token = crate::workflow::ReplyToken(token);
    let _ = writeln!(out, "Mã trả lời (reply token): {}", token.0);
    let Some(code) = store.case_by_token(&token)? else {
        let _ = writeln!(
            out,
            "  không hồ sơ nào cấp mã này (no case issued this token: unknown token)"
        );
        return Ok(());
    };
    let grant = store
        .case(&code)?
        .and_then(|case| case.tokens.into_iter().find(|g| g.token == token));
    match grant {
        Some(g) => {
            let _ = writeln!(
                out,
                "  hồ sơ (case) {code}, lô (batch) {}, cấp cho (issued to) {}, giai đoạn (stage) {}, {}",
                g.batch,
                g.addressee,
                token_stage(g.stage),
                if g.live {
                    "còn hiệu lực (live)"
                } else {
                    "đã hết hiệu lực (dead)"
                }
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  hồ sơ (case) {code} không giữ mã này (does not hold it)"
            );
        }
    }
    Ok(())
}

/// The reply's own words, where commands are read, and what quote stripping cut.
fn own_words_lines(out: &mut String, mail: &Mail) {
    let own = gate::reply_words(mail);
    let read = reply::above_forward(&own);
    let _ = writeln!(
        out,
        "Lời của người gửi sau khi bỏ trích dẫn (the reply's own words, after quote stripping):"
    );
    if read.trim().is_empty() {
        let _ = writeln!(out, "  | (trống) (empty)");
    }
    for line in read.lines() {
        let _ = writeln!(out, "  | {line}");
    }
    if read.len() < own.len() {
        let _ = writeln!(
            out,
            "  (thư chuyển tiếp bên dưới không được đọc lệnh: forwarded message below, not read for commands)"
        );
    }
    let kept: std::collections::HashSet<&str> = own.lines().map(str::trim).collect();
    let cut: Vec<&str> = mail
        .text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !kept.contains(l))
        .collect();
    if cut.is_empty() {
        let _ = writeln!(out, "Phần bị cắt (cut): không có (nothing)");
        return;
    }
    let _ = writeln!(
        out,
        "Phần bị cắt (cut): {} dòng (lines) trích dẫn, chữ ký (quote, signature)",
        cut.len()
    );
    for line in cut.iter().take(CUT_LINES_SHOWN) {
        let _ = writeln!(out, "  ✂ {line}");
    }
    if cut.len() > CUT_LINES_SHOWN {
        let _ = writeln!(
            out,
            "  ✂ … ({} dòng nữa, more)",
            cut.len() - CUT_LINES_SHOWN
        );
    }
    // The commands are read only from the own words; a command-looking line that
    // was cut is named, since it is the usual answer to "why didn't it count".
    let commands_cut = cut
        .iter()
        .filter(|l| {
            let parsed = commands::parse_reply(l.trim_start_matches('>').trim());
            !parsed.commands.is_empty() || !parsed.revocations.is_empty()
        })
        .count();
    if commands_cut > 0 {
        let _ = writeln!(
            out,
            "  {commands_cut} dòng lệnh nằm trong phần bị cắt, không được tính (command lines in the cut part do not count)"
        );
    }
}

/// What `step` would do: the new stage and the mails, or the refusal and its reason.
/// An outcome that changes no case and is no status request is an answer only.
fn outcome_lines(
    out: &mut String,
    store: &Store,
    outcome: &Outcome,
    status: bool,
) -> Result<Verdict, IntakeError> {
    let cases: Vec<(&Case, &[Effect])> = match outcome {
        Outcome::Applied { case, effects, .. } => vec![(case, effects)],
        Outcome::AppliedMany { cases } => cases.iter().map(|(c, e)| (c, &e[..])).collect(),
        _ => return Ok(not_applied_lines(out, outcome)),
    };
    let changed = cases
        .iter()
        .any(|(_, effects)| effects.iter().any(|e| matches!(e, Effect::Audit(_))));
    for (case, effects) in cases {
        let before = store.case(&case.code)?;
        let head = match (changed, status) {
            (true, _) => "ÁP DỤNG (applied)",
            (false, true) => "TRẢ LỜI TRẠNG THÁI (status answered)",
            (false, false) => {
                "TRẢ LỜI, KHÔNG ÁP DỤNG (answered, not applied: the case stays as it is)"
            }
        };
        applied_lines(out, head, before.as_ref(), case, effects);
    }
    Ok(if changed || status {
        Verdict::Applied
    } else {
        Verdict::Answered
    })
}

/// A refusal, with its reason; an outcome the core never made.
fn not_applied_lines(out: &mut String, outcome: &Outcome) -> Verdict {
    match outcome {
        Outcome::Refused { case, refusal, .. } => {
            let _ = writeln!(
                out,
                "Kết quả (result): TỪ CHỐI (refused){} — {}",
                case.as_deref()
                    .map(|c| format!(", hồ sơ (case) {c}"))
                    .unwrap_or_default(),
                refusal_words(refusal.reason)
            );
            let _ = writeln!(out, "  chi tiết (detail): {}", refusal.detail);
            let _ = writeln!(
                out,
                "  không trả lời, không thay đổi gì; ghi vào báo cáo hằng ngày (no answer, nothing changes; listed in the daily report)"
            );
            Verdict::Refused
        }
        Outcome::Ignored { reason, .. } => {
            let _ = writeln!(out, "Kết quả (result): bỏ qua (ignored) — {reason}");
            Verdict::Ignored
        }
        Outcome::Bounced { .. } | Outcome::Applied { .. } | Outcome::AppliedMany { .. } => {
            let _ = writeln!(
                out,
                "Kết quả (result): không phải một bước (not a step) → bỏ qua (ignored)"
            );
            Verdict::Ignored
        }
    }
}

/// One case as a step would leave it: its batches' stages, its mails, its audit line.
fn applied_lines(
    out: &mut String,
    head: &str,
    before: Option<&Case>,
    case: &Case,
    effects: &[Effect],
) {
    let _ = writeln!(
        out,
        "Kết quả (result): {head}, hồ sơ (case) {}{}",
        case.code,
        if before.is_none() {
            " — hồ sơ mới (new case)"
        } else {
            ""
        }
    );
    for batch in &case.batches {
        let was = before
            .and_then(|c| c.batches.iter().find(|b| b.no == batch.no))
            .map(|b| b.stage);
        if was == Some(batch.stage) {
            continue;
        }
        let from = was
            .map(|s| format!("{} → ", batch_stage(s)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  giai đoạn mới (new stage) lô (batch) {}: {from}{}",
            batch.no,
            batch_stage(batch.stage)
        );
    }
    for effect in effects {
        match effect {
            Effect::SendMail(mail) => mail_line(out, mail),
            Effect::IssuePermits { rows, .. } => {
                let ids: Vec<&str> = rows.iter().map(|r| &*r.permit).collect();
                let _ = writeln!(out, "  cấp giấy (permits issued): {}", ids.join(", "));
            }
            Effect::Audit(audit) => {
                let _ = writeln!(out, "  nhật ký (audit): {}", audit.decision);
            }
            Effect::Print { permits, .. } => {
                let _ = writeln!(
                    out,
                    "  in tờ in (print sheet) trên máy in của phường (ward printers): {} giấy (permits)",
                    permits.len()
                );
            }
        }
    }
}

fn mail_line(out: &mut String, mail: &OutMail) {
    let cc = if mail.cc.is_empty() {
        String::new()
    } else {
        format!("; cc {}", mail.cc.join(", "))
    };
    let _ = writeln!(
        out,
        "  thư sẽ gửi (mail it would send): {:?} tới (to) {}{cc}",
        mail.template,
        mail.to.join(", ")
    );
}
