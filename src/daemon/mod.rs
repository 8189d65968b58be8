//! The daemon (issue 6): `qrca run` watches every ward account, takes each message in
//! exactly once, and drains the outbox.
//!
//! - [`intake`]: one raw message read from an account → parsed, classified, its files
//!   kept, processed by the engine: durable before the caller may move it on the server.
//! - [`watch`]: one IMAP watcher per account (read INBOX, take in, move; IDLE; reconnect).
//! - [`outbox`]: the worker that renders and submits committed mails, with retries,
//!   quotas and dead letters.
//! - [`smtp`]: submission with lettre.
//! - [`control`]: the control socket on which the daemon answers the admin's commands
//!   (`admin::protocol`) while it holds the database.
//! - [`run`]: the runtime, signals (SIGTERM stops, SIGHUP reloads), systemd notification.
//!
//! What every part reads is one [`Generation`]: config, templates, keys and renderer,
//! swapped whole on SIGHUP, so no task ever sees half of a reload.

pub mod city;
pub mod control;
pub mod explain;
pub mod intake;
pub mod journal;
pub mod maildir;
pub mod outbox;
pub mod print;
pub mod run;
pub mod smtp;
pub mod watch;

use crate::config::Config;
use crate::outbound::Templates;
use crate::permit::issue::{self, Signer};
use crate::permit::pdf::Renderer;
use crate::store::Store;
use crate::store::blobs::Blobs;
use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One consistent view of what the daemon was configured with.
pub struct Generation {
    pub config: Config,
    pub store: Store,
    pub blobs: Blobs,
    pub templates: Templates,
    pub permits: Renderer,
    /// Ward code → the ward's signer (its current key).
    pub signers: HashMap<String, Signer>,
    /// When the outbox worker last tried to log in to each account set aside as
    /// unable to send; empty in a new generation, so a reload tries them at once.
    pub probes: Mutex<HashMap<String, Timestamp>>,
    /// With a standby (`[standby]`): whether what was committed is in the journal yet.
    /// A message leaves INBOX, and an outbox pass sends, only once it is.
    pub journal: Option<Arc<journal::Handle>>,
}

impl Generation {
    /// What rendering a mail or a print sheet of `ward` needs from this generation.
    pub fn render_ctx(&self, ward: &str) -> crate::outbound::RenderCtx<'_> {
        crate::outbound::RenderCtx {
            config: &self.config,
            templates: &self.templates,
            permits: &self.permits,
            signer: self.signers.get(ward),
            blobs: &self.blobs,
        }
    }

    /// Everything a config asks for, checked: templates compiled and test-rendered,
    /// every ward's key readable and private, the permit renderer built.
    pub fn load(config: Config, store: Store) -> anyhow::Result<Generation> {
        use anyhow::Context;
        let templates = Templates::load(config.service.templates_dir.as_deref())
            .context("the mail templates")?;
        let permits = issue::renderer(&config).context("the permit labels")?;
        let mut signers = HashMap::new();
        for ward in &config.wards {
            let signer = Signer::load(ward)
                .with_context(|| format!("the signing key of ward {}", ward.code()))?;
            signers.insert(ward.code().to_owned(), signer);
        }
        Ok(Generation {
            blobs: Blobs::new(&config.service.state_dir),
            config,
            store,
            templates,
            permits,
            signers,
            probes: Mutex::new(HashMap::new()),
            journal: None,
        })
    }
}
