//! `qrca city …` (issue 13): the city's key, its list of wards, their state, and the
//! page and signed lists by hand, from the city's config (`[city]`) and database.
//!
//! Owns the command line and what it prints; the decisions, the store and the lists
//! are `city`'s; `qrca city run`'s loops are `daemon::city`'s.

use super::load_config;
use crate::city::intake::CityIntake;
use crate::city::model::{KeyState, Verdict, WardState};
use crate::city::store::{CityStore, ImportReport};
use crate::city::{import, publish, rules};
use crate::config::{City, Config};
use crate::permit::{payload, signed};
use anyhow::Context;
use clap::Subcommand;
use jiff::{SignedDuration, Timestamp};
use std::path::{Path, PathBuf};

/// A ward whose last revocation list is older than this, or that never sent one, is
/// flagged silent (issue 13: the ward mails its whole list daily).
const SILENT_AFTER: SignedDuration = SignedDuration::from_hours(48);
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
        } => import_wards(&config, &file),
        CityCommand::Intake { file } => intake(&config, city, &file),
        CityCommand::Status => status(&config),
        CityCommand::Page { out } => page(&config, city, &out),
        CityCommand::Lists { out_dir } => lists(&config, city, &out_dir),
    }
}

/// The city key's id: `CITY-` and its public key's digest.
pub fn city_kid(key: &ed25519_dalek::VerifyingKey) -> String {
    payload::kid("CITY", key)
}

fn generate(city: &City) -> anyhow::Result<u8> {
    let public = crate::keys::generate(&city.signing_key)?;
    println!("{}", city_kid(&public));
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

fn import_wards(config: &Config, file: &Path) -> anyhow::Result<u8> {
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
    let report = open(config)?.import_wards(&wards)?;
    print_import(&shown, wards.len(), &report);
    Ok(0)
}

fn print_import(shown: &str, count: usize, r: &ImportReport) {
    println!(
        "{shown}: {count} wards: {} added, {} updated, {} removed",
        r.added.len(),
        r.updated.len(),
        r.removed.len()
    );
    if !r.removed.is_empty() {
        println!("removed (no key): {}", r.removed.join(", "));
    }
    if !r.kept.is_empty() {
        println!(
            "kept, though not in the file, because they hold keys: {}",
            r.kept.join(", ")
        );
    }
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

fn status(config: &Config) -> anyhow::Result<u8> {
    let wards = open(config)?.wards()?;
    let now = Timestamp::now();
    let active = wards.iter().filter(|w| w.active().is_some()).count();
    let silent = wards.iter().filter(|w| is_silent(w, now)).count();
    let compromised = wards.iter().filter(|w| has(w, "compromised")).count();
    let enrolling = wards
        .iter()
        .filter(|w| w.active().is_none() && (has(w, "announced") || !w.pending.is_empty()))
        .count();
    println!(
        "{} wards: {active} active, {enrolling} enrolling, {} without a key, {silent} silent, \
         {compromised} with a compromised key",
        wards.len(),
        wards.iter().filter(|w| w.keys.is_empty()).count(),
    );
    for ward in &wards {
        println!("{}", status_line(ward, now));
    }
    Ok(0)
}

fn has(ward: &WardState, state: &str) -> bool {
    ward.keys.iter().any(|k| k.state.word() == state)
}

fn is_silent(ward: &WardState, now: Timestamp) -> bool {
    ward.active().is_some()
        && ward
            .revocations
            .as_ref()
            .is_none_or(|l| now.duration_since(l.received_at) > SILENT_AFTER)
}

fn status_line(ward: &WardState, now: Timestamp) -> String {
    let keys: Vec<String> = ward
        .keys
        .iter()
        .map(|k| match &k.state {
            KeyState::Announced { codes, answered } => format!(
                "{} announced ({}/{} answered)",
                k.entry.kid,
                answered.len(),
                codes.len()
            ),
            KeyState::Retired { not_after } => format!("{} retired to {not_after}", k.entry.kid),
            KeyState::Compromised { from, .. } => {
                format!("{} compromised from {from}", k.entry.kid)
            }
            KeyState::Active => format!("{} active", k.entry.kid),
        })
        .collect();
    let keys = if keys.is_empty() {
        match ward.pending.len() {
            0 => "not enrolled".to_owned(),
            n => format!("enrolling ({n}/3 accounts announced)"),
        }
    } else {
        keys.join(", ")
    };
    let list = match &ward.revocations {
        Some(l) => {
            let hours = now.duration_since(l.received_at).as_hours();
            format!("list {} received {hours} h ago", l.sequence)
        }
        None => "no revocation list".to_owned(),
    };
    let flag = if is_silent(ward, now) { "  SILENT" } else { "" };
    format!(
        "{}  {}: {keys}; {list}{flag}",
        ward.ward.code, ward.ward.name
    )
}

fn page(config: &Config, city: &City, out: &Path) -> anyhow::Result<u8> {
    let wards = open(config)?.wards()?;
    let lists = publish::lists(&wards);
    if lists.keys.is_empty() {
        anyhow::bail!("no ward has an active key yet: the page could vouch for no permit");
    }
    let now = Timestamp::now();
    let page = publish::page(&lists, now, &rules::publish_rules(config, city));
    std::fs::write(out, &page.html).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "qrca: wrote the checkpoint page {} ({} bytes): {} key(s), {} revoked permit(s), \
         fingerprint {}, made {now}",
        out.display(),
        page.html.len(),
        lists.keys.len(),
        lists.revoked.len(),
        page.fingerprint
    );
    Ok(0)
}

fn lists(config: &Config, city: &City, out_dir: &Path) -> anyhow::Result<u8> {
    let key = crate::keys::load(&city.signing_key)?;
    let kid = city_kid(&key.verifying_key());
    let wards = open(config)?.wards()?;
    let files = publish::sign(&publish::lists(&wards), &kid, &key);
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let trust = signed::CITY_TRUST_FILE;
    let revocations = signed::CITY_REVOCATIONS_FILE;
    for (name, bytes) in [
        (trust.to_owned(), &files.trust),
        (signed::sig_file(trust), &files.trust_sig),
        (revocations.to_owned(), &files.revocations),
        (signed::sig_file(revocations), &files.revocations_sig),
    ] {
        let path = out_dir.join(&name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "qrca: wrote the city's lists to {}, signed by {kid} (fingerprint {})",
        out_dir.display(),
        files.fingerprint
    );
    Ok(0)
}
