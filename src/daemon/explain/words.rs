//! The Vietnamese words of `qrca explain`, with the English terms in brackets: the
//! authentication verdict, stages, the commands the gate read, the refusal reasons.
//! Pure formatting of the workflow's and the mail reader's types.

use crate::config::Ward;
use crate::inbound::mail::Mail;
use crate::workflow::{
    AuthEvidence, BatchStage, Command, EventBody, RefusalReason, Rows, TokenStage,
};

/// The `Authentication-Results` header read (the topmost from a trusted server), what
/// it says, and the verdict the ward's rule gives.
pub fn auth_line(mail: &Mail, ward: &Ward) -> String {
    let auth = &mail.auth;
    let header = match &auth.authserv_id {
        None if !auth.required => {
            "không yêu cầu (not required: no trusted_authserv_ids)".to_owned()
        }
        None => "không có tiêu đề từ máy chủ tin cậy (none from a trusted server)".to_owned(),
        Some(id) => {
            let mut said: Vec<String> = Vec::new();
            let show = |m: &str, c: &crate::inbound::mail::AuthCheck| match &c.domain {
                Some(d) => format!("{m}={} ({d})", c.result),
                None => format!("{m}={}", c.result),
            };
            said.extend(auth.dmarc.iter().map(|c| show("dmarc", c)));
            said.extend(auth.dkim.iter().map(|c| show("dkim", c)));
            said.extend(auth.spf.iter().map(|c| show("spf", c)));
            format!("{id}: {}", said.join(", "))
        }
    };
    let evidence = mail.auth_evidence();
    let verdict = match (&evidence, ward.rules.accepts(&evidence)) {
        (AuthEvidence::Pass { .. }, _) => format!("đạt (pass): {evidence}"),
        (_, true) => format!("phường không yêu cầu (the ward requires none): {evidence}"),
        (_, false) => format!("không đạt (fail): {evidence}"),
    };
    format!("Kết quả xác thực (Authentication-Results): {header} → {verdict}")
}

pub fn token_stage(stage: TokenStage) -> &'static str {
    match stage {
        TokenStage::Review => "duyệt (review)",
        TokenStage::Stamp => "đóng dấu (stamp)",
    }
}

pub fn batch_stage(stage: BatchStage) -> &'static str {
    match stage {
        BatchStage::Review => "duyệt (review)",
        BatchStage::Stamp => "đóng dấu (stamp)",
        BatchStage::Closed => "đã xong (closed)",
    }
}

pub fn refusal_words(reason: RefusalReason) -> &'static str {
    match reason {
        RefusalReason::NoToken => "thư không đến trên mã trả lời (no token)",
        RefusalReason::UnknownToken => "mã trả lời không do hồ sơ này cấp (unknown token)",
        RefusalReason::DeadToken => "mã trả lời đã hết hiệu lực (dead token)",
        RefusalReason::WrongAddressee => "mã trả lời cấp cho người khác (wrong addressee)",
        RefusalReason::NotPermitted => "người gửi không có quyền việc này (not permitted)",
        RefusalReason::NotAuthenticated => {
            "kết quả xác thực không bảo đảm người gửi (not authenticated)"
        }
        RefusalReason::NoSuchCase => "không có hồ sơ như vậy (no such case)",
        RefusalReason::Malformed => "thư không đọc được như nó tự nhận (malformed)",
        RefusalReason::RateLimited => "quá số thư trả lời trong ngày (rate limited)",
    }
}

fn rows(rows: &Rows) -> String {
    match rows {
        Rows::All => "mọi dòng (all rows)".to_owned(),
        Rows::List(list) => {
            let list: Vec<String> = list.iter().map(u32::to_string).collect();
            format!("dòng (rows) {}", list.join(", "))
        }
    }
}

fn command(command: &Command) -> String {
    match command {
        Command::Approve(r) => format!("DUYỆT (approve): {}", rows(r)),
        Command::Reject { rows: r, reason } => {
            format!("TỪ CHỐI (reject): {} — lý do (reason): {reason}", rows(r))
        }
        Command::Stamp(r) => format!("ĐÓNG DẤU (stamp): {}", rows(r)),
    }
}

/// What the gate read the mail as, one line each: the commands and their rows, the
/// unreadable lines, revocations, a registration or a roster.
pub fn body_lines(body: &EventBody) -> Vec<String> {
    let roster = |what: &str, sub: &crate::workflow::RosterSubmission| {
        format!(
            "{what}: tệp (file) {} — {} dòng (rows), {} lỗi (errors), {} cảnh báo (warnings)",
            sub.file_name,
            sub.roster.rows.len(),
            sub.roster.errors.len(),
            sub.roster.warnings.len()
        )
    };
    match body {
        EventBody::RegisterOrganisation(org) => vec![format!(
            "ĐĂNG KÝ TỔ CHỨC (organisation registration): {} <{}>",
            org.name, org.email
        )],
        EventBody::RegisterRoster { kind, submission } => vec![roster(
            &format!(
                "ĐĂNG KÝ danh sách loại {} (roster registration, kind {})",
                kind.letter(),
                kind.letter()
            ),
            submission,
        )],
        EventBody::Roster(sub) => vec![roster("danh sách trên hồ sơ (roster on the case)", sub)],
        EventBody::Reply {
            commands,
            unreadable,
            ..
        } => {
            let mut lines: Vec<String> = commands.iter().map(command).collect();
            lines.extend(
                unreadable
                    .iter()
                    .map(|l| format!("dòng không đọc được (unreadable line): «{l}»")),
            );
            if lines.is_empty() {
                lines.push("không có lệnh nào (no command)".to_owned());
            }
            lines
        }
        EventBody::Revoke(list) => list
            .iter()
            .map(|r| {
                format!(
                    "THU HỒI (revoke): {} — lý do (reason): {}",
                    r.permit, r.reason
                )
            })
            .collect(),
        EventBody::Status => vec!["TRẠNG THÁI (status)".to_owned()],
    }
}
