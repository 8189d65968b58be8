//! The demo's people write and read real mails: RFC 5322 bytes as Gmail would send
//! them (UTF-8 text, RFC 2047 subject and names, base64 attachments, a reply quoting
//! the mail it answers under a Vietnamese Gmail attribution line), and the mails in
//! their Maildirs read back with the daemon's own MIME reader.

use crate::inbound::mail::{Mail, parse_mail};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::path::Path;

/// The server that vouches for senders in the demo's world (the config trusts it).
pub const AUTHSERV: &str = "mx.google.com";

/// How the receiving server saw the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The trusted server checked DKIM and DMARC for the From domain: pass.
    Genuine,
    /// A forged From: no trusted server vouches for it; the forger wrote his own
    /// `Authentication-Results` claiming a pass, which the daemon must ignore.
    Forged,
}

/// A mail a person is about to send.
#[derive(Debug, Clone)]
pub struct Draft {
    pub from: String,
    pub from_name: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub attachments: Vec<(String, &'static str, Vec<u8>)>,
    pub auth: Auth,
}

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
pub const PDF: &str = "application/pdf";

impl Draft {
    pub fn new(from: (&str, &str), to: &str, subject: &str, body: &str) -> Draft {
        Draft {
            from: from.0.to_owned(),
            from_name: from.1.to_owned(),
            to: vec![to.to_owned()],
            subject: subject.to_owned(),
            body: body.to_owned(),
            in_reply_to: None,
            references: Vec::new(),
            attachments: Vec::new(),
            auth: Auth::Genuine,
        }
    }

    /// A reply to `original` as Gmail writes one: to its Reply-To (else its From),
    /// `Re:` subject, threading headers, and the original quoted under
    /// "Vào <date> <name> <address> đã viết:".
    pub fn reply(from: (&str, &str), original: &Received, text: &str) -> Draft {
        let mail = &original.mail;
        let to = mail
            .reply_to
            .first()
            .or(mail.from.as_ref())
            .map(|a| a.address.clone())
            .unwrap_or_default();
        let subject = if mail.subject.to_lowercase().starts_with("re:") {
            mail.subject.clone()
        } else {
            format!("Re: {}", mail.subject)
        };
        let mut references = mail.references.clone();
        references.extend(mail.message_id.clone());
        let (name, address) = mail
            .from
            .as_ref()
            .map(|a| (a.name.clone().unwrap_or_default(), a.address.clone()))
            .unwrap_or_default();
        let when = mail.date.map(gmail_date).unwrap_or_default();
        let quoted: String = mail
            .text
            .trim_end()
            .lines()
            .map(|l| {
                if l.is_empty() {
                    ">\n".to_owned()
                } else {
                    format!("> {l}\n")
                }
            })
            .collect();
        let body = format!("{text}\n\nVào {when} {name} <\n{address}> đã viết:\n\n{quoted}");
        Draft {
            from: from.0.to_owned(),
            from_name: from.1.to_owned(),
            to: vec![to],
            subject,
            body,
            in_reply_to: mail.message_id.clone(),
            references,
            attachments: Vec::new(),
            auth: Auth::Genuine,
        }
    }

    pub fn attach(mut self, name: &str, content_type: &'static str, bytes: Vec<u8>) -> Draft {
        self.attachments
            .push((name.to_owned(), content_type, bytes));
        self
    }

    pub fn forged(mut self) -> Draft {
        self.auth = Auth::Forged;
        self
    }

    /// The bytes as they reach the recipient's server, with the receiving server's
    /// `Authentication-Results` on top.
    pub fn bytes(&self, message_id: &str, at: Timestamp) -> Vec<u8> {
        let domain = self.from.rsplit_once('@').map_or("", |(_, d)| d);
        let mut out = String::new();
        match self.auth {
            Auth::Genuine => out.push_str(&format!(
                "Authentication-Results: {AUTHSERV};\r\n       dkim=pass header.i=@{domain} header.s=20210112;\r\n       spf=pass smtp.mailfrom={};\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from={domain}\r\n",
                self.from
            )),
            Auth::Forged => out.push_str(&format!(
                "Authentication-Results: mail.ke-gia-mao.example; dmarc=pass header.from={domain}\r\n"
            )),
        }
        out.push_str(&format!(
            "From: {} <{}>\r\n",
            encoded(&self.from_name),
            self.from
        ));
        out.push_str(&format!("To: {}\r\n", self.to.join(", ")));
        out.push_str(&format!("Subject: {}\r\n", encoded(&self.subject)));
        out.push_str(&format!("Date: {}\r\n", rfc2822(at)));
        out.push_str(&format!("Message-ID: {message_id}\r\n"));
        if let Some(id) = &self.in_reply_to {
            out.push_str(&format!("In-Reply-To: {id}\r\n"));
        }
        if !self.references.is_empty() {
            out.push_str(&format!("References: {}\r\n", self.references.join(" ")));
        }
        out.push_str("MIME-Version: 1.0\r\n");
        let text = format!(
            "Content-Type: text/plain; charset=\"UTF-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
            self.body.replace('\n', "\r\n")
        );
        if self.attachments.is_empty() {
            out.push_str(&text);
            return out.into_bytes();
        }
        let boundary = format!(
            "000000000000{}",
            message_id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        );
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n{text}"
        ));
        for (name, content_type, bytes) in &self.attachments {
            out.push_str(&format!(
                "--{boundary}\r\nContent-Type: {content_type}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            ));
            let b64 = data_encoding::BASE64.encode(bytes);
            for line in b64.as_bytes().chunks(76) {
                out.push_str(&String::from_utf8_lossy(line));
                out.push_str("\r\n");
            }
        }
        out.push_str(&format!("--{boundary}--\r\n"));
        out.into_bytes()
    }
}

/// RFC 2047 B-encoding of a header text that is not plain ASCII.
fn encoded(text: &str) -> String {
    if text.is_ascii() {
        text.to_owned()
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            data_encoding::BASE64.encode(text.as_bytes())
        )
    }
}

fn hanoi() -> TimeZone {
    TimeZone::get("Asia/Ho_Chi_Minh").unwrap_or(TimeZone::UTC)
}

fn rfc2822(at: Timestamp) -> String {
    jiff::fmt::rfc2822::to_string(&at.to_zoned_datetime(hanoi())).unwrap_or_default()
}

/// "Th 4, 8 thg 9, 2021 vào lúc 07:12", as Gmail's Vietnamese interface dates a quote.
fn gmail_date(at: Timestamp) -> String {
    use jiff::civil::Weekday::*;
    let z = at.to_zoned_datetime(hanoi());
    let day = match z.weekday() {
        Monday => "Th 2",
        Tuesday => "Th 3",
        Wednesday => "Th 4",
        Thursday => "Th 5",
        Friday => "Th 6",
        Saturday => "Th 7",
        Sunday => "CN",
    };
    format!(
        "{day}, {} thg {}, {} vào lúc {:02}:{:02}",
        z.day(),
        z.month(),
        z.year(),
        z.hour(),
        z.minute()
    )
}

/// A mail found in someone's Maildir, read with the daemon's own reader.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail: Mail,
}

impl Received {
    pub fn read(path: &Path) -> Option<Received> {
        let raw = std::fs::read(path).ok()?;
        let mail = parse_mail(&raw, &[]).ok()?;
        Some(Received { mail })
    }

    /// The reply token address in Reply-To, if the mail asks for a decision.
    pub fn token_address(&self) -> Option<&str> {
        self.mail
            .reply_to
            .iter()
            .map(|a| a.address.as_str())
            .find(|a| a.split('@').next().is_some_and(|l| l.contains('+')))
    }
}
