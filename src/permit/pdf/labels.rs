//! The permit's text labels: `templates/permit.toml`, built in, or an admin's
//! override of it (`<templates_dir>/permit.toml`, read by `issue::renderer`).
//!
//! Every key is required and unknown keys are refused, so a typo is an error at load
//! rather than the built-in text printed in silence. Labels are NFC with control
//! characters as spaces, like everything drawn.

use super::{PdfError, clean};
use crate::workflow::model::Kind;

const BUILTIN_LABELS: &str = include_str!("../../../templates/permit.toml");
const BUILTIN_LABELS_NAME: &str = "templates/permit.toml";

/// The permit's text labels, from `templates/permit.toml` or an admin's override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub(super) heading: String,
    pub(super) motto: String,
    pub(super) title_travel: String,
    pub(super) title_market: String,
    pub(super) number: String,
    pub(super) name: String,
    pub(super) birth_date: String,
    pub(super) id_number: String,
    pub(super) organisation: String,
    pub(super) address: String,
    pub(super) route: String,
    pub(super) vehicle: String,
    pub(super) market: String,
    pub(super) days: String,
    pub(super) valid_from: String,
    pub(super) valid_until: String,
    pub(super) stamp_note: String,
    pub(super) qr_caption: String,
}

impl Labels {
    /// The labels built into the binary (`templates/permit.toml`).
    pub fn builtin() -> Result<Labels, PdfError> {
        Labels::from_toml(BUILTIN_LABELS, BUILTIN_LABELS_NAME)
    }

    /// Parses a label file; `file_name` is only used in errors, which name the key.
    /// Every key is required and unknown keys are refused (a typo would otherwise
    /// silently print the built-in text).
    pub fn from_toml(text: &str, file_name: &str) -> Result<Labels, PdfError> {
        let err = |problem: String| PdfError::Labels {
            file: file_name.to_owned(),
            problem,
        };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut take = |key: &str| -> Result<String, PdfError> {
            match table.remove(key) {
                Some(toml::Value::String(s)) => Ok(clean(&s).into_owned()),
                Some(other) => Err(err(format!(
                    "the key `{key}` must be text in double quotes, not {}",
                    other.type_str()
                ))),
                None => Err(err(format!("the key `{key}` is missing"))),
            }
        };
        let labels = Labels {
            heading: take("heading")?,
            motto: take("motto")?,
            title_travel: take("title_travel")?,
            title_market: take("title_market")?,
            number: take("number")?,
            name: take("name")?,
            birth_date: take("birth_date")?,
            id_number: take("id_number")?,
            organisation: take("organisation")?,
            address: take("address")?,
            route: take("route")?,
            vehicle: take("vehicle")?,
            market: take("market")?,
            days: take("days")?,
            valid_from: take("valid_from")?,
            valid_until: take("valid_until")?,
            stamp_note: take("stamp_note")?,
            qr_caption: take("qr_caption")?,
        };
        if let Some(key) = table.keys().next() {
            return Err(err(format!("the key `{key}` is not a permit label")));
        }
        Ok(labels)
    }

    pub(super) fn title(&self, kind: Kind) -> &str {
        match kind {
            Kind::T | Kind::C => &self.title_travel,
            Kind::H => &self.title_market,
        }
    }

    /// Text drawn in bold: only these go into the bold subset.
    pub(super) fn bold_texts(&self) -> [&str; 3] {
        [&self.heading, &self.title_travel, &self.title_market]
    }

    pub(super) fn all_texts(&self) -> [&str; 18] {
        [
            &self.heading,
            &self.motto,
            &self.title_travel,
            &self.title_market,
            &self.number,
            &self.name,
            &self.birth_date,
            &self.id_number,
            &self.organisation,
            &self.address,
            &self.route,
            &self.vehicle,
            &self.market,
            &self.days,
            &self.valid_from,
            &self.valid_until,
            &self.stamp_note,
            &self.qr_caption,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::{IsNormalized, is_nfc_quick};

    #[test]
    fn the_builtin_labels_parse_and_are_nfc() {
        let l = Labels::builtin().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.title_travel, "GIẤY ĐI ĐƯỜNG");
        assert!(
            l.all_texts()
                .iter()
                .all(|t| is_nfc_quick(t.chars()) == IsNormalized::Yes)
        );
    }
}
