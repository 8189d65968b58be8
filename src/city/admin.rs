//! What the city's admin asks of the city's database (`qrca city status`, `page`,
//! `lists`, `wards import`), answered the same way whether `qrca city run` holds the
//! database (over `<state_dir>/city.sock`, served by `daemon::control`) or the command
//! line opened it: sled lets one process hold a database, and the admin must be able
//! to look while the city runs.
//!
//! Owns the city's requests and the functions that answer them; the files a command
//! makes travel back as bytes for the command line to write (the daemon writes only its
//! state directory). It must not decide anything about a ward's keys (`core` does).

use super::model::{KeyState, WardEntry, WardState};
use super::store::{CityStore, ImportReport};
use super::{publish, rules};
use crate::admin::protocol::Response;
use crate::config::{City, Config};
use crate::permit::{payload, signed};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A ward whose last revocation list is older than this, or that never sent one, is
/// flagged silent (issue 13: the ward mails its whole list daily).
pub const SILENT_AFTER: SignedDuration = SignedDuration::from_hours(48);
/// The most a request to the city's socket may be: a list of 600 wards is ~100 kB.
pub const MAX_REQUEST: u64 = 4 * 1024 * 1024;

/// The city daemon's control socket.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("city.sock")
}

/// What the city's admin asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CityRequest {
    Status,
    /// The page, made now.
    Page,
    /// The signed lists.
    Lists,
    /// A list of wards, read from `shown` by the command line.
    ImportWards {
        shown: String,
        wards: Vec<WardEntry>,
    },
}

/// The files a command made, by name, for the command line to write.
pub type Files = BTreeMap<String, Vec<u8>>;

/// The city key's id: `CITY-` and its public key's digest.
pub fn city_kid(key: &ed25519_dalek::VerifyingKey) -> String {
    payload::kid("CITY", key)
}

/// Answers `request` on an open city database: the exit code and the files made.
pub fn execute(
    store: &CityStore,
    config: &Config,
    city: &City,
    request: &CityRequest,
    now: Timestamp,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<(u8, Files)> {
    match request {
        CityRequest::Status => status(store, now, out).map(|code| (code, Files::new())),
        CityRequest::Page => page(store, config, city, now, err),
        CityRequest::Lists => lists(store, city, err),
        CityRequest::ImportWards { shown, wards } => {
            let report = store.import_wards(wards)?;
            print_import(shown, wards.len(), &report, out)?;
            Ok((0, Files::new()))
        }
    }
}

/// The daemon's side: one request line answered on its open database.
pub fn answer(store: &CityStore, config: &Config, line: &str) -> Response {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut files = Files::new();
    let code = match (
        serde_json::from_str::<CityRequest>(line),
        rules::city(config),
    ) {
        (Err(e), _) => {
            stderr = format!("qrca: the city daemon cannot read this request: {e}\n").into_bytes();
            2
        }
        (_, None) => {
            stderr = b"qrca: the city daemon has no [city] section\n".to_vec();
            2
        }
        (Ok(request), Some(city)) => {
            match execute(
                store,
                config,
                city,
                &request,
                Timestamp::now(),
                &mut stdout,
                &mut stderr,
            ) {
                Ok((code, made)) => {
                    files = made;
                    code
                }
                Err(e) => {
                    stderr.extend_from_slice(format!("qrca: {e:#}\n").as_bytes());
                    2
                }
            }
        }
    };
    Response {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        file: None,
        files: files
            .into_iter()
            .map(|(name, bytes)| (name, data_encoding::BASE64.encode(&bytes)))
            .collect(),
    }
}

fn print_import(
    shown: &str,
    count: usize,
    r: &ImportReport,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{shown}: {count} wards: {} added, {} updated, {} removed",
        r.added.len(),
        r.updated.len(),
        r.removed.len()
    )?;
    if !r.removed.is_empty() {
        writeln!(out, "removed (no key): {}", r.removed.join(", "))?;
    }
    if !r.kept.is_empty() {
        writeln!(
            out,
            "kept, though not in the file, because they hold keys: {}",
            r.kept.join(", ")
        )?;
    }
    Ok(())
}

fn status(store: &CityStore, now: Timestamp, out: &mut dyn Write) -> anyhow::Result<u8> {
    let wards = store.wards()?;
    let active = wards.iter().filter(|w| w.active().is_some()).count();
    let silent = wards.iter().filter(|w| is_silent(w, now)).count();
    let compromised = wards.iter().filter(|w| has(w, "compromised")).count();
    let enrolling = wards
        .iter()
        .filter(|w| w.active().is_none() && (has(w, "announced") || !w.pending.is_empty()))
        .count();
    writeln!(
        out,
        "{} wards: {active} active, {enrolling} enrolling, {} without a key, {silent} silent, \
         {compromised} with a compromised key",
        wards.len(),
        wards.iter().filter(|w| w.keys.is_empty()).count(),
    )?;
    for ward in &wards {
        writeln!(out, "{}", status_line(ward, now))?;
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

fn page(
    store: &CityStore,
    config: &Config,
    city: &City,
    now: Timestamp,
    err: &mut dyn Write,
) -> anyhow::Result<(u8, Files)> {
    let lists = publish::lists(&store.wards()?);
    if lists.keys.is_empty() {
        anyhow::bail!("no ward has an active key yet: the page could vouch for no permit");
    }
    let page = publish::page(&lists, now, &rules::publish_rules(config, city));
    writeln!(
        err,
        "qrca: the checkpoint page ({} bytes): {} key(s), {} revoked permit(s), fingerprint {}, \
         made {now}",
        page.html.len(),
        lists.keys.len(),
        lists.revoked.len(),
        page.fingerprint
    )?;
    let files = Files::from([(publish::PAGE_FILE.to_owned(), page.html.into_bytes())]);
    Ok((0, files))
}

fn lists(store: &CityStore, city: &City, err: &mut dyn Write) -> anyhow::Result<(u8, Files)> {
    let key = crate::keys::load(&city.signing_key)?;
    let kid = city_kid(&key.verifying_key());
    let made = publish::sign(&publish::lists(&store.wards()?), &kid, &key);
    let trust = signed::CITY_TRUST_FILE;
    let revocations = signed::CITY_REVOCATIONS_FILE;
    writeln!(
        err,
        "qrca: the city's lists, signed by {kid} (fingerprint {})",
        made.fingerprint
    )?;
    let files = Files::from([
        (trust.to_owned(), made.trust),
        (signed::sig_file(trust), made.trust_sig),
        (revocations.to_owned(), made.revocations),
        (signed::sig_file(revocations), made.revocations_sig),
    ]);
    Ok((0, files))
}
