//! `qrca check`: validate the config and say what is wrong with it (SPEC §6).
//!
//! Owns the wording and exit codes of the check: every error on stderr as
//! `error: file:line:col: …`, every warning as `warning: …`, one summary line on
//! stdout when the config is valid. It must not validate anything itself; that is
//! `config::load`'s job, shared with the daemon, so `check` and `run` always agree.
//! With `--connect` it also logs in to every account's IMAP and SMTP server and
//! prints one line each: ok, or what failed in the server's own words.

use crate::config::{self, ConfigError};
use std::io::Write;
use std::path::PathBuf;

/// Exit codes: 0 valid (warnings allowed) and, with `connect`, every login ok;
/// 1 invalid or a login failed; 2 unreadable.
pub fn run(config: Option<PathBuf>, connect: bool) -> anyhow::Result<u8> {
    let path = config::resolve_path(config);
    // Writes to stderr are best effort: a closed stderr must not turn a verdict
    // into a panic, and the exit code still tells the story.
    let mut stderr = std::io::stderr().lock();
    match config::load(&path) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                let _ = writeln!(stderr, "warning: {warning}");
            }
            let wards = loaded.config.wards.len();
            let accounts = loaded.config.account_count();
            writeln!(
                std::io::stdout().lock(),
                "{}: valid ({}, {})",
                path.display(),
                count(wards, "ward", "wards"),
                count(accounts, "account", "accounts"),
            )?;
            if connect {
                return connect_all(&loaded.config);
            }
            Ok(0)
        }
        Err(e @ ConfigError::Unreadable { .. }) => {
            let _ = writeln!(stderr, "error: {e}");
            Ok(2)
        }
        Err(ConfigError::Invalid(errors)) => {
            for error in &errors {
                let _ = writeln!(stderr, "error: {error}");
            }
            let _ = writeln!(
                stderr,
                "{}: invalid ({})",
                path.display(),
                count(errors.len(), "error", "errors")
            );
            Ok(1)
        }
    }
}

/// Logs in to every account's IMAP and SMTP server, a few at a time; one line each.
fn connect_all(config: &config::Config) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let accounts: Vec<config::Account> = config
        .wards
        .iter()
        .flat_map(|w| w.accounts.iter().cloned())
        .collect();
    let results = runtime.block_on(run_checks(accounts, |account| async move {
        check_account(&account).await
    }));
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for lines in results.into_iter().chain([check_printers(config)]) {
        for (ok, line) in lines {
            failed += usize::from(!ok);
            writeln!(out, "{line}")?;
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// `[permits] printers`: each exists at CUPS, is not stopped and accepts jobs; one
/// line each.
fn check_printers(config: &config::Config) -> Vec<(bool, String)> {
    let cups = crate::transport::cups::Cups::from_env();
    config
        .permits
        .printers
        .iter()
        .map(|printer| match cups.ready(printer) {
            Ok(()) => (
                true,
                format!("printer {printer} CUPS {}: ok (takes jobs)", cups.server()),
            ),
            Err(e) => (false, format!("printer {printer}: {e}")),
        })
        .collect()
}

/// Runs `check` on every account at once; their lines in the accounts' order. A check
/// that panics is a failed line naming its account, never a line left out (which
/// would let `check --connect` exit 0 with an account unchecked).
async fn run_checks<F, Fut>(accounts: Vec<config::Account>, check: F) -> Vec<Vec<(bool, String)>>
where
    F: Fn(config::Account) -> Fut,
    Fut: std::future::Future<Output = Vec<(bool, String)>> + Send + 'static,
{
    let mut checks = tokio::task::JoinSet::new();
    let mut which = std::collections::HashMap::new();
    let mut results: Vec<Vec<(bool, String)>> = vec![Vec::new(); accounts.len()];
    for (i, account) in accounts.into_iter().enumerate() {
        let address = account.address.clone();
        let handle = checks.spawn(check(account));
        which.insert(handle.id(), (i, address));
    }
    while let Some(done) = checks.join_next_with_id().await {
        match done {
            Ok((id, lines)) => {
                if let Some((i, _)) = which.get(&id) {
                    results[*i] = lines;
                }
            }
            Err(e) => {
                if let Some((i, address)) = which.get(&e.id()) {
                    results[*i] = vec![(
                        false,
                        format!("{address}: the check itself failed ({e}); this is a bug in qrca"),
                    )];
                }
            }
        }
    }
    results
}

/// `(ok, line)` for the account's IMAP login and its SMTP login.
pub(crate) async fn check_account(account: &config::Account) -> Vec<(bool, String)> {
    use crate::transport::{self, imap};
    let imap_line = match transport::account_secret(account).await {
        Err(e) => (false, format!("{} IMAP: {e}", account.address)),
        Ok(secret) => match imap::connect(account, &secret).await {
            Ok(mut session) => match session.select_inbox().await {
                Ok(mailbox) => {
                    // Both folders are made now, so a name the server refuses shows at
                    // setup, not when the first mail (or the first poison mail) comes.
                    let folders = [
                        (
                            "processed",
                            "processed_folder",
                            &account.mail.processed_folder,
                        ),
                        (
                            "quarantine",
                            "quarantine_folder",
                            &account.mail.quarantine_folder,
                        ),
                    ];
                    let mut refused = None;
                    for (what, key, folder) in folders {
                        if let Err(e) = session.prepare_folder(folder).await {
                            refused = Some(format!(
                                "{} IMAP: logged in, but the {what} folder {folder} cannot be made, so no mail could be moved there (set {key}; a server that keeps every folder under INBOX wants \"INBOX/{folder}\"): {e}",
                                account.address
                            ));
                            break;
                        }
                    }
                    let _ = session.logout().await;
                    match refused {
                        None => (
                            true,
                            format!(
                                "{} IMAP {}:{}: ok ({} messages in INBOX; folders {} and {} ready)",
                                account.address,
                                account.mail.imap.host,
                                account.mail.imap.port,
                                mailbox.exists,
                                account.mail.processed_folder,
                                account.mail.quarantine_folder,
                            ),
                        ),
                        Some(line) => (false, line),
                    }
                }
                Err(e) => (false, e.to_string()),
            },
            Err(e) => (false, e.to_string()),
        },
    };
    let smtp_line = match crate::daemon::smtp::check(account).await {
        Ok(()) => (
            true,
            format!(
                "{} SMTP {}:{}: ok",
                account.address, account.mail.smtp.host, account.mail.smtp.port
            ),
        ),
        Err(e) => (false, format!("{} {e}", account.address)),
    };
    vec![imap_line, smtp_line]
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Account, AccountAuth, MailSettings};

    fn account(address: &str) -> Account {
        Account {
            address: address.to_owned(),
            auth: AccountAuth::PasswordEnv("UNUSED".to_owned()),
            mail: MailSettings::default(),
        }
    }

    #[test]
    fn a_check_that_panics_is_a_failed_line_not_a_missing_one() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let results = runtime.block_on(run_checks(
            vec![account("a@x"), account("b@x"), account("c@x")],
            |account| async move {
                assert!(account.address != "b@x", "a bug in a check");
                vec![(true, format!("{} ok", account.address))]
            },
        ));
        std::panic::set_hook(hook);
        assert_eq!(results.len(), 3);
        assert_eq!(results[0], [(true, "a@x ok".to_owned())]);
        assert_eq!(results[2], [(true, "c@x ok".to_owned())]);
        let [(ok, line)] = results[1].as_slice() else {
            panic!("{:?}", results[1])
        };
        assert!(!ok);
        assert!(line.starts_with("b@x: the check itself failed"), "{line}");
    }
}
