//! A row's "Từ ngày" and "Đến ngày" judged on the day its roster arrives (issue 15):
//! by the permits' own rule, `PermitRules::row_validity`, the one stamping judges them
//! by again, so a row the police could never stamp goes back to its sender at once.
//! Owns only the sentences, and which column each problem is the fault of; it must not
//! hold a rule of its own about dates.

use crate::workflow::{PermitRules, ValidityProblem};
use jiff::civil::Date;

/// The day a roster arrives, in the ward's time zone, and the ward's permit rules:
/// what its dates are judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub today: Date,
    pub permits: PermitRules,
}

/// Where a problem with a row's validity lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fault {
    /// The row's "Từ ngày" cell.
    From(String),
    /// The row's "Đến ngày" cell.
    Until(String),
    /// The ward's `valid_until`, whatever the row says: one error for the roster.
    Ward(String),
}

/// What is wrong with a row whose dates are `from` and `until`, on the day `arrival`.
pub(super) fn judge(from: Option<Date>, until: Option<Date>, arrival: Arrival) -> Option<Fault> {
    let v = arrival.permits.row_validity(from, until, arrival.today);
    let day = dmy(arrival.today);
    Some(match v.problem? {
        ValidityProblem::EndsBeforeStart => {
            Fault::Until("“Đến ngày” phải cùng ngày hoặc sau “Từ ngày”.".into())
        }
        ValidityProblem::Ended => Fault::Until(format!(
            "“Đến ngày” {} đã qua (danh sách nhận ngày {day}), giấy sẽ không còn ngày nào có hiệu lực.",
            dmy(until.unwrap_or(v.until))
        )),
        ValidityProblem::TooLong { days } => Fault::Until(format!(
            "Giấy chỉ được có hiệu lực tối đa {} ngày; từ {} đến {} là {days} ngày.",
            arrival.permits.max_valid_days,
            dmy(v.from),
            dmy(until.unwrap_or(v.until))
        )),
        ValidityProblem::StartsAfterWardEnd { ward_until } => Fault::From(format!(
            "“Từ ngày” {} sau ngày giấy của phường hết hạn ({}).",
            dmy(v.from),
            dmy(ward_until)
        )),
        ValidityProblem::WardEnded { ward_until } => Fault::Ward(format!(
            "Giấy của phường chỉ được cấp có hiệu lực đến ngày {}, ngày này đã qua (danh sách nhận ngày {day}); xin báo bộ phận quản trị kiểm tra thời hạn giấy.",
            dmy(ward_until)
        )),
    })
}

fn dmy(date: Date) -> String {
    date.strftime("%d/%m/%Y").to_string()
}
