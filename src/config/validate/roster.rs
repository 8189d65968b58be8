//! `[roster.synonyms]`: extra column headers for the roster's fields; an unknown field
//! or a header claimed by two fields is an error.

use super::Validator;
use crate::config::raw::RawRoster;
use crate::config::types::{RosterField, RosterSettings};
use std::collections::{BTreeMap, HashMap};
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn roster(&mut self, raw: Option<&Spanned<RawRoster>>) -> Option<RosterSettings> {
        const T: &str = "[roster.synonyms]";
        let Some(synonyms) = raw.and_then(|r| r.get_ref().synonyms.as_ref()) else {
            return Some(RosterSettings::default());
        };
        let mut out: BTreeMap<RosterField, Vec<String>> = BTreeMap::new();
        // Header (case-folded) → the field it already stands for.
        let mut taken: HashMap<String, RosterField> = HashMap::new();
        let mut ok = true;
        for (name, list) in synonyms {
            let Some(field) = RosterField::from_name(name.get_ref()) else {
                let expected: Vec<&str> = RosterField::ALL.iter().map(|f| f.name()).collect();
                self.error(
                    &name.span(),
                    format!(
                        "unknown roster field \"{}\" in {T}; expected one of {}",
                        name.get_ref(),
                        expected.join(", ")
                    ),
                );
                ok = false;
                continue;
            };
            let mut headers = Vec::new();
            for (i, item) in list.get_ref().iter().enumerate() {
                let what = format!("item {} of key \"{}\" in {T}", i + 1, field.name());
                let Some(header) = self.text(item, &what) else {
                    ok = false;
                    continue;
                };
                match taken.get(&header.to_lowercase()) {
                    Some(other) if *other != field => {
                        self.error(
                            &item.span(),
                            format!("{what}: header \"{header}\" is already a synonym of {other}"),
                        );
                        ok = false;
                    }
                    Some(_) => {}
                    None => {
                        taken.insert(header.to_lowercase(), field);
                        headers.push(header);
                    }
                }
            }
            out.insert(field, headers);
        }
        ok.then_some(RosterSettings { synonyms: out })
    }
}
