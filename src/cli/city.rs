//! `qrca city …` (issue 13): the city's key, its list of wards, their state, and the
//! page and signed lists by hand, from the city's config (`[city]`) and database.
//!
//! Owns the command line and what it prints; the decisions, the store and the lists
//! are `city`'s; `qrca city run`'s loops are `daemon::city`'s.

use super::load_config;
use crate::admin::protocol::ask_at;
use crate::city::admin::{self, CityRequest};
use crate::city::intake::CityIntake;
use crate::city::model::Verdict;
use crate::city::store::CityStore;
use crate::city::{import, publish, rules};
use crate::config::{City, Config};
use anyhow::Context;
use clap::Subcommand;
use jiff::Timestamp;
use std::path::{Path, PathBuf};

/// The largest ward list file read.
const MAX_IMPORT_BYTES: u64 = 20_000_000;

#[derive(Debug, Subcommand)]
pub enum CityCommand {
    /// The city daemon: watch the city's account, enrol and activate ward keys, keep
    /// their revocation lists, and mail the checkpoint page when the lists change (at
    /// most hourly) and at least daily (SIGTERM stops).
    Run,
    /// The city's signing key.
    Keys {
        #[command(subcommand)]
        command: CityKeysCommand,
    },
    /// The city's list of wards.
    Wards {
        #[command(subcommand)]
        command: CityWardsCommand,
    },
    /// Take in one mail to the city's account saved as a file (.eml), as `city run`
    /// will: decided, committed with its seen-marker, answers queued (exit 1 if refused).
    Intake { file: PathBuf },
    /// Every ward: enrolled, its keys' states, its last revocation list; silent wards flagged.
    Status,
    /// Write the checkpoint page from the city's database, as a publication would.
    Page {
        /// The HTML file to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the city's signed lists (trust-list.json, revocations.json and their .sig).
    Lists {
        #[arg(long)]
        out_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum CityKeysCommand {
    /// Make the city's signing key (mode 0600, never overwritten) and print its key id.
    Generate,
}

#[derive(Debug, Subcommand)]
pub enum CityWardsCommand {
    /// Load the list of wards from a spreadsheet (.xlsx): ward code, name, district and
    /// the three account addresses; all rows or none.
    Import { file: PathBuf },
}

pub fn run(command: CityCommand, config: Option<PathBuf>) -> anyhow::Result<u8> {
    // Only `lists` signs, and it reads the key itself: the list of wards, the status
    // and the page do not wait for the city's key to exist.
    let config = load_config(config, true)?;
    let Some(city) = rules::city(&config) else {
        anyhow::bail!(
            "the config {} has no [city] section; qrca city runs from the city's own config",
            config.path.display()
        );
    };
    match command {
        CityCommand::Run => crate::daemon::city::run_blocking(&config.path),
        CityCommand::Keys {
            command: CityKeysCommand::Generate,
        } => generate(city),
        CityCommand::Wards {
            command: CityWardsCommand::Import { file },
        } => import_wards(&config, city, &file),
        CityCommand::Intake { file } => intake(&config, city, &file),
        CityCommand::Status => Ok(in_city_or_here(&config, city, &CityRequest::Status)?.0),
        CityCommand::Page { out } => page(&config, city, &out),
        CityCommand::Lists { out_dir } => lists(&config, city, &out_dir),
    }
}

fn generate(city: &City) -> anyhow::Result<u8> {
    let public = crate::keys::generate(&city.signing_key)?;
    println!("{}", admin::city_kid(&public));
    eprintln!(
        "qrca: wrote the city's signing key {} (mode 0600). Keep a copy offline; checkpoints \
         check the city's lists with it.",
        city.signing_key.display()
    );
    Ok(0)
}

fn open(config: &Config) -> anyhow::Result<CityStore> {
    CityStore::open(&config.service.state_dir)
        .with_context(|| "cannot open the city database (is qrca city run holding it?)".to_owned())
}

fn import_wards(config: &Config, city: &City, file: &Path) -> anyhow::Result<u8> {
    let shown = file.display().to_string();
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    if size > MAX_IMPORT_BYTES {
        anyhow::bail!(
            "{shown} is {size} bytes, over the {MAX_IMPORT_BYTES} a list of wards may be"
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {shown}"))?;
    let wards = match import::read_wards(&shown, &bytes) {
        Ok(wards) => wards,
        Err(errors) => {
            for e in &errors {
                eprintln!("qrca: {e}");
            }
            eprintln!(
                "qrca: nothing imported: {} error(s) in {shown}",
                errors.len()
            );
            return Ok(1);
        }
    };
    Ok(in_city_or_here(config, city, &CityRequest::ImportWards { shown, wards })?.0)
}

fn intake(config: &Config, city: &City, file: &Path) -> anyhow::Result<u8> {
    let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let store = open(config)?;
    let rules = rules::core_rules(city);
    let intake = CityIntake {
        store: &store,
        rules: &rules,
        trusted_authserv_ids: &city.account.mail.trusted_authserv_ids,
        timezone: &config.service.timezone,
    };
    let shown = file.display();
    match intake.take_in(&raw, Timestamp::now())? {
        Verdict::Accepted(what) => println!("{shown}: accepted: {what}"),
        Verdict::AlreadySeen => println!("{shown}: already taken in; nothing changed"),
        Verdict::Refused(why) => {
            println!("{shown}: refused: {why}");
            return Ok(1);
        }
    }
    Ok(0)
}

/// Runs `request` in `qrca city run` when it holds the database, else on the database
/// opened here; prints what it printed; the exit code and the files it made.
fn in_city_or_here(
    config: &Config,
    city: &City,
    request: &CityRequest,
) -> anyhow::Result<(u8, admin::Files)> {
    let state_dir = &config.service.state_dir;
    if let Some(response) = ask_at(&admin::socket_path(state_dir), request)? {
        print!("{}", response.stdout);
        eprint!("{}", response.stderr);
        return Ok((response.code, response.files()?));
    }
    admin::execute(
        &open(config)?,
        config,
        city,
        request,
        Timestamp::now(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// `qrca city lists --out-dir D`: the signed lists written into `D`.
fn lists(config: &Config, city: &City, dir: &Path) -> anyhow::Result<u8> {
    let (code, files) = in_city_or_here(config, city, &CityRequest::Lists)?;
    if !files.is_empty() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for (name, bytes) in files {
        let path = dir.join(&name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("qrca: wrote {}", path.display());
    }
    Ok(code)
}

/// `qrca city page --out F`: the page, made now, written to `F`.
fn page(config: &Config, city: &City, out: &Path) -> anyhow::Result<u8> {
    let (code, mut files) = in_city_or_here(config, city, &CityRequest::Page)?;
    if let Some(html) = files.remove(publish::PAGE_FILE) {
        std::fs::write(out, html).with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("qrca: wrote the checkpoint page {}", out.display());
    }
    Ok(code)
}
