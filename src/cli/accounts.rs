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
    let failed = send_enrolment(&config, w, &mut std::io::stdout().lock())?;
    Ok(if failed == 0 { 0 } else { 1 })
}

/// The enrolment of the ward's current key from each of its accounts, one line per
/// step and account to `out`; returns how many steps failed.
pub(super) fn send_enrolment(
    config: &crate::config::Config,
    w: &crate::config::Ward,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The ward's key as the city will trust it, signed by itself (SPEC §9): the same
    // bytes from each account, so the city can tell that all three agree.
    let (entry, signer) = crate::permit::issue::current_entry(config, w)?;
    let trust = crate::permit::trust::TrustList::new(vec![entry]);
    let trust_json = trust.to_json_pretty().into_bytes();
    let trust_sig = signer.detached(&trust_json).to_bytes();
    writeln!(
        out,
        "key {} of {} goes to {} as {} (signed by itself)",
        signer.kid,
        w.code(),
        config.service.admin_email,
        crate::permit::signed::trust_file(w.code())
    )?;
    let mut failed = 0usize;
    for account in &w.accounts {
        let mut lines = runtime.block_on(super::check::check_account(account));
        let message = enrolment_message(
            w,
            &account.address,
            &config.service.admin_email,
            (&trust_json, &trust_sig),
            jiff::Timestamp::now(),
        )?;
        let sent = runtime.block_on(crate::daemon::smtp::submit(
            account,
            std::slice::from_ref(&config.service.admin_email),
            &message,
        ));
        lines.push(match sent {
            Ok(_) => (
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
    Ok(failed)
}

/// A file sent with its detached signature: (name, document bytes, `.sig` bytes).
pub(super) type SignedAttachment<'a> = (&'a str, &'a [u8], &'a [u8]);

/// A mail of the trust network from the ward account `from` to the admin (SPEC §1,
/// §9): `subject`, `body`, and each signed file beside its `.sig`; marked automatic
/// like every mail qrca sends (RFC 3834 `Auto-Submitted`, no Outlook auto-replies) and
/// with a qrca Message-ID (`<tag.<time>.<account>@<ward>.qrca>`), so that an answer or
/// a bounce of it is known for the daemon's own.
pub(super) fn trust_message(
    ward: &crate::config::Ward,
    (from, admin): (&str, &str),
    (subject, body): (&str, &str),
    files: &[SignedAttachment<'_>],
    tag: &str,
    now: jiff::Timestamp,
) -> anyhow::Result<Vec<u8>> {
    use lettre::message::header::{ContentType, HeaderName, HeaderValue};
    use lettre::message::{Attachment, MultiPart, SinglePart};
    let json = ContentType::parse("application/json")?;
    let local: String = from
        .split('@')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let message_id = format!(
        "<{tag}.{}.{local}@{}.qrca>",
        now.as_millisecond(),
        ward.code()
    );
    let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(body.to_owned()));
    for (name, bytes, sig) in files {
        parts = parts
            .singlepart(
                Attachment::new((*name).to_owned())
                    .body(crate::outbound::exact_body(bytes.to_vec()), json.clone()),
            )
            .singlepart(
                Attachment::new(crate::permit::signed::sig_file(name))
                    .body(crate::outbound::exact_body(sig.to_vec()), json.clone()),
            );
    }
    let message = lettre::Message::builder()
        .from(from.parse()?)
        .to(admin.parse()?)
        .subject(subject)
        .message_id(Some(message_id))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".to_owned(),
        ))
        .multipart(parts)?;
    Ok(message.formatted())
}

/// The SPEC §1 confirmation from `from` to the admin, with the ward's trust list entry
/// `trust-<ward>.json` and its signature by the key it names (SPEC §9).
fn enrolment_message(
    ward: &crate::config::Ward,
    from: &str,
    admin: &str,
    (trust, sig): (&[u8], &[u8]),
    now: jiff::Timestamp,
) -> anyhow::Result<Vec<u8>> {
    let trust_name = crate::permit::signed::trust_file(ward.code());
    let text = format!(
        "UBND {} đã hoàn thành tạo lập địa chỉ mail",
        ward.rules.name
    );
    let body = format!(
        "{text}: {from}\n\nĐính kèm: khóa ký của phường ({trust_name}) và chữ ký của nó.\n"
    );
    trust_message(
        ward,
        (from, admin),
        (&text, &body),
        &[(&trust_name, trust, sig)],
        "enroll",
        now,
    )
}
