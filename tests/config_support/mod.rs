//! A temporary directory holding a valid two-ward config and its private files,
//! shared by the `config_*` integration tests. Each test edits `VALID` and checks
//! exactly what `qrca::config` says about the result.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use qrca::config::{self, ConfigError, Diagnostic, Loaded};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A valid config whose paths are relative to its own directory. Line numbers are
/// part of the tests' expectations: edit with care.
pub const VALID: &str = r#"[service]
admin_email = "admin@example.gov.vn"

[mail]
daily_send_limit = 500

[permits]
valid_days = 14

[[ward]]
code = "hoankiem.tranhungdao"
short = "THD"
name = "Phường Trần Hưng Đạo"
district = "Quận Hoàn Kiếm"
signing_key = "keys/thd.key"
officers = ["canbo.thd@example.gov.vn"]
police = ["congan.thd@example.gov.vn"]
area_police = ["cskv1.thd@example.gov.vn"]

[[ward.account]]
address = "qrca.hoankiem.tranhungdao1@gmail.com"
password_file = "secrets/thd1"

[[ward.account]]
address = "qrca.hoankiem.tranhungdao2@gmail.com"
password_env = "QRCA_THD2"

[[ward.account]]
address = "qrca.hoankiem.tranhungdao3@gmail.com"
oauth2 = { client_id = "id", client_secret_file = "secrets/client", refresh_token_file = "secrets/thd3.token" }

[[ward]]
code = "dongda.quoctugiam"
short = "QTG"
name = "Phường Quốc Tử Giám"
district = "Quận Đống Đa"
signing_key = "keys/qtg.key"
officers = ["canbo.qtg@example.gov.vn"]
police = ["congan.qtg@example.gov.vn"]

[[ward.account]]
address = "qrca.dongda.quoctugiam1@gmail.com"
password_file = "secrets/qtg1"

[[ward.account]]
address = "qrca.dongda.quoctugiam2@gmail.com"
password_file = "secrets/qtg2"

[[ward.account]]
address = "qrca.dongda.quoctugiam3@gmail.com"
password_file = "secrets/qtg3"
imap = { host = "127.0.0.1", port = 1143, tls = "none" }
max_message_bytes = 10000000
"#;

/// The private files `VALID` names, relative to the config's directory.
pub const SECRETS: &[&str] = &[
    "keys/thd.key",
    "keys/qtg.key",
    "secrets/thd1",
    "secrets/client",
    "secrets/thd3.token",
    "secrets/qtg1",
    "secrets/qtg2",
    "secrets/qtg3",
];

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// A directory with every file of `SECRETS`, mode 0600.
    pub fn new() -> Fixture {
        let fixture = Fixture {
            dir: tempfile::tempdir().unwrap(),
        };
        for rel in SECRETS {
            fixture.private_file(rel);
        }
        fixture
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Where the config file is (or would be) written.
    pub fn config_path(&self) -> PathBuf {
        self.root().join("qrca.toml")
    }

    /// Creates (or rewrites) a file with mode 0600.
    pub fn private_file(&self, rel: &str) -> PathBuf {
        let path = self.root().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "not really a secret\n").unwrap();
        self.chmod(rel, 0o600);
        path
    }

    pub fn chmod(&self, rel: &str, mode: u32) {
        fs::set_permissions(self.root().join(rel), fs::Permissions::from_mode(mode)).unwrap();
    }

    pub fn write_config(&self, text: &str) -> PathBuf {
        let path = self.config_path();
        fs::write(&path, text).unwrap();
        path
    }

    pub fn load(&self, text: &str) -> Result<Loaded, ConfigError> {
        config::load_str(text, &self.config_path())
    }

    /// Diagnostics as `line:column: message`, with the directory written `$DIR`.
    pub fn render(&self, diagnostics: &[Diagnostic]) -> Vec<String> {
        let dir = self.root().display().to_string();
        diagnostics
            .iter()
            .map(|d| {
                assert_eq!(d.file, self.config_path(), "{d}");
                format!("{}:{}: {}", d.line, d.column, d.message).replace(&dir, "$DIR")
            })
            .collect()
    }

    /// The errors of a config that must be invalid.
    pub fn errors(&self, text: &str) -> Vec<String> {
        match self.load(text) {
            Ok(_) => panic!("expected errors, the config loaded:\n{text}"),
            Err(ConfigError::Invalid(errors)) => {
                assert!(!errors.is_empty());
                self.render(&errors)
            }
            Err(e) => panic!("expected Invalid, got {e}"),
        }
    }

    /// The warnings of a config that must be valid.
    pub fn warnings(&self, text: &str) -> Vec<String> {
        match self.load(text) {
            Ok(loaded) => self.render(&loaded.warnings),
            Err(e) => panic!("expected a valid config, got: {e:#?}"),
        }
    }
}

/// `VALID` with each `(from, to)` replaced; every `from` must occur exactly once,
/// so a stale edit fails loudly instead of testing the unedited config.
pub fn edit(edits: &[(&str, &str)]) -> String {
    let mut text = VALID.to_owned();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "{from:?} must occur once");
        text = text.replace(from, to);
    }
    text
}
