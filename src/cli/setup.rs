//! `qrca setup --ward CODE` (issue 18): from a freshly installed package to a running
//! daemon. Writes the ward's `[[ward]]` (the three addresses `accounts suggest` gives),
//! each app password (owner-only), the signing key; then the checks of `check
//! --connect`, the enrolment of `accounts enroll`, and `systemctl enable --now qrca`.
//! Every answer has a flag, for scripted installs; the rest are asked at the terminal.
//!
//! Owns the order of those steps and what it says at each. The config text is changed
//! by `config::edit` (comments kept), checked by `config::load`, the logins are
//! `check`'s and the enrolment `accounts`'s: setup never judges a config itself. A
//! ward already in the config keeps its section: running setup again after a refused
//! password asks only the passwords (an empty answer keeps a password file).

mod ask;
mod files;
mod start;

use crate::config::{self, edit, fold};
use anyhow::Context;
use ask::{Asker, Question};
use files::Owner;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `qrca setup`'s flags: one per answer.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// The ward's code, district.ward folded as `accounts suggest` does (e.g.
    /// hoankiem.tranhungdao).
    #[arg(long, value_name = "CODE")]
    pub ward: String,
    /// The config to add the ward to (default: $QRCA_CONFIG, then /etc/qrca/qrca.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The ward's name, e.g. "Phường Trần Hưng Đạo".
    #[arg(long)]
    pub name: Option<String>,
    /// The district's name, e.g. "Quận Hoàn Kiếm".
    #[arg(long)]
    pub district: Option<String>,
    /// The ward's short code in case numbers, e.g. THD.
    #[arg(long)]
    pub short: Option<String>,
    /// Where enrolments and reports go ([service] admin_email); asked only when the
    /// config has none.
    #[arg(long, value_name = "ADDR")]
    pub admin_email: Option<String>,
    /// A ward officer (cán bộ UBND) who approves rows; repeat for each.
    #[arg(long = "officer", value_name = "ADDR")]
    pub officers: Vec<String>,
    /// A ward police officer (công an) who stamps; repeat for each.
    #[arg(long = "police", value_name = "ADDR")]
    pub police: Vec<String>,
    /// An area police officer (CSKV); repeat for each.
    #[arg(long = "area-police", value_name = "ADDR")]
    pub area_police: Vec<String>,
    /// The ward's three accounts, in order (default: what `qrca accounts suggest`
    /// gives for the district and the name); exactly three.
    #[arg(long = "account", value_name = "ADDR")]
    pub accounts: Vec<String>,
    /// Read the app passwords from standard input, one a line, in account order,
    /// instead of asking (an empty line keeps an existing password file).
    #[arg(long)]
    pub passwords_stdin: bool,
    /// Do everything but `systemctl enable --now qrca`.
    #[arg(long)]
    pub no_start: bool,
    /// Never ask: a missing answer is an error naming its flag.
    #[arg(long)]
    pub yes: bool,
}

/// What setup will write, once every answer is in.
struct Plan {
    code: String,
    /// The `[[ward]]` to add; `None` when the config has the ward already.
    new_ward: Option<edit::NewWard>,
    /// `[service] admin_email` to add, when the config has none.
    admin_email: Option<String>,
    /// Each account and its password file (absolute), when it logs in with one.
    accounts: Vec<(String, Option<PathBuf>)>,
    /// Each account's new password; `None` keeps the file (or it has none).
    passwords: Vec<Option<String>>,
}

/// Exit 0: the ward is set up (and the daemon started unless `--no-start`); 1: a
/// login, the enrolment or the config's check failed (what to do is printed); 2: a
/// missing answer or an unusable config (an error).
pub fn run(args: &SetupArgs) -> anyhow::Result<u8> {
    let path = config::resolve_path(args.config.clone());
    let text = read_config(&path)?;
    let dir = std::path::absolute(&path)?
        .parent()
        .map_or_else(PathBuf::new, Path::to_path_buf);
    let asker = Asker::new(args.yes);
    let plan = gather(args, &asker, &text, &dir)?;
    let mut out = std::io::stdout().lock();
    let owner = Owner::detect();
    let Some(config) = write(&plan, &owner, (&path, &text), &mut out)? else {
        return Ok(1);
    };
    let Some(ward) = config.ward(&plan.code) else {
        anyhow::bail!(super::no_such_ward(&config, &plan.code));
    };
    if !check(ward, &plan.code, &mut out)? {
        return Ok(1);
    }
    writeln!(
        out,
        "gửi thư đăng ký (enrolment) tới {}:",
        config.service.admin_email
    )?;
    if super::accounts::send_enrolment(&config, ward, &mut out)? > 0 {
        writeln!(
            out,
            "the enrolment failed (above): fix what the lines say, then `qrca accounts enroll --ward {}`",
            plan.code
        )?;
        return Ok(1);
    }
    let started = if args.no_start {
        writeln!(
            out,
            "--no-start: the daemon is not started (systemctl enable --now qrca)"
        )?;
        None
    } else {
        Some(start::start(config.standby.is_some(), &mut out)?)
    };
    summary(&config, ward, started == Some(true), &mut out)?;
    // The ward is set up either way; a daemon that should run and does not is a failure.
    Ok(if started == Some(false) { 1 } else { 0 })
}

fn read_config(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "there is no config at {}: the qrca package installs /etc/qrca/qrca.toml \
             (apt install --reinstall qrca); or give the file with --config PATH",
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot read the config {}", path.display())),
    }
}

/// Every answer, from the flags or the terminal, before anything is written.
fn gather(args: &SetupArgs, asker: &Asker, text: &str, dir: &Path) -> anyhow::Result<Plan> {
    let code = args.ward.trim().to_owned();
    let existing = edit::ward_accounts(text, &code)?;
    let admin_email = match edit::admin_email(text)? {
        Some(_) => None,
        None => Some(asker.text(
            args.admin_email.clone(),
            &Question {
                flag: "--admin-email",
                what: "where enrolments and reports go: the city's or the admin's address",
                ask: "Địa chỉ quản trị (admin_email), nơi nhận thư đăng ký",
            },
        )?),
    };
    let (new_ward, accounts): (_, Vec<(String, Option<PathBuf>)>) = match existing {
        Some(accounts) => {
            eprintln!("ward {code} is in the config already: its section is kept as it is");
            let resolved = accounts
                .into_iter()
                .map(|(address, file)| (address, file.map(|f| dir.join(f))))
                .collect();
            (None, resolved)
        }
        None => {
            let ward = new_ward(args, asker, &code, dir)?;
            let accounts = ward
                .accounts
                .iter()
                .map(|(a, f)| (a.clone(), Some(PathBuf::from(f))))
                .collect();
            (Some(ward), accounts)
        }
    };
    let passwords = passwords(args, asker, &accounts)?;
    Ok(Plan {
        code,
        new_ward,
        admin_email,
        accounts,
        passwords,
    })
}

/// The `[[ward]]` of a ward not in the config yet.
fn new_ward(
    args: &SetupArgs,
    asker: &Asker,
    code: &str,
    dir: &Path,
) -> anyhow::Result<edit::NewWard> {
    let q = |flag, what, ask| Question { flag, what, ask };
    let name = asker.text(
        args.name.clone(),
        &q(
            "--name",
            "the ward's name, e.g. \"Phường Trần Hưng Đạo\"",
            "Tên phường (name), ví dụ Phường Trần Hưng Đạo",
        ),
    )?;
    let district = asker.text(
        args.district.clone(),
        &q(
            "--district",
            "the district's name, e.g. \"Quận Hoàn Kiếm\"",
            "Tên quận (district), ví dụ Quận Hoàn Kiếm",
        ),
    )?;
    let folded = format!("{}.{}", fold::fold(&district), fold::fold(&name));
    if folded != code {
        eprintln!(
            "warning: --ward {code} is not what the names fold to ({folded}, as `qrca accounts suggest` folds them); kept as given"
        );
    }
    let short = asker.text(
        args.short.clone(),
        &q(
            "--short",
            "the ward's short code in case numbers, e.g. THD",
            "Mã viết tắt (short), ví dụ THD",
        ),
    )?;
    let people = people(args, asker)?;
    let accounts = account_addresses(args, &district, &name)?;
    let file = |n: usize| {
        dir.join(format!("secrets/{code}.{n}"))
            .display()
            .to_string()
    };
    Ok(edit::NewWard {
        code: code.to_owned(),
        short,
        name,
        district,
        signing_key: dir.join(format!("keys/{code}.key")).display().to_string(),
        officers: people[0].clone(),
        police: people[1].clone(),
        area_police: people[2].clone(),
        accounts: accounts
            .into_iter()
            .enumerate()
            .map(|(i, a)| (a, file(i + 1)))
            .collect(),
    })
}

/// The officers, the ward police and the area police.
fn people(args: &SetupArgs, asker: &Asker) -> anyhow::Result<[Vec<String>; 3]> {
    let q = |flag, what, ask| Question { flag, what, ask };
    Ok([
        asker.list(
            args.officers.clone(),
            &q(
                "--officer",
                "a ward officer's address, who approves rows; repeat for each",
                "Cán bộ UBND duyệt hồ sơ (officers), các địa chỉ cách nhau bởi dấu phẩy",
            ),
            true,
        )?,
        asker.list(
            args.police.clone(),
            &q(
                "--police",
                "a ward police officer's address, who stamps; repeat for each",
                "Công an phường đóng dấu (police), các địa chỉ cách nhau bởi dấu phẩy",
            ),
            true,
        )?,
        asker.list(
            args.area_police.clone(),
            &q(
                "--area-police",
                "an area police officer's address (CSKV); repeat for each",
                "Cảnh sát khu vực (area police), có thể bỏ trống",
            ),
            false,
        )?,
    ])
}

/// `--account` three times, or the three addresses `accounts suggest` gives.
fn account_addresses(args: &SetupArgs, district: &str, name: &str) -> anyhow::Result<Vec<String>> {
    if args.accounts.is_empty() {
        return Ok(fold::suggest(district, name)?.to_vec());
    }
    if args.accounts.len() != fold::ACCOUNTS_PER_WARD {
        anyhow::bail!(
            "--account given {} times: a ward has exactly {} accounts (or leave --account out for `qrca accounts suggest`'s)",
            args.accounts.len(),
            fold::ACCOUNTS_PER_WARD
        );
    }
    Ok(args.accounts.iter().map(|a| a.trim().to_owned()).collect())
}

/// Each account's app password: a line of standard input (`--passwords-stdin`), or
/// typed without echo; empty keeps an existing file, and is an error without one.
fn passwords(
    args: &SetupArgs,
    asker: &Asker,
    accounts: &[(String, Option<PathBuf>)],
) -> anyhow::Result<Vec<Option<String>>> {
    let lines: Option<Vec<String>> = if args.passwords_stdin {
        let mut all = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut all)
            .context("reading the passwords from standard input")?;
        Some(all.lines().map(ask::strip_spaces).collect())
    } else {
        None
    };
    let mut out = Vec::new();
    for (i, (address, file)) in accounts.iter().enumerate() {
        let Some(file) = file else {
            out.push(None);
            continue;
        };
        let ask = format!("Mật khẩu ứng dụng (app password) của {address} (Enter: giữ nguyên)");
        let typed = match &lines {
            Some(lines) => lines.get(i).cloned().unwrap_or_default(),
            None if file.exists() && !asker.prompts() => String::new(),
            None => asker.password(&Question {
                flag: "--passwords-stdin",
                what: "the accounts' app passwords, one a line on standard input, in account order",
                ask: &ask,
            })?,
        };
        if typed.is_empty() && !file.exists() {
            anyhow::bail!(
                "no app password for {address}, and no {} to keep: give it (Google account → Security → App passwords)",
                file.display()
            );
        }
        out.push((!typed.is_empty()).then_some(typed));
    }
    Ok(out)
}

/// The password files, the signing key and the config, in that order (the config
/// last, and only once the new text loads); the config as loaded, or `None` when it
/// does not (the errors printed, the file untouched).
fn write(
    plan: &Plan,
    owner: &Owner,
    (path, text): (&Path, &str),
    out: &mut dyn Write,
) -> anyhow::Result<Option<config::Config>> {
    for ((address, file), password) in plan.accounts.iter().zip(&plan.passwords) {
        let Some(file) = file else {
            writeln!(
                out,
                "{address}: no password_file (it logs in otherwise); nothing asked"
            )?;
            continue;
        };
        if let Some(dir) = file.parent() {
            made(files::ensure_dir(dir, owner)?, dir, out)?;
        }
        match password {
            Some(password) => {
                files::write_private(file, format!("{password}\n").as_bytes(), owner)?;
                writeln!(
                    out,
                    "mật khẩu (app password) của {address}: đã ghi (written) {}",
                    file.display()
                )?;
            }
            None => writeln!(
                out,
                "mật khẩu (app password) của {address}: giữ nguyên (kept) {}",
                file.display()
            )?,
        }
    }
    let mut new_text = text.to_owned();
    if let Some(admin) = &plan.admin_email {
        new_text = edit::set_admin_email(&new_text, admin)?;
    }
    if let Some(ward) = &plan.new_ward {
        new_text = edit::add_ward(&new_text, ward)?;
    }
    let options = config::LoadOptions {
        allow_missing_signing_keys: true,
    };
    let loaded = match config::load_str_with(&new_text, path, options) {
        Ok(loaded) => loaded,
        Err(e) => return invalid(path, &e, out),
    };
    if let Some(ward) = loaded.config.ward(&plan.code) {
        key(&ward.signing_key, owner, out)?;
    }
    if new_text != text {
        files::replace_config(path, &new_text)?;
        writeln!(
            out,
            "cấu hình (config) {}: đã ghi (written) [[ward]] {}",
            path.display(),
            plan.code
        )?;
    }
    match config::load(path) {
        Ok(loaded) => Ok(Some(loaded.config)),
        Err(e) => invalid(path, &e, out),
    }
}

fn made(made: bool, dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    if made {
        writeln!(out, "thư mục (directory) {}: đã tạo (made)", dir.display())?;
    }
    Ok(())
}

/// The ward's signing key: made when missing, kept when there.
fn key(path: &Path, owner: &Owner, out: &mut dyn Write) -> anyhow::Result<()> {
    if path.exists() {
        writeln!(
            out,
            "khóa ký (signing key) {}: giữ nguyên (kept)",
            path.display()
        )?;
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        made(files::ensure_dir(dir, owner)?, dir, out)?;
    }
    crate::keys::generate(path)?;
    files::hand_over(path, owner)?;
    writeln!(
        out,
        "khóa ký (signing key) {}: đã tạo (made)",
        path.display()
    )?;
    Ok(())
}

/// Prints why the config does not load, as `qrca check` would; exit 1 follows.
fn invalid(
    path: &Path,
    e: &config::ConfigError,
    out: &mut dyn Write,
) -> anyhow::Result<Option<config::Config>> {
    match e {
        config::ConfigError::Invalid(errors) => {
            for error in errors {
                writeln!(out, "error: {error}")?;
            }
        }
        other => writeln!(out, "error: {other}")?,
    }
    writeln!(
        out,
        "{} was left as it was: fix what the lines say (or give other answers) and run qrca setup again",
        path.display()
    )?;
    Ok(None)
}

/// The logins of `check --connect` for each of the ward's accounts; false (with what
/// to do) when one failed.
fn check(ward: &config::Ward, code: &str, out: &mut dyn Write) -> anyhow::Result<bool> {
    writeln!(out, "kiểm tra đăng nhập (check --connect):")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut failed = Vec::new();
    for account in &ward.accounts {
        let lines = runtime.block_on(super::check::check_account(account));
        for (_, line) in &lines {
            writeln!(out, "{line}")?;
        }
        let refused: Vec<&String> = lines.iter().filter(|(ok, _)| !ok).map(|(_, l)| l).collect();
        if !refused.is_empty() {
            let password = refused.iter().any(|l| refused_login(l));
            failed.push((account.address.clone(), password));
        }
    }
    for (address, password) in &failed {
        if *password {
            writeln!(
                out,
                "the app password of {address} was refused: run qrca setup --ward {code} again and type it again (Enter keeps the others)"
            )?;
        } else {
            writeln!(
                out,
                "{address} could not be checked (above): fix the network or [mail], then run qrca setup --ward {code} again"
            )?;
        }
    }
    Ok(failed.is_empty())
}

/// Whether a failed line of `check_account` is the server refusing the password: IMAP's
/// `TransportError::Auth`, or SMTP's 535 (RFC 4954: authentication credentials invalid).
fn refused_login(line: &str) -> bool {
    line.contains("refused the login") || line.contains("(535)")
}

/// The ward, its accounts and key, what comes next, and where the logs are.
fn summary(
    config: &config::Config,
    ward: &config::Ward,
    started: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let r = &ward.rules;
    let kid = crate::permit::issue::current_entry(config, ward)?.1.kid;
    let accounts: Vec<&str> = ward.accounts.iter().map(|a| a.address.as_str()).collect();
    writeln!(out, "\nxong (done):")?;
    writeln!(
        out,
        "  phường (ward): {} ({}, {}, {})",
        r.code, r.name, r.district, r.short
    )?;
    writeln!(out, "  tài khoản (accounts): {}", accounts.join(", "))?;
    writeln!(
        out,
        "  khóa ký (signing key): kid {kid}, {}",
        ward.signing_key.display()
    )?;
    writeln!(
        out,
        "  tiếp theo (next): {} has one enrolment mail from each account with trust-{}.json; \
         the city answers each with an activation code, which the running daemon returns itself. \
         Tell the city the kid above, so it can compare.",
        config.service.admin_email, r.code
    )?;
    if started {
        writeln!(
            out,
            "  nhật ký (logs): systemctl status qrca · journalctl -u qrca"
        )?;
    } else {
        writeln!(
            out,
            "  chưa chạy (not started): systemctl enable --now qrca, then systemctl status qrca · journalctl -u qrca"
        )?;
    }
    Ok(())
}
