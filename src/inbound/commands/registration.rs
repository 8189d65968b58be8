//! Registration bodies (SPEC §2): an organisation read from `Label: value` lines, with
//! the labels' synonyms, bullets and list numbers, notes and stars, and the ways mail
//! clients write an address; every missing required field and a bad email named in
//! one [`RegistrationError`].

use super::line::{split_colon, strip_bullet};
use super::{fold, tidy};
use crate::workflow::model::Organisation;

/// The required fields, named as SPEC §2 writes them.
pub const NAME_LABEL: &str = "Tên tổ chức";
pub const EMAIL_LABEL: &str = "Email";

/// Why a registration body does not give an organisation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct RegistrationError {
    /// Required fields that are absent or empty, as SPEC §2 names them, in its order.
    pub missing: Vec<&'static str>,
    /// An `Email` value that is not an address, as written.
    pub bad_email: Option<String>,
}

impl RegistrationError {
    fn sentence(&self) -> String {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "the registration does not give {} (write each as a \"Label: value\" line)",
                self.missing.join(" or ")
            ));
        }
        if let Some(email) = &self.bad_email {
            parts.push(format!(
                "the registration's Email {email:?} is not an email address"
            ));
        }
        parts.join("; and ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Email,
    TaxCode,
    Address,
    Contact,
    Phone,
    Sector,
}

/// Registration labels, folded. Matched whole, so "Địa chỉ email" is not "Địa chỉ".
const LABELS: &[(&str, Field)] = &[
    ("ten to chuc", Field::Name),
    ("ten doanh nghiep", Field::Name),
    ("ten cong ty", Field::Name),
    ("ten don vi", Field::Name),
    ("to chuc", Field::Name),
    ("doanh nghiep", Field::Name),
    ("organisation", Field::Name),
    ("organization", Field::Name),
    ("organisation name", Field::Name),
    ("organization name", Field::Name),
    ("company", Field::Name),
    ("company name", Field::Name),
    ("email", Field::Email),
    ("e-mail", Field::Email),
    ("e mail", Field::Email),
    ("dia chi email", Field::Email),
    ("dia chi e-mail", Field::Email),
    ("thu dien tu", Field::Email),
    ("dia chi thu dien tu", Field::Email),
    ("ma so thue", Field::TaxCode),
    ("mst", Field::TaxCode),
    ("tax code", Field::TaxCode),
    ("tax id", Field::TaxCode),
    ("dia chi", Field::Address),
    ("dia chi tru so", Field::Address),
    ("tru so", Field::Address),
    ("address", Field::Address),
    ("nguoi lien he", Field::Contact),
    ("nguoi lien lac", Field::Contact),
    ("contact", Field::Contact),
    ("contact person", Field::Contact),
    ("dien thoai", Field::Phone),
    ("so dien thoai", Field::Phone),
    ("sdt", Field::Phone),
    ("so dt", Field::Phone),
    ("dt", Field::Phone),
    ("phone", Field::Phone),
    ("telephone", Field::Phone),
    ("tel", Field::Phone),
    ("linh vuc", Field::Sector),
    ("linh vuc hoat dong", Field::Sector),
    ("nganh nghe", Field::Sector),
    ("sector", Field::Sector),
];

/// Reads an organisation from `Label: value` lines (SPEC §2). Labels match with or
/// without diacritics, in any case, after a bullet or a number ("1. Tên tổ chức: …");
/// unknown labels are ignored. Every missing required field, and an email that is not
/// an address, is named in the error.
pub fn parse_registration(own_words: &str) -> Result<Organisation, RegistrationError> {
    let mut values: [Option<String>; 7] = Default::default();
    for line in own_words.lines() {
        let Some((label, value)) = split_colon(strip_numbering(line)) else {
            continue;
        };
        let Some(field) = field_of(label) else {
            continue;
        };
        let value = tidy(value);
        let slot = &mut values[field as usize];
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value);
        }
    }
    let [name, email, tax_code, address, contact, phone, sector] = values;
    let mut error = RegistrationError {
        missing: Vec::new(),
        bad_email: None,
    };
    if name.is_none() {
        error.missing.push(NAME_LABEL);
    }
    let email = match email {
        None => {
            error.missing.push(EMAIL_LABEL);
            None
        }
        Some(written) => {
            let address = extract_address(&written).to_ascii_lowercase();
            if is_email_shape(&address) {
                Some(address)
            } else {
                error.bad_email = Some(written);
                None
            }
        }
    };
    match (name, email) {
        (Some(name), Some(email)) if error.missing.is_empty() => Ok(Organisation {
            name,
            email,
            tax_code,
            address,
            contact,
            phone,
            sector,
        }),
        _ => Err(error),
    }
}

/// The field a written label names, if any.
fn field_of(label: &str) -> Option<Field> {
    let folded = fold(label);
    // "Email (bắt buộc)*": notes and required-field stars are not part of the label.
    let without_notes = match folded.find('(') {
        Some(at) => &folded[..at],
        None => folded.as_str(),
    };
    let key = without_notes.trim_matches(|c: char| c == '*' || c == '.' || c == ' ');
    LABELS
        .iter()
        .find(|&&(text, _)| text == key)
        .map(|&(_, field)| field)
}

/// Drops a leading bullet or list number: "- ", "• ", "1. ", "2) ", "a) ".
fn strip_numbering(line: &str) -> &str {
    let line = strip_bullet(line);
    let after_marker = line
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix(['.', ')']);
    let lettered = {
        let mut chars = line.chars();
        match (chars.next(), chars.next()) {
            (Some(c), Some(')')) if c.is_ascii_alphabetic() => Some(chars.as_str()),
            _ => None,
        }
    };
    let numbered = after_marker.filter(|_| line.starts_with(|c: char| c.is_ascii_digit()));
    match numbered.or(lettered) {
        Some(rest) => rest.trim(),
        None => line,
    }
}

/// The address in a value as mail clients write it: `a@b.vn`, `<a@b.vn>`,
/// `Name <a@b.vn>`, Outlook's `a@b.vn<mailto:a@b.vn>`, `mailto:a@b.vn`.
fn extract_address(value: &str) -> &str {
    let value = value.trim();
    let address = match value.find('<') {
        Some(open) if value[..open].contains('@') => value[..open].trim(),
        Some(open) => {
            let inner = &value[open + 1..];
            inner
                .find('>')
                .map_or(inner, |close| &inner[..close])
                .trim()
        }
        None => value,
    };
    address.strip_prefix("mailto:").unwrap_or(address)
}

/// A plain `local@domain.tld` address: the shape an organisation can receive mail at.
fn is_email_shape(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    local_ok && domain_ok
}
