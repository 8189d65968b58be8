//! `qrca explain FILE.eml [--account A]`: what the daemon would do with a saved mail,
//! step by step, in Vietnamese with the English terms in brackets, and nothing
//! written. While the daemon holds the database it answers over the control socket
//! (the mail's bytes in the request); otherwise the database is opened here. The
//! words and the decisions are `daemon::explain`'s; this owns only reading the file.
//!
//! Not done: `--uid N --account A`, the mail fetched from the account's processed
//! folder over IMAP; save it as an .eml file (any mail client can) and explain that.

use super::{clean, load_config};
use crate::admin::protocol::{MAX_EXPLAIN_MAIL, Request};
use crate::daemon::explain;
use anyhow::Context;
use std::path::{Path, PathBuf};

pub fn run(file: &Path, account: Option<&str>, config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > MAX_EXPLAIN_MAIL {
        anyhow::bail!(
            "{} is {size} bytes, over the {MAX_EXPLAIN_MAIL} bytes qrca explain reads",
            file.display()
        );
    }
    let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let Some(account) = explain::account_of(&config, account, &raw) else {
        anyhow::bail!(match account {
            Some(a) => format!("{} is not an account of any ward in the config", clean(a)),
            None => format!(
                "{} is addressed to no ward account of the config; name one with --account",
                file.display()
            ),
        });
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
