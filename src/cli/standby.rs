//! `qrca standby`, `qrca standby status`, `qrca takeover` and `qrca keys journal`
//! (issue 14): the command line of the second PC. The journal's protocol is
//! `daemon::journal`'s; this owns what is printed and the exit codes.

use super::load_config;
use crate::config::Config;
use crate::daemon::journal::{self, Journal};
use crate::replica::JournalKey;
use crate::store::Store;
use anyhow::Context;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum StandbyCommand {
    /// How far this PC's database is behind the journal (from `<state_dir>/standby.status`).
    Status,
}

fn journal_of(config: &Config) -> anyhow::Result<Journal> {
    Journal::load(config)?.with_context(|| {
        format!(
            "the config {} has no [standby] section: a second PC needs one, with the \
             journal key both PCs share",
            config.path.display()
        )
    })
}

fn status_file(config: &Config) -> PathBuf {
    config.service.state_dir.join("standby.status")
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .context("cannot start the async runtime")
}

/// `qrca keys journal`.
pub fn journal_key(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let standby = config.standby.as_ref().with_context(|| {
        format!(
            "the config {} has no [standby] journal_key",
            config.path.display()
        )
    })?;
    JournalKey::generate_file(&standby.journal_key)?;
    eprintln!(
        "qrca: wrote the journal key {} (mode 0600). Copy it, with the same config, to the \
         other PC of the ward; keep a copy offline.",
        standby.journal_key.display()
    );
    Ok(0)
}

/// `qrca standby [status]`.
pub fn run(command: Option<StandbyCommand>, config: Option<PathBuf>) -> anyhow::Result<u8> {
    let config = load_config(config, false)?;
    if let Some(StandbyCommand::Status) = command {
        return status(&status_file(&config));
    }
    let journal = journal_of(&config)?;
    let store = Store::open(&config.service.state_dir)?;
    // `qrca takeover` stops this process through it (the database is held here).
    let pid_file = pid_file(&config);
    std::fs::write(&pid_file, format!("{}\n", std::process::id()))
        .with_context(|| format!("cannot write {}", pid_file.display()))?;
    let rt = runtime()?;
    let result = rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        tracing::info!(folder = ?journal, "the standby follows the journal");
        let file = status_file(&config);
        let follow = journal::standby(&journal, &store, &file, stop);
        tokio::pin!(follow);
        tokio::select! {
            r = &mut follow => r,
            _ = term.recv() => { stop_tx.send_replace(true); follow.await }
            _ = int.recv() => { stop_tx.send_replace(true); follow.await }
        }
    });
    let _ = std::fs::remove_file(&pid_file);
    result?;
    Ok(0)
}

fn pid_file(config: &Config) -> PathBuf {
    config.service.state_dir.join("standby.pid")
}

/// Stops `qrca standby` on this PC, if it runs (SIGTERM, then the database is free).
fn stop_standby(config: &Config) -> anyhow::Result<()> {
    let file = pid_file(config);
    let Some(pid) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return Ok(());
    };
    // Running, and not a zombie its parent has yet to reap (the database is free then).
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .is_some_and(|zombie| !zombie)
    };
    if !alive() {
        return Ok(());
    }
    eprintln!("qrca: stopping the standby (pid {pid}) on this PC");
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .context("cannot run kill")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while alive() {
        if std::time::Instant::now() > deadline {
            anyhow::bail!(
                "the standby (pid {pid}) did not stop within 30 s; stop it, then run qrca takeover again"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(())
}

fn status(file: &Path) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(file).with_context(|| {
        format!(
            "cannot read {}: is qrca standby running on this PC?",
            file.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} cannot be read", file.display()))?;
    let applied = v["applied"].as_u64().unwrap_or(0);
    let published = v["published"].as_u64().unwrap_or(0);
    println!(
        "applied write set {applied} of {published} ({} behind); active PC: {} (epoch {}); as of {}",
        published.saturating_sub(applied),
        v["active"].as_str().unwrap_or("?"),
        v["epoch"],
        v["at"].as_str().unwrap_or("?")
    );
    Ok(u8::from(published > applied))
}

/// `qrca takeover [--no-run]`.
pub fn takeover(config: Option<PathBuf>, then_run: bool) -> anyhow::Result<u8> {
    let loaded = load_config(config.clone(), false)?;
    let journal = journal_of(&loaded)?;
    stop_standby(&loaded)?;
    {
        let store = Store::open(&loaded.service.state_dir)
            .with_context(|| "cannot open this PC's database: is another qrca running here?")?;
        let epoch = runtime()?.block_on(journal::takeover(&journal, &store))?;
        eprintln!(
            "qrca: PC {} took over (epoch {epoch}) at write set {}; the old PC is fenced and \
             will refuse to run.",
            journal.host,
            store.journal_seq()?
        );
    }
    if !then_run {
        eprintln!("qrca: start the daemon: systemctl start qrca");
        return Ok(0);
    }
    crate::daemon::run::run(config)
}

/// `qrca backup --out F`.
pub fn backup(config: Option<PathBuf>, out: &Path) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let (code, file) = super::control::file_in_daemon_or_here(
        &config.service.state_dir,
        &crate::admin::protocol::Request::Backup,
        |store, stdout, _| crate::admin::backup::execute(store, stdout),
    )?;
    if let Some(bytes) = file {
        super::permits::write_owner_only(out, &bytes)?;
        println!("written to {}", out.display());
    }
    Ok(code)
}

/// `qrca restore FILE`.
pub fn restore(config: Option<PathBuf>, file: &Path) -> anyhow::Result<u8> {
    let config = load_config(config, true)?;
    let shown = file.display().to_string();
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {shown}"))?;
    let store = Store::open(&config.service.state_dir)
        .context("cannot open the database: stop the daemon first")?;
    println!("{}", crate::admin::backup::restore(&store, &shown, &bytes)?);
    Ok(0)
}
