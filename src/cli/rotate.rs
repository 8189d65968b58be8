//! `qrca keys rotate --ward CODE [--compromised REASON] [--dry-run]` (SPEC §9): a new
//! signing key for the ward, the old one retired in the config, the city told.
//!
//! The steps, in an order a crash can be recovered from (each says what to do if the
//! next fails):
//! 1. the new key written beside the old as `<key>.next` (0600, never overwritten);
//! 2. the config edited in place (`config::edit`, comments kept): the old key under
//!    `[[ward.retired_key]]` with `until` = today (and, for a compromise, from when and
//!    why), `signing_key_since` = today; written to a temporary file, then renamed;
//! 3. the old key file renamed `<key>.retired-<kid>`, the new one put in its place;
//! 4. the running daemon asked to reload (`admin::protocol::Request::Reload`);
//! 5. the city told: a plain rotation by the new key's entry signed by the OLD key (the
//!    city trusts it at once); a compromise by the old key revoking itself, then the
//!    new key enrolled from all three accounts like the first (the old key proves
//!    nothing now, so the city's activation round trip starts again);
//! 6. for a compromise, every permit still valid re-issued under the new key
//!    (`admin::reissue`, in the daemon or here).
//!
//! Permits signed before keep verifying under the retired key until their own end (a
//! key's window bounds a permit's first day); a compromised key voids them all.

use super::accounts::{send_enrolment, trust_message};
use super::load_config;
use crate::admin::protocol::{Request, ask};
use crate::config::Config;
use crate::config::edit::{Retirement, retire_key};
use crate::permit::issue::{Signer, current_entry};
use crate::permit::payload;
use crate::permit::signed::{self, WardRevocations};
use crate::permit::trust::{RevocationList, RevokedKey, TrustList, TrustedKey};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the admin asked for.
pub struct Rotate {
    pub ward: String,
    /// The old key was lost or stolen: why (shown to checkpoints and organisations).
    pub compromised: Option<String>,
    pub dry_run: bool,
    pub config: Option<PathBuf>,
}

pub fn rotate(args: Rotate) -> anyhow::Result<u8> {
    let config = load_config(args.config.clone(), false)?;
    let Some(w) = config.ward(&args.ward) else {
        anyhow::bail!(super::no_such_ward(&config, &args.ward));
    };
    let (old, old_signer) = current_entry(&config, w)?;
    let now = jiff::Timestamp::now();
    let today = now
        .to_zoned_datetime(config.service.timezone.clone())
        .date();
    let key_path = w.signing_key.clone();
    let next_path = with_suffix(&key_path, ".next");
    let retired_path = with_suffix(&key_path, &format!(".retired-{}", old.kid));
    let mut out = std::io::stdout().lock();
    if args.dry_run {
        let fate = match &args.compromised {
            None => format!(
                "its permits keep verifying to their end; new ones are signed by the new key from {today}"
            ),
            Some(_) => "it is revoked as a whole: every permit it signed is void".to_owned(),
        };
        writeln!(
            out,
            "would write a new key for {} to {} and retire {} ({fate}); the city ({}) is told",
            w.code(),
            key_path.display(),
            old.kid,
            config.service.admin_email
        )?;
        drop(out);
        if args.compromised.is_some() {
            return reissue(&config, w.code(), &old.kid, "(new)", "", true, today);
        }
        return Ok(0);
    }
    if next_path.exists() {
        anyhow::bail!(
            "{} exists: an earlier rotation stopped half-way. If `qrca keys trust-list` still shows {} as the current key of {}, remove {} and run this again",
            next_path.display(),
            old.kid,
            w.code(),
            next_path.display()
        );
    }

    // 1. The new key, beside the old.
    let new_public = crate::keys::generate(&next_path)?;
    let new_kid = payload::kid(&w.rules.short, &new_public);
    // 2. The config, edited in place.
    let retirement = Retirement {
        public_key: old.public_key.clone(),
        since: old.not_before,
        until: today,
        compromised: args.compromised.clone().map(|why| (now, why)),
    };
    let text = std::fs::read_to_string(&config.path)
        .with_context(|| format!("cannot read the config {}", config.path.display()))?;
    // After a compromise the new key re-signs permits that started under the old one:
    // its window starts where the old one's did. A plain rotation's starts today.
    let new_since = match &args.compromised {
        Some(_) => old.not_before,
        None => today,
    };
    let edited = retire_key(&text, w.code(), &retirement, new_since)
        .with_context(|| format!("cannot record the retired key in {}", config.path.display()))?;
    replace_file(&config.path, edited.as_bytes()).with_context(|| {
        format!(
            "cannot write the config {}; nothing changed but the new key {} (remove it to start again)",
            config.path.display(),
            next_path.display()
        )
    })?;
    // 3. The key files.
    let swap = std::fs::rename(&key_path, &retired_path)
        .and_then(|()| std::fs::rename(&next_path, &key_path));
    if let Err(e) = swap {
        anyhow::bail!(
            "the config {} now names the old key as retired, but the key files could not be swapped ({e}): move {} to {} and {} to {} by hand",
            config.path.display(),
            key_path.display(),
            retired_path.display(),
            next_path.display(),
            key_path.display()
        );
    }
    writeln!(
        out,
        "the new key of {} is {new_kid} ({}); the old one, {}, is kept as {}",
        w.code(),
        key_path.display(),
        old.kid,
        retired_path.display()
    )?;
    let config = load_config(Some(config.path.clone()), false)
        .context("the edited config does not load; fix it before the daemon reloads")?;
    let Some(w) = config.ward(&args.ward) else {
        anyhow::bail!(super::no_such_ward(&config, &args.ward));
    };
    // 4. The running daemon.
    match ask(&config.service.state_dir, &Request::Reload)? {
        Some(response) => {
            write!(out, "{}", response.stdout)?;
            eprint!("{}", response.stderr);
        }
        None => writeln!(
            out,
            "the daemon is not running; it takes the new key when it starts"
        )?,
    }
    // 5. The city.
    let mut failed = 0;
    if config.service.trust_network {
        let (new, _) = current_entry(&config, w)?;
        failed += match &args.compromised {
            None => announce(&config, w, &old, new, &old_signer, today, &mut out)?,
            Some(why) => {
                let revoked = revoke_self(&config, w, &old_signer, now, why, &mut out)?;
                revoked + send_enrolment(&config, w, &mut out)?
            }
        };
    }
    drop(out);
    // 6. The permits.
    if let Some(why) = &args.compromised {
        let code = reissue(&config, w.code(), &old.kid, &new_kid, why, false, today)?;
        failed += usize::from(code != 0);
    }
    eprintln!("qrca: give checkpoints the new trust list: qrca keys trust-list > trust.json");
    Ok(if failed == 0 { 0 } else { 1 })
}

/// `path` with `suffix` added to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes `bytes` to a temporary file beside `path` with `path`'s permissions, then
/// renames it over `path`: the config is the old or the new, never half of each.
fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = with_suffix(path, ".qrca-tmp");
    let mode = std::fs::metadata(path)?.permissions();
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.set_permissions(mode)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// A plain rotation: the new key's entry and the old one's, with its last day, signed
/// by the old key, from the first account that can send it. Returns 0 or 1 failure.
fn announce(
    config: &Config,
    w: &crate::config::Ward,
    old: &TrustedKey,
    new: TrustedKey,
    old_signer: &Signer,
    today: jiff::civil::Date,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let retired = TrustedKey {
        not_after: Some(today),
        ..old.clone()
    };
    let list = TrustList::new(vec![new, retired]);
    let json = list.to_json_pretty().into_bytes();
    let sig = old_signer.detached(&json).to_bytes();
    let name = signed::trust_file(w.code());
    let subject = format!("QRCA: khóa mới của {}", w.rules.name);
    let body = format!(
        "UBND {} thay khóa ký {} bằng khóa mới. Đính kèm: {name}, ký bằng khóa cũ.\n",
        w.rules.name, old.kid
    );
    send_from_any(
        config,
        w,
        (&subject, &body),
        &[(&name, &json, &sig)],
        "rotate",
        out,
    )
}

/// A compromise: the old key revokes itself, signed by itself (a thief can only
/// revoke it too), so checkpoints void its permits as soon as the city has it.
fn revoke_self(
    config: &Config,
    w: &crate::config::Ward,
    old_signer: &Signer,
    now: jiff::Timestamp,
    why: &str,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let mut list = RevocationList::new(Vec::new());
    list.revoked_keys.push(RevokedKey {
        kid: old_signer.kid.clone(),
        from: now,
        reason: why.to_owned(),
    });
    // Sequence 0: it replaces no list of the ward's; the city reads only its key.
    let doc = WardRevocations::new(w.code(), 0, now, list);
    let json = signed::to_bytes(&doc);
    let sig = old_signer.detached(&json).to_bytes();
    let name = signed::revocations_file(w.code());
    let subject = format!(
        "QRCA: thu hồi khóa ký {} của {}",
        old_signer.kid, w.rules.name
    );
    let body = format!(
        "UBND {} thu hồi khóa ký {} ({why}). Mọi giấy ký bằng khóa này không còn giá trị.\n",
        w.rules.name, old_signer.kid
    );
    send_from_any(
        config,
        w,
        (&subject, &body),
        &[(&name, &json, &sig)],
        "revokekey",
        out,
    )
}

/// Sends one trust network mail to the admin from the first of the ward's accounts
/// that can; one line to `out`. Returns 0, or 1 when none could.
fn send_from_any(
    config: &Config,
    w: &crate::config::Ward,
    text: (&str, &str),
    files: &[super::accounts::SignedAttachment<'_>],
    tag: &str,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let admin = &config.service.admin_email;
    let mut errors = Vec::new();
    for account in &w.accounts {
        let message = trust_message(
            w,
            (&account.address, admin),
            text,
            files,
            tag,
            jiff::Timestamp::now(),
        )?;
        match runtime.block_on(crate::daemon::smtp::submit(
            account,
            std::slice::from_ref(admin),
            &message,
        )) {
            Ok(_) => {
                writeln!(out, "{} sent \"{}\" to {admin}", account.address, text.0)?;
                return Ok(0);
            }
            Err(e) => errors.push(format!("{}: {e}", account.address)),
        }
    }
    writeln!(
        out,
        "no account of {} could send \"{}\" to {admin}: {}",
        w.code(),
        text.0,
        errors.join("; ")
    )?;
    Ok(1)
}

/// The drill's re-issue, in the running daemon or on the database here.
fn reissue(
    config: &Config,
    ward: &str,
    old_kid: &str,
    new_kid: &str,
    why: &str,
    dry_run: bool,
    today: jiff::civil::Date,
) -> anyhow::Result<u8> {
    let request = Request::Reissue {
        ward: ward.to_owned(),
        old_kid: old_kid.to_owned(),
        new_kid: new_kid.to_owned(),
        why: why.to_owned(),
        dry_run,
        today,
    };
    super::control::in_daemon_or_here(&config.service.state_dir, &request, |store, out, _| {
        crate::admin::reissue::execute(
            store,
            ward,
            old_kid,
            new_kid,
            why,
            dry_run,
            today,
            jiff::Timestamp::now(),
            out,
        )
    })
}
