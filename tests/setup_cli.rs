//! `qrca setup --ward CODE` (issue 18, "After install"), the real binary on the config
//! the Debian package installs (`packaging/deb/qrca.toml`, no `[[ward]]`) and the loopback Dovecot and Postfix: the
//! ward written with the file's comments kept, the app passwords owner-only and
//! without their spaces, the key made, the logins checked, the three enrolment mails
//! at the admin, and then `qrca run` on that config answering a registration. A wrong
//! password stops it before anything is sent; run again, it keeps the ward's section
//! and key. A missing answer with `--yes` names its flag; a missing config is named.
//! At a terminal (a pty, through util-linux's `script`), the password is not echoed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mail_servers.rs"]
mod mail_servers;
#[path = "support/packaged_config.rs"]
mod packaged_config;
#[path = "support/people.rs"]
mod people;

use mail_servers::{AUTHSERV_ID, MailServers};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const WARD: &str = "hoankiem.tranhungdao";
const NAME: &str = "Phường Trần Hưng Đạo";
const DISTRICT: &str = "Quận Hoàn Kiếm";
const OFFICER: &str = "canbo@hoankiem.gov.test";
const POLICE: &str = "congan@hoankiem.gov.test";
const CSKV: &str = "cskv@hoankiem.gov.test";
const ORG: &str = "nhansu@congty.test";
const ADMIN: &str = "admin@hoankiem.gov.test";
const PASSWORD: &str = "mat-khau-thu";
/// The app passwords as Gmail shows them.
const APP_PASSWORDS: [&str; 3] = [
    "abcd efgh ijkl mnop",
    "qrst uvwx yzab cdef",
    "ghij klmn opqr stuv",
];
const WAIT: Duration = Duration::from_secs(60);

fn accounts() -> [String; 3] {
    qrca::config::fold::suggest(DISTRICT, NAME).unwrap()
}

fn stripped(password: &str) -> String {
    password.replace(' ', "")
}

/// The packaged config on the loopback servers; `admin`: whether `[service]`'s
/// admin_email is filled in (else it stays the package's comment).
fn package_config(dir: &Path, ports: (u16, u16), admin: bool) -> PathBuf {
    packaged_config::packaged_config(dir, ports, AUTHSERV_ID, admin.then_some(ADMIN))
}

/// `qrca setup` on `config` for ward `ward` with every answer as a flag but `--name`
/// when `name` is `None`; the passwords on stdin, never asking, never starting.
fn setup_args(ward: &str, name: Option<&str>, config: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["setup", "--ward", ward].map(str::to_owned).to_vec();
    if let Some(name) = name {
        args.extend(["--name".to_owned(), name.to_owned()]);
    }
    args.extend(
        [
            "--district",
            DISTRICT,
            "--short",
            "THD",
            "--officer",
            OFFICER,
            "--police",
            POLICE,
            "--area-police",
            CSKV,
            "--passwords-stdin",
            "--no-start",
            "--yes",
            "--config",
        ]
        .map(str::to_owned),
    );
    args.push(config.display().to_string());
    args
}

/// `qrca setup` with every answer as a flag, `stdin` as the passwords.
fn setup(config: &Path, extra: &[&str], stdin: &str) -> Output {
    let mut args = setup_args(WARD, Some(NAME), config);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    run_with_stdin(&args, stdin)
}

fn run_with_stdin(args: &[String], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn kid(config: &Path) -> String {
    let config = qrca::config::load(config).unwrap().config;
    let ward = config.ward(WARD).unwrap();
    qrca::permit::issue::current_entry(&config, ward)
        .unwrap()
        .1
        .kid
}

#[test]
fn setup_takes_a_fresh_install_to_a_daemon_that_answers() {
    let servers = MailServers::start().unwrap_or_else(|e| panic!("{e:#}"));
    let accounts = accounts();
    let mut users: Vec<(&str, String)> = accounts
        .iter()
        .zip(APP_PASSWORDS)
        .map(|(a, p)| (a.as_str(), stripped(p)))
        .collect();
    for person in [OFFICER, POLICE, CSKV, ORG, ADMIN] {
        users.push((person, PASSWORD.to_owned()));
    }
    let users: Vec<(&str, &str)> = users.iter().map(|(a, p)| (*a, p.as_str())).collect();
    servers
        .add_users(&users)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap();
    let config = package_config(dir.path(), (servers.imap_port, servers.smtp_port), false);
    let original = std::fs::read_to_string(&config).unwrap();

    // A wrong second password: the logins stop it, the account is named, nothing sent.
    let wrong = format!(
        "{}\nnot the password\n{}\n",
        APP_PASSWORDS[0], APP_PASSWORDS[2]
    );
    let out = setup(&config, &["--admin-email", ADMIN], &wrong);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(&format!("the app password of {} was refused", accounts[1])),
        "{said}"
    );
    assert!(
        !said.contains(&format!("app password of {} was refused", accounts[0])),
        "{said}"
    );
    assert!(
        !said.contains("not the password") && !said.contains("notthepassword"),
        "{said}"
    );
    assert!(servers.messages(ADMIN).unwrap().is_empty());
    let first_kid = kid(&config);

    // Again with the right one: the others kept (empty lines), the ward not doubled.
    let right = format!("\n{}\n\n", APP_PASSWORDS[1]);
    let out = setup(&config, &[], &right);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("kept as it is"), "{said}");
    assert!(
        said.contains("xong (done)") && said.contains(&first_kid),
        "{said}"
    );
    for password in APP_PASSWORDS {
        assert!(
            !said.contains(password) && !said.contains(&stripped(password)),
            "{said}"
        );
    }
    assert_eq!(kid(&config), first_kid);
    check_files(dir.path(), &config, &original);
    let enrolments = servers.wait_for_messages(ADMIN, 3, WAIT).unwrap();
    assert_eq!(enrolments.len(), 3);
    for account in &accounts {
        assert!(
            enrolments
                .iter()
                .any(|m| String::from_utf8_lossy(m).contains(&format!("From: {account}"))),
            "no enrolment from {account}"
        );
    }
    answers_a_registration(&servers, &config, dir.path());

    // Without --no-start, on a machine whose systemd does not know qrca (or has no
    // systemd at all): the ward is set up, and the line to run by hand is printed.
    let mut args: Vec<String> = ["setup", "--ward", WARD, "--yes", "--config"]
        .map(str::to_owned)
        .to_vec();
    args.push(config.display().to_string());
    let out = run_with_stdin(&args, "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("systemctl enable --now qrca") && said.contains("by hand"),
        "{said}"
    );
    assert!(
        said.contains("xong (done)") && said.contains(&first_kid),
        "{said}"
    );
}

/// What the setup left: the config valid, its comments kept, one ward; each password
/// owner-only without spaces; the key owner-only.
fn check_files(dir: &Path, config: &Path, original: &str) {
    let check = Command::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["check", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    let written = std::fs::read_to_string(config).unwrap();
    for line in original.lines().filter(|l| l.starts_with('#')) {
        assert!(written.contains(line), "{line:?} lost:\n{written}");
    }
    let tables = |name: &str| written.lines().filter(|l| l.trim() == name).count();
    assert_eq!(tables("[[ward]]"), 1, "{written}");
    assert_eq!(tables("[[ward.account]]"), 3, "{written}");
    assert!(
        written.contains(&format!("admin_email = \"{ADMIN}\"")),
        "{written}"
    );
    assert_eq!(mode(config), 0o640);
    for (n, password) in APP_PASSWORDS.iter().enumerate() {
        let file = dir.join(format!("secrets/{WARD}.{}", n + 1));
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        assert_eq!(
            std::fs::read_to_string(&file).unwrap().trim(),
            stripped(password)
        );
    }
    let key = dir.join(format!("keys/{WARD}.key"));
    assert_eq!(mode(&key), 0o600);
    assert!(
        std::fs::read_to_string(key)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY")
    );
}

/// `qrca run` on the config setup wrote answers an officer's registration.
fn answers_a_registration(servers: &MailServers, config: &Path, dir: &Path) {
    let log = dir.join("qrca.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_qrca"))
            .args(["run", "--config"])
            .arg(config)
            .env("QRCA_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap(),
    );
    let account = &accounts()[0];
    let raw = people::registration(OFFICER, account, "Công ty Vận tải Sông Hồng", ORG);
    servers
        .submit(OFFICER, PASSWORD, OFFICER, &[account], &raw)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let deadline = Instant::now() + WAIT;
    loop {
        let answered = servers
            .messages(ORG)
            .unwrap()
            .iter()
            .any(|m| String::from_utf8_lossy(m).contains("THD-T-0001"));
        if answered {
            break;
        }
        assert!(
            daemon.0.try_wait().unwrap().is_none(),
            "qrca run stopped\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert!(
            Instant::now() < deadline,
            "no answer to the registration\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon.stop();
}

/// The daemon, killed if the test fails before it stops it.
struct Daemon(Child);

impl Daemon {
    fn stop(&mut self) {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.0.wait().unwrap();
        assert!(status.success(), "qrca run exited with {status}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn a_missing_answer_or_config_is_named_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: nothing here gets as far as a login.
    let config = package_config(dir.path(), (1, 1), true);
    let original = std::fs::read_to_string(&config).unwrap();
    let args = setup_args(WARD, None, &config);
    let out = run_with_stdin(&args, "a\nb\nc\n");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("missing --name (the ward's name, e.g. \"Phường Trần Hưng Đạo\")"),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    // No password and no file to keep: named, nothing written.
    let out = setup(&config, &[], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("no app password for {}", accounts()[0])),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);

    // A code other than the names fold to is a warning, not an error.
    let args = setup_args("hk.thd", Some(NAME), &config);
    let out = run_with_stdin(&args, "");
    let said = text(&out);
    assert!(
        said.contains("warning: --ward hk.thd is not what the names fold to (hoankiem.tranhungdao"),
        "{said}"
    );
    assert!(
        said.contains("no app password for qrca.hoankiem.tranhungdao1@gmail.com"),
        "{said}"
    );

    let missing = dir.path().join("nope/qrca.toml");
    let out = setup(&missing, &[], "a\nb\nc\n");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("there is no config at {}", missing.display()))
            && said.contains("the qrca package installs /etc/qrca/qrca.toml"),
        "{said}"
    );
    assert!(!missing.parent().unwrap().exists());
}

/// At a terminal (a pty made by `script`), the app passwords are asked without echo.
#[test]
fn at_a_terminal_the_password_is_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let config = package_config(dir.path(), (1, 1), true);
    let command = format!(
        "{} setup --ward {WARD} --name '{NAME}' --district '{DISTRICT}' \
         --officer {OFFICER} --police {POLICE} --no-start --config {}",
        env!("CARGO_BIN_EXE_qrca"),
        config.display()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    // The short code and the area police are asked (the latter answered with nothing),
    // then each password.
    let answers = [("(short)", 1, "THD"), ("(area police)", 1, "")]
        .into_iter()
        .chain(
            APP_PASSWORDS
                .iter()
                .enumerate()
                .map(|(n, p)| ("(app password)", n + 1, *p)),
        );
    for (prompt, count, answer) in answers {
        let deadline = Instant::now() + WAIT;
        while seen.matches(prompt).count() < count {
            let chunk = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("no prompt {prompt} {count}:\n{seen}"));
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    drop(stdin);
    let status = child.wait().unwrap();
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(5)) {
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    // Nothing listens on port 1: the logins fail, after the passwords were written.
    assert!(!status.success(), "{seen}");
    for password in APP_PASSWORDS {
        assert!(
            !seen.contains(password) && !seen.contains(&stripped(password)),
            "{seen}"
        );
    }
    for (n, password) in APP_PASSWORDS.iter().enumerate() {
        let file = dir.path().join(format!("secrets/{WARD}.{}", n + 1));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap().trim(),
            stripped(password),
            "{seen}"
        );
    }
    assert!(seen.contains("kiểm tra đăng nhập"), "{seen}");
    // The answers typed are in the config, and were echoed as typed.
    assert!(seen.contains("THD"), "{seen}");
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.contains("short = \"THD\"") && written.contains("area_police = []"),
        "{written}"
    );
}
