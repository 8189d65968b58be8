//! The end-to-end tests' world: the loopback mail servers, a directory per PC or
//! daemon (its config, secrets, keys and state), the daemons run as child processes
//! (their logs, SIGTERM or SIGKILL), and the people's side: send, answer, wait for mail.
#![allow(dead_code)]

use super::mail_servers::{AUTHSERV_ID, MailServers};
use super::people::answer_mail;
use qrca::inbound::mail::{Mail, parse_mail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "mat-khau-thu";
pub const WAIT: Duration = Duration::from_secs(90);

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn ok(out: Output, what: &str) -> String {
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{what}: {all}");
    all
}

/// One running daemon: its log, SIGTERM or SIGKILL.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn start(dir: &Path, args: &[&str], ready: &str) -> Daemon {
        Daemon::start_env(dir, args, ready, None)
    }

    /// As [`Daemon::start`], with `QRCA_FAULT` set to `fault` when given.
    pub fn start_env(dir: &Path, args: &[&str], ready: &str, fault: Option<&str>) -> Daemon {
        let log_path = dir.join("qrca.log");
        let before = std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .matches(ready)
            .count();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let child = Command::new("prlimit")
            .arg("--as=4294967296")
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_qrca"))
            .args(args)
            .arg("--config")
            .arg(dir.join("qrca.toml"))
            .env("QRCA_LOG", "info")
            .env_remove("QRCA_FAULT")
            .envs(fault.map(|f| ("QRCA_FAULT", f)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let daemon = Daemon {
            child,
            log: log_path,
        };
        let deadline = Instant::now() + WAIT;
        while daemon.log().matches(ready).count() == before {
            assert!(
                Instant::now() < deadline,
                "{args:?} did not start\n{}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    /// Whether the process has ended (and is reaped).
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&mut self, signal: &str) {
        let pid = self.child.id().to_string();
        Command::new("kill").args([signal, &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "did not stop\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct World {
    pub servers: MailServers,
    pub root: tempfile::TempDir,
}

impl World {
    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    pub fn qrca(&self, dir: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_qrca"))
            .args(args)
            .arg("--config")
            .arg(self.dir(dir).join("qrca.toml"))
            .output()
            .unwrap()
    }

    pub fn send(&self, from: &str, to: &str, raw: &[u8]) {
        self.servers
            .submit(from, PASSWORD, from, &[to], raw)
            .unwrap_or_else(|e| panic!("{e:#}"));
    }

    pub fn answer(&self, from: &str, request: &Mail, words: &str) {
        let (to, raw) = answer_mail(from, request, words);
        self.send(from, &to, &raw);
    }

    pub fn mails(&self, address: &str, subject: &str) -> Vec<Mail> {
        self.mails_in(address, "INBOX", subject)
    }

    /// Mails a ward daemon took in: INBOX and its processed folder.
    pub fn taken(&self, address: &str, subject: &str) -> Vec<Mail> {
        let mut all = self.mails_in(address, "QRCA/Processed", subject);
        all.extend(self.mails(address, subject));
        all
    }

    pub fn mails_in(&self, address: &str, folder: &str, subject: &str) -> Vec<Mail> {
        self.servers
            .messages_in(address, folder)
            .unwrap()
            .iter()
            .map(|raw| parse_mail(raw, &[AUTHSERV_ID.to_owned()]).unwrap())
            .filter(|m| m.subject.contains(subject))
            .collect()
    }

    /// The `n`th (from 1) mail to `address` about `subject`, once it is there.
    pub fn wait_mail(&self, address: &str, subject: &str, n: usize, logs: &[&Daemon]) -> Mail {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut found = self.mails(address, subject);
            if found.len() >= n {
                return found.swap_remove(n - 1);
            }
            assert!(
                Instant::now() < deadline,
                "{address} has {} mail(s) about {subject:?}, expected {n}\n{}",
                found.len(),
                logs.iter()
                    .map(|d| d.log())
                    .collect::<Vec<_>>()
                    .join("\n----\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

pub fn write_dir(dir: &Path, config: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    let secret = dir.join("secrets/password");
    std::fs::write(&secret, PASSWORD).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(dir.join("qrca.toml"), config).unwrap();
}
