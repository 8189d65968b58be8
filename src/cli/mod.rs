//! The command line (SPEC §6): clap definitions and one function per command.
//!
//! Each command returns the process exit code (0 success, 1 a check failed,
//! 2 bad usage or unusable input); `main.rs` prints errors and exits.

use crate::admin::{CasesCommand, OutboxCommand, PrintCommand};
pub(crate) use crate::admin::{clean, no_such_ward};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub mod accounts;
pub mod cases;
pub mod check;
pub mod checkpoint;
pub mod city;
pub mod control;
pub mod explain;
pub mod intake;
pub mod keys;
pub mod manual;
pub mod outbox;
pub mod permit;
pub mod permits;
pub mod print;
pub mod report;
pub mod roster;
pub mod rotate;
pub mod setup;
pub mod standby;
pub mod verify;

#[derive(Debug, Parser)]
#[command(
    name = "qrca",
    version,
    about = "Travel permits for a ward office, by email"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// `qrca roster template`.
#[derive(Debug, Subcommand)]
pub enum RosterTemplate {
    /// Write a blank roster of a kind: the header row as qrca reads it and one example
    /// row to write over (.xlsx).
    Template {
        /// T (organisation staff), C (individuals) or H (households).
        #[arg(long, value_parser = parse_kind)]
        kind: crate::workflow::Kind,
        /// The file to write, e.g. mau.xlsx.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: watch every ward account, answer, issue permits (SIGHUP reloads,
    /// SIGTERM stops).
    Run {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write the man pages and bash completions (for packaging).
    #[command(hide = true)]
    Manual {
        /// Where to write `man/` and `completions/`.
        #[arg(long)]
        out_dir: PathBuf,
    },
    /// Play all three flows on a local world with generated sample data, no network.
    Demo {
        /// Where to leave the database and outputs (default: a new temporary directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate the config: errors with file, line and key.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also log in to every account's IMAP and SMTP server and report each.
        #[arg(long)]
        connect: bool,
    },
    /// Set up a ward on this PC, from the installed package to a running daemon: its
    /// [[ward]] section, app passwords, signing key, login check, enrolment, and
    /// `systemctl enable --now qrca`; asks for every answer no flag gave.
    Setup(setup::SetupArgs),
    /// Account names for a ward.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Take in one mail saved as a file (.eml) as the daemon would on ACCOUNT, and say
    /// what became of it (the daemon must be stopped; answers wait in the outbox).
    Intake {
        /// The mail, as RFC 5322 bytes (an .eml file).
        file: PathBuf,
        /// The ward account it is taken in on.
        #[arg(long)]
        account: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Explain, in Vietnamese with the English terms in brackets, every step the daemon
    /// would take on a mail saved as a file (or taken in already: `--uid`), writing
    /// nothing (through the daemon when it runs): exit 0 when it would be applied, 1
    /// when refused or ignored.
    Explain {
        /// The mail, as RFC 5322 bytes (an .eml file).
        #[arg(required_unless_present = "uid", conflicts_with = "uid")]
        file: Option<PathBuf>,
        /// Instead of a file: the mail with this IMAP UID in the processed folder of
        /// the account (`--account`), a mail already taken in.
        #[arg(long, requires = "account")]
        uid: Option<u32>,
        /// The ward account it arrived on (default: the first ward account among its
        /// Delivered-To, To and Cc addresses).
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a roster as the daemon would and print it (SPEC §4); `roster template`
    /// writes a blank list to fill in.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Roster {
        #[command(subcommand)]
        template: Option<RosterTemplate>,
        /// The spreadsheet: .xlsx, .xls, .ods or .csv.
        #[arg(required = true)]
        file: Option<PathBuf>,
        /// T (organisation staff), C (individuals) or H (households).
        #[arg(long, value_parser = parse_kind, required = true)]
        kind: Option<crate::workflow::Kind>,
        /// Print SPEC §4's JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// The ward whose active permits the ID numbers are checked against (default:
        /// the config's only ward).
        #[arg(long)]
        ward: Option<String>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// What the database holds about cases.
    Cases {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: Option<CasesCommand>,
    },
    /// The mails waiting to be sent, sent, and given up.
    Outbox {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: Option<OutboxCommand>,
    },
    /// The print sheets waiting for the ward's printers, and printed (`[permits]
    /// printers`, `print_kinds`).
    Print {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: Option<PrintCommand>,
    },
    /// Queue the ward officers' report of refused attempts now, if anything is not yet
    /// reported (the daemon sends one every day at `daily_report_at`). While the daemon
    /// runs it queues and sends it; otherwise it goes out when the daemon starts.
    Report {
        /// The ward's code in the config, e.g. hoankiem.tranhungdao.
        #[arg(long)]
        ward: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Ward signing keys, the trust list and the revocation list (SPEC §5).
    Keys {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The permits a ward has issued.
    Permits {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: PermitsCommand,
    },
    /// Permits outside the daemon.
    Permit {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: PermitCommand,
    },
    /// The offline page checkpoint officers open on a phone to check permits.
    Checkpoint {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: CheckpointCommand,
    },
    /// The standby PC (issue 14): follow the active PC's journal in the ward's mailbox,
    /// applying every change to this PC's database; reads no INBOX and sends nothing.
    Standby {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: Option<standby::StandbyCommand>,
    },
    /// On the standby PC, when the active one died: apply the rest of the journal, fence
    /// the old PC (a takeover record of a higher epoch), then start the daemon here.
    Takeover {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only take over; start the daemon yourself (systemctl start qrca).
        #[arg(long)]
        no_run: bool,
    },
    /// The whole database and its kept documents in one file (owner-only), consistent,
    /// while the daemon runs or not.
    Backup {
        #[arg(long)]
        config: Option<PathBuf>,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into an empty state directory (both PCs new; a second PC is set
    /// up with `qrca standby` instead). The daemon must be stopped.
    Restore {
        #[arg(long)]
        config: Option<PathBuf>,
        /// The file `qrca backup` wrote.
        file: PathBuf,
    },
    /// The city's side of the trust network: its key, its list of wards and their
    /// keys, the checkpoint page and the signed lists (issue 13).
    City {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: city::CityCommand,
    },
    /// Check a permit's QR: prints the fields and VALID, or why not (exit 0 valid,
    /// 1 not valid, 2 unusable input).
    Verify {
        /// The QR payload as text (`QRCA1|k=…|s=…`).
        #[arg(required_unless_present_any = ["image", "pdf"], conflicts_with_all = ["image", "pdf"])]
        payload: Option<String>,
        /// A photo or scan (PNG or JPEG) of the QR code.
        #[arg(long, conflicts_with = "pdf")]
        image: Option<PathBuf>,
        /// A permit PDF, or a print sheet: every page is rendered and every QR code
        /// printed on it checked (the metadata only has to agree with them).
        #[arg(long)]
        pdf: Option<PathBuf>,
        /// The trust list JSON (`qrca keys trust-list`); default: from the config's keys.
        #[arg(long)]
        trust_list: Option<PathBuf>,
        /// The revocation list JSON (`qrca keys revocations`).
        #[arg(long)]
        revocations: Option<PathBuf>,
        /// The config: its keys (without --trust-list) and its `[permits]
        /// max_valid_days` (default 30; with --trust-list, read only when given).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Check as of this day (YYYY-MM-DD) instead of today.
        #[arg(long)]
        on: Option<jiff::civil::Date>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make the ward's signing key (mode 0600, never overwritten) and print its key id.
    Generate {
        /// The ward's code in the config, e.g. hoankiem.tranhungdao.
        #[arg(long)]
        ward: String,
    },
    /// Make the journal key a ward's two PCs share (`[standby] journal_key`; mode 0600,
    /// never overwritten); copy it to the other PC.
    Journal,
    /// Print the trust list JSON for checkpoints.
    TrustList,
    /// Print the revocation list JSON for checkpoints.
    Revocations,
    /// Replace the ward's signing key: the old one is retired in the config (its
    /// permits keep verifying to their end) and the city is told, signed by the old
    /// key. With --compromised, the old key is revoked as a whole, every permit still
    /// valid is re-issued under the new key and mailed again, and the new key is
    /// enrolled with the city afresh.
    Rotate {
        /// The ward's code in the config, e.g. hoankiem.tranhungdao.
        #[arg(long)]
        ward: String,
        /// The old key was lost or stolen: why, in words checkpoints and organisations
        /// read (e.g. "máy tính của phường bị mất").
        #[arg(long, value_name = "REASON")]
        compromised: Option<String>,
        /// Say what would be done (with --compromised: how many permits and mails),
        /// change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Write the checkpoint page: one self-contained HTML file with the trust and
    /// revocation lists inside, that checks permits from the camera, offline.
    Page {
        /// The HTML file to write, e.g. kiem-tra.html (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
        /// A trust list JSON (`qrca keys trust-list`); may be given several times to
        /// make one page for several wards. Default: the config's wards.
        #[arg(long = "trust-list")]
        trust_list: Vec<PathBuf>,
        /// A revocation list JSON (`qrca keys revocations`); may be given several times.
        /// Default: the config's database.
        #[arg(long)]
        revocations: Vec<PathBuf>,
        /// Valid permits are shown green only while the lists are at most this many
        /// hours old; amber up to 7 days; refused after.
        #[arg(long, default_value_t = crate::permit::checkpoint::DEFAULT_FRESH_HOURS,
              value_parser = clap::value_parser!(u32).range(1..=168))]
        fresh_hours: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum PermitsCommand {
    /// Every permit of the ward as an .xlsx register (full ID numbers: the file is
    /// written owner-only), with where each stands today or on --on.
    Export {
        /// The ward's code in the config, e.g. hoankiem.tranhungdao.
        #[arg(long)]
        ward: String,
        /// The workbook to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
        /// Say where each permit stands on this day (YYYY-MM-DD) instead of today.
        #[arg(long)]
        on: Option<jiff::civil::Date>,
    },
}

#[derive(Debug, Subcommand)]
pub enum PermitCommand {
    /// A sample permit signed with the ward's key, to check labels, printer and scanners.
    Sample {
        #[arg(long)]
        ward: String,
        #[arg(long)]
        out: PathBuf,
    },
}

/// The validated config at `--config`, `$QRCA_CONFIG`, `/etc/qrca/qrca.toml` or
/// `config/qrca.toml`. `allow_missing_keys` serves commands that do not sign (and
/// `keys generate`, which makes the missing key).
pub fn load_config(
    config: Option<PathBuf>,
    allow_missing_keys: bool,
) -> anyhow::Result<crate::config::Config> {
    use anyhow::Context;
    let path = crate::config::resolve_path(config);
    let options = crate::config::LoadOptions {
        allow_missing_signing_keys: allow_missing_keys,
    };
    let loaded = crate::config::load_with(&path, options)
        .with_context(|| format!("cannot use the config {}", path.display()))?;
    Ok(loaded.config)
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// From each account of the ward: log in (IMAP, SMTP) and tell the admin by mail
    /// that the accounts are ready; one line per account.
    Enroll {
        /// The ward's code in the config.
        #[arg(long)]
        ward: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the three account addresses for a ward.
    Suggest {
        /// e.g. "Quận Hoàn Kiếm".
        #[arg(long)]
        district: String,
        /// e.g. "Phường Trần Hưng Đạo".
        #[arg(long)]
        ward: String,
    },
}

fn parse_kind(s: &str) -> Result<crate::workflow::Kind, String> {
    let mut chars = s.chars();
    match (
        chars.next().and_then(crate::workflow::Kind::from_letter),
        chars.next(),
    ) {
        (Some(kind), None) => Ok(kind),
        _ => Err(format!("{s:?} is not a kind; use T, C or H")),
    }
}
