//! Loopback mail servers for end-to-end tests: real Dovecot and Postfix, one private
//! instance per [`MailServers`] value.
//!
//! Include it with `#[path = "support/mail_servers.rs"] mod mail_servers;`.
//!
//! # What runs where
//!
//! [`MailServers::start`] runs `scripts/mail-servers.sh start`, which makes a fresh directory
//! `/tmp/qrca-mail.XXXXXX` (the instance's `dir`) holding everything of that instance:
//!
//! | path under `dir` | what |
//! |---|---|
//! | `dovecot/dovecot.conf` | Dovecot's whole config (nothing from `/etc/dovecot`) |
//! | `dovecot/run/` | Dovecot's `base_dir`: sockets, `master.pid` |
//! | `postfix/etc/` | Postfix's `config_directory`: `main.cf`, `master.cf`, maps |
//! | `postfix/queue/`, `postfix/data/` | Postfix's `queue_directory` and `data_directory` |
//! | `users` | Dovecot passwd-file: `address:{PLAIN.b64}password::::::` |
//! | `mail/<domain>/<local part>/Maildir/` | each user's Maildir (owned by the `mail` user) |
//! | `tls/ca.pem` | self-signed CA ([`MailServers::ca_cert`]) of the servers' certificate |
//! | `log/dovecot.log`, `log/postfix.log` | the logs: read these first when a test fails |
//!
//! Ports are free 127.0.0.1 ports picked at start (below the ephemeral range):
//! - `imap_port`: IMAP, LOGIN allowed in plain text; IDLE, MOVE, UIDPLUS, SPECIAL-USE;
//!   `imaps_port`: the same over implicit TLS (certificate for `localhost`, `127.0.0.1`).
//! - `smtp_port`: submission. AUTH PLAIN/LOGIN (checked by Dovecot) is required, STARTTLS
//!   is offered, not required; the envelope sender must equal the login
//!   (`reject_sender_login_mismatch`). `smtps_port`: the same over implicit TLS.
//! - `mx_port`: SMTP as the internet would use it: no AUTH, any sender.
//! - `lmtp_port`: Dovecot LMTP, for [`MailServers::deliver_raw`].
//!
//! # Other servers than Dovecot's defaults
//!
//! [`MailServers::start_with`] takes [`Options`] for a Dovecot that looks like other
//! servers: `imap_capability` replaces what it advertises after login
//! ([`CAPABILITY_WITHOUT_IDLE_MOVE_UIDPLUS`]: a server with none of those), `separator`
//! is the hierarchy delimiter of the INBOX namespace (`.` instead of `/`), `prefix` its
//! prefix (`INBOX.`: every folder under INBOX, as on Courier and Cyrus), and `rawlog`
//! keeps every IMAP session's dialogue ([`MailServers::imap_sent`]: what clients sent).
//! Dovecot still runs a command it did not advertise (MOVE, IDLE) when a client sends it,
//! so a test of a fallback checks the dialogue, not only the result.
//!
//! Every domain is delivered locally (`virtual_mailbox_domains = static:all`, LMTP to
//! Dovecot); nothing ever leaves the machine. A recipient that is not a user is refused by
//! LMTP and Postfix bounces to the sender's mailbox. Plus addressing: mail to
//! `acct+TOKEN@qrca.test` lands in `acct@qrca.test`'s INBOX with
//! `Delivered-To: acct+TOKEN@qrca.test` (Postfix `recipient_delimiter = +`, Dovecot
//! `lmtp_save_to_detail_mailbox = no`).
//!
//! # Authentication-Results
//!
//! Mail submitted on `smtp_port`/`smtps_port` by an authenticated user gets, at the top
//! of what Postfix passes on, the header
//! `Authentication-Results: mx.qrca.test; spf=pass smtp.mailfrom=<login>; dmarc=pass header.from=<login's domain>`
//! ([`AUTHSERV_ID`]), and every `Authentication-Results` a client wrote under that
//! authserv-id is deleted. Mail on `mx_port` gets none (the forged ones deleted too). The
//! From header is not checked against the login, as DMARC only vouches for the domain:
//! a test that forges `From:` sees `header.from=` name the login's domain, not its own.
//! To put arbitrary headers in a mailbox (forged Authentication-Results and the like),
//! use [`MailServers::deliver_raw`], which bypasses Postfix.
//!
//! # Users
//!
//! [`MailServers::add_user`] (any time, before or after a login; replaces the password of an
//! existing user) returns once Dovecot has seen the user. Addresses are lower-cased; any
//! domain works (`qrca.test`, `congty.test`, `hoankiem.gov.test`, `gmail.com`...). There is
//! no auth failure delay and no anvil penalty, so tests may fail logins on purpose.
//!
//! # One instance per test
//!
//! Each test starts its own instance rather than sharing one per test binary: it is cheap
//! (about 0.3 s to start with a fresh certificate, 1 s to stop; starts are serialised by a
//! lock while ports are picked and bound), and tests stay independent: a test that restarts
//! Dovecot, fills a queue, counts messages or fails logins disturbs nobody, tests run in
//! parallel (and so do several test binaries or `cargo test` runs), and a failing test
//! leaves nothing behind.
//! Dropping the value stops both servers (waiting for every process) and removes `dir`,
//! unless `QRCA_KEEP_MAIL_SERVERS=1` is set, which keeps `dir` for debugging (servers are
//! stopped all the same). Instances whose owning test process died without dropping them
//! are stopped by the next `start`.
//!
//! # API in short
//!
//! [`MailServers::start`] / [`MailServers::start_with_users`], [`MailServers::add_user`],
//! the public port fields and [`HOST`], [`MailServers::ca_cert`],
//! [`MailServers::submit`] (AUTH PLAIN on the submission port),
//! [`MailServers::send_unauthenticated`] (MX port), [`MailServers::deliver_raw`] (LMTP),
//! [`MailServers::messages`] / [`MailServers::wait_for_messages`] /
//! [`MailServers::wait_for_message`] (read the Maildir: "has it been delivered?"),
//! [`MailServers::restart_dovecot`], [`MailServers::pids`], [`MailServers::logs`],
//! [`MailServers::stop`] (also on drop); the server's own view, through `doveadm`
//! ([`MailServers::doveadm`]): [`MailServers::folders`] / [`MailServers::folders_utf7`],
//! [`MailServers::folder_messages`], [`MailServers::uidvalidity`];
//! [`MailServers::recreate_inbox`] (a new UIDVALIDITY); [`MailServers::imap_sent`]
//! (with [`Options::rawlog`]).
//!
//! # Debugging
//!
//! `scripts/mail-servers.sh start` by hand prints the same `KEY=value` lines; then e.g.
//! `swaks --server 127.0.0.1:$SMTP_PORT --auth PLAIN --auth-user a@qrca.test ...`,
//! `doveadm -c $DOVECOT_CONF auth test a@qrca.test pw`, `postqueue -c $POSTFIX_DIR -p`,
//! `scripts/mail-servers.sh stop $DIR`. `log/harness.log` records processes the script had
//! to kill. Both servers need root (CI runs tests as root); `scripts/test.sh` installs the
//! packages (dovecot-imapd, dovecot-lmtpd, postfix). The system's own Dovecot and Postfix
//! (which apt may start on ports 25, 143, 993...) are never used, and do not get in the way:
//! the instance uses only its own ports, sockets and directories.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};

/// The host every port listens on.
pub const HOST: &str = "127.0.0.1";
/// The authserv-id of the Authentication-Results headers Postfix adds.
pub const AUTHSERV_ID: &str = "mx.qrca.test";

/// What Dovecot advertises after login with [`Options::imap_capability`] set to this:
/// Dovecot's own list without IDLE, MOVE and UIDPLUS (nor the extensions built on them),
/// as an older or smaller server's.
pub const CAPABILITY_WITHOUT_IDLE_MOVE_UIDPLUS: &str =
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UNSELECT CHILDREN NAMESPACE SPECIAL-USE";

/// How the Dovecot of an instance differs from the default one
/// (`scripts/mail-servers.sh start --imap-capability … --separator … --rawlog`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Advertised after login instead of Dovecot's own capabilities.
    pub imap_capability: Option<String>,
    /// The INBOX namespace's hierarchy delimiter (`/` when `None`).
    pub separator: Option<char>,
    /// The INBOX namespace's prefix (none when `None`): `INBOX.` with a `.` separator
    /// puts every folder under INBOX, as Courier and Cyrus do.
    pub prefix: Option<String>,
    /// Keep each IMAP session's raw dialogue under `dir/rawlog/`.
    pub rawlog: bool,
}

/// One message of a folder, as Dovecot has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub uid: u32,
    /// The flags, as Dovecot writes them (`\Seen \Deleted`…).
    pub flags: String,
    /// The Message-ID header's value, as written (`<…>`).
    pub message_id: String,
}

/// A running Dovecot + Postfix pair; see the module documentation.
#[derive(Debug)]
pub struct MailServers {
    /// The instance directory (configs, Maildirs, logs).
    pub dir: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub lmtp_port: u16,
    pub smtp_port: u16,
    pub smtps_port: u16,
    pub mx_port: u16,
    /// PEM file of the CA that signed the servers' certificate (for IMAPS/SMTPS/STARTTLS).
    pub ca_cert: PathBuf,
    pub dovecot_log: PathBuf,
    pub postfix_log: PathBuf,
    stopped: bool,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mail-servers.sh")
}

fn run_script(args: &[&str]) -> Result<String> {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .env("QRCA_MAIL_OWNER_PID", std::process::id().to_string())
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", script().display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "scripts/mail-servers.sh {} failed ({}):\n{}{}",
            args.first().copied().unwrap_or_default(),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            stdout
        );
    }
    Ok(stdout)
}

/// Checks that the servers are installed; the error says how to get them.
fn check_installed() -> Result<()> {
    let needed = [
        ("/usr/sbin/dovecot", "dovecot-imapd"),
        ("/usr/lib/dovecot/imap", "dovecot-imapd"),
        ("/usr/lib/dovecot/lmtp", "dovecot-lmtpd"),
        ("/usr/sbin/postfix", "postfix"),
        ("/usr/bin/openssl", "openssl"),
    ];
    let mut missing: Vec<&str> = needed
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(_, pkg)| *pkg)
        .collect();
    missing.dedup();
    ensure!(
        missing.is_empty(),
        "the end-to-end tests need real mail servers, and {} {} not installed. \
         scripts/test.sh installs them (as CI does); by hand: \
         apt-get install {}",
        missing.join(", "),
        if missing.len() == 1 { "is" } else { "are" },
        missing.join(" ")
    );
    Ok(())
}

impl MailServers {
    /// Starts a fresh instance with no users.
    pub fn start() -> Result<Self> {
        Self::start_with(&Options::default())
    }

    /// Starts a fresh instance with no users, its Dovecot set up as `options` say.
    pub fn start_with(options: &Options) -> Result<Self> {
        check_installed()?;
        let mut args = vec!["start".to_owned()];
        if let Some(capability) = &options.imap_capability {
            args.extend(["--imap-capability".to_owned(), capability.clone()]);
        }
        if let Some(separator) = options.separator {
            args.extend(["--separator".to_owned(), separator.to_string()]);
        }
        if let Some(prefix) = &options.prefix {
            args.extend(["--prefix".to_owned(), prefix.clone()]);
        }
        if options.rawlog {
            args.push("--rawlog".to_owned());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_script(&args)?;
        let env: HashMap<&str, &str> = out.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |k: &str| -> Result<&str> {
            env.get(k)
                .copied()
                .ok_or_else(|| anyhow!("mail-servers.sh start printed no {k}:\n{out}"))
        };
        let port = |k: &str| -> Result<u16> {
            get(k)?
                .parse()
                .with_context(|| format!("bad {k} from mail-servers.sh"))
        };
        Ok(MailServers {
            dir: PathBuf::from(get("DIR")?),
            imap_port: port("IMAP_PORT")?,
            imaps_port: port("IMAPS_PORT")?,
            lmtp_port: port("LMTP_PORT")?,
            smtp_port: port("SMTP_PORT")?,
            smtps_port: port("SMTPS_PORT")?,
            mx_port: port("MX_PORT")?,
            ca_cert: PathBuf::from(get("CA_CERT")?),
            dovecot_log: PathBuf::from(get("DOVECOT_LOG")?),
            postfix_log: PathBuf::from(get("POSTFIX_LOG")?),
            stopped: false,
        })
    }

    /// Starts a fresh instance with these `(address, password)` users.
    pub fn start_with_users(users: &[(&str, &str)]) -> Result<Self> {
        let servers = Self::start()?;
        servers.add_users(users)?;
        Ok(servers)
    }

    fn dir_str(&self) -> Result<&str> {
        self.dir
            .to_str()
            .ok_or_else(|| anyhow!("non-UTF-8 instance dir {}", self.dir.display()))
    }

    /// Adds a mailbox (or sets its password); returns once Dovecot accepts the login.
    pub fn add_user(&self, address: &str, password: &str) -> Result<()> {
        self.add_users(&[(address, password)])
    }

    /// Adds several mailboxes at once (one passwd-file rewrite, one wait).
    pub fn add_users(&self, users: &[(&str, &str)]) -> Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let mut args = vec!["add-user", self.dir_str()?];
        for (address, password) in users {
            args.push(address);
            args.push(password);
        }
        run_script(&args).map(drop)
    }

    /// The Maildir of `address` (a plus address means its base mailbox).
    pub fn maildir(&self, address: &str) -> PathBuf {
        let address = address.to_lowercase();
        let (local, domain) = address.split_once('@').unwrap_or((address.as_str(), ""));
        let local = local.split_once('+').map_or(local, |(base, _)| base);
        self.dir
            .join("mail")
            .join(domain)
            .join(local)
            .join("Maildir")
    }

    /// Every message in the INBOX of `address` (new and cur), oldest delivery first.
    pub fn messages(&self, address: &str) -> Result<Vec<Vec<u8>>> {
        self.messages_in(address, "INBOX")
    }

    /// As [`MailServers::messages`], of `folder` (`/` between levels; Maildir++ keeps
    /// `QRCA/Processed` in `.QRCA.Processed`).
    pub fn messages_in(&self, address: &str, folder: &str) -> Result<Vec<Vec<u8>>> {
        let maildir = match folder {
            "INBOX" => self.maildir(address),
            _ => self
                .maildir(address)
                .join(format!(".{}", folder.replace('/', "."))),
        };
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
                continue;
            };
            for entry in entries {
                let entry = entry?;
                files.push((entry.file_name(), entry.path()));
            }
        }
        // Maildir names start with the delivery time (seconds, then microseconds).
        files.sort_by_key(|(name, _)| delivery_order(&name.to_string_lossy()));
        let mut out = Vec::new();
        for (_, path) in files {
            match std::fs::read(&path) {
                Ok(bytes) => out.push(bytes),
                // Moved from new/ to cur/ meanwhile by an IMAP client: read it there.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            }
        }
        Ok(out)
    }

    /// Waits until the INBOX of `address` holds at least `count` messages; returns them all.
    pub fn wait_for_messages(
        &self,
        address: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages(address)?;
            if messages.len() >= count {
                return Ok(messages);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{address} has {} message(s) after {timeout:?}, expected {count}\n{}",
                    messages.len(),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until Postfix holds no mail in its queue (everything it took is in a
    /// mailbox, the senders' Sent copies included, as at Gmail, where they are at once).
    pub fn wait_queue_empty(&self, timeout: Duration) -> Result<()> {
        let queue = self.dir.join("postfix").join("queue");
        let deadline = Instant::now() + timeout;
        loop {
            let waiting = ["maildrop", "incoming", "active", "deferred", "hold"]
                .iter()
                .map(|d| files_under(&queue.join(d)))
                .sum::<usize>();
            if waiting == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "Postfix still holds {waiting} mail(s) after {timeout:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a message in the INBOX of `address` that `matches`.
    pub fn wait_for_message(
        &self,
        address: &str,
        matches: impl Fn(&[u8]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.messages(address)?.into_iter().find(|m| matches(m)) {
                return Ok(m);
            }
            if Instant::now() >= deadline {
                bail!(
                    "no matching message for {address} after {timeout:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Delivers `raw` (a whole RFC 5322 message, headers as given, CRLF or LF) straight to
    /// Dovecot over LMTP, bypassing Postfix: Dovecot adds only Return-Path, Delivered-To and
    /// Received. `rcpt` may be a plus address.
    pub fn deliver_raw(&self, mail_from: &str, rcpt: &str, raw: &[u8]) -> Result<()> {
        let stream = TcpStream::connect((HOST, self.lmtp_port)).context("connecting to LMTP")?;
        let mut s = SmtpClient::new(stream)?;
        s.expect(220)?;
        s.command("LHLO harness.qrca.test", 250)?;
        s.command(&format!("MAIL FROM:<{mail_from}>"), 250)?;
        s.command(&format!("RCPT TO:<{rcpt}>"), 250)?;
        s.command("DATA", 354)?;
        s.data(raw)?;
        s.expect(250)?;
        s.command("QUIT", 221)?;
        Ok(())
    }

    /// Sends `raw` by SMTP submission (plain TCP on `smtp_port`, AUTH PLAIN as
    /// `login`/`password`); returns once Postfix has queued it.
    pub fn submit(
        &self,
        login: &str,
        password: &str,
        mail_from: &str,
        rcpts: &[&str],
        raw: &[u8],
    ) -> Result<()> {
        self.smtp_dialogue(
            self.smtp_port,
            Some((login, password)),
            mail_from,
            rcpts,
            raw,
        )
    }

    /// Sends `raw` to the MX port (no AUTH), as a stranger on the internet would.
    pub fn send_unauthenticated(&self, mail_from: &str, rcpts: &[&str], raw: &[u8]) -> Result<()> {
        self.smtp_dialogue(self.mx_port, None, mail_from, rcpts, raw)
    }

    fn smtp_dialogue(
        &self,
        port: u16,
        auth: Option<(&str, &str)>,
        mail_from: &str,
        rcpts: &[&str],
        raw: &[u8],
    ) -> Result<()> {
        let stream = TcpStream::connect((HOST, port)).context("connecting to SMTP")?;
        let mut s = SmtpClient::new(stream)?;
        s.expect(220)?;
        s.command("EHLO harness.qrca.test", 250)?;
        if let Some((login, password)) = auth {
            let token = data_encoding::BASE64.encode(format!("\0{login}\0{password}").as_bytes());
            s.command(&format!("AUTH PLAIN {token}"), 235)?;
        }
        s.command(&format!("MAIL FROM:<{mail_from}>"), 250)?;
        for rcpt in rcpts {
            s.command(&format!("RCPT TO:<{rcpt}>"), 250)?;
        }
        s.command("DATA", 354)?;
        s.data(raw)?;
        s.expect(250)?;
        s.command("QUIT", 221)?;
        Ok(())
    }

    /// From now on the submission ports refuse mail from `address` as Gmail refuses an
    /// account over its daily limit (`550 5.4.5 Daily user sending quota exceeded`).
    pub fn quota_spent(&self, address: &str) -> Result<()> {
        run_script(&["quota-spent", self.dir_str()?, address]).map(drop)
    }

    /// From now on the submission ports refuse `RCPT TO:<address>` for good (`550 5.1.1
    /// User unknown`), as a server does an address that does not exist.
    pub fn refuse_recipient(&self, address: &str) -> Result<()> {
        run_script(&["refuse-recipient", self.dir_str()?, address]).map(drop)
    }

    /// Stops Dovecot and starts it again on the same ports (IMAP clients are cut off).
    pub fn restart_dovecot(&self) -> Result<()> {
        run_script(&["restart-dovecot", self.dir_str()?]).map(drop)
    }

    /// Empties the INBOX of `address` and makes Dovecot forget its UIDs, so that it gets a
    /// new UIDVALIDITY and numbers from 1 again (as after a restore from a backup or a
    /// move to another server); then puts `messages` in it, in this order (the first gets
    /// UID 1). Dovecot is stopped meanwhile and started again on the same ports: its IMAP
    /// clients are cut off and must reconnect, and see the new UIDVALIDITY when they do.
    pub fn recreate_inbox(&self, address: &str, messages: &[Vec<u8>]) -> Result<()> {
        let staging = tempfile::tempdir_in(&self.dir).context("a staging directory")?;
        let mut files = Vec::new();
        for (n, raw) in messages.iter().enumerate() {
            let path = staging.path().join(format!("{n}.eml"));
            std::fs::write(&path, raw).with_context(|| format!("writing {}", path.display()))?;
            files.push(path);
        }
        let mut args = vec!["recreate-inbox", self.dir_str()?, address];
        for file in &files {
            args.push(
                file.to_str()
                    .ok_or_else(|| anyhow!("non-UTF-8 path {}", file.display()))?,
            );
        }
        run_script(&args).map(drop)
    }

    /// `doveadm` on this instance's Dovecot; its standard output.
    pub fn doveadm(&self, args: &[&str]) -> Result<String> {
        let conf = self.dir.join("dovecot/dovecot.conf");
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(&conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running doveadm")?;
        ensure!(
            out.status.success(),
            "doveadm {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).context("doveadm printed non-UTF-8")
    }

    /// The folders of `address` as Dovecot names them (UTF-8, its own delimiter).
    pub fn folders(&self, address: &str) -> Result<Vec<String>> {
        Ok(self
            .doveadm(&["mailbox", "list", "-u", address])?
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// The folders of `address` as IMAP spells them (modified UTF-7).
    pub fn folders_utf7(&self, address: &str) -> Result<Vec<String>> {
        Ok(self
            .doveadm(&["mailbox", "list", "-7", "-u", address])?
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// Every message of `folder` (Dovecot's name for it, UTF-8), by UID.
    pub fn folder_messages(&self, address: &str, folder: &str) -> Result<Vec<Stored>> {
        let out = self.doveadm(&[
            "-f",
            "tab",
            "fetch",
            "-u",
            address,
            "uid flags hdr.message-id",
            "mailbox",
            folder,
            "all",
        ])?;
        let mut stored = Vec::new();
        // A header line, then one line a message: uid, flags, Message-ID, tab-separated.
        for line in out.lines().skip(1) {
            let mut fields = line.split('\t');
            let uid = fields.next().unwrap_or_default();
            stored.push(Stored {
                uid: uid
                    .parse()
                    .with_context(|| format!("bad doveadm fetch line {line:?}"))?,
                flags: fields.next().unwrap_or_default().trim().to_owned(),
                message_id: fields.next().unwrap_or_default().trim().to_owned(),
            });
        }
        Ok(stored)
    }

    /// The UIDVALIDITY of `folder` of `address`.
    pub fn uidvalidity(&self, address: &str, folder: &str) -> Result<u32> {
        let out = self.doveadm(&[
            "-f",
            "flow",
            "mailbox",
            "status",
            "-u",
            address,
            "uidvalidity",
            folder,
        ])?;
        out.split_whitespace()
            .find_map(|w| w.strip_prefix("uidvalidity="))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow!("no uidvalidity in doveadm's answer {out:?}"))
    }

    /// How many IMAP sessions logged in so far (needs [`Options::rawlog`]).
    pub fn imap_sessions(&self) -> Result<usize> {
        let dir = self.dir.join("rawlog");
        let mut sessions = 0;
        for entry in std::fs::read_dir(&dir)
            .with_context(|| format!("reading {} (is rawlog on?)", dir.display()))?
        {
            if entry?.path().extension().is_some_and(|e| e == "in") {
                sessions += 1;
            }
        }
        Ok(sessions)
    }

    /// What IMAP clients sent in every session so far, one `TAG COMMAND` a line,
    /// sessions in the order they began, to the second (needs [`Options::rawlog`]).
    /// Dovecot writes a session's log as it ends: call this after the clients logged
    /// out; it waits up to 5 s for every session to have said BYE.
    pub fn imap_sent(&self) -> Result<String> {
        let dir = self.dir.join("rawlog");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .with_context(|| format!("reading {} (is rawlog on?)", dir.display()))?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()?;
            // Named <date>-<time>.<pid>.<n>.in and .out.
            files.sort();
            let mut ended = true;
            let mut sent = String::new();
            for file in &files {
                let text = String::from_utf8_lossy(&std::fs::read(file)?).into_owned();
                match file.extension().and_then(|e| e.to_str()) {
                    Some("out") => ended &= text.lines().any(|l| l.contains(" * BYE ")),
                    // Each line: `<unix time with microseconds> <tag> <command>`.
                    Some("in") => {
                        for line in text.lines() {
                            let line = line.trim_end_matches('\r');
                            sent.push_str(line.split_once(' ').map_or(line, |(_, rest)| rest));
                            sent.push('\n');
                        }
                    }
                    _ => {}
                }
            }
            if ended || Instant::now() >= deadline {
                return Ok(sent);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every live process of the instance (both masters and their children).
    pub fn pids(&self) -> Result<Vec<u32>> {
        let out = run_script(&["pids", self.dir_str()?])?;
        out.lines()
            .map(|l| l.trim().parse().context("bad pid from mail-servers.sh"))
            .collect()
    }

    /// Both logs, for error messages.
    pub fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- {}\n{}--- {}\n{}",
            self.dovecot_log.display(),
            read(&self.dovecot_log),
            self.postfix_log.display(),
            read(&self.postfix_log)
        )
    }

    /// Stops both servers, waits for every process, and removes the instance directory
    /// (kept if `QRCA_KEEP_MAIL_SERVERS=1`).
    pub fn stop(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let keep = std::env::var_os("QRCA_KEEP_MAIL_SERVERS").is_some_and(|v| v == "1");
        let dir = self.dir_str()?.to_owned();
        let mut args = vec!["stop", dir.as_str()];
        if keep {
            args.push("--keep");
            eprintln!("mail servers stopped; files kept in {dir}");
        }
        run_script(&args).map(drop)
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("stopping the mail servers: {e:#}");
        }
    }
}

/// `(seconds, microseconds, name)` from a Maildir file name such as
/// `1795625573.M107702P9744.host,S=632,W=652:2,S`.
fn delivery_order(name: &str) -> (u64, u64, String) {
    let mut parts = name.splitn(3, '.');
    let secs = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    let micros = parts
        .next()
        .and_then(|s| s.strip_prefix('M'))
        .and_then(|s| s.split('P').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (secs, micros, name.to_owned())
}

/// A minimal SMTP/LMTP client for the dialogues above.
struct SmtpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl SmtpClient {
    fn new(stream: TcpStream) -> Result<Self> {
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let writer = stream.try_clone()?;
        Ok(SmtpClient {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Reads one (possibly multi-line) reply and checks its code.
    fn expect(&mut self, code: u16) -> Result<String> {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line)?;
            ensure!(n > 0, "connection closed; reply so far: {reply:?}");
            reply.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        let got: u16 = reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        ensure!(
            got == code,
            "expected {code}, server said: {}",
            reply.trim_end()
        );
        Ok(reply)
    }

    fn command(&mut self, line: &str, code: u16) -> Result<String> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.write_all(b"\r\n")?;
        self.expect(code)
            .with_context(|| format!("after {:?}", line.split(' ').next().unwrap_or(line)))
    }

    /// Sends the message with CRLF line ends and dot-stuffing, then the final dot.
    fn data(&mut self, raw: &[u8]) -> Result<()> {
        let mut out = Vec::with_capacity(raw.len() + 64);
        for line in raw.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        // A trailing newline in `raw` left an empty last line: drop its CRLF.
        if raw.ends_with(b"\n") {
            out.truncate(out.len() - 2);
        }
        out.extend_from_slice(b".\r\n");
        self.writer.write_all(&out)?;
        Ok(())
    }
}

/// How many files are under `dir` (none when it does not exist).
fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&e.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}
