//! The config file as TOML says it (SPEC §7): `RawConfig` and its tables.
//!
//! Owns the shape of the file: which tables and keys exist and what type each value
//! has. Every table denies unknown keys. Integers are read as `i64` and their
//! ranges checked by `validate`, so that "port 0" and "port 70000" get the same
//! sentence. Every key is optional here and carries its
//! span, so that the validator can report a missing key, or a bad value, at its line
//! and column, and list every such problem at once instead of stopping at the first.
//! Nothing here judges a value; `validate` does, and nothing past `validate` sees
//! these types.
//!
//! Defaults, applied by `validate` when a key is absent:
//!
//! | key | default |
//! |---|---|
//! | `service.state_dir` | `/var/lib/qrca` |
//! | `service.templates_dir` | none: the built-in templates |
//! | `service.timezone` | `Asia/Ho_Chi_Minh` |
//! | `service.daily_report_at` | `07:00` (the officers' daily report, local time) |
//! | `service.trust_network` | `true`: answer the city's activation codes and mail it the signed revocation list (SPEC §9) |
//! | `mail.imap` | `{ host = "imap.gmail.com", port = 993, tls = "implicit" }` |
//! | `mail.smtp` | `{ host = "smtp.gmail.com", port = 465, tls = "implicit" }` |
//! | `*.tls` | `implicit` |
//! | `*.port` | by protocol and `tls`: IMAP 993 / 143 / 143, SMTP 465 / 587 / 25 for implicit / starttls / none |
//! | `mail.ca_file` | none (`""` also means none) |
//! | `mail.daily_send_limit` | 500 |
//! | `mail.max_message_bytes` | 20000000 |
//! | `mail.processed_folder` | `QRCA/Processed` |
//! | `mail.quarantine_folder` | `QRCA/Quarantine` |
//! | `mail.answers_per_sender_per_day` | 20 |
//! | `mail.trusted_authserv_ids` | `["mx.google.com"]` |
//! | `permits.paper` | `A6` |
//! | `permits.valid_days` | 14 (unless `valid_until` is set); at most `max_valid_days` |
//! | `permits.max_valid_days` | 30 (1–366; a longer row or `valid_until` is capped at issue) |
//! | `ward.area_police` | none |
//!
//! Required: `service.admin_email`; per ward `code`, `short`, `name`, `district`,
//! `signing_key`, `officers`, `police` and at least one `[[ward.account]]`; per
//! account `address` and exactly one of `password_file`, `password_env`, `oauth2`.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A string value with its place in the file.
pub type Str = Spanned<String>;
/// An array of strings, with the place of the array and of each item.
pub type StrList = Spanned<Vec<Str>>;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub service: Option<Spanned<RawService>>,
    pub mail: Option<Spanned<RawMail>>,
    pub permits: Option<Spanned<RawPermits>>,
    pub roster: Option<Spanned<RawRoster>>,
    #[serde(default)]
    pub ward: Vec<Spanned<RawWard>>,
    pub city: Option<Spanned<RawCity>>,
    pub standby: Option<Spanned<RawStandby>>,
}

/// `[standby]` (issue 14): the journal that lets a second PC take over.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStandby {
    pub journal_key: Option<Str>,
    pub account: Option<Str>,
    pub folder: Option<Str>,
    pub snapshot_every: Option<Spanned<i64>>,
}

/// `[service]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub state_dir: Option<Str>,
    pub templates_dir: Option<Str>,
    pub timezone: Option<Str>,
    pub daily_report_at: Option<Str>,
    pub admin_email: Option<Str>,
    pub trust_network: Option<bool>,
}

/// `[mail]`: the defaults for every account.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMail {
    pub imap: Option<Spanned<RawEndpoint>>,
    pub smtp: Option<Spanned<RawEndpoint>>,
    pub ca_file: Option<Str>,
    pub daily_send_limit: Option<Spanned<i64>>,
    pub max_message_bytes: Option<Spanned<i64>>,
    pub processed_folder: Option<Str>,
    pub quarantine_folder: Option<Str>,
    pub answers_per_sender_per_day: Option<Spanned<i64>>,
    pub trusted_authserv_ids: Option<StrList>,
}

/// `imap = { host, port, tls }` or `smtp = { … }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub host: Option<Str>,
    pub port: Option<Spanned<i64>>,
    /// `implicit`, `starttls` or `none`; read as a string so that a wrong word gets
    /// the config's own error message rather than serde's.
    pub tls: Option<Str>,
}

/// `[permits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPermits {
    /// `A6` or `A5`.
    pub paper: Option<Str>,
    pub valid_days: Option<Spanned<i64>>,
    /// `"YYYY-MM-DD"` or a TOML date; any value is accepted here and judged later,
    /// so that both spellings work.
    pub valid_until: Option<Spanned<toml::Value>>,
    /// The longest a permit may last, in days (first and last included).
    pub max_valid_days: Option<Spanned<i64>>,
    /// CUPS queue names, tried in order (issue 15).
    pub printers: Option<StrList>,
    /// The case kinds whose print sheets go to the printers: `T`, `C`, `H`.
    pub print_kinds: Option<StrList>,
}

/// `[roster]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoster {
    /// Roster field name (`name`, `id_number`, …) → extra column headers.
    pub synonyms: Option<BTreeMap<Str, StrList>>,
}

/// `[[ward]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWard {
    pub code: Option<Str>,
    pub short: Option<Str>,
    pub name: Option<Str>,
    pub district: Option<Str>,
    pub signing_key: Option<Str>,
    pub signing_key_since: Option<Spanned<toml::Value>>,
    pub officers: Option<StrList>,
    pub police: Option<StrList>,
    pub area_police: Option<StrList>,
    #[serde(default)]
    pub account: Vec<Spanned<RawAccount>>,
    #[serde(default)]
    pub retired_key: Vec<Spanned<RawRetiredKey>>,
}

/// `[[ward.retired_key]]`: a key the ward signed with before, kept so that checkpoints
/// still accept the permits it signed (verify only; no private half is needed).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetiredKey {
    pub public_key: Option<Str>,
    pub since: Option<Spanned<toml::Value>>,
    pub until: Option<Spanned<toml::Value>>,
    /// When the key was lost or stolen (RFC 3339): the key is then revoked as a whole
    /// in `qrca keys revocations`, with `compromised_reason`. Both or neither.
    pub compromised_from: Option<Spanned<toml::Value>>,
    pub compromised_reason: Option<Str>,
}

/// `[[ward.account]]`: the address, one way to log in, and any `[mail]` key to
/// override. The overrides are listed one by one because serde's `flatten` does not
/// work together with `deny_unknown_fields`; `RawAccount::mail` and `RawMail::layer`
/// give both the same view.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    pub address: Option<Str>,
    pub password_file: Option<Str>,
    pub password_env: Option<Str>,
    pub oauth2: Option<Spanned<RawOAuth2>>,
    pub imap: Option<Spanned<RawEndpoint>>,
    pub smtp: Option<Spanned<RawEndpoint>>,
    pub ca_file: Option<Str>,
    pub daily_send_limit: Option<Spanned<i64>>,
    pub max_message_bytes: Option<Spanned<i64>>,
    pub processed_folder: Option<Str>,
    pub quarantine_folder: Option<Str>,
    pub answers_per_sender_per_day: Option<Spanned<i64>>,
    pub trusted_authserv_ids: Option<StrList>,
}

/// `oauth2 = { client_id, client_secret_file, refresh_token_file }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth2 {
    pub client_id: Option<Str>,
    pub client_secret_file: Option<Str>,
    pub refresh_token_file: Option<Str>,
}

/// The `[mail]` keys of a table, whether `[mail]` itself or an account's overrides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MailLayer<'a> {
    pub imap: Option<&'a Spanned<RawEndpoint>>,
    pub smtp: Option<&'a Spanned<RawEndpoint>>,
    pub ca_file: Option<&'a Str>,
    pub daily_send_limit: Option<&'a Spanned<i64>>,
    pub max_message_bytes: Option<&'a Spanned<i64>>,
    pub processed_folder: Option<&'a Str>,
    pub quarantine_folder: Option<&'a Str>,
    pub answers_per_sender_per_day: Option<&'a Spanned<i64>>,
    pub trusted_authserv_ids: Option<&'a StrList>,
}

impl RawMail {
    pub(crate) fn layer(&self) -> MailLayer<'_> {
        MailLayer {
            imap: self.imap.as_ref(),
            smtp: self.smtp.as_ref(),
            ca_file: self.ca_file.as_ref(),
            daily_send_limit: self.daily_send_limit.as_ref(),
            max_message_bytes: self.max_message_bytes.as_ref(),
            processed_folder: self.processed_folder.as_ref(),
            quarantine_folder: self.quarantine_folder.as_ref(),
            answers_per_sender_per_day: self.answers_per_sender_per_day.as_ref(),
            trusted_authserv_ids: self.trusted_authserv_ids.as_ref(),
        }
    }
}

impl RawAccount {
    pub(crate) fn mail(&self) -> MailLayer<'_> {
        MailLayer {
            imap: self.imap.as_ref(),
            smtp: self.smtp.as_ref(),
            ca_file: self.ca_file.as_ref(),
            daily_send_limit: self.daily_send_limit.as_ref(),
            max_message_bytes: self.max_message_bytes.as_ref(),
            processed_folder: self.processed_folder.as_ref(),
            quarantine_folder: self.quarantine_folder.as_ref(),
            answers_per_sender_per_day: self.answers_per_sender_per_day.as_ref(),
            trusted_authserv_ids: self.trusted_authserv_ids.as_ref(),
        }
    }
}

/// `[city]`: the city's side of the trust network (issue 13); a config with it has no
/// `[[ward]]`. Defaults: `fresh_hours` 72, `publish_at_most_every_minutes` 60,
/// `publish_at_least_every_hours` 24, `activation_codes_valid_hours` 72.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCity {
    pub name: Option<Str>,
    pub signing_key: Option<Str>,
    pub checkpoints: Option<StrList>,
    pub fresh_hours: Option<Spanned<i64>>,
    pub publish_at_most_every_minutes: Option<Spanned<i64>>,
    pub publish_at_least_every_hours: Option<Spanned<i64>>,
    pub activation_codes_valid_hours: Option<Spanned<i64>>,
    /// `[city.account]`: the admin account, with the keys of a `[[ward.account]]`.
    pub account: Option<Spanned<RawAccount>>,
}
