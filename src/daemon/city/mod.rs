//! `qrca city run`: the city's daemon (issue 13, SPEC §9). One account (the admin's)
//! is watched over IMAP with the ward daemon's transport; each mail is decided by
//! `city::core::decide` and committed with its seen-marker in one transaction
//! (`CityStore::commit_mail`) before it is moved to the processed folder; the outbox is
//! sent over SMTP (`daemon::smtp::submit`); every minute the publisher asks whether the
//! merged lists and the checkpoint page are due (`city::publish::is_due`) and queues
//! them with the new mark in one transaction.
//!
//! `intake.rs`: the watcher and one mail; `send.rs`: the outbox and the publisher. It
//! owns the loops, their timing and their logs; every decision is `city::core`'s or
//! `city::publish`'s. A crash at any point, then a restart, gives the same result: a
//! mail committed but not moved is found seen and only moved; an entry sent but not
//! marked is sent again with the same Message-ID.

mod intake;
mod send;

use super::control::{Handler, blocking, listen};
use crate::city::admin;
use crate::city::core::CityRules;
use crate::city::intake::{CityIntake, IntakeError};
use crate::city::model::Verdict;
use crate::city::publish::PublishRules;
use crate::city::rules;
use crate::city::store::CityStore;
use crate::config::{Account, City, Config};
use anyhow::Context;
use ed25519_dalek::SigningKey;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

pub use send::{message, publish_due, send_due};

/// What every loop of the city daemon shares.
pub struct CityDaemon {
    pub store: CityStore,
    pub account: Account,
    pub rules: CityRules,
    pub publish: PublishRules,
    pub kid: String,
    pub key: SigningKey,
    pub trusted_authserv_ids: Vec<String>,
    pub timezone: jiff::tz::TimeZone,
    /// The whole config, for the admin's commands over the socket.
    pub config: Config,
}

impl std::fmt::Debug for CityDaemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("CityDaemon")
            .field("account", &self.account.address)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl CityDaemon {
    /// The city's config, store and key, ready to run.
    pub fn open(config: &Config) -> anyhow::Result<CityDaemon> {
        let city: &City = rules::city(config).with_context(|| {
            format!(
                "the config {} has no [city] section; `qrca city run` needs one (SPEC §9)",
                config.path.display()
            )
        })?;
        let key = crate::keys::load(&city.signing_key).with_context(|| {
            format!(
                "the city key; make it with `qrca city keys generate --config {}`",
                config.path.display()
            )
        })?;
        let kid = admin::city_kid(&key.verifying_key());
        let store = CityStore::open(&config.service.state_dir)?;
        Ok(CityDaemon {
            store,
            rules: rules::core_rules(city),
            publish: rules::publish_rules(config, city),
            trusted_authserv_ids: city.account.mail.trusted_authserv_ids.clone(),
            account: city.account.clone(),
            kid,
            key,
            timezone: config.service.timezone.clone(),
            config: config.clone(),
        })
    }

    /// One raw mail taken in (`city::intake`): durable when this returns.
    pub fn take_in(&self, raw: &[u8], now: jiff::Timestamp) -> Result<Verdict, IntakeError> {
        CityIntake {
            store: &self.store,
            rules: &self.rules,
            trusted_authserv_ids: &self.trusted_authserv_ids,
            timezone: &self.timezone,
        }
        .take_in(raw, now)
    }
}

/// How often the publisher looks.
const PUBLISH_EVERY: Duration = Duration::from_secs(60);
/// How often the outbox looks when nothing woke it.
const SEND_EVERY: Duration = Duration::from_secs(30);

/// `qrca city run`: the city daemon on its own runtime, until SIGTERM or SIGINT.
pub fn run_blocking(config_path: &Path) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("qrca-city")
        .worker_threads(2)
        .max_blocking_threads(8)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(config_path))?;
    Ok(0)
}

/// Runs the city daemon until SIGTERM or SIGINT.
pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let loaded = crate::config::load(config_path)
        .with_context(|| format!("the config {}", config_path.display()))?;
    let city = Arc::new(CityDaemon::open(&loaded.config)?);
    let (stop_tx, stop) = watch::channel(false);
    // The watcher wakes the publisher after a mail that changed the city's state; the
    // publisher, after each look, wakes the outbox (activation codes, publications).
    let changed = Arc::new(Notify::new());
    let wake = Arc::new(Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    {
        let (city, stop, changed) = (Arc::clone(&city), stop.clone(), Arc::clone(&changed));
        tasks.spawn(async move { intake::watch(city, stop, changed, intake::Pace::DAEMON).await });
    }
    {
        let (city, mut stop) = (Arc::clone(&city), stop.clone());
        let (changed, wake) = (Arc::clone(&changed), Arc::clone(&wake));
        tasks.spawn(async move {
            while !*stop.borrow() {
                // Registered before the pass, so a change during it is not missed.
                let news = changed.notified();
                tokio::pin!(news);
                news.as_mut().enable();
                let c = Arc::clone(&city);
                match tokio::task::spawn_blocking(move || publish_due(&c, jiff::Timestamp::now())).await {
                    Ok(Ok(Some(id))) => {
                        tracing::info!(outbox = id, "the checkpoint page and the city's lists are queued for the checkpoints");
                    }
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "the publication could not be queued"),
                    Err(e) => tracing::error!(error = %e, "the publication stopped"),
                }
                wake.notify_one();
                tokio::select! {
                    _ = news => {}
                    _ = tokio::time::sleep(PUBLISH_EVERY) => {}
                    _ = stop.changed() => {}
                }
            }
        });
    }
    {
        let (city, mut stop, wake) = (Arc::clone(&city), stop.clone(), Arc::clone(&wake));
        tasks.spawn(async move {
            while !*stop.borrow() {
                if let Err(e) = send_due(&city, jiff::Timestamp::now()).await {
                    tracing::error!(error = %e, "the city's outbox could not be read");
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(SEND_EVERY) => {}
                    _ = stop.changed() => {}
                }
            }
        });
    }
    {
        // The admin's `qrca city status`, `page`, `lists` and `wards import` while this
        // process holds the database.
        let (c, stop) = (Arc::clone(&city), stop.clone());
        let path = admin::socket_path(&loaded.config.service.state_dir);
        let handler: Handler = Arc::new(move |line: String| {
            let c = Arc::clone(&c);
            Box::pin(blocking(move || admin::answer(&c.store, &c.config, &line)))
        });
        tasks.spawn(async move {
            if let Err(e) = listen(path, admin::MAX_REQUEST, stop, handler).await {
                tracing::error!(error = %e, "the city's control socket could not be opened");
            }
        });
    }
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!(account = %city.account.address, kid = %city.kid, "the city daemon is running");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("stopping");
    stop_tx.send_replace(true);
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
    }
    Ok(())
}
