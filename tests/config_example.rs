//! `config/qrca.example.toml` is a working config: moved under a temporary /etc/qrca
//! with its secret files in place, it loads with no error and no warning.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config_support;

use config_support::Fixture;
use qrca::config::{self, AccountAuth, RosterField, Tls};

const EXAMPLE: &str = include_str!("../config/qrca.example.toml");

#[test]
fn the_example_config_loads_cleanly() {
    let fixture = Fixture::new();
    let etc = fixture.root().join("etc/qrca");
    let text = EXAMPLE.replace("/etc/qrca/", &format!("{}/", etc.display()));
    // Every absolute path it names must have been moved, or the test proves nothing.
    assert!(
        !text.contains("\"/etc/qrca"),
        "an /etc/qrca path was not rewritten"
    );
    let secrets: Vec<String> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(|line| line.split('"'))
        .filter(|s| s.starts_with(&etc.display().to_string()))
        .map(str::to_owned)
        .collect();
    // Two signing keys, four passwords, an OAuth2 client secret and a refresh token.
    assert_eq!(secrets.len(), 8, "{secrets:#?}");
    for path in &secrets {
        let rel = path
            .strip_prefix(&format!("{}/", fixture.root().display()))
            .unwrap();
        fixture.private_file(rel);
    }
    let path = fixture.write_config(&text);
    let loaded = match config::load(&path) {
        Ok(loaded) => loaded,
        Err(config::ConfigError::Invalid(errors)) => {
            panic!(
                "{}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
        Err(e) => panic!("{e}"),
    };
    assert_eq!(loaded.warnings, []);

    let config = loaded.config;
    assert_eq!(config.wards.len(), 2);
    assert_eq!(config.account_count(), 6);
    assert_eq!(config.roster.synonyms.len(), 3);
    assert_eq!(config.permits.max_valid_days, 30);
    assert!(config.roster.synonyms.contains_key(&RosterField::Route));

    let thd = config.ward("hoankiem.tranhungdao").unwrap();
    assert_eq!(thd.rules.short, "THD");
    assert_eq!(thd.rules.name, "Phường Trần Hưng Đạo");
    assert_eq!(thd.signing_key, etc.join("keys/hoankiem.tranhungdao.key"));
    assert!(matches!(thd.accounts[0].auth, AccountAuth::PasswordFile(_)));
    assert!(matches!(thd.accounts[1].auth, AccountAuth::PasswordEnv(_)));
    assert!(matches!(thd.accounts[2].auth, AccountAuth::OAuth2 { .. }));
    assert!(thd.rules.require_auth);

    let qtg = config.ward("dongda.quoctugiam").unwrap();
    assert_eq!(qtg.rules.officers.len(), 2);
    let overridden = &qtg.accounts[2].mail;
    assert_eq!(overridden.daily_send_limit, 100);
    assert_eq!(overridden.processed_folder, "QRCA/Processed-3");
    assert_eq!(overridden.imap, config.mail.imap);
    assert_eq!(config.mail.imap.tls, Tls::Implicit);
    assert_eq!(qtg.accounts[0].mail, config.mail);
}
