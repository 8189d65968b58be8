//! `qrca accounts suggest` (the three account addresses of a ward) and `qrca accounts
//! enroll` (the ward confirms to the admin, from each account, that it exists and
//! works) (SPEC §1).
//!
//! Owns the commands' output and exit codes; the folding itself is `config::fold`,
//! which `qrca check` also uses to warn about names, so the two can never disagree.
//! `suggest` must not read the config: the names come before any config exists.

use crate::config::fold;
use std::io::Write;

/// Prints one address per line and returns 0, or explains on stderr and returns 2
/// when a name folds to nothing.
pub fn suggest(district: &str, ward: &str) -> anyhow::Result<u8> {
    match fold::suggest(district, ward) {
        Ok(addresses) => {
            let mut out = std::io::stdout().lock();
            for address in addresses {
                writeln!(out, "{address}")?;
            }
            Ok(0)
        }
        Err(e) => {
            // Best effort: the exit code carries the verdict if stderr is gone.
            let _ = writeln!(std::io::stderr().lock(), "error: {e}");
            Ok(2)
        }
    }
}

/// From each account of the ward: IMAP login, SMTP login, and the message
/// "UBND <ward name> đã hoàn thành tạo lập địa chỉ mail" sent to `service.admin_email`.
/// One line per step and account; exit 0 when all worked, 1 otherwise.
pub fn enroll(ward: &str, config: Option<std::path::PathBuf>) -> anyhow::Result<u8> {
    let config = super::load_config(config, true)?;
    let Some(w) = config.ward(ward) else {
        anyhow::bail!(super::no_such_ward(&config, ward));
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut out = std::io::stdout().lock();
    let mut failed = 0usize;
    for account in &w.accounts {
        let mut lines = runtime.block_on(super::check::check_account(account));
        let message =
            enrolment_message(&w.rules.name, &account.address, &config.service.admin_email)?;
        let sent = runtime.block_on(crate::daemon::smtp::submit(
            account,
            std::slice::from_ref(&config.service.admin_email),
            &message,
        ));
        lines.push(match sent {
            Ok(()) => (
                true,
                format!(
                    "{} sent the enrolment mail to {}",
                    account.address, config.service.admin_email
                ),
            ),
            Err(e) => (
                false,
                format!("{} could not send the enrolment mail: {e}", account.address),
            ),
        });
        for (ok, line) in lines {
            failed += usize::from(!ok);
            writeln!(out, "{line}")?;
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

fn enrolment_message(ward_name: &str, from: &str, admin: &str) -> anyhow::Result<Vec<u8>> {
    let text = format!("UBND {ward_name} đã hoàn thành tạo lập địa chỉ mail");
    let message = lettre::Message::builder()
        .from(from.parse()?)
        .to(admin.parse()?)
        .subject(text.clone())
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(format!("{text}: {from}\n"))?;
    Ok(message.formatted())
}
