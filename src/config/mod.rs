//! The config (SPEC §7): TOML in, a validated `Config` out, or every error with
//! file, line, column and key.
//!
//! Owns reading the config file, its raw shape (`raw`), the one-pass-per-error
//! shape check (`shape`), the semantic checks (`validate`), the validated types
//! (`types`) and the account-name folding of SPEC §1 (`fold`). Nothing past this
//! module sees raw input: callers get a `Config` or a list of `Diagnostic`s. It must
//! not open network connections (`qrca check --connect` belongs to the transports),
//! read secrets' contents, or print; the CLI decides what to show.
//!
//! ```text
//! text ──shape──► RawConfig (+ shape errors) ──validate──► Config (+ warnings) | errors
//! ```

mod diag;
pub mod edit;
mod files;
pub mod fold;
pub mod raw;
mod shape;
mod types;
mod validate;

pub use diag::Diagnostic;
pub use raw::RawConfig;
pub use types::{
    Account, AccountAuth, City, Config, Endpoint, MailSettings, Paper, Permits, RetiredKey,
    RosterField, RosterSettings, Service, Tls, Ward,
};
pub use validate::{
    DEFAULT_MAX_VALID_DAYS, DEFAULT_STATE_DIR, DEFAULT_TIMEZONE, DEFAULT_VALID_DAYS, is_loopback,
};

use diag::Source;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where the config is looked for when neither `--config` nor `$QRCA_CONFIG` says.
pub const SYSTEM_CONFIG_PATH: &str = "/etc/qrca/qrca.toml";
/// The last resort: a config beside the working directory, for development.
pub const LOCAL_CONFIG_PATH: &str = "config/qrca.toml";
/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "QRCA_CONFIG";

/// A valid config and what is worth saying about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Problems that do not stop the daemon (account names, fewer than three accounts).
    pub warnings: Vec<Diagnostic>,
}

/// Choices for callers that need a config before everything it names exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Accept a ward whose signing key file does not exist yet: `qrca keys generate`
    /// needs the ward's config in order to create that key. A key that exists is
    /// still checked.
    pub allow_missing_signing_keys: bool,
}

/// Why there is no config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all (exit 2: unusable input).
    #[error("cannot read the config file {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read and is wrong; every problem found, in file order (exit 1).
    #[error("{}", Invalid(.0))]
    Invalid(Vec<Diagnostic>),
}

/// Displays a list of errors as one line: the first and how many more.
struct Invalid<'a>(&'a [Diagnostic]);

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("the config is invalid"),
            [one] => write!(f, "{one}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more errors)", rest.len()),
        }
    }
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    load_with(path, LoadOptions::default())
}

/// `load`, with options.
pub fn load_with(path: &Path, options: LoadOptions) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    load_text(&text, path, options)
}

/// Validates config text as if read from `path`: `path` names the file in
/// diagnostics and relative paths are resolved against its directory; the files
/// the config names are checked on disk.
pub fn load_str(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
    load_text(text, path, LoadOptions::default())
}

/// `load_str`, with options.
pub fn load_str_with(text: &str, path: &Path, options: LoadOptions) -> Result<Loaded, ConfigError> {
    load_text(text, path, options)
}

fn load_text(text: &str, path: &Path, options: LoadOptions) -> Result<Loaded, ConfigError> {
    let src = Source::new(path, text);
    let mut errors = Vec::new();
    let Some(shaped) = shape::read(&src, &mut errors) else {
        return Err(invalid(errors));
    };
    let base_dir = config_dir(path);
    let outcome = validate::Validator::new(&src, &base_dir, &shaped.removed, options).run(
        &shaped.raw,
        &shaped.root_span,
        path,
    );
    errors.extend(outcome.errors);
    match outcome.config {
        Some(config) if errors.is_empty() => Ok(Loaded {
            config,
            warnings: sorted(outcome.warnings),
        }),
        None if errors.is_empty() => {
            // Every path that gives up records why; should one not, still say no
            // with a position rather than return an empty list of errors.
            let d = src.diagnostic(
                &shaped.root_span,
                "the config could not be validated".to_owned(),
            );
            Err(invalid(vec![d]))
        }
        _ => Err(invalid(errors)),
    }
}

fn invalid(errors: Vec<Diagnostic>) -> ConfigError {
    ConfigError::Invalid(sorted(errors))
}

/// File order reads best: an admin fixes a config from the top.
fn sorted(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.sort_by_key(|d| (d.line, d.column));
    diagnostics
}

/// The absolute directory of the config file, against which relative paths count.
fn config_dir(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .parent()
        .map_or_else(PathBuf::new, Path::to_path_buf)
}

/// The config file to use: `--config`, then `$QRCA_CONFIG`, then
/// `/etc/qrca/qrca.toml` if it exists, then `config/qrca.toml` (SPEC §6).
pub fn resolve_path(cli: Option<PathBuf>) -> PathBuf {
    resolve_path_from(
        cli,
        std::env::var_os(CONFIG_ENV),
        Path::new(SYSTEM_CONFIG_PATH).exists(),
    )
}

fn resolve_path_from(cli: Option<PathBuf>, env: Option<OsString>, system_exists: bool) -> PathBuf {
    if let Some(path) = cli {
        return path;
    }
    if let Some(path) = env.filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    if system_exists {
        PathBuf::from(SYSTEM_CONFIG_PATH)
    } else {
        PathBuf::from(LOCAL_CONFIG_PATH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_the_path_in_spec_order() {
        let cli = Some(PathBuf::from("cli.toml"));
        let env = Some(OsString::from("env.toml"));
        assert_eq!(
            resolve_path_from(cli.clone(), env.clone(), true),
            PathBuf::from("cli.toml")
        );
        assert_eq!(
            resolve_path_from(None, env, true),
            PathBuf::from("env.toml")
        );
        assert_eq!(
            resolve_path_from(None, Some(OsString::new()), true),
            PathBuf::from(SYSTEM_CONFIG_PATH)
        );
        assert_eq!(
            resolve_path_from(None, None, true),
            PathBuf::from(SYSTEM_CONFIG_PATH)
        );
        assert_eq!(
            resolve_path_from(None, None, false),
            PathBuf::from(LOCAL_CONFIG_PATH)
        );
    }

    #[test]
    fn an_invalid_config_displays_as_one_line() {
        let d = |line| Diagnostic {
            file: PathBuf::from("c.toml"),
            line,
            column: 1,
            message: "bad".to_owned(),
        };
        assert_eq!(
            ConfigError::Invalid(vec![d(1)]).to_string(),
            "c.toml:1:1: bad"
        );
        assert_eq!(
            ConfigError::Invalid(vec![d(1), d(2), d(3)]).to_string(),
            "c.toml:1:1: bad (and 2 more errors)"
        );
    }
}
