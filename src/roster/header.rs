//! Which columns a roster of each kind has, and where its header row is.
//!
//! Owns SPEC §4's table of required and optional columns, the built-in header names
//! (folded) of each field, and the search for the header row among the first ten rows.
//! It must not read cell values below the header: that is the row checks' work.

use super::fold::{fold, tidy};
use super::legacy;
use super::source::Grid;
use crate::config::RosterField;
use crate::config::RosterSettings;
use crate::workflow::Kind;
use std::collections::BTreeMap;

/// How far down the header may be (ten rows): defined beside the readers' limits in
/// `extent`, which count these rows, so that `extent` needs nothing of this module.
pub use super::extent::HEADER_SEARCH_ROWS;

/// The columns of a kind: (field, required), in SPEC §4's order.
pub fn columns(kind: Kind) -> &'static [(RosterField, bool)] {
    use RosterField::*;
    match kind {
        Kind::T => &[
            (Name, true),
            (IdNumber, true),
            (BirthDate, true),
            (Phone, false),
            (Position, false),
            (Address, false),
            (Route, false),
            (Vehicle, false),
            (Email, false),
        ],
        Kind::C => &[
            (Name, true),
            (IdNumber, true),
            (BirthDate, true),
            (Reason, true),
            (Phone, false),
            (Address, false),
            (Route, false),
            (ValidFrom, false),
            (ValidUntil, false),
            (Email, false),
        ],
        Kind::H => &[
            (Name, true),
            (IdNumber, true),
            (Address, true),
            (HouseholdSize, false),
            (MarketDays, false),
            (Market, false),
        ],
    }
}

/// The header SPEC §4 gives a field, for messages about a missing column.
pub fn spec_header(field: RosterField, kind: Kind) -> &'static str {
    use RosterField::*;
    match field {
        Name if kind == Kind::H => "Chủ hộ (người đại diện)",
        Name => "Họ và tên",
        IdNumber => "CCCD/CMND",
        BirthDate => "Ngày sinh",
        Phone => "Số điện thoại",
        Position => "Chức vụ",
        Address if kind == Kind::T => "Địa chỉ (nơi ở)",
        Address => "Địa chỉ",
        Route => "Lộ trình",
        Vehicle => "Phương tiện / Biển số",
        Email => "Email",
        Reason => "Lý do",
        ValidFrom => "Từ ngày",
        ValidUntil => "Đến ngày",
        HouseholdSize => "Số nhân khẩu",
        MarketDays => "Ngày đi chợ",
        Market => "Chợ/Siêu thị",
    }
}

/// Built-in header names, folded (see `fold`): SPEC's own, unaccented and
/// abbreviated forms offices use.
fn builtin(field: RosterField) -> &'static [&'static str] {
    use RosterField::*;
    match field {
        Name => &[
            "ho va ten",
            "ho ten",
            "ten",
            "ho va ten nguoi lao dong",
            "ho ten nguoi lao dong",
            "ho va ten nguoi di duong",
            "chu ho",
            "chu ho nguoi dai dien",
            "nguoi dai dien",
            "ho ten chu ho",
            "ho va ten chu ho",
            "ten chu ho",
            "ho va ten nguoi dai dien",
        ],
        IdNumber => &[
            "cccd cmnd",
            "cmnd cccd",
            "so cccd cmnd",
            "so cmnd cccd",
            "cccd",
            "cmnd",
            "so cccd",
            "so cmnd",
            "can cuoc cong dan",
            "so can cuoc cong dan",
            "so dinh danh",
            "so cmnd cccd ho chieu",
            "so cccd cmnd ho chieu",
            "cmnd cccd so",
        ],
        BirthDate => &[
            "ngay sinh",
            "ngay thang nam sinh",
            "sinh ngay",
            "ngay sinh dd mm yyyy",
        ],
        Phone => &[
            "so dien thoai",
            "dien thoai",
            "sdt",
            "so dt",
            "dt",
            "dien thoai lien he",
            "so dien thoai lien he",
        ],
        Position => &["chuc vu", "chuc danh", "vi tri", "vi tri cong viec"],
        Address => &[
            "dia chi",
            "dia chi noi o",
            "noi o",
            "noi o hien nay",
            "dia chi thuong tru",
            "cho o hien nay",
            "dia chi cu tru",
            "noi cu tru",
        ],
        Route => &[
            "lo trinh",
            "lo trinh di chuyen",
            "tuyen duong",
            "lo trinh di lai",
        ],
        Vehicle => &[
            "phuong tien bien so",
            "phuong tien",
            "bien so",
            "bien so xe",
            "bks",
            "phuong tien di chuyen",
            "phuong tien bien kiem soat",
            "bien kiem soat",
        ],
        Email => &["email", "e mail", "thu dien tu", "dia chi email"],
        Reason => &[
            "ly do",
            "ly do di lai",
            "ly do ra ngoai",
            "muc dich",
            "ly do di duong",
        ],
        ValidFrom => &["tu ngay"],
        ValidUntil => &["den ngay"],
        HouseholdSize => &["so nhan khau", "so nguoi", "so thanh vien"],
        MarketDays => &["ngay di cho", "ngay di cho trong tuan"],
        Market => &[
            "cho sieu thi",
            "cho",
            "sieu thi",
            "noi mua sam",
            "cho sieu thi di mua",
        ],
    }
}

/// Added to the rank of a name matched only as the start of a header.
const PREFIX_RANK: usize = 1000;

/// Where the columns of a roster are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// 0-based index of the header's (last) row: data starts below it.
    pub row: usize,
    /// Per field: 0-based column and the header as written in the file.
    pub columns: BTreeMap<RosterField, (usize, String)>,
    /// Fields whose header appears twice; only the first column is read.
    pub duplicates: Vec<(RosterField, String)>,
}

/// The folded names of each field of `kind`, built-in and from the config.
pub fn names(kind: Kind, settings: &RosterSettings) -> Vec<(RosterField, Vec<String>)> {
    columns(kind)
        .iter()
        .map(|(field, _)| {
            let mut all: Vec<String> = builtin(*field).iter().map(|s| s.to_string()).collect();
            if let Some(extra) = settings.synonyms.get(field) {
                all.extend(extra.iter().map(|s| fold(s)).filter(|s| !s.is_empty()));
            }
            (*field, all)
        })
        .collect()
}

/// The field a header cell names, if any, and how specific the name is (0 the most):
/// a sheet with both "Họ" / "Tên" and "Họ và tên" columns means the latter. Headers
/// typed in a TCVN3 or VNI font are read through the conversion too.
fn field_of(text: &str, names: &[(RosterField, Vec<String>)]) -> Option<(RosterField, usize)> {
    let lookup = |t: &str| {
        let key = fold(t);
        let exact = names.iter().find_map(|(f, n)| {
            n.iter()
                .position(|name| *name == key)
                .map(|rank| (*f, rank))
        });
        // "Họ và tên nhân viên", "Ngày sinh (dd/mm/yyyy)": a name of two words or more
        // followed by more words still names the field, less surely than the name alone.
        exact.or_else(|| {
            names.iter().find_map(|(f, n)| {
                n.iter()
                    .position(|name| {
                        name.contains(' ')
                            && key
                                .strip_prefix(name.as_str())
                                .is_some_and(|rest| rest.starts_with(' '))
                    })
                    .map(|rank| (*f, PREFIX_RANK + rank))
            })
        })
    };
    lookup(text)
        .or_else(|| legacy::detect(text, text).and_then(|(_, converted)| lookup(&converted)))
}

/// Finds the header among the first ten rows: the row naming the most required
/// columns, then the most columns. A cell left empty by a vertical merge (the header
/// spans two rows, sub-headers below) takes the text of the cell above it.
pub fn find(grid: &Grid, kind: Kind, settings: &RosterSettings) -> Result<Header, String> {
    let names = names(kind, settings);
    let required: Vec<RosterField> = columns(kind)
        .iter()
        .filter(|(_, r)| *r)
        .map(|(f, _)| *f)
        .collect();
    let mut best: Option<(usize, usize, Header)> = None;
    for row in 0..grid.rows.len().min(HEADER_SEARCH_ROWS) {
        let width = grid.rows[row]
            .len()
            .max(row.checked_sub(1).map_or(0, |r| grid.rows[r].len()));
        let mut header = Header {
            row,
            columns: BTreeMap::new(),
            duplicates: Vec::new(),
        };
        let mut ranks: BTreeMap<RosterField, usize> = BTreeMap::new();
        for col in 0..width {
            let mut text = tidy(&grid.cell(row, col).text());
            if text.is_empty() && row > 0 {
                text = tidy(&grid.cell(row - 1, col).text());
            }
            if text.is_empty() {
                continue;
            }
            let Some((field, rank)) = field_of(&text, &names) else {
                continue;
            };
            match ranks.get(&field) {
                Some(other) if *other <= rank => header.duplicates.push((field, text)),
                _ => {
                    ranks.insert(field, rank);
                    if let Some((_, old)) = header.columns.insert(field, (col, text)) {
                        header.duplicates.push((field, old));
                    }
                }
            }
        }
        let req = required
            .iter()
            .filter(|f| header.columns.contains_key(f))
            .count();
        let all = header.columns.len();
        if all > 0 && best.as_ref().is_none_or(|(r, a, _)| (req, all) > (*r, *a)) {
            best = Some((req, all, header));
        }
    }
    let Some((_, _, header)) = best else {
        let wanted: Vec<&str> = required.iter().map(|f| spec_header(*f, kind)).collect();
        return Err(format!(
            "Không tìm thấy dòng tiêu đề trong 10 dòng đầu; bảng cần có các cột {}.",
            wanted.join(", ")
        ));
    };
    Ok(header)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::roster::value::Cell;

    fn grid(rows: &[&[&str]]) -> Grid {
        Grid {
            rows: rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|c| {
                            if c.is_empty() {
                                Cell::Empty
                            } else {
                                Cell::Text(c.to_string())
                            }
                        })
                        .collect()
                })
                .collect(),
        }
    }

    #[test]
    fn finds_header_below_a_title_block() {
        let g = grid(&[
            &["CÔNG TY TNHH AN PHÁT"],
            &["DANH SÁCH NHÂN VIÊN ĐI LÀM"],
            &[],
            &[
                "STT",
                "Họ và tên",
                "Ngày sinh",
                "CCCD/CMND",
                "Số điện thoại",
            ],
            &[
                "1",
                "Nguyễn Văn An",
                "01/02/1990",
                "001090000001",
                "0912345678",
            ],
        ]);
        let h = find(&g, Kind::T, &RosterSettings::default()).unwrap();
        assert_eq!(h.row, 3);
        assert_eq!(h.columns[&RosterField::Name], (1, "Họ và tên".into()));
        assert_eq!(h.columns[&RosterField::IdNumber], (3, "CCCD/CMND".into()));
        assert_eq!(h.columns[&RosterField::Phone].0, 4);
    }

    #[test]
    fn unaccented_any_order_and_synonyms() {
        let g = grid(&[&["SO CMND/CCCD", "HO TEN", "NGAY THANG NAM SINH", "Bộ phận"]]);
        let mut settings = RosterSettings::default();
        settings
            .synonyms
            .insert(RosterField::Position, vec!["Bộ phận".into()]);
        let h = find(&g, Kind::T, &settings).unwrap();
        assert_eq!(h.columns[&RosterField::IdNumber].0, 0);
        assert_eq!(h.columns[&RosterField::Name].0, 1);
        assert_eq!(h.columns[&RosterField::BirthDate].0, 2);
        assert_eq!(h.columns[&RosterField::Position], (3, "Bộ phận".into()));
    }

    #[test]
    fn two_row_header_with_vertical_merges() {
        let g = grid(&[
            &["STT", "Họ và tên", "CCCD", "Ngày sinh", "Liên hệ"],
            &["", "", "", "", "Điện thoại", "Email"],
        ]);
        let h = find(&g, Kind::T, &RosterSettings::default()).unwrap();
        assert_eq!(h.row, 1);
        assert_eq!(h.columns[&RosterField::Name], (1, "Họ và tên".into()));
        assert_eq!(h.columns[&RosterField::Phone], (4, "Điện thoại".into()));
        assert_eq!(h.columns[&RosterField::Email].0, 5);
    }

    #[test]
    fn tcvn3_headers() {
        let g = grid(&[&["Hä vµ tªn", "CCCD", "Ngµy sinh"]]);
        let h = find(&g, Kind::T, &RosterSettings::default()).unwrap();
        assert_eq!(h.columns[&RosterField::Name], (0, "Hä vµ tªn".into()));
        assert_eq!(h.columns[&RosterField::BirthDate].0, 2);
    }

    #[test]
    fn longer_headers_that_start_with_a_name() {
        let g = grid(&[&[
            "Họ và tên nhân viên",
            "Số CCCD",
            "Ngày sinh (dd/mm/yyyy)",
            "Tên đơn vị",
        ]]);
        let h = find(&g, Kind::T, &RosterSettings::default()).unwrap();
        assert_eq!(h.columns[&RosterField::Name].0, 0);
        assert_eq!(h.columns[&RosterField::BirthDate].0, 2);
        assert!(h.duplicates.is_empty(), "{:?}", h.duplicates);
    }

    #[test]
    fn no_header() {
        let g = grid(&[&["a", "b"], &["c"]]);
        assert!(find(&g, Kind::H, &RosterSettings::default()).is_err());
    }
}
