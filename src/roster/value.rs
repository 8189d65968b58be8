//! Cells and the checks of SPEC §4 on one value.
//!
//! Owns `Cell`, the format-neutral shape a spreadsheet or CSV cell takes once read, and
//! the parsers that turn one cell into an ID number, a date, a phone number, a name or a
//! count, or into the Vietnamese sentence that says why not. It must not know about
//! rows, columns or files: the caller adds the row number and the header.

use jiff::civil::Date;
use unicode_normalization::UnicodeNormalization;

/// Text whose digits may be typed in another script: NFKC turns fullwidth digits,
/// plus signs and spaces (as East Asian input methods type them) into ASCII; digits of
/// other scripts (Arabic-Indic ٣, Devanagari ३) stay what they are, and are refused.
fn ascii_folded(text: &str) -> String {
    if text.is_ascii() {
        text.to_string()
    } else {
        text.nfkc().collect()
    }
}

/// The first digit of `text` that is not an ASCII digit.
fn foreign_digit(text: &str) -> Option<char> {
    text.chars().find(|c| c.is_numeric() && !c.is_ascii_digit())
}

/// A cell as the readers hand it over: CSV gives only `Text` and `Empty`.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// Integers and floats alike: calamine gives whole numbers as floats.
    Number(f64),
    /// A cell formatted as a date (time of day dropped).
    Date(Date),
    /// `#N/A`, `#REF!` and the like: a formula whose cached value is an error.
    Error(String),
}

impl Cell {
    /// The cell as text, as an officer would read it on screen.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.clone(),
            Cell::Number(n) => number_text(*n),
            Cell::Date(d) => format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year()),
            Cell::Error(e) => e.clone(),
        }
    }

    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }
}

/// A number without the ".0" that whole floats print with.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// An ID number: 9 digits (CMND) or 12 (CCCD). Spaces, dots and a leading apostrophe
/// (Excel's "keep as text" mark) are tolerated; the leading zero of text is kept.
pub fn id_number(cell: &Cell) -> Result<String, String> {
    let (raw, numeric) = match cell {
        Cell::Number(n) => {
            if *n < 0.0 || n.fract() != 0.0 {
                return Err("Số CCCD/CMND phải là dãy 9 hoặc 12 chữ số.".into());
            }
            (number_text(*n), true)
        }
        Cell::Date(_) => {
            return Err("Số CCCD/CMND đang bị định dạng ngày tháng; hãy nhập dạng văn bản.".into());
        }
        other => (ascii_folded(&other.text()), false),
    };
    if let Some(c) = foreign_digit(&raw) {
        return Err(format!(
            "Số CCCD/CMND phải viết bằng các chữ số 0–9 (ở đây có “{c}”, chữ số của bảng chữ khác)."
        ));
    }
    let digits: String = raw
        .trim_start_matches('\'')
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '\u{a0}' | '-'))
        .collect();
    if digits.is_empty() {
        return Err("Số CCCD/CMND không được để trống.".into());
    }
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err("Số CCCD/CMND chỉ được gồm chữ số.".into());
    }
    let n = digits.len();
    match n {
        9 | 12 => Ok(digits),
        // A number cell drops leading zeros: CCCD numbers start with the province
        // code 001–096, Hà Nội's old CMND with 01.
        ..12 if numeric => Err(format!(
            "Số CCCD/CMND chỉ có {n} chữ số vì ô đang ở dạng số nên đã mất số 0 ở đầu; hãy định dạng cột là văn bản (Text) và nhập đủ 9 hoặc 12 chữ số."
        )),
        11 | 8 => Err(format!(
            "Số CCCD/CMND phải có 9 hoặc 12 chữ số (ở đây có {n}); có thể đã mất số 0 ở đầu."
        )),
        _ => Err(format!(
            "Số CCCD/CMND phải có 9 hoặc 12 chữ số (ở đây có {n})."
        )),
    }
}

/// Which date a parser reads, for the wording and for two-digit years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateUse {
    Birth,
    ValidFrom,
    ValidUntil,
}

impl DateUse {
    fn label(self) -> &'static str {
        match self {
            DateUse::Birth => "Ngày sinh",
            DateUse::ValidFrom => "Từ ngày",
            DateUse::ValidUntil => "Đến ngày",
        }
    }
}

/// Excel's day 0 in the 1900 system, as the serials past 1900-03-01 count it (Excel
/// believes 1900 was a leap year, so day 60 does not exist).
fn excel_serial(serial: f64) -> Option<Date> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    let epoch = Date::new(1899, 12, 30).ok()?;
    let days = if days < 61 { days + 1 } else { days };
    epoch.checked_add(jiff::Span::new().days(days)).ok()
}

/// A date: a date cell, an Excel serial number, `dd/mm/yyyy`, `d/m/yy` (also with `-`
/// or `.`), or ISO `yyyy-mm-dd` as CSV exports write it. A birth date must not be in
/// the future.
pub fn date(cell: &Cell, what: DateUse, today: Date) -> Result<Date, String> {
    let label = what.label();
    let date = match cell {
        Cell::Date(d) => *d,
        Cell::Number(n) => {
            excel_serial(*n).ok_or_else(|| format!("{label} không phải là ngày hợp lệ."))?
        }
        Cell::Empty => return Err(format!("{label} không được để trống.")),
        Cell::Error(_) => return Err(format!("{label} là một công thức bị lỗi.")),
        Cell::Text(t) => {
            text_date(t.trim(), what, today).map_err(|why| format!("{label} {why}"))?
        }
    };
    if what == DateUse::Birth {
        if date > today {
            return Err("Ngày sinh không được ở tương lai.".into());
        }
        if date.year() < 1900 {
            return Err("Ngày sinh không hợp lệ (trước năm 1900).".into());
        }
    }
    Ok(date)
}

fn text_date(text: &str, what: DateUse, today: Date) -> Result<Date, String> {
    const FORM: &str = "phải viết dạng ngày/tháng/năm, ví dụ 05/09/1990.";
    if text.is_empty() {
        return Err("không được để trống.".into());
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        return match text.len() {
            4 => Err(format!(
                "phải có đủ ngày, tháng và năm (ở đây chỉ có năm {text})."
            )),
            5 => text
                .parse::<f64>()
                .ok()
                .and_then(excel_serial)
                .ok_or_else(|| FORM.to_string()),
            _ => Err(FORM.into()),
        };
    }
    // Time of day after the date ("05/09/1990 00:00:00") is dropped.
    let day_part = text.split_whitespace().next().unwrap_or(text);
    let parts: Vec<&str> = day_part.split(['/', '-', '.']).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(FORM.into());
    };
    let num = |s: &str| -> Option<i32> {
        (!s.is_empty() && s.len() <= 4 && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (Some(x), Some(y), Some(z)) = (num(a), num(b), num(c)) else {
        return Err(FORM.into());
    };
    let (day, month, year) = if a.len() == 4 {
        (z, y, x)
    } else {
        let year = match c.len() {
            4 => z,
            2 => {
                // A two-digit birth year is in the past century when this century's
                // would be in the future; validity dates are always this century.
                let this = 2000 + z;
                if what == DateUse::Birth && this > i32::from(today.year()) {
                    1900 + z
                } else {
                    this
                }
            }
            _ => return Err(FORM.into()),
        };
        (x, y, year)
    };
    let (Ok(year), Ok(month), Ok(day)) =
        (i16::try_from(year), i8::try_from(month), i8::try_from(day))
    else {
        return Err(FORM.into());
    };
    Date::new(year, month, day)
        .map_err(|_| format!("không phải là ngày có thật ({day:02}/{month:02}/{year:04})."))
}

/// A phone number as `0` and 9 digits; `+84`/`84` become `0`, and a number cell that
/// lost its leading zero gets it back.
pub fn phone(cell: &Cell) -> Result<String, String> {
    const RULE: &str = "Số điện thoại phải có 10 chữ số và bắt đầu bằng 0 (có thể viết +84).";
    let raw = ascii_folded(&cell.text());
    if let Some(c) = foreign_digit(&raw) {
        return Err(format!(
            "Số điện thoại phải viết bằng các chữ số 0–9 (ở đây có “{c}”, chữ số của bảng chữ khác)."
        ));
    }
    let raw = raw.trim().trim_start_matches('\'');
    let plus = raw.starts_with('+');
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '+' | '\u{a0}'))
        .collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || digits.is_empty() {
        return Err(RULE.into());
    }
    let normal = if let Some(rest) = digits.strip_prefix("84")
        && (plus || rest.len() == 9)
    {
        format!("0{rest}")
    } else if digits.len() == 9 && digits.starts_with(['3', '5', '7', '8', '9']) {
        // Excel drops the zero of a mobile number typed into a number cell.
        format!("0{digits}")
    } else {
        digits
    };
    if normal.len() == 10 && normal.starts_with('0') {
        Ok(normal)
    } else {
        Err(RULE.into())
    }
}

/// A person's name: not empty, no digits of any script (٣ and ３ look like letters to
/// a check for 0–9, and like digits to a reader).
pub fn name(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("Họ và tên không được để trống.".into());
    }
    if text.chars().any(char::is_numeric) {
        return Err("Họ và tên không được chứa chữ số.".into());
    }
    Ok(text.to_string())
}

/// A count such as the number of people in a household.
pub fn count(cell: &Cell) -> Result<u32, String> {
    const RULE: &str = "Số nhân khẩu phải là một số nguyên dương.";
    let n = match cell {
        Cell::Number(n) if n.fract() == 0.0 && *n >= 1.0 && *n <= f64::from(u32::MAX) => *n as u32,
        Cell::Text(t) => t.trim().parse::<u32>().map_err(|_| RULE.to_string())?,
        _ => return Err(RULE.into()),
    };
    if n == 0 { Err(RULE.into()) } else { Ok(n) }
}

/// An e-mail address, checked loosely: one `@`, something each side, no spaces.
pub fn email(text: &str) -> Result<String, String> {
    let ok = match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !text.contains(' ')
        }
        None => false,
    };
    if ok {
        Ok(text.to_string())
    } else {
        Err("Địa chỉ email không hợp lệ.".into())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn today() -> Date {
        jiff::civil::date(2021, 9, 8)
    }
    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    #[test]
    fn id_forms() {
        assert_eq!(id_number(&t("001085012345")), Ok("001085012345".into()));
        assert_eq!(id_number(&t("001 085 012 345")), Ok("001085012345".into()));
        assert_eq!(id_number(&t("'012345678")), Ok("012345678".into()));
        assert_eq!(
            id_number(&Cell::Number(123456789.0)),
            Ok("123456789".into())
        );
        assert_eq!(
            id_number(&Cell::Number(101085012345.0)),
            Ok("101085012345".into())
        );
        let lost = id_number(&Cell::Number(1085012345.0 + 10_000_000_000.0)).unwrap_err();
        assert!(lost.contains("mất số 0"), "{lost}");
        assert_eq!(
            id_number(&t("0123456789")),
            Err("Số CCCD/CMND phải có 9 hoặc 12 chữ số (ở đây có 10).".into())
        );
        assert!(id_number(&t("12345678A")).is_err());
        assert!(id_number(&Cell::Number(1.5)).is_err());
        assert!(id_number(&Cell::Empty).is_err());
        // Fullwidth digits become ASCII; digits of other scripts are refused by name.
        assert_eq!(
            id_number(&t(
                "\u{ff10}\u{ff10}\u{ff11}\u{ff10}\u{ff19}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff10}\u{ff14}"
            )),
            Ok("001090000004".into())
        );
        let arabic = id_number(&t(
            "\u{660}\u{660}\u{661}\u{660}\u{669}\u{660}\u{660}\u{660}\u{660}\u{660}\u{660}\u{665}",
        ))
        .unwrap_err();
        assert!(
            arabic.contains("0–9") && arabic.contains('\u{660}'),
            "{arabic}"
        );
    }

    #[test]
    fn date_forms() {
        let d = |y, m, dd| jiff::civil::date(y, m, dd);
        let b = |c: Cell| date(&c, DateUse::Birth, today());
        assert_eq!(b(t("05/09/1990")), Ok(d(1990, 9, 5)));
        assert_eq!(b(t("5/9/90")), Ok(d(1990, 9, 5)));
        assert_eq!(b(t("5/9/05")), Ok(d(2005, 9, 5)));
        assert_eq!(b(t("05-09-1990")), Ok(d(1990, 9, 5)));
        assert_eq!(b(t("05.09.1990")), Ok(d(1990, 9, 5)));
        assert_eq!(b(t("1990-09-05")), Ok(d(1990, 9, 5)));
        assert_eq!(b(t("05/09/1990 00:00:00")), Ok(d(1990, 9, 5)));
        assert_eq!(b(Cell::Date(d(1990, 9, 5))), Ok(d(1990, 9, 5)));
        assert_eq!(b(Cell::Number(33121.0)), Ok(d(1990, 9, 5)));
        assert_eq!(b(t("33121")), Ok(d(1990, 9, 5)));
        assert!(b(t("31/02/1990")).unwrap_err().contains("có thật"));
        assert!(b(t("1990")).unwrap_err().contains("chỉ có năm"));
        assert!(b(t("hôm qua")).is_err());
        assert_eq!(
            b(t("09/09/2021")),
            Err("Ngày sinh không được ở tương lai.".into())
        );
        assert_eq!(b(t("08/09/2021")), Ok(d(2021, 9, 8)));
        assert_eq!(
            date(&t("1/10/21"), DateUse::ValidUntil, today()),
            Ok(d(2021, 10, 1))
        );
    }

    #[test]
    fn phone_forms() {
        assert_eq!(phone(&t("0912345678")), Ok("0912345678".into()));
        assert_eq!(phone(&t("+84912345678")), Ok("0912345678".into()));
        assert_eq!(phone(&t("+84 91 234 5678")), Ok("0912345678".into()));
        assert_eq!(phone(&t("84912345678")), Ok("0912345678".into()));
        assert_eq!(phone(&t("0912.345.678")), Ok("0912345678".into()));
        assert_eq!(phone(&Cell::Number(912345678.0)), Ok("0912345678".into()));
        assert!(phone(&t("091234567")).is_err());
        assert!(phone(&t("1912345678")).is_err());
        assert!(phone(&t("09123456789")).is_err());
        assert!(phone(&t("không có")).is_err());
        assert_eq!(
            phone(&t(
                "\u{ff0b}84 \u{ff19}\u{ff11}\u{ff12}\u{ff13}\u{ff14}\u{ff15}\u{ff16}\u{ff17}\u{ff18}"
            )),
            Ok("0912345678".into())
        );
        let arabic = phone(&t(
            "\u{660}\u{669}\u{661}\u{662}\u{663}\u{664}\u{665}\u{666}\u{667}\u{668}",
        ))
        .unwrap_err();
        assert!(arabic.contains("0–9"), "{arabic}");
    }

    #[test]
    fn names_and_counts() {
        assert_eq!(name("Nguyễn Văn An"), Ok("Nguyễn Văn An".into()));
        assert!(name("").is_err());
        assert!(name("Nguyễn Văn 2").is_err());
        for digit in ["\u{663}", "\u{ff13}", "\u{96d}", "\u{2163}", "²"] {
            assert_eq!(
                name(&format!("Trần Thị {digit}")),
                Err("Họ và tên không được chứa chữ số.".into()),
                "{digit}"
            );
        }
        assert_eq!(count(&Cell::Number(4.0)), Ok(4));
        assert_eq!(count(&t(" 3 ")), Ok(3));
        assert!(count(&t("ba")).is_err());
        assert!(count(&Cell::Number(0.0)).is_err());
        assert!(email("a@b.vn").is_ok());
        assert!(email("a b@c").is_err());
    }
}
