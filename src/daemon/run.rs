//! `qrca run`: the tokio runtime with a watcher per account, the outbox worker and the
//! check of the officers' daily reports (at start, then every minute);
//! SIGTERM/SIGINT stop it (the message in hand is finished, everything is down within
//! 10 s), SIGHUP reloads config and templates (the old ones stay if the new are
//! invalid); systemd hears READY, STATUS, RELOADING, STOPPING and the WATCHDOG.
//! Every task is supervised: one that ends or panics is logged at error and restarted
//! with backoff; one that cannot be kept up (more than `MAX_RESTARTS` restarts within
//! `RESTART_WINDOW`) stops the WATCHDOG, so that systemd restarts the daemon (outside
//! systemd the daemon stops with an error instead).
//!
//! Owns the tasks' lifetimes and the generation swap. It must not process mail itself.

use super::Generation;
use super::outbox::{self, Submit};
use super::watch;
use crate::admin::{feed, report};
use crate::config;
use crate::store::Store;
use anyhow::Context;
use sd_notify::NotifyState;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, watch as channel};
use tokio::task::JoinSet;

/// How long the tasks get to finish after a stop signal.
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// How often the outbox is looked at when nothing wakes it (retries fall due).
const OUTBOX_EVERY: Duration = Duration::from_secs(30);
/// How often the officers' daily reports are checked for being due.
const REPORT_EVERY: Duration = Duration::from_secs(60);
/// A task that ended is started again after this, doubling up to `RESTART_MAX_WAIT`.
const RESTART_FIRST: Duration = Duration::from_millis(500);
const RESTART_MAX_WAIT: Duration = Duration::from_secs(30);
/// More restarts of one task than this within `RESTART_WINDOW`, and it is given up.
const MAX_RESTARTS: usize = 4;
const RESTART_WINDOW: Duration = Duration::from_secs(600);

/// `qrca run [--config F]`.
pub fn run(config: Option<PathBuf>) -> anyhow::Result<u8> {
    let path = config::resolve_path(config);
    let loaded =
        config::load(&path).with_context(|| format!("cannot use the config {}", path.display()))?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    raise_open_file_limit();
    let store = Store::open(&loaded.config.service.state_dir)?;
    let journal = super::journal::Journal::load(&loaded.config)?;
    let mut first = Generation::load(loaded.config, store)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("qrca")
        // Intake and rendering run here; `MAX_CONCURRENT_INTAKES` and the outbox's one
        // pass at a time use a handful. A bound below systemd's `TasksMax=` (128).
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
        .context("cannot start the async runtime")?;
    if let Some(journal) = journal {
        // Before any INBOX is read: caught up with the journal, and still the active PC.
        let handle = runtime.block_on(super::journal::start_active(journal, &first.store))?;
        first.journal = Some(handle);
    }
    let first = Arc::new(first);
    runtime.block_on(serve(&path, first, outbox::Smtp))?;
    Ok(0)
}

/// Raises the soft limit on open files to the hard one: each watched account holds a
/// socket (1,800 for a city's wards hosted centrally), and the usual soft limit is 1,024
/// (systemd's default, while its hard limit is 524,288). Under the unit's system-call
/// filter (`~@resources`) setrlimit is refused: `LimitNOFILE=` in systemd/qrca.service
/// sets the limit there, and a refusal here is only logged.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::debug!(from = ?limit.current, to = ?limit.maximum, "raised the open file limit")
            }
            Err(e) => {
                tracing::warn!(limit = ?limit.current, "cannot raise the open file limit: {e}")
            }
        }
    }
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
    // The name of a task given up, once one is.
    let (broken_tx, mut broken) = channel::channel(None::<String>);
    let broken_tx = Arc::new(broken_tx);
    let wake = Arc::new(Notify::new());
    // A reload asked for over the control socket, as SIGHUP does.
    let reload_requests = Arc::new(Notify::new());
    let mut tasks = JoinSet::new();
    let watched: Watched = Arc::default();
    let keep = Keeper {
        stop: stop.clone(),
        broken: Arc::clone(&broken_tx),
    };
    spawn_watchers(&first, &watched, &mut tasks, &generation, &keep, &wake);
    let submit = Arc::new(submit);
    {
        let (generation, stop, wake) = (generation.clone(), stop.clone(), Arc::clone(&wake));
        tasks.spawn(keep.supervise("outbox".into(), move || {
            outbox_loop(
                generation.clone(),
                stop.clone(),
                Arc::clone(&wake),
                Arc::clone(&submit),
            )
        }));
    }
    {
        let generation = generation.clone();
        let state_dir = first.config.service.state_dir.clone();
        let stop = stop.clone();
        let wake = Arc::clone(&wake);
        let reload_requests = Arc::clone(&reload_requests);
        tasks.spawn(keep.supervise("control socket".into(), move || {
            let (generation, state_dir, stop, wake, reload) = (
                generation.clone(),
                state_dir.clone(),
                stop.clone(),
                Arc::clone(&wake),
                Arc::clone(&reload_requests),
            );
            async move {
                if let Err(e) = super::control::serve(generation, state_dir, stop, wake, reload).await {
                    tracing::error!(error = %e, "the control socket for the admin commands could not be opened");
                }
            }
        }));
    }
    if let Some(handle) = &first.journal {
        let (handle, store, stop) = (Arc::clone(handle), first.store.clone(), stop.clone());
        tasks.spawn(keep.supervise("journal".into(), move || {
            super::journal::publish(Arc::clone(&handle), store.clone(), stop.clone())
        }));
    }
    let fenced = {
        let handle = first.journal.clone();
        async move {
            match handle {
                Some(h) => h.wait_fenced().await,
                None => std::future::pending().await,
            }
        }
    };
    tokio::pin!(fenced);
    {
        let (generation, stop) = (generation.clone(), stop.clone());
        tasks.spawn(keep.supervise("print queue".into(), move || {
            super::print::print_loop(generation.clone(), stop.clone())
        }));
    }
    {
        let (generation, stop, wake) = (generation.clone(), stop.clone(), Arc::clone(&wake));
        tasks.spawn(keep.supervise("daily reports".into(), move || {
            report_loop(generation.clone(), stop.clone(), Arc::clone(&wake))
        }));
    }

    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let watchdog = sd_notify::watchdog_enabled();
    let mut ticks = tokio::time::interval(watchdog.map_or(Duration::from_secs(3600), |d| d / 2));
    notify(&[NotifyState::Ready, NotifyState::Status(&status(&first))]);
    tracing::info!(accounts = accounts(&first), "qrca is running");
    loop {
        let mut reload_now = false;
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload_now = true,
            // `qrca keys rotate`, through the control socket.
            _ = reload_requests.notified() => reload_now = true,
            _ = ticks.tick() => {
                // A task given up: no more pings, so that systemd restarts the daemon.
                if watchdog.is_some() && broken.borrow().is_none() {
                    notify(&[NotifyState::Watchdog]);
                }
            }
            why = &mut fenced => {
                notify(&[NotifyState::Status(&why)]);
                stop_tx.send_replace(true);
                let _ = tokio::time::timeout(STOP_WITHIN, async {
                    while tasks.join_next().await.is_some() {}
                })
                .await;
                anyhow::bail!("{why}");
            }
            _ = broken.changed() => {
                let task = broken.borrow().clone().unwrap_or_default();
                notify(&[NotifyState::Status(&format!("the {task} task cannot be kept up; waiting for the watchdog to restart qrca"))]);
                if watchdog.is_none() {
                    // No systemd to restart it: stop, and say why.
                    stop_tx.send_replace(true);
                    let _ = tokio::time::timeout(STOP_WITHIN, async {
                        while tasks.join_next().await.is_some() {}
                    })
                    .await;
                    anyhow::bail!("the {task} task cannot be kept up (it stopped {} times within {} minutes); qrca stops", MAX_RESTARTS + 1, RESTART_WINDOW.as_secs() / 60);
                }
            }
        }
        if reload_now {
            notify(&[NotifyState::Reloading]);
            let current = generation_tx.borrow().clone();
            match reload(config_path, &current) {
                Ok(next) => {
                    let next = Arc::new(next);
                    spawn_watchers(&next, &watched, &mut tasks, &generation, &keep, &wake);
                    generation_tx.send_replace(Arc::clone(&next));
                    // A fixed password may let waiting mail go: look now.
                    wake.notify_one();
                    tracing::info!("reloaded the config and templates");
                    notify(&[NotifyState::Ready, NotifyState::Status(&status(&next))]);
                }
                Err(e) => {
                    tracing::error!("reload refused, the running config and templates stay: {e:#}");
                    notify(&[NotifyState::Ready]);
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
    if loaded.config.standby != current.config.standby {
        // The journal is opened once, before any INBOX is read; reloading it here
        // could skip the catch-up or the fencing check.
        tracing::warn!(
            "the [standby] section changed; it takes effect at the next start (systemctl restart qrca)"
        );
    }
    let mut next = Generation::load(loaded.config, current.store.clone())?;
    next.journal.clone_from(&current.journal);
    Ok(next)
}

/// The accounts with a watcher running.
type Watched = Arc<std::sync::Mutex<HashSet<String>>>;

/// A watcher for every account of the generation not watched yet. A watcher whose
/// account left the config ends, and leaves the set (so the account, put back, is
/// watched again).
fn spawn_watchers(
    generation_now: &Generation,
    watched: &Watched,
    tasks: &mut JoinSet<()>,
    generation: &channel::Receiver<Arc<Generation>>,
    keep: &Keeper,
    wake: &Arc<Notify>,
) {
    for ward in &generation_now.config.wards {
        for account in &ward.accounts {
            let new = watched
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(account.address.clone());
            if new {
                let (address, generation, stop, wake) = (
                    account.address.clone(),
                    generation.clone(),
                    keep.stop.clone(),
                    Arc::clone(wake),
                );
                let (gone, gen_now, set) =
                    (address.clone(), generation.clone(), Arc::clone(watched));
                let wanted = move || {
                    let still = gen_now.borrow().config.account(&gone).is_some();
                    if !still {
                        set.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&gone);
                    }
                    still
                };
                let run = move || {
                    watch::run(
                        address.clone(),
                        generation.clone(),
                        stop.clone(),
                        Arc::clone(&wake),
                    )
                };
                let name = format!("watcher of {}", account.address);
                tasks.spawn(keep.supervise_while(name, run, wanted));
            }
        }
    }
}

/// What supervising a task needs: the stop signal, and where to say a task is given up.
struct Keeper {
    stop: channel::Receiver<bool>,
    broken: Arc<channel::Sender<Option<String>>>,
}

impl Keeper {
    /// Runs the task `make` starts until the daemon stops: each time it ends or panics
    /// before that, it is logged at error and started again after a backoff; after
    /// `MAX_RESTARTS` restarts within `RESTART_WINDOW` it is given up (`broken`).
    fn supervise<F, Fut>(&self, name: String, make: F) -> impl Future<Output = ()> + use<F, Fut>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.supervise_while(name, make, || true)
    }

    /// As [`Keeper::supervise`], for a task that may end on purpose: when it ends
    /// normally and `wanted` says it is no longer wanted, that is the end.
    fn supervise_while<F, Fut, W>(
        &self,
        name: String,
        make: F,
        wanted: W,
    ) -> impl Future<Output = ()> + use<F, Fut, W>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        W: Fn() -> bool + Send + 'static,
    {
        let mut stop = self.stop.clone();
        let broken = Arc::clone(&self.broken);
        async move {
            let mut restarts: VecDeque<Instant> = VecDeque::new();
            loop {
                let ended = tokio::spawn(make()).await;
                if *stop.borrow() || (ended.is_ok() && !wanted()) {
                    return;
                }
                match ended {
                    Ok(()) => {
                        tracing::error!(task = %name, "a task of the daemon ended on its own")
                    }
                    Err(e) => {
                        tracing::error!(task = %name, error = %panic_text(e), "a task of the daemon panicked")
                    }
                }
                let now = Instant::now();
                while restarts
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
                {
                    restarts.pop_front();
                }
                if restarts.len() >= MAX_RESTARTS {
                    tracing::error!(task = %name, restarts = restarts.len(), "the task cannot be kept up: it is given up, and the watchdog stops so that systemd restarts qrca");
                    broken.send_replace(Some(name));
                    return;
                }
                let wait = RESTART_FIRST
                    .saturating_mul(1 << restarts.len())
                    .min(RESTART_MAX_WAIT);
                restarts.push_back(now);
                tracing::warn!(task = %name, wait_ms = wait.as_millis() as u64, "restarting the task");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// What a task that did not finish said: its panic message, or why it was cut off.
fn panic_text(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    let payload = e.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

async fn outbox_loop(
    generation: channel::Receiver<Arc<Generation>>,
    mut stop: channel::Receiver<bool>,
    wake: Arc<Notify>,
    submit: Arc<impl Submit>,
) {
    while !*stop.borrow() {
        fault_in_outbox();
        let current = generation.borrow().clone();
        // Each pass follows a mail taken in (or 30 s): a ward's revocation reaches the
        // city in the same pass that answers it. The list is read from an index and
        // compared by its digest: nothing is queued unless it changed or a day passed.
        match feed::queue_due(&current.store, &current.config, jiff::Timestamp::now()) {
            Ok(queued) => {
                for q in &queued {
                    tracing::info!(ward = %q.ward, notice = q.outbox_id, sequence = q.sequence, revoked = q.revoked, "the ward's revocation list for the city is queued");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the revocation list for the city could not be queued")
            }
        }
        // With a standby: nothing is sent before the commits that queued it are in the
        // journal, and nothing at all once another PC took over.
        if let Some(journal) = &current.journal {
            let seq = current.store.journal_seq().unwrap_or(u64::MAX);
            if !journal.durable(seq).await {
                tracing::warn!("the journal is behind or another PC took over: no outbox pass now");
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(OUTBOX_EVERY) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        }
        match outbox::send_due(&current, &*submit, jiff::Timestamp::now()).await {
            Ok(pass) if pass != outbox::Pass::default() => tracing::info!(?pass, "outbox pass"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "the outbox could not be read"),
        }
        // What was sent goes into the journal at once: a standby that takes over then
        // sends it again only if this PC died in the instant after the server took it.
        if let Some(journal) = &current.journal {
            let seq = current.store.journal_seq().unwrap_or(0);
            let _ = journal.durable(seq).await;
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

/// `QRCA_FAULT=panic-outbox:N`: the first N passes of the outbox panic (N = `always`:
/// every pass), as a bug would. Only the end-to-end tests of supervision set it.
fn fault_in_outbox() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PASSES: AtomicUsize = AtomicUsize::new(0);
    static FAULT: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    let panics = FAULT.get_or_init(|| {
        let v = std::env::var("QRCA_FAULT").ok()?;
        match v.strip_prefix("panic-outbox:")? {
            "always" => Some(usize::MAX),
            n => n.parse().ok(),
        }
    });
    if let Some(n) = panics
        && PASSES.fetch_add(1, Ordering::SeqCst) < *n
    {
        panic!("QRCA_FAULT=panic-outbox");
    }
}

fn status(generation: &Generation) -> String {
    format!(
        "watching {} accounts of {} wards",
        accounts(generation),
        generation.config.wards.len()
    )
}

fn accounts(generation: &Generation) -> usize {
    generation
        .config
        .wards
        .iter()
        .map(|w| w.accounts.len())
        .sum()
}

fn notify(states: &[NotifyState<'_>]) {
    // Outside systemd NOTIFY_SOCKET is unset and this does nothing.
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify: {e}");
    }
}
