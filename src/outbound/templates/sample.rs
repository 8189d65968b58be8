//! Sample data for the check at load and for previews: a ward, and a mail's data
//! with every field filled (every row status, every problem, every command, every
//! refusal reason), as realistic as the templates need.
//!
//! A template that renders with these renders with anything the daemon sends, so a
//! broken override is refused at load, never found at send.

use crate::workflow::{
    BatchStage, BatchStatus, Command, CommandWord, Kind, MailData, RefusalNote, RefusalReason,
    ReplyProblem, RosterIssue, RowNote, RowRef, RowStatus, Rows, Template, TokenStage, WardRules,
};
use std::sync::Arc;

/// The ward the samples are rendered for.
pub fn sample_ward() -> WardRules {
    WardRules {
        code: "hoankiem.tranhungdao".into(),
        short: "THD".into(),
        name: "Phường Trần Hưng Đạo".into(),
        district: "Quận Hoàn Kiếm".into(),
        officers: vec!["canbo.thd@example.gov.vn".into()],
        police: vec!["congan.thd@example.gov.vn".into()],
        area_police: vec!["cskv1.thd@example.gov.vn".into()],
        validity: crate::workflow::Validity::Days(14),
        max_valid_days: 30,
        require_auth: true,
        print_kinds: Vec::new(),
    }
}

/// A mail's data with every field filled, as realistic as the templates need: every
/// row status, every problem, every command.
pub fn sample(kind: Kind) -> MailData {
    let date = |y, m, d| jiff::civil::date(y, m, d);
    let code = format!("THD-{}-0001", kind.letter());
    let permit = |n: u32| -> Arc<str> { format!("{code}-{n:04}").into() };
    let statuses = [
        RowStatus::Pending,
        RowStatus::AlreadyHolds,
        RowStatus::InAnotherBatch,
        RowStatus::Approved,
        RowStatus::Rejected,
        RowStatus::Refused,
        RowStatus::Issued,
        RowStatus::Revoked,
    ];
    let names = [
        "Nguyễn Thị Ngọc Ánh",
        "Trần Văn Đức",
        "Lê Thị Hứa",
        "Phạm Hoàng Phương Thảo",
    ];
    let rows: Vec<RowNote> = statuses
        .iter()
        .enumerate()
        .map(|(i, status)| RowNote {
            stt: i as u32 + 1,
            name: Some(names[i % names.len()].to_owned()),
            birth_date: (i % 3 != 2).then(|| date(1980 + i as i16, 3, 14)),
            status: *status,
            permit: matches!(
                status,
                RowStatus::AlreadyHolds | RowStatus::Issued | RowStatus::Revoked
            )
            .then(|| permit(i as u32 + 1)),
            earlier: (*status == RowStatus::InAnotherBatch).then_some(RowRef { batch: 1, stt: 4 }),
            reason: matches!(status, RowStatus::Rejected | RowStatus::Refused)
                .then(|| Arc::from("Không thuộc diện được đi lại")),
        })
        .collect();
    let problems = vec![
        ReplyProblem::WrongStage {
            command: CommandWord::Approve,
            stage: TokenStage::Stamp,
        },
        ReplyProblem::ReasonMissing {
            command: CommandWord::Reject,
        },
        ReplyProblem::NothingLeft {
            command: CommandWord::Stamp,
        },
        ReplyProblem::NoSuchRow { stt: 12, rows: 8 },
        ReplyProblem::RowNotOpen {
            stt: 5,
            status: RowStatus::Rejected,
        },
        ReplyProblem::StampedTwice { stt: 3 },
        ReplyProblem::BadValidity {
            stt: 2,
            from: date(2021, 9, 8),
            until: date(2021, 9, 1),
        },
        ReplyProblem::NoPermitNamed,
        ReplyProblem::PermitNotOnCase {
            permit: "THD-T-0009-0001".into(),
        },
        ReplyProblem::PermitAlreadyRevoked {
            permit: permit(8).to_string(),
        },
        ReplyProblem::PermitNamedTwice {
            permit: permit(7).to_string(),
        },
        ReplyProblem::More { count: 4_900 },
    ];
    let issue = |row, column: Option<&str>, message: &str| RosterIssue {
        row,
        column: column.map(str::to_owned),
        message: message.to_owned(),
    };
    MailData {
        case: code.clone(),
        kind: Some(kind),
        organisation: (kind == Kind::T).then(|| "Công ty TNHH Vận tải Hà Nội".to_owned()),
        batch: Some(2),
        file_name: Some("danh-sach-nhan-vien.xlsx".into()),
        roster_errors: vec![
            issue(
                Some(5),
                Some("CCCD/CMND"),
                "Số CCCD/CMND phải có 9 hoặc 12 chữ số.",
            ),
            issue(Some(7), None, "Dòng trùng với dòng 5."),
            issue(None, None, "Tệp không có dòng dữ liệu nào."),
        ],
        roster_warnings: vec![issue(
            Some(6),
            Some("Họ và tên"),
            "Tên viết bằng bảng mã TCVN3 đã được chuyển sang Unicode.",
        )],
        problems,
        duplicates: rows
            .iter()
            .filter(|r| {
                matches!(
                    r.status,
                    RowStatus::AlreadyHolds | RowStatus::InAnotherBatch
                )
            })
            .cloned()
            .collect(),
        rows,
        row_list: Some("1-5, 8".into()),
        next_stage: Some(if kind.needs_review() {
            TokenStage::Review
        } else {
            TokenStage::Stamp
        }),
        approved: Some("1-4".into()),
        stamped: Some("1-3".into()),
        undecided: Some("5, 8".into()),
        permits: (1..=3).map(permit).collect(),
        revoked: vec![crate::workflow::Revocation {
            permit: permit(8).to_string(),
            reason: "Người lao động đã nghỉ việc".into(),
        }],
        understood: vec![
            Command::Approve(Rows::List(vec![1, 2, 3])),
            Command::Reject {
                rows: Rows::All,
                reason: "thiếu giấy tờ".into(),
            },
            Command::Stamp(Rows::All),
        ],
        unreadable: vec!["DUYỆT dòng".into(), "ok anh".into()],
        batches: vec![
            BatchStatus {
                batch: 1,
                stage: BatchStage::Closed,
                rows: 10,
                pending: 0,
                approved: 0,
                rejected: 2,
                issued: 7,
                revoked: 1,
                duplicates: 0,
            },
            BatchStatus {
                batch: 2,
                stage: BatchStage::Review,
                rows: 8,
                pending: 5,
                approved: 1,
                rejected: 0,
                issued: 0,
                revoked: 0,
                duplicates: 2,
            },
        ],
        about_subject: Some("Gửi danh sách nhân viên và hồ sơ".into()),
        about_sender: Some("nhansu@congty.vn".into()),
        about_date: Some("2021-08-23T07:02:00+07:00".into()),
        about_account: Some("qrca.hoankiem.tranhungdao1@gmail.com".into()),
        folder: Some("QRCA/Quarantine".into()),
        size_bytes: Some(31_457_280),
        limit_bytes: Some(20_000_000),
        missing: vec!["Email".into()],
        bad_email: Some("nhansu congty.vn".into()),
        outbox_id: Some(17),
        about_template: Some(Template::ReviewRequest),
        recipients: vec!["canbo.thd@example.gov.vn".into()],
        error: Some(
            "SMTP 550 5.1.1 The email account that you tried to reach does not exist".into(),
        ),
        refusals: RefusalReason::ALL
            .iter()
            .enumerate()
            .map(|(i, reason)| RefusalNote {
                at: date(2021, 9, 8).at(8 + i as i8, 5 * i as i8, 0, 0),
                sender: "ke.gia.mao@gmail.com".into(),
                case: (i % 2 == 0).then(|| code.clone()),
                reason: *reason,
            })
            .collect(),
        kid: Some("THD-k3m9x2ab".into()),
        sequence: Some(12),
        revoked_count: Some(3),
        revoked_keys: Some(1),
    }
}
