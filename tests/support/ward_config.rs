//! A config file written for a test or a bench: wards with their people and accounts,
//! their signing keys made (or not), loaded through `config::load` as the daemon would.
//!
//! Include it with `#[path = "support/ward_config.rs"] mod ward_config;` (from
//! `benches/`, `#[path = "../tests/support/ward_config.rs"]`).
#![allow(dead_code)]

use qrca::config::{self, Config, LoadOptions};
use std::path::Path;

/// One `[[ward]]`: its key goes to `keys/<code>.key`; each account logs in with an
/// unset `password_env` (nothing here connects).
pub struct WardSpec<'a> {
    pub code: &'a str,
    pub short: &'a str,
    pub name: &'a str,
    pub officers: &'a [&'a str],
    pub police: &'a [&'a str],
    pub area_police: &'a [&'a str],
    pub accounts: &'a [&'a str],
}

/// Phường Hàng Bạc, the second ward the tests keep apart from the first.
pub const HANG_BAC: WardSpec<'static> = WardSpec {
    code: "hoankiem.hangbac",
    short: "HB",
    name: "Phường Hàng Bạc",
    officers: &["canbo.hb@example.gov.vn"],
    police: &["congan.hb@example.gov.vn"],
    area_police: &["cskv.hb@example.gov.vn"],
    accounts: &["qrca.hoankiem.hangbac1@gmail.com"],
};

/// Writes `dir/qrca.toml` for `wards` (Quận Hoàn Kiếm, Gmail's authserv-id trusted),
/// makes each ward's signing key when `keys` is set, and loads it.
pub fn write_config(dir: &Path, wards: &[WardSpec<'_>], keys: bool) -> Config {
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = String::from(
        "[service]\nstate_dir = \"state\"\nadmin_email = \"admin@example.gov.vn\"\n\n\
         [mail]\ntrusted_authserv_ids = [\"mx.google.com\"]\n",
    );
    let mut env = 0;
    for ward in wards {
        if keys {
            qrca::keys::generate(&dir.join(format!("keys/{}.key", ward.code)))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        text.push_str(&format!(
            "\n[[ward]]\ncode = \"{code}\"\nshort = \"{short}\"\nname = \"{name}\"\n\
             district = \"Quận Hoàn Kiếm\"\nsigning_key = \"keys/{code}.key\"\n\
             officers = [{officers}]\npolice = [{police}]\narea_police = [{area}]\n",
            code = ward.code,
            short = ward.short,
            name = ward.name,
            officers = list(ward.officers),
            police = list(ward.police),
            area = list(ward.area_police),
        ));
        for account in ward.accounts {
            env += 1;
            text.push_str(&format!(
                "[[ward.account]]\naddress = \"{account}\"\npassword_env = \"UNUSED_{env}\"\n"
            ));
        }
    }
    let path = dir.join("qrca.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let options = LoadOptions {
        allow_missing_signing_keys: !keys,
    };
    match config::load_with(&path, options) {
        Ok(loaded) => loaded.config,
        Err(e) => panic!("{e}"),
    }
}
