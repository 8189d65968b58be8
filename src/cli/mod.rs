//! The command line (SPEC §6): clap definitions and one function per command.
//!
//! Each command returns the process exit code (0 success, 1 a check failed,
//! 2 bad usage or unusable input); `main.rs` prints errors and exits.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub mod accounts;
pub mod cases;
pub mod check;
pub mod roster;

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

#[derive(Debug, Subcommand)]
pub enum Command {
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
    },
    /// Account names for a ward.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Validate a roster as the daemon would and print it (SPEC §4).
    Roster {
        /// The spreadsheet: .xlsx, .xls, .ods or .csv.
        file: PathBuf,
        /// T (organisation staff), C (individuals) or H (households).
        #[arg(long, value_parser = parse_kind)]
        kind: crate::workflow::Kind,
        /// Print SPEC §4's JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// What the database holds about cases.
    Cases {
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: Option<CasesCommand>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
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

#[derive(Debug, Subcommand)]
pub enum CasesCommand {
    /// One line per case: code, kind, stage, rows pending/approved/issued, last change.
    List,
    /// One case and its audit trail.
    Show { code: String },
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
