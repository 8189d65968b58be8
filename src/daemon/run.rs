//! `qrca run`: the tokio runtime with a watcher per account, the outbox worker and the
//! check of the officers' daily reports (at start, then every minute);
//! SIGTERM/SIGINT stop it (the message in hand is finished, everything is down within
//! 10 s), SIGHUP reloads config and templates (the old ones stay if the new are
//! invalid); systemd hears READY, STATUS, RELOADING, STOPPING and the WATCHDOG.
//!
//! Owns the tasks' lifetimes and the generation swap. It must not process mail itself.

use super::Generation;
use super::outbox::{self, Submit};
use super::report;
use super::watch;
use crate::config;
use crate::store::Store;
use anyhow::Context;
use sd_notify::NotifyState;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, watch as channel};
use tokio::task::JoinSet;

/// How long the tasks get to finish after a stop signal.
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// How often the outbox is looked at when nothing wakes it (retries fall due).
const OUTBOX_EVERY: Duration = Duration::from_secs(30);
/// How often the officers' daily reports are checked for being due.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// `qrca run [--config F]`.
pub fn run(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let path = config::resolve_path(config);
    let loaded =
        config::load(&path).with_context(|| format!("cannot use the config {}", path.display()))?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let store = Store::open(&loaded.config.service.state_dir)?;
    let first = Arc::new(Generation::load(loaded.config, store)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("qrca")
        // Intake and rendering run here; `MAX_CONCURRENT_INTAKES` and the outbox's one
        // pass at a time use a handful. A bound below systemd's `TasksMax=` (128).
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(&path, first, outbox::Smtp))?;
    Ok(0)
}

/// The most threads the runtime's blocking pool may start (tokio's default is 512).
const MAX_BLOCKING_THREADS: usize = 32;

/// Runs until SIGTERM or SIGINT. `submit` is SMTP in production, a Maildir in tests.
pub async fn serve(
    config_path: &Path,
    first: Arc<Generation>,
    submit: impl Submit,
) -> anyhow::Result<()> {
    let (generation_tx, generation) = channel::channel(Arc::clone(&first));
    let (stop_tx, stop) = channel::channel(false);
    let wake = Arc::new(Notify::new());
    let mut tasks = JoinSet::new();
    let mut watched = HashSet::new();
    spawn_watchers(&first, &mut watched, &mut tasks, &generation, &stop, &wake);
    tasks.spawn(outbox_loop(
        generation.clone(),
        stop.clone(),
        Arc::clone(&wake),
        submit,
    ));
    {
        let generation = generation.clone();
        let state_dir = first.config.service.state_dir.clone();
        let stop = stop.clone();
        let wake = Arc::clone(&wake);
        tasks.spawn(async move {
            if let Err(e) = crate::cli::control::serve(generation, state_dir, stop, wake).await {
                tracing::error!(error = %e, "the control socket for the admin commands could not be opened");
            }
        });
    }
    tasks.spawn(report_loop(
        generation.clone(),
        stop.clone(),
        Arc::clone(&wake),
    ));

    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let watchdog = sd_notify::watchdog_enabled();
    let mut ticks = tokio::time::interval(watchdog.map_or(Duration::from_secs(3600), |d| d / 2));
    notify(&[
        NotifyState::Ready,
        NotifyState::Status(&status(&first, watched.len())),
    ]);
    tracing::info!(accounts = watched.len(), "qrca is running");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                notify(&[NotifyState::Reloading]);
                let current = generation_tx.borrow().clone();
                match reload(config_path, &current) {
                    Ok(next) => {
                        let next = Arc::new(next);
                        spawn_watchers(&next, &mut watched, &mut tasks, &generation, &stop, &wake);
                        generation_tx.send_replace(Arc::clone(&next));
                        // A fixed password may let waiting mail go: look now.
                        wake.notify_one();
                        tracing::info!("reloaded the config and templates");
                        notify(&[NotifyState::Ready, NotifyState::Status(&status(&next, watched.len()))]);
                    }
                    Err(e) => {
                        tracing::error!("reload refused, the running config and templates stay: {e:#}");
                        notify(&[NotifyState::Ready]);
                    }
                }
            }
            _ = ticks.tick() => {
                if watchdog.is_some() {
                    notify(&[NotifyState::Watchdog]);
                }
            }
        }
    }
    notify(&[NotifyState::Stopping]);
    tracing::info!("stopping");
    stop_tx.send_replace(true);
    let drained = tokio::time::timeout(STOP_WITHIN, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "some tasks did not stop within {} s; they are cut off (their messages are taken in again on the next start)",
            STOP_WITHIN.as_secs()
        );
        tasks.abort_all();
    }
    Ok(())
}

/// A new generation from the config file, or why not. The database stays the one
/// opened at start: a changed `state_dir` needs a restart.
fn reload(path: &Path, current: &Generation) -> anyhow::Result<Generation> {
    let loaded = config::load(path).with_context(|| format!("the config {}", path.display()))?;
    if loaded.config.service.state_dir != current.config.service.state_dir {
        anyhow::bail!(
            "state_dir changed from {} to {}; that needs a restart",
            current.config.service.state_dir.display(),
            loaded.config.service.state_dir.display()
        );
    }
    Generation::load(loaded.config, current.store.clone())
}

/// A watcher for every account of the generation not watched yet.
fn spawn_watchers(
    generation_now: &Generation,
    watched: &mut HashSet<String>,
    tasks: &mut JoinSet<()>,
    generation: &channel::Receiver<Arc<Generation>>,
    stop: &channel::Receiver<bool>,
    wake: &Arc<Notify>,
) {
    for ward in &generation_now.config.wards {
        for account in &ward.accounts {
            if watched.insert(account.address.clone()) {
                tasks.spawn(watch::run(
                    account.address.clone(),
                    generation.clone(),
                    stop.clone(),
                    Arc::clone(wake),
                ));
            }
        }
    }
}

async fn outbox_loop(
    generation: channel::Receiver<Arc<Generation>>,
    mut stop: channel::Receiver<bool>,
    wake: Arc<Notify>,
    submit: impl Submit,
) {
    while !*stop.borrow() {
        let current = generation.borrow().clone();
        match outbox::send_due(&current, &submit, jiff::Timestamp::now()).await {
            Ok(pass) if pass != outbox::Pass::default() => tracing::info!(?pass, "outbox pass"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "the outbox could not be read"),
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(OUTBOX_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}

/// At start and then every minute: queues each ward's daily report of refused attempts
/// that is due (`report::queue_due`), then wakes the outbox.
async fn report_loop(
    generation: channel::Receiver<Arc<Generation>>,
    mut stop: channel::Receiver<bool>,
    wake: Arc<Notify>,
) {
    while !*stop.borrow() {
        let current = generation.borrow().clone();
        match report::queue_due(&current.store, &current.config, jiff::Timestamp::now()) {
            Ok(queued) if !queued.is_empty() => {
                for q in &queued {
                    tracing::info!(ward = %q.ward, notice = q.outbox_id, refusals = q.refusals, "the officers' daily report is queued");
                }
                wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "the daily reports could not be queued"),
        }
        tokio::select! {
            _ = tokio::time::sleep(REPORT_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}

fn status(generation: &Generation, accounts: usize) -> String {
    format!(
        "watching {accounts} accounts of {} wards",
        generation.config.wards.len()
    )
}

fn notify(states: &[NotifyState<'_>]) {
    // Outside systemd NOTIFY_SOCKET is unset and this does nothing.
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify: {e}");
    }
}
