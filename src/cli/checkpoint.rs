//! `qrca checkpoint page --out kiem-tra.html [--trust-list F ...] [--revocations F ...]`:
//! the offline page a checkpoint officer opens on a phone (issue 12, SPEC §9).
//!
//! Owns where the lists come from: the files given (several of each may be merged, so a
//! district or the city makes one page for all its wards), else the config's wards (as
//! `keys trust-list`) and database (as `keys revocations`, from the running daemon when
//! it holds the database). The page itself is `permit::checkpoint::render`'s.

use super::load_config;
use crate::admin::protocol::{Request, ask};
use crate::admin::revocations;
use crate::config::{Config, DEFAULT_MAX_VALID_DAYS};
use crate::permit::checkpoint::{self, PageInput};
use crate::permit::issue;
use crate::permit::trust::{RevocationList, TrustList};
use crate::store::Store;
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct Options {
    pub out: PathBuf,
    pub trust_lists: Vec<PathBuf>,
    pub revocations: Vec<PathBuf>,
    /// Green only while the lists are at most this many hours old.
    pub fresh_hours: u32,
    pub config: Option<PathBuf>,
}

pub fn page(options: Options) -> anyhow::Result<u8> {
    // The config is needed for whatever list is not given as a file, and gives the
    // longest validity a permit may have; with every list given, it is read only when
    // --config names it.
    let needs_config = options.trust_lists.is_empty() || options.revocations.is_empty();
    let config = if needs_config || options.config.is_some() {
        Some(load_config(options.config.clone(), true)?)
    } else {
        None
    };
    let keys = if options.trust_lists.is_empty() {
        let Some(config) = &config else {
            anyhow::bail!("no config to take the trust list from");
        };
        issue::trust_list(config)?.keys
    } else {
        let mut lists = Vec::new();
        for path in &options.trust_lists {
            let text = read(path)?;
            // ListError names the list and its JSON error in its own sentence.
            let list = TrustList::from_json(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            lists.push((path.display().to_string(), list.keys));
        }
        checkpoint::merge_keys(lists)?
    };
    let (revoked, revoked_keys) = if options.revocations.is_empty() {
        let Some(config) = &config else {
            anyhow::bail!("no config to take the revocation list from");
        };
        let list = database_revocations(config)?;
        (list.revoked, list.revoked_keys)
    } else {
        let (mut lists, mut key_lists) = (Vec::new(), Vec::new());
        for path in &options.revocations {
            let text = read(path)?;
            let list = RevocationList::from_json(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            lists.push(list.revoked);
            key_lists.push(list.revoked_keys);
        }
        (
            checkpoint::merge_revoked(lists),
            checkpoint::merge_revoked_keys(key_lists),
        )
    };
    if keys.is_empty() {
        anyhow::bail!(
            "the trust list has no key: the page could vouch for no permit (give --trust-list \
             FILE from qrca keys trust-list)"
        );
    }
    let input = PageInput {
        keys,
        revoked,
        revoked_keys,
        generated_at: jiff::Timestamp::now(),
        fresh_hours: options.fresh_hours,
        max_valid_days: config
            .as_ref()
            .map_or(DEFAULT_MAX_VALID_DAYS, |c| c.permits.max_valid_days),
    };
    let page = checkpoint::render(&input);
    if page.html.len() > checkpoint::MAX_PAGE_BYTES {
        anyhow::bail!(
            "the page would be {} bytes, over the {} a phone should be sent; merge fewer lists",
            page.html.len(),
            checkpoint::MAX_PAGE_BYTES
        );
    }
    std::fs::write(&options.out, &page.html)
        .with_context(|| format!("cannot write {}", options.out.display()))?;
    let wards: std::collections::BTreeSet<&str> =
        input.keys.iter().map(|k| k.ward.as_str()).collect();
    eprintln!(
        "qrca: wrote the checkpoint page {} ({} bytes): {} key(s) of {} ward(s), {} revoked \
         permit(s), {} revoked key(s), fingerprint {}, made {}; green for {} h, then amber up to {} days, then \
         refused. Send it to the checkpoint teams and open it in the phone's browser.",
        options.out.display(),
        page.html.len(),
        input.keys.len(),
        wards.len(),
        input.revoked.len(),
        input.revoked_keys.len(),
        page.fingerprint,
        input.generated_at,
        input.fresh_hours,
        checkpoint::STALE_DAYS,
    );
    Ok(0)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The database's revocation list, with the config's compromised keys: the running
/// daemon's answer when it holds the database, else read here.
fn database_revocations(config: &Config) -> anyhow::Result<RevocationList> {
    let state_dir = &config.service.state_dir;
    if let Some(response) = ask(state_dir, &Request::Revocations)? {
        if response.code != 0 {
            anyhow::bail!(
                "the daemon could not list the revocations: {}",
                response.stderr.trim()
            );
        }
        return RevocationList::from_json(&response.stdout)
            .map_err(|e| anyhow::anyhow!("the daemon's answer: {e}"));
    }
    let store = Store::open(state_dir)?;
    revocations::list(&store, config)
}
