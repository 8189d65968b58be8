//! `[standby]` (issue 14): the journal key (a secret file, as the signing keys), the
//! account whose mailbox holds the journal (one of the config's accounts; default: the
//! first ward's first), the folder, and how often a snapshot is written.

use super::{Validator, key_in};
use crate::config::raw::RawStandby;
use crate::config::types::{Standby, Ward};
use toml::Spanned;

const T: &str = "[standby]";
/// The journal's folder when the config names none.
pub const DEFAULT_FOLDER: &str = "QRCA/Journal";
const SNAPSHOT_EVERY: (i64, i64, i64) = (2000, 10, 1_000_000);

impl Validator<'_> {
    /// `None` on an error; `Some(None)` when the config has no `[standby]`.
    pub(super) fn standby(
        &mut self,
        raw: Option<&Spanned<RawStandby>>,
        wards: &[Ward],
    ) -> Option<Option<Standby>> {
        let Some(raw) = raw else {
            return Some(None);
        };
        let span = raw.span();
        let s = raw.get_ref();
        let journal_key = self
            .required(&s.journal_key, &span, "journal_key", T)
            .and_then(|v| {
                let missing_ok = self.options.allow_missing_signing_keys;
                self.secret_file(
                    v,
                    &key_in("journal_key", T),
                    "journal key",
                    "; create it with qrca keys journal, then copy it to the other PC",
                    missing_ok,
                )
            });
        let first = wards
            .first()
            .and_then(|w| w.accounts.first())
            .map(|a| a.address.clone());
        let account = match &s.account {
            Some(v) => {
                let address = self.address(v, &key_in("account", T))?;
                let known = wards
                    .iter()
                    .flat_map(|w| &w.accounts)
                    .any(|a| a.address.eq_ignore_ascii_case(&address));
                if !known {
                    self.error(
                        &v.span(),
                        format!("key \"account\" in {T} is {address}, which is no account of this config: the journal lives in one of the ward's own mailboxes"),
                    );
                    return None;
                }
                Some(address.to_lowercase())
            }
            None => {
                if first.is_none() {
                    self.error(
                        &span,
                        format!("{T} needs a ward with an account: the journal lives in the ward's first account"),
                    );
                }
                first
            }
        };
        let folder = match &s.folder {
            Some(v) => self.text(v, &key_in("folder", T))?,
            None => DEFAULT_FOLDER.to_owned(),
        };
        let (default, min, max) = SNAPSHOT_EVERY;
        let snapshot_every = match &s.snapshot_every {
            Some(v) => self.integer(v, "snapshot_every", T, min, max)?,
            None => default,
        };
        Some(Some(Standby {
            journal_key: journal_key?,
            account: account?,
            folder,
            snapshot_every: u32::try_from(snapshot_every).ok()?,
        }))
    }
}
