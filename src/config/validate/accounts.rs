//! `[[ward.account]]`: each account's address (no `+`, one ward only, the naming rule
//! of `fold` as a warning), exactly one way to authenticate (password file, password
//! environment variable or OAuth2), its own `[mail]` layer, and one authentication rule
//! for all the accounts of a ward.

use super::mail::LayerTables;
use super::wards::Seen;
use super::{Validator, key_in};
use crate::config::fold;
use crate::config::raw::{RawAccount, RawWard, Str};
use crate::config::types::{Account, AccountAuth, MailSettings};
use std::ops::Range;
use toml::Spanned;

const ACCOUNT_TABLE: &str = "[[ward.account]]";
pub(super) const ACCOUNT_TABLES: LayerTables = LayerTables {
    table: ACCOUNT_TABLE,
    imap: "[ward.account.imap]",
    smtp: "[ward.account.smtp]",
};

const AUTH_KEYS: [&str; 3] = ["password_file", "password_env", "oauth2"];

impl Validator<'_> {
    pub(super) fn accounts(
        &mut self,
        ward: &Spanned<RawWard>,
        label: &str,
        defaults: &MailSettings,
        expected: Option<&[String; fold::ACCOUNTS_PER_WARD]>,
        seen: &mut Seen,
    ) -> Option<Vec<Account>> {
        let span = ward.span();
        let raw = &ward.get_ref().account;
        if raw.is_empty() {
            if !self.removed.contains(&span, "account") {
                self.error(
                    &span,
                    format!("ward {label} has no [[ward.account]]; add its accounts (qrca accounts suggest names them)"),
                );
            }
            return None;
        }
        if raw.len() < fold::ACCOUNTS_PER_WARD {
            let n = raw.len();
            let noun = if n == 1 { "account" } else { "accounts" };
            self.warn(
                &span,
                format!(
                    "ward {label} has {n} {noun}; each ward should have {} so that mail still goes out when one is over quota",
                    fold::ACCOUNTS_PER_WARD
                ),
            );
        }
        let mut accounts = Vec::new();
        let mut ok = true;
        for account in raw {
            match self.account(account, label, defaults, expected, seen, &ACCOUNT_TABLES) {
                Some(a) => accounts.push(a),
                None => ok = false,
            }
        }
        let ok = ok && self.one_authentication_rule(raw, &accounts, label);
        ok.then_some(accounts)
    }

    /// Authentication is decided per ward (SPEC §3): where one account trusts a server
    /// and another trusts none, a forged From read on the second would carry no evidence
    /// and yet the ward would seem to require it. Every account with an empty list is
    /// named; `false` when there was one.
    fn one_authentication_rule(
        &mut self,
        raw: &[Spanned<RawAccount>],
        accounts: &[Account],
        ward_label: &str,
    ) -> bool {
        let Some(trusting) = accounts
            .iter()
            .find(|a| !a.mail.trusted_authserv_ids.is_empty())
        else {
            return true;
        };
        let ids = trusting.mail.trusted_authserv_ids.join(", ");
        let mut ok = true;
        for (raw, account) in raw.iter().zip(accounts) {
            if !account.mail.trusted_authserv_ids.is_empty() {
                continue;
            }
            ok = false;
            let (span, how) = match &raw.get_ref().trusted_authserv_ids {
                Some(list) => (list.span(), "sets it to []"),
                None => (raw.span(), "inherits [] from [mail]"),
            };
            self.error(
                &span,
                format!(
                    "ward {ward_label}: key \"trusted_authserv_ids\" in {ACCOUNT_TABLE} of account \"{}\" {how}, but account \"{}\" of the same ward trusts {ids}; authentication is decided per ward, so give every account of the ward the same trusted_authserv_ids (a forged From read on an account that trusts no server would need no authentication)",
                    account.address, trusting.address
                ),
            );
        }
        ok
    }

    /// One account, whether a ward's (`[[ward.account]]`) or the city's
    /// (`[city.account]`): `tables` names the table in every message.
    pub(super) fn account(
        &mut self,
        raw: &Spanned<RawAccount>,
        ward_label: &str,
        defaults: &MailSettings,
        expected: Option<&[String; fold::ACCOUNTS_PER_WARD]>,
        seen: &mut Seen,
        tables: &LayerTables,
    ) -> Option<Account> {
        let t = tables.table;
        let span = raw.span();
        let a = raw.get_ref();
        let address = self
            .required(&a.address, &span, "address", t)
            .and_then(|v| {
                let address = self.address(v, &key_in("address", t))?;
                self.account_address(v, address, ward_label, expected, seen, t)
            });
        let auth = self.auth(a, &span, tables);
        let overrides = self.mail_layer(a.mail(), tables);
        let mail = defaults.merged(overrides);
        Some(Account {
            address: address?,
            auth: auth?,
            mail,
        })
    }

    /// The rules an account address has beyond being an address.
    fn account_address(
        &mut self,
        v: &Str,
        address: String,
        ward_label: &str,
        expected: Option<&[String; fold::ACCOUNTS_PER_WARD]>,
        seen: &mut Seen,
        table: &str,
    ) -> Option<String> {
        let what = key_in("address", table);
        if address
            .split_once('@')
            .is_some_and(|(local, _)| local.contains('+'))
        {
            self.error(
                &v.span(),
                format!("{what}: \"{address}\" must not contain \"+\"; qrca adds +<token> to it for replies"),
            );
            return None;
        }
        let line = self.line(&v.span());
        if let Some((ward, first)) = seen.accounts.get(&address) {
            self.error(
                &v.span(),
                format!("{what}: \"{address}\" is already an account of ward {ward} (line {first}); an account belongs to one ward"),
            );
            return None;
        }
        seen.accounts
            .insert(address.clone(), (ward_label.to_owned(), line));
        if let Some(expected) = expected
            && !expected.contains(&address)
        {
            self.warn(
                &v.span(),
                format!(
                    "{what}: \"{address}\" does not follow the rule qrca.<district>.<ward><n>@gmail.com; for this ward that is {}",
                    or_list(expected)
                ),
            );
        }
        Some(address)
    }

    fn auth(
        &mut self,
        a: &RawAccount,
        span: &Range<usize>,
        tables: &LayerTables,
    ) -> Option<AccountAuth> {
        let t = tables.table;
        // `[ward.account.imap]` → `[ward.account.oauth2]`, `[city.account.imap]` → …
        let oauth_table = tables.imap.replace(".imap]", ".oauth2]");
        let o_table = oauth_table.as_str();
        let mut given: Vec<(&str, Range<usize>)> = Vec::new();
        if let Some(v) = &a.password_file {
            given.push(("password_file", v.span()));
        }
        if let Some(v) = &a.password_env {
            given.push(("password_env", v.span()));
        }
        if let Some(v) = &a.oauth2 {
            given.push(("oauth2", v.span()));
        }
        given.sort_by_key(|(_, s)| s.start);
        match given.as_slice() {
            [] => {
                if !AUTH_KEYS.iter().any(|k| self.removed.contains(span, k)) {
                    self.error(
                        span,
                        format!("missing key in {t}: set exactly one of password_file, password_env or oauth2"),
                    );
                }
                return None;
            }
            [_] => {}
            [(first, first_span), rest @ ..] => {
                let line = self.line(first_span);
                for (key, at) in rest {
                    self.error(
                        at,
                        format!("key \"{key}\" in {t} cannot be used together with {first} (line {line}); set exactly one of password_file, password_env or oauth2"),
                    );
                }
                return None;
            }
        }
        let hint = "; qrca reads the secret from this file, which the admin creates";
        if let Some(v) = &a.password_file {
            return self
                .secret_file(v, &key_in("password_file", t), "secret file", hint, false)
                .map(AccountAuth::PasswordFile);
        }
        if let Some(v) = &a.password_env {
            let name = v.get_ref().trim();
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.error(
                    &v.span(),
                    format!("key \"password_env\" in {t} must name an environment variable (letters, digits and _), not \"{name}\""),
                );
                return None;
            }
            return Some(AccountAuth::PasswordEnv(name.to_owned()));
        }
        let oauth = a.oauth2.as_ref()?;
        let o_span = oauth.span();
        let o = oauth.get_ref();
        let client_id = self
            .required(&o.client_id, &o_span, "client_id", o_table)
            .and_then(|v| self.text(v, &key_in("client_id", o_table)));
        let client_secret_file = self
            .required(
                &o.client_secret_file,
                &o_span,
                "client_secret_file",
                o_table,
            )
            .and_then(|v| {
                self.secret_file(
                    v,
                    &key_in("client_secret_file", o_table),
                    "secret file",
                    hint,
                    false,
                )
            });
        let refresh_token_file = self
            .required(
                &o.refresh_token_file,
                &o_span,
                "refresh_token_file",
                o_table,
            )
            .and_then(|v| {
                self.secret_file(
                    v,
                    &key_in("refresh_token_file", o_table),
                    "secret file",
                    hint,
                    false,
                )
            });
        Some(AccountAuth::OAuth2 {
            client_id: client_id?,
            client_secret_file: client_secret_file?,
            refresh_token_file: refresh_token_file?,
        })
    }
}

/// `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
