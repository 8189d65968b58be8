//! One-line summaries of a case for admins (`qrca cases list`), and ID masking.
//!
//! Owns how a case's batches are reduced to a stage and row counts. It reads `Case`
//! only; it must not change one, nor decide what a stage means for the workflow
//! (that is `workflow::step`'s), and it must never hand out an ID number unmasked.

use crate::workflow::{BatchStage, BatchStatus, Case, Kind};
use jiff::Timestamp;
use std::fmt;

/// Where a case stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CaseStage {
    /// No roster has been accepted yet.
    AwaitingRoster,
    /// Some batch waits for ward officers.
    Review,
    /// No batch in review; some batch waits for the ward police.
    Stamp,
    /// Every batch is closed.
    Closed,
}

impl fmt::Display for CaseStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaseStage::AwaitingRoster => "awaiting roster",
            CaseStage::Review => "review",
            CaseStage::Stamp => "stamp",
            CaseStage::Closed => "closed",
        })
    }
}

/// A case reduced to what a table row shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSummary {
    pub code: String,
    pub ward: String,
    pub kind: Kind,
    pub stage: CaseStage,
    /// Rows waiting for an officer.
    pub pending: usize,
    /// Rows approved and not yet issued.
    pub approved: usize,
    pub issued: usize,
    /// Rows rejected by an officer or refused by the police.
    pub rejected: usize,
    pub revoked: usize,
    /// Rows reported, not decided: the person already holds a permit on the case, or
    /// is being decided in an earlier open batch.
    pub duplicates: usize,
    pub updated_at: Timestamp,
}

impl CaseSummary {
    /// The summary of one case: the earliest open stage among its batches (review
    /// before stamp before closed), and its rows counted by state.
    pub fn of(case: &Case) -> CaseSummary {
        let stage = case
            .batches
            .iter()
            .map(|b| match b.stage {
                BatchStage::Review => CaseStage::Review,
                BatchStage::Stamp => CaseStage::Stamp,
                BatchStage::Closed => CaseStage::Closed,
            })
            .min()
            .unwrap_or(CaseStage::AwaitingRoster);
        let mut s = CaseSummary {
            code: case.code.clone(),
            ward: case.ward.clone(),
            kind: case.kind,
            stage,
            pending: 0,
            approved: 0,
            issued: 0,
            rejected: 0,
            revoked: 0,
            duplicates: 0,
            updated_at: case.updated_at,
        };
        for b in &case.batches {
            let counts = BatchStatus::of(b);
            s.pending += counts.pending;
            s.duplicates += counts.duplicates;
            s.approved += counts.approved;
            s.rejected += counts.rejected;
            s.issued += counts.issued;
            s.revoked += counts.revoked;
        }
        s
    }
}

impl From<&Case> for CaseSummary {
    fn from(case: &Case) -> Self {
        CaseSummary::of(case)
    }
}

/// An ID number (or phone) with all but its last 4 characters replaced by `*`;
/// four characters or fewer are masked whole, since they would be the whole number.
pub fn mask_id_number(id: &str) -> String {
    let n = id.chars().count();
    let keep = if n > 4 { 4 } else { 0 };
    id.chars()
        .enumerate()
        .map(|(i, c)| if i < n - keep { '*' } else { c })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::workflow::RowState;
    use crate::workflow::{Batch, BatchRow, Permit, Row};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn case_with(batches: Vec<Batch>) -> Case {
        Case {
            code: "THD-T-0001".into(),
            ward: "hoankiem.tranhungdao".into(),
            kind: Kind::T,
            serial: 1,
            opened_at: ts("2021-09-07T01:00:00Z"),
            updated_at: ts("2021-09-07T02:00:00Z"),
            opened_by: "canbo.thd@example.gov.vn".into(),
            organisation: None,
            area_police: vec![],
            batches: batches.into_iter().map(std::sync::Arc::new).collect(),
            tokens: vec![],
            last_holder: 0,
            revision: 0,
        }
    }

    fn batch(no: u32, stage: BatchStage, states: Vec<RowState>) -> Batch {
        Batch {
            no,
            received_at: ts("2021-09-07T01:30:00Z"),
            from: "hr@abc.vn".into(),
            file_name: "staff.xlsx".into(),
            documents: vec![],
            stage,
            rows: states
                .into_iter()
                .enumerate()
                .map(|(i, state)| BatchRow {
                    person: Row {
                        stt: i as u32 + 1,
                        ..Row::default()
                    }
                    .into(),
                    state,
                })
                .collect(),
        }
    }

    fn permit(id: &str) -> Permit {
        Permit {
            id: id.into(),
            valid_from: jiff::civil::date(2021, 9, 7),
            valid_until: jiff::civil::date(2021, 9, 20),
            issued_at: ts("2021-09-07T03:00:00Z"),
            stamped_by: "congan.thd@example.gov.vn".into(),
        }
    }

    #[test]
    fn no_batch_is_awaiting_roster() {
        let s = CaseSummary::of(&case_with(vec![]));
        assert_eq!(s.stage, CaseStage::AwaitingRoster);
        assert_eq!(s.stage.to_string(), "awaiting roster");
        assert_eq!((s.pending, s.approved, s.issued), (0, 0, 0));
    }

    #[test]
    fn earliest_open_stage_wins_and_rows_are_counted_by_state() {
        let at = ts("2021-09-07T02:00:00Z");
        let c = case_with(vec![
            batch(
                1,
                BatchStage::Closed,
                vec![
                    RowState::Issued(permit("THD-T-0001-0001")),
                    RowState::Revoked {
                        permit: permit("THD-T-0001-0002"),
                        by: "canbo.thd@example.gov.vn".into(),
                        at,
                        reason: "left the company".into(),
                    },
                    RowState::Refused {
                        by: "congan.thd@example.gov.vn".into(),
                        at,
                        reason: "x".into(),
                    },
                ],
            ),
            batch(
                2,
                BatchStage::Stamp,
                vec![RowState::Approved {
                    by: "canbo.thd@example.gov.vn".into(),
                    at,
                }],
            ),
            batch(
                3,
                BatchStage::Review,
                vec![
                    RowState::Pending,
                    RowState::Pending,
                    RowState::Rejected {
                        by: "canbo.thd@example.gov.vn".into(),
                        at,
                        reason: "y".into(),
                    },
                    RowState::AlreadyHolds {
                        permit: "THD-T-0001-0001".into(),
                    },
                ],
            ),
        ]);
        let s = CaseSummary::from(&c);
        assert_eq!(s.stage, CaseStage::Review);
        assert_eq!(
            (
                s.pending,
                s.approved,
                s.issued,
                s.rejected,
                s.revoked,
                s.duplicates
            ),
            (2, 1, 1, 2, 1, 1)
        );

        let stamp_only = case_with(vec![
            batch(1, BatchStage::Closed, vec![]),
            batch(2, BatchStage::Stamp, vec![]),
        ]);
        assert_eq!(CaseSummary::of(&stamp_only).stage, CaseStage::Stamp);
        let closed = case_with(vec![batch(1, BatchStage::Closed, vec![])]);
        assert_eq!(CaseSummary::of(&closed).stage.to_string(), "closed");
    }

    #[test]
    fn masks_keep_the_last_four_only() {
        assert_eq!(mask_id_number("001234567890"), "********7890");
        assert_eq!(mask_id_number("123456789"), "*****6789");
        assert_eq!(mask_id_number("1234"), "****");
        assert_eq!(mask_id_number(""), "");
    }
}
