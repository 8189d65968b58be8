//! Changes the admin's config file in place, keeping its comments and layout
//! (toml_edit): what `qrca keys rotate` records about a ward's keys.
//!
//! Owns the text change only: the caller reads the file, checks the result loads, and
//! writes it back. It must not read the key files or decide when a key is rotated.

use jiff::Timestamp;
use jiff::civil::Date;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// A key that stops signing, as `[[ward.retired_key]]` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retirement {
    /// Base64url without padding, as the trust list prints it.
    pub public_key: String,
    pub since: Date,
    pub until: Date,
    /// When the key was lost or stolen, and why (`compromised_from`,
    /// `compromised_reason`).
    pub compromised: Option<(Timestamp, String)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("the config is not TOML that can be edited: {0}")]
    Parse(String),
    #[error("the config has no [[ward]] with code = \"{0}\"")]
    NoSuchWard(String),
    #[error("key \"{key}\" of ward {ward} is not an array of tables")]
    Shape { ward: String, key: &'static str },
}

/// The config `text` with `retired` added to the ward's `[[ward.retired_key]]` and the
/// ward's `signing_key_since` set to `new_since` (the new key's first day).
pub fn retire_key(
    text: &str,
    ward: &str,
    retired: &Retirement,
    new_since: Date,
) -> Result<String, EditError> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Parse(e.to_string()))?;
    let wards = doc
        .get_mut("ward")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| EditError::NoSuchWard(ward.to_owned()))?;
    let table = wards
        .iter_mut()
        .find(|t| t.get("code").and_then(Item::as_str) == Some(ward))
        .ok_or_else(|| EditError::NoSuchWard(ward.to_owned()))?;
    table["signing_key_since"] = value(new_since.to_string());
    let mut entry = Table::new();
    entry["public_key"] = value(retired.public_key.as_str());
    entry["since"] = value(retired.since.to_string());
    entry["until"] = value(retired.until.to_string());
    if let Some((from, reason)) = &retired.compromised {
        entry["compromised_from"] = value(from.to_string());
        entry["compromised_reason"] = value(reason.as_str());
    }
    match table.get_mut("retired_key") {
        None => {
            let mut list = ArrayOfTables::new();
            list.push(entry);
            table.insert("retired_key", Item::ArrayOfTables(list));
        }
        Some(item) => item
            .as_array_of_tables_mut()
            .ok_or_else(|| EditError::Shape {
                ward: ward.to_owned(),
                key: "retired_key",
            })?
            .push(entry),
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"# The ward office's config
[service]
admin_email = "admin@example.gov.vn"

[[ward]]
code = "hk.hb"   # Hàng Bạc
short = "HB"

[[ward]]
code = "hk.thd"
short = "THD"
signing_key = "keys/thd.key"

[[ward.account]]
address = "qrca.hk.thd1@example.org"
"#;

    fn retirement(compromised: bool) -> Retirement {
        Retirement {
            public_key: "A".repeat(43),
            since: jiff::civil::date(2026, 1, 2),
            until: jiff::civil::date(2026, 12, 5),
            compromised: compromised.then(|| {
                (
                    "2026-12-05T08:00:00Z"
                        .parse()
                        .unwrap_or_else(|e| panic!("{e}")),
                    "máy bị mất".to_owned(),
                )
            }),
        }
    }

    #[test]
    fn the_retired_key_is_added_to_its_ward_and_the_rest_is_kept() {
        let day = jiff::civil::date(2026, 12, 5);
        let out =
            retire_key(CONFIG, "hk.thd", &retirement(false), day).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.starts_with("# The ward office's config"), "{out}");
        assert!(out.contains("code = \"hk.hb\"   # Hàng Bạc"), "{out}");
        let parsed: toml::Value = toml::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
        let wards = parsed["ward"].as_array().unwrap_or_else(|| panic!("{out}"));
        assert!(wards[0].get("retired_key").is_none());
        let thd = &wards[1];
        assert_eq!(thd["signing_key_since"].as_str(), Some("2026-12-05"));
        assert_eq!(thd["account"].as_array().map(Vec::len), Some(1));
        let retired = thd["retired_key"]
            .as_array()
            .unwrap_or_else(|| panic!("{out}"));
        assert_eq!(retired[0]["since"].as_str(), Some("2026-01-02"));
        assert_eq!(retired[0]["until"].as_str(), Some("2026-12-05"));
        assert!(retired[0].get("compromised_from").is_none());
        // A second rotation adds a second entry.
        let again =
            retire_key(&out, "hk.thd", &retirement(true), day).unwrap_or_else(|e| panic!("{e}"));
        let parsed: toml::Value = toml::from_str(&again).unwrap_or_else(|e| panic!("{e}"));
        let retired = parsed["ward"][1]["retired_key"]
            .as_array()
            .unwrap_or_else(|| panic!("{again}"));
        assert_eq!(retired.len(), 2);
        assert_eq!(
            retired[1]["compromised_reason"].as_str(),
            Some("máy bị mất")
        );
        assert_eq!(
            retired[1]["compromised_from"].as_str(),
            Some("2026-12-05T08:00:00Z")
        );
    }

    #[test]
    fn a_missing_ward_or_bad_text_is_named() {
        let day = jiff::civil::date(2026, 12, 5);
        assert_eq!(
            retire_key(CONFIG, "hk.xx", &retirement(false), day),
            Err(EditError::NoSuchWard("hk.xx".into()))
        );
        assert!(matches!(
            retire_key("[[ward]\n", "hk.thd", &retirement(false), day),
            Err(EditError::Parse(_))
        ));
    }
}
