//! Changes the admin's config file in place, keeping its comments and layout
//! (toml_edit): what `qrca keys rotate` records about a ward's keys, and the ward
//! `qrca setup` adds.
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

/// A new `[[ward]]` as `qrca setup` writes it: every path absolute, one
/// `[[ward.account]]` per `(address, password_file)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWard {
    pub code: String,
    pub short: String,
    pub name: String,
    pub district: String,
    pub signing_key: String,
    pub officers: Vec<String>,
    pub police: Vec<String>,
    pub area_police: Vec<String>,
    pub accounts: Vec<(String, String)>,
}

/// An account as the file has it: its address and its `password_file`, if any.
pub type FileAccount = (String, Option<String>);

/// The accounts of the ward `code` as the file has them, in order; `None` when the file
/// has no such ward.
pub fn ward_accounts(text: &str, code: &str) -> Result<Option<Vec<FileAccount>>, EditError> {
    let doc = parse(text)?;
    let Some(table) = doc
        .get("ward")
        .and_then(Item::as_array_of_tables)
        .and_then(|wards| {
            wards
                .iter()
                .find(|t| t.get("code").and_then(Item::as_str) == Some(code))
        })
    else {
        return Ok(None);
    };
    let accounts = table
        .get("account")
        .and_then(Item::as_array_of_tables)
        .map(|list| {
            list.iter()
                .map(|a| {
                    let get = |k: &str| a.get(k).and_then(Item::as_str).map(str::to_owned);
                    (get("address").unwrap_or_default(), get("password_file"))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(accounts))
}

/// `[service] admin_email` as the file has it, if it is a string.
pub fn admin_email(text: &str) -> Result<Option<String>, EditError> {
    let doc = parse(text)?;
    Ok(doc
        .get("service")
        .and_then(|s| s.get("admin_email"))
        .and_then(Item::as_str)
        .map(str::to_owned))
}

/// The config `text` with `[service] admin_email` set to `admin` (the table made if
/// missing); every comment and other line kept.
pub fn set_admin_email(text: &str, admin: &str) -> Result<String, EditError> {
    let mut doc = parse(text)?;
    doc["service"]["admin_email"] = value(admin);
    Ok(doc.to_string())
}

/// The config `text` with `ward` appended as the last `[[ward]]`; every comment and
/// other line kept.
pub fn add_ward(text: &str, ward: &NewWard) -> Result<String, EditError> {
    let mut doc = parse(text)?;
    let list = |items: &[String]| {
        let mut array: toml_edit::Array = items.iter().map(String::as_str).collect();
        array.set_trailing_comma(false);
        value(array)
    };
    let mut table = Table::new();
    table["code"] = value(ward.code.as_str());
    table["short"] = value(ward.short.as_str());
    table["name"] = value(ward.name.as_str());
    table["district"] = value(ward.district.as_str());
    table["signing_key"] = value(ward.signing_key.as_str());
    table["officers"] = list(&ward.officers);
    table["police"] = list(&ward.police);
    table["area_police"] = list(&ward.area_police);
    let mut accounts = ArrayOfTables::new();
    for (address, password_file) in &ward.accounts {
        let mut account = Table::new();
        account["address"] = value(address.as_str());
        account["password_file"] = value(password_file.as_str());
        accounts.push(account);
    }
    table.insert("account", Item::ArrayOfTables(accounts));
    match doc.get_mut("ward") {
        None => {
            let mut wards = ArrayOfTables::new();
            wards.push(table);
            doc.insert("ward", Item::ArrayOfTables(wards));
        }
        Some(item) => item
            .as_array_of_tables_mut()
            .ok_or_else(|| EditError::Shape {
                ward: ward.code.clone(),
                key: "ward",
            })?
            .push(table),
    }
    Ok(doc.to_string())
}

fn parse(text: &str) -> Result<DocumentMut, EditError> {
    text.parse()
        .map_err(|e: toml_edit::TomlError| EditError::Parse(e.to_string()))
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

    fn new_ward() -> NewWard {
        NewWard {
            code: "hk.new".into(),
            short: "NW".into(),
            name: "Phường Mới".into(),
            district: "Quận Hoàn Kiếm".into(),
            signing_key: "/etc/qrca/keys/hk.new.key".into(),
            officers: vec!["a@x.vn".into()],
            police: vec!["b@x.vn".into()],
            area_police: vec![],
            accounts: (1..=3)
                .map(|n| {
                    (
                        format!("q{n}@gmail.com"),
                        format!("/etc/qrca/secrets/hk.new.{n}"),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_new_ward_is_appended_and_reads_back() {
        let out = add_ward(CONFIG, &new_ward()).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.starts_with(CONFIG.trim_end()), "{out}");
        let parsed: toml::Value = toml::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
        let ward = &parsed["ward"][2];
        assert_eq!(ward["name"].as_str(), Some("Phường Mới"));
        assert_eq!(ward["account"].as_array().map(Vec::len), Some(3));
        assert_eq!(ward["area_police"].as_array().map(Vec::len), Some(0));
        let accounts = ward_accounts(&out, "hk.new").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            accounts.and_then(|a| a.into_iter().nth(2)),
            Some((
                "q3@gmail.com".to_owned(),
                Some("/etc/qrca/secrets/hk.new.3".to_owned())
            ))
        );
        assert_eq!(ward_accounts(&out, "hk.none"), Ok(None));
        // The first ward, in a file with a commented service and no ward at all.
        let bare = "# qrca\n[service]\n# admin_email = \"\"\n";
        let out = add_ward(bare, &new_ward()).unwrap_or_else(|e| panic!("{e}"));
        let out = set_admin_email(&out, "admin@x.vn").unwrap_or_else(|e| panic!("{e}"));
        assert!(out.contains("# admin_email"), "{out}");
        assert_eq!(admin_email(&out), Ok(Some("admin@x.vn".to_owned())));
        assert_eq!(admin_email(bare), Ok(None));
        let parsed: toml::Value = toml::from_str(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed["ward"][0]["code"].as_str(), Some("hk.new"));
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
