//! `[mail]` and the same keys in each `[[ward.account]]`: one layer of mail settings
//! checked key by key (`MailOverrides`) and merged over the layer beneath it; the IMAP
//! and SMTP endpoints with their default ports, and the rule that plain text goes only
//! to a loopback host.

use super::{Validator, key_in};
use crate::config::raw::{MailLayer, RawEndpoint};
use crate::config::types::{Endpoint, MailSettings, Tls};
use std::net::IpAddr;
use std::path::PathBuf;
use toml::Spanned;

/// The names messages give to the tables a `[mail]` layer may live in.
pub(super) struct LayerTables {
    pub(super) table: &'static str,
    pub(super) imap: &'static str,
    pub(super) smtp: &'static str,
}

pub(super) const MAIL_TABLES: LayerTables = LayerTables {
    table: "[mail]",
    imap: "[mail.imap]",
    smtp: "[mail.smtp]",
};

/// `[mail]` keys as one table sets them, each checked; `None` where the table does
/// not set the key or its value was wrong (and reported).
#[derive(Default)]
pub(super) struct MailOverrides {
    imap: Option<Endpoint>,
    smtp: Option<Endpoint>,
    /// `Some(None)`: set to `""`, meaning no extra CA.
    ca_file: Option<Option<PathBuf>>,
    daily_send_limit: Option<u32>,
    max_message_bytes: Option<u64>,
    processed_folder: Option<String>,
    quarantine_folder: Option<String>,
    answers_per_sender_per_day: Option<u32>,
    trusted_authserv_ids: Option<Vec<String>>,
}

impl MailSettings {
    pub(super) fn merged(&self, o: MailOverrides) -> MailSettings {
        MailSettings {
            imap: o.imap.unwrap_or_else(|| self.imap.clone()),
            smtp: o.smtp.unwrap_or_else(|| self.smtp.clone()),
            ca_file: o.ca_file.unwrap_or_else(|| self.ca_file.clone()),
            daily_send_limit: o.daily_send_limit.unwrap_or(self.daily_send_limit),
            max_message_bytes: o.max_message_bytes.unwrap_or(self.max_message_bytes),
            processed_folder: o
                .processed_folder
                .unwrap_or_else(|| self.processed_folder.clone()),
            quarantine_folder: o
                .quarantine_folder
                .unwrap_or_else(|| self.quarantine_folder.clone()),
            answers_per_sender_per_day: o
                .answers_per_sender_per_day
                .unwrap_or(self.answers_per_sender_per_day),
            trusted_authserv_ids: o
                .trusted_authserv_ids
                .unwrap_or_else(|| self.trusted_authserv_ids.clone()),
        }
    }
}

#[derive(Clone, Copy)]
enum Protocol {
    Imap,
    Smtp,
}

impl Protocol {
    /// The well-known port for each way of protecting the connection.
    fn default_port(self, tls: Tls) -> u16 {
        match (self, tls) {
            (Protocol::Imap, Tls::Implicit) => 993,
            (Protocol::Imap, Tls::StartTls | Tls::Plaintext) => 143,
            (Protocol::Smtp, Tls::Implicit) => 465,
            (Protocol::Smtp, Tls::StartTls) => 587,
            (Protocol::Smtp, Tls::Plaintext) => 25,
        }
    }
}

impl Validator<'_> {
    pub(super) fn mail_layer(
        &mut self,
        layer: MailLayer<'_>,
        names: &LayerTables,
    ) -> MailOverrides {
        let table = names.table;
        let imap = layer
            .imap
            .and_then(|e| self.endpoint(e, Protocol::Imap, names.imap));
        let smtp = layer
            .smtp
            .and_then(|e| self.endpoint(e, Protocol::Smtp, names.smtp));
        let ca_file = layer.ca_file.and_then(|v| {
            if v.get_ref().trim().is_empty() {
                // SPEC §7 writes `ca_file = ""` for "no extra CA".
                Some(None)
            } else {
                self.existing_file(v, &key_in("ca_file", table), "CA file")
                    .map(Some)
            }
        });
        let daily_send_limit = layer.daily_send_limit.and_then(|v| {
            self.integer(v, "daily_send_limit", table, 1, u32::MAX.into())
                .and_then(|n| u32::try_from(n).ok())
        });
        let max_message_bytes = layer.max_message_bytes.and_then(|v| {
            self.integer(v, "max_message_bytes", table, 1, i64::MAX)
                .and_then(|n| u64::try_from(n).ok())
        });
        let processed_folder = layer
            .processed_folder
            .and_then(|v| self.text(v, &key_in("processed_folder", table)));
        let quarantine_folder = layer
            .quarantine_folder
            .and_then(|v| self.text(v, &key_in("quarantine_folder", table)));
        let answers_per_sender_per_day = layer.answers_per_sender_per_day.and_then(|v| {
            self.integer(v, "answers_per_sender_per_day", table, 1, u32::MAX.into())
                .and_then(|n| u32::try_from(n).ok())
        });
        let trusted_authserv_ids = layer.trusted_authserv_ids.and_then(|list| {
            let mut ids = Vec::new();
            let mut ok = true;
            for (i, item) in list.get_ref().iter().enumerate() {
                let what = format!("item {} of key \"trusted_authserv_ids\" in {table}", i + 1);
                match self.text(item, &what) {
                    Some(id) => ids.push(id.to_lowercase()),
                    None => ok = false,
                }
            }
            ok.then_some(ids)
        });
        MailOverrides {
            imap,
            smtp,
            ca_file,
            daily_send_limit,
            max_message_bytes,
            processed_folder,
            quarantine_folder,
            answers_per_sender_per_day,
            trusted_authserv_ids,
        }
    }

    fn endpoint(
        &mut self,
        raw: &Spanned<RawEndpoint>,
        protocol: Protocol,
        table: &str,
    ) -> Option<Endpoint> {
        let span = raw.span();
        let e = raw.get_ref();
        let host = self
            .required(&e.host, &span, "host", table)
            .and_then(|v| {
                let host = v.get_ref().trim();
                if host.is_empty() || host.contains(char::is_whitespace) {
                    self.error(
                        &v.span(),
                        format!("key \"host\" in {table} must be a host name or an IP address, not \"{host}\""),
                    );
                    None
                } else {
                    Some(host.to_owned())
                }
            });
        let tls = match &e.tls {
            None => Some(Tls::Implicit),
            Some(v) => match v.get_ref().trim().to_ascii_lowercase().as_str() {
                "implicit" => Some(Tls::Implicit),
                "starttls" => Some(Tls::StartTls),
                "none" => Some(Tls::Plaintext),
                other => {
                    self.error(
                        &v.span(),
                        format!("key \"tls\" in {table} must be \"implicit\", \"starttls\" or \"none\", not \"{other}\""),
                    );
                    None
                }
            },
        };
        let port = match &e.port {
            Some(v) => self
                .integer(v, "port", table, 1, u16::MAX.into())
                .and_then(|n| u16::try_from(n).ok()),
            None => tls.map(|tls| protocol.default_port(tls)),
        };
        let (host, tls, port) = (host?, tls?, port?);
        if tls == Tls::Plaintext && !is_loopback(&host) {
            let at = e.tls.as_ref().map_or(span.clone(), Spanned::span);
            self.error(
                &at,
                format!(
                    "key \"tls\" in {table} is \"none\" but host \"{host}\" is not a loopback address; plain text is allowed only to localhost, 127.0.0.0/8 or ::1"
                ),
            );
            return None;
        }
        Some(Endpoint { host, port, tls })
    }
}

/// localhost, 127.0.0.0/8 and ::1 (also written `[::1]` or IPv4-mapped): the only
/// hosts `tls = "none"` may name. The transport checks it again before it sends a
/// password in plain text.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "imap.gmail.com",
            "10.0.0.1",
            "128.0.0.1",
            "::2",
            "localhost.example.com",
            "0.0.0.0",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn default_ports_follow_tls() {
        assert_eq!(Protocol::Imap.default_port(Tls::Implicit), 993);
        assert_eq!(Protocol::Imap.default_port(Tls::StartTls), 143);
        assert_eq!(Protocol::Smtp.default_port(Tls::Implicit), 465);
        assert_eq!(Protocol::Smtp.default_port(Tls::StartTls), 587);
        assert_eq!(Protocol::Smtp.default_port(Tls::Plaintext), 25);
    }
}
