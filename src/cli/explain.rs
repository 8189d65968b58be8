//! `qrca explain (FILE.eml | --uid N) [--account A]`: what the daemon would do with a
//! mail, step by step, in Vietnamese with the English terms in brackets, and nothing
//! written. The mail is a saved file, or (`--uid`) one the daemon took in already,
//! fetched from the account's processed folder over IMAP (read only; the folder is
//! made if missing, as the daemon would). While the daemon holds the database it
//! answers over the control socket (the mail's bytes in the request); otherwise the
//! database is opened here. The words and the decisions are `daemon::explain`'s; this
//! owns only getting the mail.

use super::{clean, load_config};
use crate::admin::protocol::{MAX_EXPLAIN_MAIL, Request};
use crate::config::Config;
use crate::daemon::explain;
use crate::transport::{self, imap};
use anyhow::{Context, anyhow};
use std::path::{Path, PathBuf};

pub fn run(
    file: Option<&Path>,
    uid: Option<u32>,
    account: Option<&str>,
    config: Option<PathBuf>,
) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let given = account
        .map(|a| {
            config
                .account(a)
                .map(|(_, a)| a.address.clone())
                .ok_or_else(|| anyhow!("{} is not an account of any ward in the config", clean(a)))
        })
        .transpose()?;
    let raw = match (file, uid, &given) {
        (Some(file), _, _) => read_file(file)?,
        (None, Some(uid), Some(account)) => processed_mail(&config, account, uid)?,
        _ => anyhow::bail!("name a mail: FILE.eml, or --uid N with --account A"),
    };
    let Some(account) = explain::account_of(&config, given.as_deref(), &raw) else {
        anyhow::bail!(
            "the mail is addressed to no ward account of the config; name one with --account"
        );
    };
    let request = Request::Explain {
        account: account.clone(),
        mail: data_encoding::BASE64.encode(&raw),
    };
    super::control::in_daemon_or_here(&config.service.state_dir, &request, |store, out, _| {
        let (text, verdict) =
            explain::explain(store, &config, &account, &raw, jiff::Timestamp::now())?;
        out.write_all(text.as_bytes())?;
        Ok(verdict.exit_code())
    })
}

fn read_file(file: &Path) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > MAX_EXPLAIN_MAIL {
        anyhow::bail!(
            "{} is {size} bytes, over the {MAX_EXPLAIN_MAIL} bytes qrca explain reads",
            file.display()
        );
    }
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

/// The mail with IMAP UID `uid` in the processed folder of `account`.
fn processed_mail(config: &Config, account: &str, uid: u32) -> anyhow::Result<Vec<u8>> {
    let (_, settings) = config
        .account(account)
        .ok_or_else(|| anyhow!("{} is not an account of any ward", clean(account)))?;
    let folder = &settings.mail.processed_folder;
    let limit = settings.mail.max_message_bytes.min(MAX_EXPLAIN_MAIL);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime for IMAP")?;
    runtime.block_on(async {
        let secret = transport::account_secret(settings).await?;
        let mut session = imap::connect(settings, &secret).await?;
        session.select_folder(folder).await?;
        let fetched = session.fetch_raw(uid, limit).await;
        let _ = session.logout().await;
        fetched?.ok_or_else(|| {
            anyhow!("the folder {folder} of {account} holds no message with UID {uid} (any more)")
        })
    })
}
