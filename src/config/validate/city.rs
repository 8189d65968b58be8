//! `[city]` (issue 13): the city's name, signing key, checkpoint addresses, publication
//! rhythm, activation codes' lifetime, and `[city.account]`, checked by the same code
//! as a `[[ward.account]]`. A config with `[city]` has no `[[ward]]`, and its
//! `service.admin_email`, when given, is the city account's address.

use super::mail::LayerTables;
use super::wards::Seen;
use super::{Validator, key_in};
use crate::config::raw::{RawCity, RawConfig};
use crate::config::types::{City, MailSettings, Service};
use toml::Spanned;

const T: &str = "[city]";
const CITY_ACCOUNT_TABLES: LayerTables = LayerTables {
    table: "[city.account]",
    imap: "[city.account.imap]",
    smtp: "[city.account.smtp]",
};

/// `(key, default, min, max)` of the city's numbers.
/// As `permit::checkpoint`'s `DEFAULT_FRESH_HOURS` and `STALE_DAYS` (the config may
/// not depend on `permit`, which reads it).
const FRESH_HOURS: (&str, i64, i64, i64) = ("fresh_hours", 72, 1, 7 * 24);
// 0: every change goes out at once (a small city, the end-to-end tests).
const AT_MOST_MINUTES: (&str, i64, i64, i64) = ("publish_at_most_every_minutes", 60, 0, 1440);
const AT_LEAST_HOURS: (&str, i64, i64, i64) = ("publish_at_least_every_hours", 24, 1, 168);
const CODE_HOURS: (&str, i64, i64, i64) = ("activation_codes_valid_hours", 72, 1, 720);

impl Validator<'_> {
    /// `None` on an error; `Some(None)` when the config has no `[city]`.
    pub(super) fn city(
        &mut self,
        raw: &RawConfig,
        defaults: &MailSettings,
    ) -> Option<Option<City>> {
        let Some(city) = &raw.city else {
            return Some(None);
        };
        if let Some(first) = raw.ward.first() {
            self.error(
                &first.span(),
                "a config with [city] has no [[ward]]: the city and each ward run from their own config".to_owned(),
            );
        }
        let span = city.span();
        let c = city.get_ref();
        let name = self
            .required(&c.name, &span, "name", T)
            .and_then(|v| self.text(v, &key_in("name", T)));
        let signing_key = self.city_key(c, &span);
        let checkpoints = self
            .required(&c.checkpoints, &span, "checkpoints", T)
            .and_then(|list| self.address_list(list, "checkpoints", T, true));
        let fresh_hours = self.number(c.fresh_hours.as_ref(), FRESH_HOURS);
        let at_most = self.number(c.publish_at_most_every_minutes.as_ref(), AT_MOST_MINUTES);
        let at_least = self.number(c.publish_at_least_every_hours.as_ref(), AT_LEAST_HOURS);
        let code_hours = self.number(c.activation_codes_valid_hours.as_ref(), CODE_HOURS);
        if let (Some(fresh), Some(every), Some(v)) =
            (fresh_hours, at_least, &c.publish_at_least_every_hours)
            && every > fresh
        {
            self.error(
                &v.span(),
                format!("key \"publish_at_least_every_hours\" in {T} is {every}, longer than fresh_hours ({fresh}): checkpoints' pages would turn amber before the next one arrives"),
            );
        }
        let account = match &c.account {
            Some(account) => {
                let mut seen = Seen::default();
                self.account(
                    account,
                    "the city",
                    defaults,
                    None,
                    &mut seen,
                    &CITY_ACCOUNT_TABLES,
                )
            }
            None => {
                self.required(&c.account, &span, "account", T);
                None
            }
        };
        Some(Some(City {
            name: name?,
            signing_key: signing_key?,
            checkpoints: checkpoints?.into_iter().map(|(a, _)| a).collect(),
            fresh_hours: fresh_hours?,
            publish_at_most_every_minutes: at_most?,
            publish_at_least_every_hours: at_least?,
            activation_codes_valid_hours: code_hours?,
            account: account?,
        }))
    }

    fn city_key(
        &mut self,
        c: &RawCity,
        span: &std::ops::Range<usize>,
    ) -> Option<std::path::PathBuf> {
        let v = self.required(&c.signing_key, span, "signing_key", T)?;
        let missing_ok = self.options.allow_missing_signing_keys;
        self.secret_file(
            v,
            &key_in("signing_key", T),
            "signing key",
            "; create it with qrca city keys generate",
            missing_ok,
        )
    }

    fn number(
        &mut self,
        v: Option<&Spanned<i64>>,
        (key, default, min, max): (&str, i64, i64, i64),
    ) -> Option<u32> {
        let n = match v {
            Some(v) => self.integer(v, key, T, min, max)?,
            None => default,
        };
        u32::try_from(n).ok()
    }

    /// The city is its own admin: `service.admin_email` is filled in from the city
    /// account, or must be that account.
    pub(super) fn admin_is_the_city(
        &mut self,
        raw: &RawConfig,
        service: &mut Service,
        city: Option<&Option<City>>,
    ) {
        let Some(Some(city)) = city else {
            return;
        };
        let address = &city.account.address;
        if service.admin_email.is_empty() {
            service.admin_email = address.clone();
            return;
        }
        if service.admin_email != *address {
            let given = raw
                .service
                .as_ref()
                .and_then(|s| s.get_ref().admin_email.as_ref());
            if let Some(v) = given {
                self.error(
                    &v.span(),
                    format!(
                        "key \"admin_email\" in [service] is {}, but the city reads and sends as {address} ([city.account]); the wards mail admin_email, so the two must be the same",
                        service.admin_email
                    ),
                );
            }
        }
    }
}
