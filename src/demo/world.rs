//! The demo's mechanics: a mail delivered into its recipients' Maildirs, one round of
//! the daemon's own code over the ward's accounts (take in, move to `cur/`, send the
//! outbox), and what the people find in their Maildirs, printed as it happens.

use super::*;

impl<W: Write> World<W> {
    pub(super) fn heading(&mut self, title: &str) -> anyhow::Result<()> {
        writeln!(self.out, "\n{title}")?;
        Ok(())
    }

    /// `draft` is sent: delivered into the Maildir of each of its recipients. Then the
    /// daemon takes in what arrived and sends what it committed; everything is printed.
    /// Returns the case codes the daemon's answers name.
    pub(super) fn send(&mut self, draft: Draft, what: &str) -> anyhow::Result<Vec<Taken>> {
        self.step += 1;
        self.clock = self
            .clock
            .checked_add(SignedDuration::from_mins(3))
            .unwrap_or(self.clock);
        let local = draft
            .from
            .split('@')
            .next()
            .unwrap_or("x")
            .replace('.', "-");
        let domain = draft.from.rsplit_once('@').map_or("", |(_, d)| d);
        let message_id = format!("<demo{}.{local}@{domain}>", self.step);
        let bytes = draft.bytes(&message_id, self.clock);
        for to in &draft.to {
            self.mailboxes.deliver(&draft.from, to, &bytes)?;
        }
        let mut line = format!(
            "  [{:>2}] {} → {}\n       “{}”",
            self.step,
            draft.from,
            draft.to.join(", "),
            draft.subject
        );
        let names: Vec<&str> = draft.attachments.iter().map(|a| a.0.as_str()).collect();
        if !names.is_empty() {
            line.push_str(&format!(" + {}", names.join(", ")));
        }
        writeln!(self.out, "{line}\n       {what}")?;
        let taken = self.daemon()?;
        if self.refused.is_none()
            && taken
                .iter()
                .any(|t| matches!(t, Taken::Processed(Processed::Refused(_))))
            && let Some(to) = draft.to.first()
        {
            self.refused = Some((to.clone(), bytes));
        }
        Ok(taken)
    }

    /// One round of the daemon: every ward account's new mail taken in and moved to
    /// `cur/`, then the outbox sent into the recipients' Maildirs.
    fn daemon(&mut self) -> anyhow::Result<Vec<Taken>> {
        let g = Arc::clone(&self.generation);
        let mut taken = Vec::new();
        for account in ACCOUNTS {
            let maildir = self.mailboxes.mailbox(account)?;
            for message in maildir.take_new()? {
                let raw = maildir.read(&message)?;
                let at = Position {
                    account: account.to_owned(),
                    uidvalidity: maildir::UIDVALIDITY,
                    uid: message.uid,
                };
                let outcome = take_in(&g.store, &g.blobs, &g.config, &at, &raw, self.clock)?;
                maildir.processed(&message)?;
                self.report_taken(account, &outcome)?;
                taken.push(outcome);
            }
        }
        let pass = self
            .runtime
            .block_on(outbox::send_due(&g, &self.submit, self.clock))?;
        for id in pass.dead.iter().chain(&pass.retrying) {
            let status = g.store.outbox_entry(*id)?.map(|e| e.status);
            let why = match status {
                Some(OutboxStatus::Dead { reason }) => reason,
                Some(OutboxStatus::RetryAt { last_error, .. }) => last_error,
                other => format!("{other:?}"),
            };
            writeln!(self.out, "       ✗ outbox entry {id} not delivered: {why}")?;
        }
        self.report_mail()?;
        Ok(taken)
    }

    fn report_taken(&mut self, account: &str, taken: &Taken) -> anyhow::Result<()> {
        let short = account.split('@').next().unwrap_or(account);
        match taken {
            Taken::Processed(Processed::Applied { case, .. }) => {
                let s = CaseSummary::of(case);
                writeln!(
                    self.out,
                    "       ⚙ {short} took it in: {} {}: {} pending, {} approved, {} issued, {} rejected, {} revoked",
                    case.code, s.stage, s.pending, s.approved, s.issued, s.rejected, s.revoked
                )?;
            }
            Taken::Processed(Processed::Refused(r)) => writeln!(
                self.out,
                "       ✗ {short} refused it ({:?}), nothing changed, no answer: {}",
                r.reason, r.detail
            )?,
            Taken::Processed(Processed::Ignored) => {
                writeln!(self.out, "       · {short} ignored it")?
            }
            Taken::Processed(Processed::AlreadySeen) => {
                writeln!(self.out, "       · {short} had already processed it")?
            }
            Taken::Ignored(reason) => writeln!(self.out, "       · {short}: no answer ({reason})")?,
        }
        Ok(())
    }

    /// The mails the daemon delivered since the last look, read from the people's
    /// Maildirs (one line per message, whoever got a copy), and their attachments
    /// saved under `files/<address>/` as each recipient would save them.
    fn report_mail(&mut self) -> anyhow::Result<()> {
        let mut fresh: Vec<(PathBuf, String)> = Vec::new();
        let root = self.mailboxes.root().to_path_buf();
        for entry in std::fs::read_dir(&root)? {
            let dir = entry?.path();
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if ACCOUNTS.contains(&name.as_str()) {
                continue;
            }
            let maildir = self.mailboxes.mailbox(&name)?;
            for path in maildir.list("new")? {
                if !self.reported.contains(&path) {
                    fresh.push((path, name.clone()));
                }
            }
        }
        fresh.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
        // Message-ID → the mail and who got it, in delivery order.
        let mut messages: BTreeMap<usize, (Received, Vec<String>)> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (path, owner) in fresh {
            self.reported.insert(path.clone());
            let Some(received) = Received::read(&path) else {
                continue;
            };
            self.save_files(&owner, &received)?;
            let id = received.mail.message_id.clone().unwrap_or_default();
            match order.iter().position(|o| *o == id) {
                Some(i) => {
                    if let Some(m) = messages.get_mut(&i) {
                        m.1.push(owner);
                    }
                }
                None => {
                    messages.insert(order.len(), (received, vec![owner]));
                    order.push(id);
                }
            }
        }
        for (received, _) in messages.values() {
            let mail = &received.mail;
            let from = mail
                .from
                .as_ref()
                .map(|a| a.address.split('@').next().unwrap_or_default().to_owned())
                .unwrap_or_default();
            let mut line = format!(
                "       ✉ {from} → {}",
                mail.to
                    .iter()
                    .map(|a| a.address.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if !mail.cc.is_empty() {
                let cc: Vec<&str> = mail.cc.iter().map(|a| a.address.as_str()).collect();
                line.push_str(&format!(" (cc {})", cc.join(", ")));
            }
            line.push_str(&format!(": “{}”", mail.subject));
            if received.token_address().is_some() {
                line.push_str(" [Reply-To: reply token]");
            }
            let names: Vec<&str> = mail.attachments.iter().map(|a| a.name.as_str()).collect();
            if !names.is_empty() {
                line.push_str(&format!("\n         + {}", files_line(&names)));
            }
            writeln!(self.out, "{line}")?;
        }
        Ok(())
    }

    fn save_files(&self, owner: &str, received: &Received) -> anyhow::Result<()> {
        if received.mail.attachments.is_empty() {
            return Ok(());
        }
        let dir = self.dir.join("files").join(owner);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for a in &received.mail.attachments {
            // The reader sanitised the name: no path in it.
            let path = dir.join(&a.name);
            std::fs::write(&path, &a.bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }

    /// The newest mail in `who`'s Maildir about `code` whose subject contains `about`.
    pub(super) fn find(&self, who: &str, code: &str, about: &str) -> anyhow::Result<Received> {
        let maildir = self.mailboxes.mailbox(who)?;
        let tag = format!("[QRCA {code}]");
        for path in maildir.list("new")?.into_iter().rev() {
            if let Some(r) = Received::read(&path)
                && r.mail.subject.contains(&tag)
                && r.mail.subject.contains(about)
            {
                return Ok(r);
            }
        }
        bail!("{who} has no mail about {code} whose subject says “{about}”")
    }

    /// The newest request in `who`'s Maildir about `code` that asks for a decision on
    /// a reply token.
    pub(super) fn find_request(
        &self,
        who: &str,
        code: &str,
        about: &str,
    ) -> anyhow::Result<Received> {
        let found = self.find(who, code, about)?;
        if found.token_address().is_none() {
            bail!(
                "the mail “{}” to {who} has no reply token in Reply-To",
                found.mail.subject
            );
        }
        Ok(found)
    }
}

/// Attachment names, a run of permit PDFs shortened to the first and last.
pub(super) fn files_line(names: &[&str]) -> String {
    let permits: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| is_permit_file(n))
        .collect();
    let others: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !is_permit_file(n))
        .collect();
    let mut parts = Vec::new();
    match permits.as_slice() {
        [] => {}
        [one] => parts.push((*one).to_owned()),
        [first, .., last] => parts.push(format!("{first} … {last} ({} permits)", permits.len())),
    }
    parts.extend(others.iter().map(|s| (*s).to_owned()));
    parts.join(", ")
}

/// `THD-T-0001-0007.pdf`: one person's permit.
pub(super) fn is_permit_file(name: &str) -> bool {
    name.strip_suffix(".pdf").is_some_and(|stem| {
        let parts: Vec<&str> = stem.split('-').collect();
        parts.len() == 4 && parts[3].len() == 4 && parts[3].bytes().all(|b| b.is_ascii_digit())
    })
}
