//! `[[ward]]`: each ward's code, short code, names, signing key and retired keys, its
//! officers, police and area police, and (through `accounts`) its accounts; `Seen`
//! remembers what earlier wards claimed, so a repeated code, short code or address is
//! named with the line that first claimed it.

use super::{Validator, key_in};
use crate::config::fold;
use crate::config::raw::{RawRetiredKey, RawWard, Str, StrList};
use crate::config::types::{Compromise, MailSettings, RetiredKey, Ward};
use crate::workflow::{Validity, WardRules};
use std::collections::HashMap;
use std::ops::Range;
use toml::Spanned;

const WARD_TABLE: &str = "[[ward]]";
const RETIRED_KEY_TABLE: &str = "[[ward.retired_key]]";

/// What earlier wards claimed, to find what later wards repeat.
#[derive(Default)]
pub(super) struct Seen {
    /// Ward code → line of its `code`.
    codes: HashMap<String, usize>,
    /// Short code → line of its `short`.
    shorts: HashMap<String, usize>,
    /// Account address → (its ward, as messages name it; line).
    pub(super) accounts: HashMap<String, (String, usize)>,
    /// Officer, police and area police addresses, with where and how to name them.
    roles: Vec<(String, Range<usize>, String)>,
}

impl Validator<'_> {
    pub(super) fn wards(
        &mut self,
        raw: &[Spanned<RawWard>],
        root_span: &Range<usize>,
        defaults: &MailSettings,
        validity: (Validity, u32),
    ) -> Option<Vec<Ward>> {
        if raw.is_empty() && !self.removed.contains(root_span, "ward") {
            self.error(
                root_span,
                "the config has no [[ward]]; at least one ward is required (qrca setup --ward CODE adds one)".to_owned(),
            );
            return None;
        }
        let mut seen = Seen::default();
        let mut wards = Vec::new();
        let mut ok = true;
        for ward in raw {
            match self.ward(ward, defaults, validity, &mut seen) {
                Some(w) => wards.push(w),
                None => ok = false,
            }
        }
        // The daemon never answers its own accounts (SPEC §3), so an account that is
        // also an officer could never decide anything.
        for (address, span, what) in std::mem::take(&mut seen.roles) {
            if let Some((ward, line)) = seen.accounts.get(&address) {
                let msg = format!(
                    "{what}: \"{address}\" is also an account of ward {ward} (line {line}); qrca ignores mail from its own accounts, so use a person's own address"
                );
                self.error(&span, msg);
                ok = false;
            }
        }
        ok.then_some(wards)
    }

    fn ward(
        &mut self,
        raw: &Spanned<RawWard>,
        defaults: &MailSettings,
        validity: (Validity, u32),
        seen: &mut Seen,
    ) -> Option<Ward> {
        const T: &str = WARD_TABLE;
        let span = raw.span();
        let w = raw.get_ref();
        let code = self
            .required(&w.code, &span, "code", T)
            .and_then(|v| self.ward_code(v, seen));
        let short = self
            .required(&w.short, &span, "short", T)
            .and_then(|v| self.ward_short(v, seen));
        let name = self
            .required(&w.name, &span, "name", T)
            .and_then(|v| self.text(v, &key_in("name", T)));
        let district = self
            .required(&w.district, &span, "district", T)
            .and_then(|v| self.text(v, &key_in("district", T)));
        let label = match &code {
            Some(code) => format!("\"{code}\""),
            None => format!("at line {}", self.line(&span)),
        };
        let signing_key = self
            .required(&w.signing_key, &span, "signing_key", T)
            .and_then(|v| {
                let hint = match &code {
                    Some(code) => format!("; create it with qrca keys generate --ward {code}"),
                    None => String::new(),
                };
                let missing_ok = self.options.allow_missing_signing_keys;
                self.secret_file(
                    v,
                    &key_in("signing_key", T),
                    "signing key",
                    &hint,
                    missing_ok,
                )
            });
        let signing_key_since = w
            .signing_key_since
            .as_ref()
            .map(|v| self.date(v, "signing_key_since", T));
        let retired_keys: Vec<Option<RetiredKey>> =
            w.retired_key.iter().map(|k| self.retired_key(k)).collect();
        let officers = self.role_list(&w.officers, &span, "officers", true, seen);
        let police = self.role_list(&w.police, &span, "police", true, seen);
        let area_police = self.role_list(&w.area_police, &span, "area_police", false, seen);

        let expected = match (&district, &name) {
            (Some(d), Some(n)) => fold::suggest(d, n).ok(),
            _ => None,
        };
        let accounts = self.accounts(raw, &label, defaults, expected.as_ref(), seen);

        let accounts = accounts?;
        // The accounts agree (`one_authentication_rule`), so any one of them speaks for
        // the ward, and each reads Authentication-Results with the ward's servers.
        let require_auth = accounts
            .iter()
            .any(|a| !a.mail.trusted_authserv_ids.is_empty());
        Some(Ward {
            rules: WardRules {
                code: code?,
                short: short?,
                name: name?,
                district: district?,
                officers: officers?,
                police: police?,
                area_police: area_police?,
                validity: validity.0,
                max_valid_days: validity.1,
                require_auth,
                // `[permits] print_kinds`, set by the caller for every ward.
                print_kinds: Vec::new(),
            },
            signing_key: signing_key?,
            signing_key_since: signing_key_since.map_or(Some(None), |d| d.map(Some))?,
            retired_keys: retired_keys.into_iter().collect::<Option<_>>()?,
            accounts,
        })
    }

    /// `[[ward.retired_key]]`: a valid Ed25519 public key, base64url (no padding) of
    /// 32 bytes as `qrca keys trust-list` prints it, its `since` ≤ `until` dates, and,
    /// for a key lost or stolen, both `compromised_from` and `compromised_reason`.
    fn retired_key(&mut self, raw: &Spanned<RawRetiredKey>) -> Option<RetiredKey> {
        const T: &str = RETIRED_KEY_TABLE;
        let span = raw.span();
        let k = raw.get_ref();
        let public_key = self.required(&k.public_key, &span, "public_key", T).and_then(|v| {
            let text = v.get_ref().trim();
            let key = data_encoding::BASE64URL_NOPAD
                .decode(text.as_bytes())
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .filter(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_ok());
            if key.is_none() {
                self.error(
                    &v.span(),
                    format!("key \"public_key\" in {T} must be an Ed25519 public key as the trust list prints it (43 characters of base64url), not \"{text}\""),
                );
            }
            key
        });
        let since = self
            .required(&k.since, &span, "since", T)
            .and_then(|v| self.date(v, "since", T));
        let until = self
            .required(&k.until, &span, "until", T)
            .and_then(|v| self.date(v, "until", T));
        let compromised = self.compromise(k);
        if let (Some(since), Some(until)) = (since, until)
            && until < since
        {
            self.error(
                &span,
                format!("in {T}, \"until\" ({until}) is before \"since\" ({since})"),
            );
            return None;
        }
        Some(RetiredKey {
            public_key: public_key?,
            since: since?,
            until: until?,
            compromised: compromised?,
        })
    }

    /// A retired key's `compromised_from` (an RFC 3339 time) and `compromised_reason`:
    /// both, or neither (`Some(None)`); `None` after an error.
    fn compromise(&mut self, k: &RawRetiredKey) -> Option<Option<Compromise>> {
        const T: &str = RETIRED_KEY_TABLE;
        let from = k.compromised_from.as_ref().map(|v| {
            let text = match v.get_ref() {
                toml::Value::String(s) => s.trim().to_owned(),
                other => other.to_string(),
            };
            let from = text.parse::<jiff::Timestamp>().ok();
            if from.is_none() {
                self.error(
                    &v.span(),
                    format!("key \"compromised_from\" in {T} must be a time written as RFC 3339, like \"2021-09-15T09:00:00+07:00\", not {}", v.get_ref()),
                );
            }
            (from, v.span())
        });
        let reason = k
            .compromised_reason
            .as_ref()
            .map(|v| (self.text(v, &key_in("compromised_reason", T)), v.span()));
        match (from, reason) {
            (None, None) => Some(None),
            (Some((from, _)), Some((reason, _))) => Some(Some(Compromise {
                from: from?,
                reason: reason?,
            })),
            (Some((_, at)), None) => {
                self.error(
                    &at,
                    format!("key \"compromised_from\" in {T} needs \"compromised_reason\" beside it: give both or neither"),
                );
                None
            }
            (None, Some((_, at))) => {
                self.error(
                    &at,
                    format!("key \"compromised_reason\" in {T} needs \"compromised_from\" beside it: give both or neither"),
                );
                None
            }
        }
    }

    /// Officers, police or area police of a ward; each address is also remembered
    /// in `seen`, to check later that none is an account.
    fn role_list(
        &mut self,
        list: &Option<StrList>,
        ward_span: &Range<usize>,
        key: &str,
        required: bool,
        seen: &mut Seen,
    ) -> Option<Vec<String>> {
        let list = if required {
            self.required(list, ward_span, key, WARD_TABLE)
        } else {
            list.as_ref()
        };
        let Some(list) = list else {
            return (!required).then(Vec::new);
        };
        // An array emptied by a shape error was reported there already.
        let must_have_one = required && !self.removed.contains(ward_span, key);
        let addresses = self.address_list(list, key, WARD_TABLE, must_have_one)?;
        let what = key_in(key, WARD_TABLE);
        Some(
            addresses
                .into_iter()
                .map(|(address, at)| {
                    seen.roles.push((address.clone(), at, what.clone()));
                    address
                })
                .collect(),
        )
    }

    fn ward_code(&mut self, v: &Str, seen: &mut Seen) -> Option<String> {
        let code = v.get_ref();
        let shaped = code.split_once('.').is_some_and(|(district, ward)| {
            [district, ward].iter().all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
        });
        if !shaped {
            self.error(
                &v.span(),
                format!("key \"code\" in {WARD_TABLE} must be district.ward in lowercase ASCII letters and digits, like \"hoankiem.tranhungdao\", not \"{code}\""),
            );
            return None;
        }
        let line = self.line(&v.span());
        if let Some(first) = seen.codes.get(code) {
            self.error(
                &v.span(),
                format!("key \"code\" in {WARD_TABLE}: ward code \"{code}\" is already used by the ward at line {first}"),
            );
            return None;
        }
        seen.codes.insert(code.clone(), line);
        Some(code.clone())
    }

    fn ward_short(&mut self, v: &Str, seen: &mut Seen) -> Option<String> {
        let short = v.get_ref();
        if !(2..=6).contains(&short.len()) || !short.bytes().all(|b| b.is_ascii_uppercase()) {
            self.error(
                &v.span(),
                format!("key \"short\" in {WARD_TABLE} must be 2 to 6 uppercase ASCII letters, like \"THD\", not \"{short}\""),
            );
            return None;
        }
        let line = self.line(&v.span());
        if let Some(first) = seen.shorts.get(short) {
            self.error(
                &v.span(),
                format!("key \"short\" in {WARD_TABLE}: short code \"{short}\" is already used by the ward at line {first}"),
            );
            return None;
        }
        seen.shorts.insert(short.clone(), line);
        Some(short.clone())
    }
}
