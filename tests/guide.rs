//! The user guide (`docs/huong-dan.md`) against the product, so that it cannot drift
//! (issue 18). The conventions are stated at the top of the guide's source:
//! - every `$ qrca …` line of a ```sh block is run with the built binary on the demo's
//!   world, and must exit as the guide says (`# exit N`, else 0) and print every output
//!   line the guide shows under it; those that log in to the ward's Gmail accounts run on
//!   real loopback Dovecot and Postfix (tests/support/mail_servers.rs) as the accounts,
//!   `setup` is left to its own test, and the system commands are listed here, not run;
//! - every line of a ```reply block, and every inline reply command of the prose, is
//!   read by the real reply parser and must mean what the guide says it means (the table
//!   below); no other line of it may be unreadable;
//! - every line of a ```msg block is found verbatim in the product's sources or templates
//!   (test code left out), "…" standing for the part that changes;
//! - every image and link points to a file that exists, every image is used, and the
//!   README links the guide.

#[path = "support/demo_world.rs"]
mod demo_world;
#[path = "support/mail_servers.rs"]
mod mail_servers;
#[path = "support/packaged_config.rs"]
mod packaged_config;

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use qrca::inbound::commands::{Parsed, parse_registration, parse_reply, registration_kind};
use qrca::workflow::{Command, Kind, Revocation, Rows};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The guide as a reader sees it: without the developers' note (an HTML comment), its
/// lines kept so that line numbers stay right.
fn guide() -> String {
    let text =
        std::fs::read_to_string(root().join("docs/huong-dan.md")).unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some((before, after)) = rest.split_once("<!--") {
        out.push_str(before);
        let (comment, after) = after
            .split_once("-->")
            .unwrap_or_else(|| panic!("a comment left open"));
        out.push_str(&"\n".repeat(comment.matches('\n').count()));
        rest = after;
    }
    out + rest
}

/// A fenced block: its language word, the line number of its opening fence, its lines.
struct Block {
    lang: String,
    line: usize,
    lines: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    lang: lang.trim().to_owned(),
                    line: n + 1,
                    lines: Vec::new(),
                })
            }
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some(block), None) => block.lines.push(line.to_owned()),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "the guide has a fence left open");
    out
}

fn of_lang<'a>(blocks: &'a [Block], lang: &'a str) -> impl Iterator<Item = &'a Block> {
    blocks.iter().filter(move |b| b.lang == lang)
}

/// A command the guide shows: the words after `$ ` and `sudo`, the exit code it must
/// give, and the output lines the guide shows under it.
struct Shown {
    at: String,
    words: Vec<String>,
    exit: i32,
    output: Vec<String>,
}

fn shown_commands(blocks: &[Block]) -> Vec<Shown> {
    let mut out: Vec<Shown> = Vec::new();
    for block in of_lang(blocks, "sh") {
        for (i, line) in block.lines.iter().enumerate() {
            let at = format!("docs/huong-dan.md:{}", block.line + 1 + i);
            let Some(command) = line.strip_prefix("$ ") else {
                let last = out
                    .last_mut()
                    .unwrap_or_else(|| panic!("{at}: output before any command"));
                if !line.trim().is_empty() {
                    last.output.push(line.trim().to_owned());
                }
                continue;
            };
            let (command, exit) = match command.split_once(" # exit ") {
                Some((c, code)) => (
                    c,
                    code.trim().parse().unwrap_or_else(|e| panic!("{at}: {e}")),
                ),
                None => (command, 0),
            };
            let mut words = split_words(command, &at);
            if words.first().map(String::as_str) == Some("sudo") {
                words.remove(0);
            }
            out.push(Shown {
                at,
                words,
                exit,
                output: Vec::new(),
            });
        }
    }
    out
}

/// Words as a shell splits them, with double quotes (all the guide uses).
fn split_words(line: &str, at: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut word, mut quoted, mut any) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => (quoted, any) = (!quoted, true),
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            '\'' | '\\' | '$' | '`' | '|' | '>' | '<' | ';' | '&' => {
                panic!("{at}: keep the guide's commands to plain words and double quotes")
            }
            c => (word, any) = (word + &c.to_string(), true),
        }
    }
    assert!(!quoted, "{at}: a quote left open");
    if any {
        words.push(word);
    }
    words
}

/// Shown commands not run here, by their first words, and why.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "apt",
        "installs the Debian package: tested by the package's own test",
    ),
    (
        "systemctl",
        "the system's service manager: tests/systemd_unit.rs checks the unit",
    ),
    ("journalctl", "reads the system journal"),
    ("tar", "the admin's copy of /etc/qrca"),
    (
        "qrca setup",
        "writes /etc/qrca and starts the service: run by the_setup_line_sets_up_a_ward, on the \
         packaged config and real mail servers (its other paths: tests/setup_cli.rs)",
    ),
];

/// qrca commands that log in to the ward's accounts: run by
/// `the_commands_that_log_in_run_on_real_mail_servers`, on loopback Dovecot and Postfix.
const LOG_IN: &[&str] = &["qrca check --connect", "qrca accounts enroll"];

fn starts_with(words: &[String], prefix: &str) -> bool {
    let prefix: Vec<&str> = prefix.split(' ').collect();
    words.len() >= prefix.len() && words.iter().zip(&prefix).all(|(w, p)| w == p)
}

/// The demo's world, with the admin's saved mail for `qrca explain` beside the commands'
/// working directory; returns (the temp dir, the config, the working directory).
fn demo(dir: &Path) -> (PathBuf, PathBuf) {
    let config = demo_world::demo_world(dir);
    let work = dir.join("work");
    std::fs::create_dir(&work).unwrap_or_else(|e| panic!("{e}"));
    // The mail the admin saved for `qrca explain`: the demo's first refused reply.
    std::fs::copy(dir.join("demo/refused.eml"), work.join("thu.eml"))
        .unwrap_or_else(|e| panic!("{e}"));
    (config, work)
}

/// What a command printed, stdout then stderr.
fn printed(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        demo_world::text(&output.stdout),
        demo_world::text(&output.stderr)
    )
}

/// Runs one shown qrca command in `work` on `config` and checks it as the guide shows it.
fn run_as_shown(command: &Shown, work: &Path, config: &Path, env: &[(String, String)]) {
    let output = Process::new(env!("CARGO_BIN_EXE_qrca"))
        .args(&command.words[1..])
        .current_dir(work)
        .env("QRCA_CONFIG", config)
        .env_remove("QRCA_LOG")
        .envs(env.iter().cloned())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let printed = printed(&output);
    let line = command.words.join(" ");
    assert_eq!(
        output.status.code(),
        Some(command.exit),
        "{}: {line}\n{printed}",
        command.at
    );
    let printed_lines: Vec<&str> = printed.lines().map(str::trim).collect();
    for shown in &command.output {
        assert!(
            printed_lines.contains(&shown.as_str()),
            "{}: the guide shows {shown:?} under {line}; qrca printed:\n{printed}",
            command.at
        );
    }
}

#[test]
fn every_command_runs_as_the_guide_shows() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (config, work) = demo(dir.path());
    let (mut ran, mut used) = (0, Vec::new());
    for command in &shown_commands(&blocks(&guide())) {
        let words = &command.words;
        if let Some((prefix, _)) = NOT_RUN.iter().find(|(p, _)| starts_with(words, p)) {
            used.push(*prefix);
            continue;
        }
        assert!(
            starts_with(words, "qrca"),
            "{}: not a qrca command and not listed in NOT_RUN",
            command.at
        );
        if LOG_IN.iter().any(|p| starts_with(words, p)) {
            continue;
        }
        run_as_shown(command, &work, &config, &[]);
        ran += 1;
    }
    assert!(
        ran >= 15,
        "only {ran} commands ran: is the guide's convention still `$ qrca`?"
    );
    for (prefix, _) in NOT_RUN {
        assert!(
            used.contains(prefix),
            "{prefix:?} is listed here but the guide no longer shows it"
        );
    }
}

#[test]
fn the_commands_that_log_in_run_on_real_mail_servers() {
    const PASSWORD: &str = "mat-khau-ung-dung";
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (config, work) = demo(dir.path());
    let servers = mail_servers::MailServers::start().unwrap_or_else(|e| panic!("{e:#}"));
    let text = std::fs::read_to_string(&config).unwrap_or_else(|e| panic!("{e}"));
    // The demo's world, its accounts at the loopback servers instead of Gmail.
    let edited = text
        .replace("port = 1143", &format!("port = {}", servers.imap_port))
        .replace("port = 1587", &format!("port = {}", servers.smtp_port));
    assert_ne!(edited, text, "the demo's config no longer names its ports");
    std::fs::write(&config, edited).unwrap_or_else(|e| panic!("{e}"));
    let admin = "quantri@hanoi.example.gov.vn";
    assert!(
        text.contains(&format!("admin_email = \"{admin}\"")),
        "the demo's admin changed"
    );
    let accounts: Vec<String> = (1..=3)
        .map(|n| format!("qrca.hoankiem.tranhungdao{n}@gmail.com"))
        .collect();
    let mut users: Vec<(&str, &str)> = accounts.iter().map(|a| (a.as_str(), PASSWORD)).collect();
    users.push((admin, PASSWORD));
    servers
        .add_users(&users)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let env: Vec<(String, String)> = (1..=3)
        .map(|n| (format!("QRCA_DEMO_PASSWORD_{n}"), PASSWORD.to_owned()))
        .collect();
    let mut ran = Vec::new();
    for command in &shown_commands(&blocks(&guide())) {
        if let Some(prefix) = LOG_IN.iter().find(|p| starts_with(&command.words, p)) {
            run_as_shown(command, &work, &config, &env);
            ran.push(*prefix);
        }
    }
    for prefix in LOG_IN {
        assert!(
            ran.contains(prefix),
            "{prefix:?} is listed here but the guide no longer shows it"
        );
    }
    // A wrong app password: what `check --connect` says is what the guide quotes.
    let wrong: Vec<(String, String)> = env
        .iter()
        .map(|(k, _)| (k.clone(), "sai-mat-khau".to_owned()))
        .collect();
    let output = Process::new(env!("CARGO_BIN_EXE_qrca"))
        .args(["check", "--connect"])
        .env("QRCA_CONFIG", &config)
        .envs(wrong)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let printed = printed(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    let blocks = blocks(&guide());
    let shown: Vec<&Block> = of_lang(&blocks, "wrong-password").collect();
    assert_eq!(
        shown.len(),
        1,
        "the guide shows what a wrong app password prints, once"
    );
    for line in &shown[0].lines {
        assert!(
            printed.lines().any(|p| holds(p, line)),
            "the guide shows {line:?}; qrca printed:\n{printed}"
        );
    }
    // The enrolment mails reached the admin, one from each account.
    servers
        .wait_for_messages(admin, 3, std::time::Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e:#}"));
}

/// The guide installs the file scripts/package.sh makes of this version.
#[test]
fn the_install_line_names_this_versions_package() {
    let file = format!("./qrca_{}_amd64.deb", env!("CARGO_PKG_VERSION"));
    let installs: Vec<Shown> = shown_commands(&blocks(&guide()))
        .into_iter()
        .filter(|c| starts_with(&c.words, "apt install"))
        .collect();
    assert!(
        installs.first().is_some_and(|c| c.words.contains(&file)),
        "the guide's first apt install is not {file}"
    );
}

/// The guide's `qrca setup` line, as the admin types it after `apt install`, on the
/// config the package installs and real loopback mail servers (the test machine's stand-in
/// for Gmail): only `--config` (a temp dir, not /etc/qrca), the passwords on stdin,
/// `--no-start` (no systemd here) and `--yes` are added. The ward is written, the logins
/// pass, and the admin the line names gets the three enrolment mails.
#[test]
fn the_setup_line_sets_up_a_ward() {
    const PASSWORD: &str = "abcd efgh ijkl mnop";
    let shown: Vec<Shown> = shown_commands(&blocks(&guide()))
        .into_iter()
        .filter(|c| starts_with(&c.words, "qrca setup"))
        .collect();
    assert_eq!(shown.len(), 1, "the guide shows one qrca setup line");
    let words = &shown[0].words;
    let flag = |name: &str| {
        let at = words.iter().position(|w| w == name);
        at.and_then(|at| words.get(at + 1))
            .unwrap_or_else(|| panic!("{}: the setup line has no {name}", shown[0].at))
            .clone()
    };
    let admin = flag("--admin-email");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let servers = mail_servers::MailServers::start().unwrap_or_else(|e| panic!("{e:#}"));
    let config = packaged_config::packaged_config(
        dir.path(),
        (servers.imap_port, servers.smtp_port),
        mail_servers::AUTHSERV_ID,
        None,
    );
    // The accounts setup suggests for the line's names, as the admin made them at Gmail.
    let suggest = Process::new(env!("CARGO_BIN_EXE_qrca"))
        .args([
            "accounts",
            "suggest",
            "--district",
            &flag("--district"),
            "--ward",
            &flag("--name"),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let accounts = demo_world::text(&suggest.stdout);
    let mut users: Vec<(&str, &str)> = accounts.lines().map(|a| (a, "abcdefghijklmnop")).collect();
    assert_eq!(users.len(), 3, "{accounts}");
    users.push((admin.as_str(), "x"));
    servers
        .add_users(&users)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut child = Process::new(env!("CARGO_BIN_EXE_qrca"))
        .args(&words[1..])
        .arg("--config")
        .arg(&config)
        .args(["--passwords-stdin", "--no-start", "--yes"])
        .env_remove("QRCA_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    std::io::Write::write_all(&mut stdin, format!("{PASSWORD}\n").repeat(3).as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    drop(stdin);
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let printed = printed(&output);
    assert_eq!(output.status.code(), Some(0), "{}: {printed}", shown[0].at);
    let written = std::fs::read_to_string(&config).unwrap_or_else(|e| panic!("{e}"));
    for value in [
        flag("--ward"),
        flag("--officer"),
        flag("--police"),
        flag("--area-police"),
    ] {
        assert!(
            written.contains(&format!("\"{value}\"")),
            "{value} not in:\n{written}"
        );
    }
    servers
        .wait_for_messages(&admin, 3, std::time::Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e:#}"));
}

#[test]
fn every_command_named_in_the_prose_exists() {
    let text = guide();
    let mut count = 0;
    for line in text.lines().filter(|l| !l.starts_with("$ ")) {
        for (i, span) in line.split('`').enumerate() {
            let Some(rest) = span.strip_prefix("qrca ").filter(|_| i % 2 == 1) else {
                continue;
            };
            let output = Process::new(env!("CARGO_BIN_EXE_qrca"))
                .args(rest.split(' '))
                .arg("--help")
                .output()
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                output.status.code(),
                Some(0),
                "the guide names `{span}`: {}",
                demo_world::text(&output.stderr)
            );
            count += 1;
        }
    }
    assert!(count >= 3, "only {count} commands named in the prose");
}

fn rows(list: &[u32]) -> Rows {
    Rows::List(list.to_vec())
}

fn reject(rows: Rows, reason: &str) -> Command {
    Command::Reject {
        rows,
        reason: reason.to_owned(),
    }
}

/// What each reply the guide shows must mean: (the line, the parse).
fn meanings() -> Vec<(&'static str, Parsed)> {
    let commands = |commands: Vec<Command>| Parsed {
        commands,
        ..Parsed::default()
    };
    vec![
        (
            "DUYỆT 1-5",
            commands(vec![Command::Approve(rows(&[1, 2, 3, 4, 5]))]),
        ),
        (
            "DUYỆT 1-5, 8, 10-12",
            commands(vec![Command::Approve(rows(&[
                1, 2, 3, 4, 5, 8, 10, 11, 12,
            ]))]),
        ),
        ("DUYỆT", commands(vec![Command::Approve(Rows::All)])),
        (
            "TỪ CHỐI 6: không thuộc danh sách đi làm trực tiếp",
            commands(vec![reject(
                rows(&[6]),
                "không thuộc danh sách đi làm trực tiếp",
            )]),
        ),
        (
            "TỪ CHỐI 6: lý do",
            commands(vec![reject(rows(&[6]), "lý do")]),
        ),
        ("TỪ CHỐI: lý do", commands(vec![reject(Rows::All, "lý do")])),
        ("ĐÓNG DẤU", commands(vec![Command::Stamp(Rows::All)])),
        (
            "ĐÓNG DẤU 1-3",
            commands(vec![Command::Stamp(rows(&[1, 2, 3]))]),
        ),
        (
            "TỪ CHỐI 7: chưa xác minh được nơi ở",
            commands(vec![reject(rows(&[7]), "chưa xác minh được nơi ở")]),
        ),
        (
            "DUYET 1-5",
            commands(vec![Command::Approve(rows(&[1, 2, 3, 4, 5]))]),
        ),
        (
            "TU CHOI 6: ly do",
            commands(vec![reject(rows(&[6]), "ly do")]),
        ),
        ("DONG DAU", commands(vec![Command::Stamp(Rows::All)])),
        ("APPROVE", commands(vec![Command::Approve(Rows::All)])),
        (
            "REJECT 6: reason",
            commands(vec![reject(rows(&[6]), "reason")]),
        ),
        ("STAMP", commands(vec![Command::Stamp(Rows::All)])),
        (
            "THU HỒI THD-T-0001-0003: người lao động đã nghỉ việc",
            Parsed {
                revocations: vec![Revocation {
                    permit: "THD-T-0001-0003".to_owned(),
                    reason: "người lao động đã nghỉ việc".to_owned(),
                }],
                ..Parsed::default()
            },
        ),
        (
            "TRẠNG THÁI",
            Parsed {
                status: true,
                ..Parsed::default()
            },
        ),
    ]
}

/// The inline `code` spans of the prose that are reply commands.
fn inline_replies(text: &str) -> Vec<String> {
    const WORDS: [&str; 5] = ["DUYỆT", "TỪ CHỐI", "ĐÓNG DẤU", "THU HỒI", "TRẠNG THÁI"];
    let mut out = Vec::new();
    for line in text.lines() {
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && WORDS.iter().any(|w| span.starts_with(w)) {
                out.push(span.to_owned());
            }
        }
    }
    out
}

#[test]
fn every_reply_means_what_the_guide_says() {
    let text = guide();
    let blocks = blocks(&text);
    let meanings = meanings();
    let mut seen = Vec::new();
    let fenced = of_lang(&blocks, "reply").flat_map(|b| b.lines.iter().cloned());
    let all: Vec<String> = fenced.chain(inline_replies(&text)).collect();
    assert!(all.len() >= 15, "only {} reply forms found", all.len());
    for line in all {
        let parsed = parse_reply(&line);
        assert!(
            parsed.unreadable.is_empty() && parsed.understood_anything(),
            "{line:?} is not read: {parsed:?}"
        );
        let Some((_, meaning)) = meanings.iter().find(|(l, _)| *l == line) else {
            panic!("the guide shows the reply {line:?}: add what it means to meanings()")
        };
        assert_eq!(&parsed, meaning, "{line:?}");
        seen.push(line);
    }
    for (line, _) in &meanings {
        assert!(
            seen.iter().any(|s| s == line),
            "{line:?} is no longer in the guide"
        );
    }
    // One reply with several lines, as the guide's first example is written.
    let first = of_lang(&blocks, "reply")
        .next()
        .map(|b| b.lines.join("\n"))
        .unwrap_or_default();
    assert_eq!(parse_reply(&first).commands.len(), 2, "{first}");
}

#[test]
fn the_registration_and_its_subjects_open_what_the_guide_says() {
    let text = guide();
    let blocks = blocks(&text);
    let body: Vec<&Block> = of_lang(&blocks, "registration").collect();
    assert_eq!(body.len(), 1, "the guide shows one registration body");
    let organisation =
        parse_registration(&body[0].lines.join("\n")).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(organisation.name, "Công ty Cổ phần Dược phẩm Hà Tây");
    assert_eq!(organisation.email, "nhansu@duochatay.example.vn");
    assert_eq!(organisation.tax_code.as_deref(), Some("0500123456"));
    for (subject, kind) in [
        ("ĐĂNG KÝ TỔ CHỨC", Kind::T),
        ("ĐĂNG KÝ CÁ NHÂN", Kind::C),
        ("THẺ ĐI CHỢ", Kind::H),
    ] {
        assert!(
            text.contains(&format!("`{subject}`")),
            "the guide no longer shows {subject}"
        );
        assert_eq!(registration_kind(subject), Some(kind), "{subject}");
    }
}

/// The mails one person received in the demo, as (subject, text).
fn received(demo: &Path, address: &str) -> Vec<(String, String)> {
    let dir = demo.join("mail").join(address).join("new");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let bytes = std::fs::read(entry.unwrap_or_else(|e| panic!("{e}")).path())
            .unwrap_or_else(|e| panic!("{e}"));
        let mail = mail_parser::MessageParser::default()
            .parse(&bytes)
            .unwrap_or_else(|| panic!("a mail in {}", dir.display()));
        let text = mail
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default();
        out.push((mail.subject().unwrap_or("").to_owned(), text));
    }
    out
}

#[test]
fn the_first_reply_gets_the_answers_the_guide_describes() {
    // The demo's first officer writes the guide's first reply, through the daemon's own
    // intake, engine and outbox; what came back is what the guide says.
    let text = guide();
    let blocks = blocks(&text);
    let first = of_lang(&blocks, "reply")
        .next()
        .map(|b| b.lines.join("\n"))
        .unwrap_or_default();
    let flows =
        std::fs::read_to_string(root().join("src/demo/flows.rs")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        flows.contains(&first.replace('\n', "\\n")),
        "the demo no longer replies {first:?}"
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let demo = demo_world::demo_world(dir.path())
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let find = |who: &str, subject: &str| {
        received(&demo, who)
            .into_iter()
            .find(|(s, _)| s.starts_with("[QRCA THD-T-0001]") && s.contains(subject))
            .unwrap_or_else(|| panic!("{who} got no {subject:?}"))
            .1
    };
    let recorded = find("canbo.thd@hoankiem.hanoi.gov.vn", "Đã ghi nhận quyết định");
    assert!(recorded.contains("Đã duyệt các dòng: 1-5"), "{recorded}");
    assert!(
        recorded.contains("không được duyệt, lý do: không thuộc danh sách đi làm trực tiếp"),
        "{recorded}"
    );
    // "lý do được gửi cho tổ chức"
    let rejected = find("nhansu@duochatay.example.vn", "không được duyệt");
    assert!(
        rejected.contains("không thuộc danh sách đi làm trực tiếp"),
        "{rejected}"
    );
    // The police's ĐÓNG DẤU: "Giấy được gửi tới người đăng ký ngay sau đó."
    assert!(
        flows.contains("\"ĐÓNG DẤU\\n"),
        "the demo's police no longer reply ĐÓNG DẤU"
    );
    find("nhansu@duochatay.example.vn", "đã được cấp");
}

/// Whether `text` holds the `…`-separated parts of `quoted`, in order.
fn holds(text: &str, quoted: &str) -> bool {
    let mut rest = text;
    for part in quoted.split('…').map(str::trim).filter(|p| !p.is_empty()) {
        let Some(at) = rest.find(part) else {
            return false;
        };
        rest = &rest[at + part.len()..];
    }
    true
}

#[test]
fn the_quoted_subjects_are_the_demos_mails() {
    // The subjects the prose quotes as *"…"*: each is the subject of a mail someone got in
    // the demo, or (the daily report, which the demo does not reach) its template's words.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let demo = demo_world::demo_world(dir.path())
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut subjects = Vec::new();
    for person in std::fs::read_dir(demo.join("mail")).unwrap_or_else(|e| panic!("{e}")) {
        let person = person.unwrap_or_else(|e| panic!("{e}")).file_name();
        subjects.extend(
            received(&demo, &person.to_string_lossy())
                .into_iter()
                .map(|(s, _)| s),
        );
    }
    let product = product_text();
    let text = guide();
    let quoted: Vec<&str> = text
        .split("*\"")
        .skip(1)
        .filter_map(|r| r.split_once("\"*"))
        .map(|q| q.0)
        .collect();
    assert!(quoted.len() >= 6, "only {} subjects quoted", quoted.len());
    for q in quoted {
        let in_demo = subjects.iter().any(|s| holds(s, q));
        let in_template = q
            .split('…')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .all(|p| product.contains(p));
        assert!(
            in_demo || in_template,
            "the guide quotes the subject {q:?}; no mail of the demo has it"
        );
    }
}

/// The product's own text: sources and templates, test code left out.
fn product_text() -> String {
    let mut text = String::new();
    let mut dirs = vec![root().join("src"), root().join("templates")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                dirs.push(path);
            } else if name != "tests.rs" && (name.ends_with(".rs") || name.ends_with(".txt")) {
                let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
                text.push_str(source.split("#[cfg(test)]").next().unwrap_or(""));
                text.push('\n');
            }
        }
    }
    text
}

#[test]
fn every_quoted_message_is_the_products() {
    let product = product_text();
    let mut count = 0;
    for block in of_lang(&blocks(&guide()), "msg") {
        for (i, line) in block.lines.iter().enumerate() {
            for part in line.split('…').map(str::trim).filter(|p| !p.is_empty()) {
                assert!(
                    product.contains(part),
                    "docs/huong-dan.md:{}: {part:?} is not in src/ or templates/ (changed message?)",
                    block.line + 1 + i
                );
            }
            count += 1;
        }
    }
    assert!(count >= 10, "only {count} messages quoted");
}

/// The targets of `[..](target)` and `![..](target)`.
fn link_targets(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(t, _)| t.to_owned()))
        .collect()
}

#[test]
fn every_link_and_image_exists() {
    let text = guide();
    let docs = root().join("docs");
    let targets = link_targets(&text);
    for target in &targets {
        if target.starts_with("http") {
            continue;
        }
        if let Some(anchor) = target.strip_prefix('#') {
            assert!(
                text.contains(&format!("<a id=\"{anchor}\"></a>")),
                "no anchor {anchor}"
            );
            continue;
        }
        let file = target.split('#').next().unwrap_or("");
        assert!(
            docs.join(file).is_file(),
            "the guide links {target}, which does not exist"
        );
    }
    for image in std::fs::read_dir(docs.join("img")).unwrap_or_else(|e| panic!("{e}")) {
        let path = image.unwrap_or_else(|e| panic!("{e}")).path();
        let name = format!(
            "img/{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("")
        );
        assert!(targets.contains(&name), "{name} is not used by the guide");
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(
            size < 160_000,
            "{name} is {size} bytes (scripts/guide-screenshots.sh)"
        );
    }
    let readme =
        std::fs::read_to_string(root().join("README.md")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        readme.contains("(docs/huong-dan.md)"),
        "the README does not link the guide"
    );
}

#[test]
fn the_words_split_as_a_shell_would() {
    let at = "here";
    assert_eq!(
        split_words(
            "qrca accounts suggest --district \"Quận Hoàn Kiếm\" --ward X",
            at
        ),
        [
            "qrca",
            "accounts",
            "suggest",
            "--district",
            "Quận Hoàn Kiếm",
            "--ward",
            "X"
        ]
    );
    assert!(starts_with(
        &split_words("qrca check --connect", at),
        "qrca check --connect"
    ));
    assert!(!starts_with(
        &split_words("qrca check", at),
        "qrca check --connect"
    ));
}
