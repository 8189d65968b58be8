//! `qrca keys generate --ward CODE`, `qrca keys trust-list`, `qrca keys revocations`
//! (SPEC §5, §6).
//!
//! Owns turning the config and the store into the key file, the trust list and the
//! revocation list. It must never print key material: only key ids and public keys.

use super::load_config;
use crate::keys;
use crate::permit::issue;
use crate::permit::payload;
use std::path::PathBuf;

/// Makes the ward's signing key where the config says it lives, and prints its kid.
pub fn generate(ward: &str, config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let Some(w) = config.ward(ward) else {
        anyhow::bail!(super::no_such_ward(&config, ward));
    };
    let public = keys::generate(&w.signing_key)?;
    let kid = payload::kid(&w.rules.short, &public);
    eprintln!(
        "qrca: wrote the signing key of {} ({}) to {} (owner-only). Its key id:",
        w.rules.name,
        w.code(),
        w.signing_key.display()
    );
    println!("{kid}");
    eprintln!("qrca: give checkpoints the new trust list: qrca keys trust-list > trust.json");
    Ok(0)
}

/// SPEC §5's trust list, from every ward's key file and retired keys.
pub fn trust_list(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, false)?;
    let list = issue::trust_list(&config)?;
    println!("{}", list.to_json_pretty());
    Ok(0)
}

/// SPEC §5's revocation list, from every revoked permit in the database and every
/// compromised retired key of the config; from the daemon's (and its config's), while
/// `qrca run` holds the database.
pub fn revocations(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let request = crate::admin::protocol::Request::Revocations;
    super::control::in_daemon_or_here(&config.service.state_dir, &request, |store, out, _| {
        crate::admin::revocations::execute(store, &config, out)
    })
}
