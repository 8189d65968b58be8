//! Waiting for new mail on the selected INBOX: IDLE with a stop signal (re-issued
//! before Gmail's ten minutes), or where the server has no IDLE a sleep and a NOOP;
//! and the `EXISTS` a server reports in passing during any other command, noted so
//! the next wait returns at once.

use super::command::imap_error;
use super::{COMMAND_TIMEOUT, IdleOutcome, ImapSession};
use crate::transport::TransportError;
use async_imap::types::UnsolicitedResponse;
use std::time::Duration;

impl ImapSession {
    /// IDLE on the selected INBOX until the server reports a change or `timeout`
    /// passes. Without IDLE on the server, waits `timeout` and polls with NOOP.
    pub async fn idle(&mut self, timeout: Duration) -> Result<IdleOutcome, TransportError> {
        self.idle_until(timeout, std::future::pending()).await
    }

    /// As [`ImapSession::idle`], ending early with [`IdleOutcome::Stopped`] when `stop`
    /// completes (the IDLE is still ended properly, with DONE). Keep `timeout` at most
    /// [`MAX_IDLE`](super::MAX_IDLE).
    pub async fn idle_until(
        &mut self,
        timeout: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<IdleOutcome, TransportError> {
        // Mail that arrived during an earlier command: no need to wait for it.
        self.drain_unsolicited();
        if std::mem::take(&mut self.new_data_pending) {
            return Ok(IdleOutcome::NewData);
        }
        if !self.caps.idle {
            return self.poll(timeout, stop).await;
        }
        let doing = "waiting in IDLE";
        let session = self.session.take().ok_or_else(|| self.closed(doing))?;
        let mut handle = session.idle();
        match tokio::time::timeout(COMMAND_TIMEOUT, handle.init()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(imap_error(&self.peer, "starting IDLE", e)),
            Err(_) => return Err(self.timed_out("starting IDLE", COMMAND_TIMEOUT)),
        }
        let waited = {
            let (wait, _interrupt) = handle.wait_with_timeout(timeout);
            tokio::select! {
                // The inner timeout is reset by every line from the server (keepalives
                // included); this one is absolute.
                r = tokio::time::timeout(timeout, wait) => match r {
                    Err(_) => Ok(IdleOutcome::Timeout),
                    Ok(Ok(async_imap::extensions::idle::IdleResponse::NewData(_))) => Ok(IdleOutcome::NewData),
                    Ok(Ok(async_imap::extensions::idle::IdleResponse::Timeout)) => Ok(IdleOutcome::Timeout),
                    // We never interrupt (the stop source lives until here): the
                    // stream ended, so the server closed the connection.
                    Ok(Ok(async_imap::extensions::idle::IdleResponse::ManualInterrupt)) => {
                        Err(async_imap::error::Error::ConnectionLost)
                    }
                    Ok(Err(e)) => Err(e),
                },
                () = stop => Ok(IdleOutcome::Stopped),
            }
        };
        let outcome = waited.map_err(|e| imap_error(&self.peer, doing, e))?;
        match tokio::time::timeout(COMMAND_TIMEOUT, handle.done()).await {
            Ok(Ok(session)) => self.session = Some(session),
            Ok(Err(e)) => return Err(imap_error(&self.peer, "ending IDLE", e)),
            Err(_) => return Err(self.timed_out("ending IDLE", COMMAND_TIMEOUT)),
        }
        self.drain_unsolicited();
        if outcome == IdleOutcome::NewData {
            // The caller searches next; whatever came with the change is covered.
            self.new_data_pending = false;
        }
        Ok(outcome)
    }

    /// The fallback for servers without IDLE: sleep, then NOOP and look for EXISTS.
    async fn poll(
        &mut self,
        timeout: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<IdleOutcome, TransportError> {
        tokio::select! {
            () = tokio::time::sleep(timeout) => {}
            () = stop => return Ok(IdleOutcome::Stopped),
        }
        self.noop().await?;
        if std::mem::take(&mut self.new_data_pending) {
            Ok(IdleOutcome::NewData)
        } else {
            Ok(IdleOutcome::Timeout)
        }
    }

    /// `NOOP`: keeps the connection alive and lets the server report new mail.
    pub async fn noop(&mut self) -> Result<(), TransportError> {
        run!(self, "sending NOOP", COMMAND_TIMEOUT, |s| s.noop().await)
    }

    /// Notes whether the server reported new messages in passing.
    pub(super) fn drain_unsolicited(&mut self) {
        if let Some(session) = &self.session {
            while let Ok(response) = session.unsolicited_responses.try_recv() {
                if matches!(
                    response,
                    UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
                ) {
                    self.new_data_pending = true;
                }
            }
        }
    }
}
