//! The records the store keeps besides `Case`, and the update it commits.
//!
//! Owns the shape of an inbound message's outcome (`Update`), of outbox entries (and
//! the pure rule of when one is due) and of refusal records, all plain serde data. It
//! must not do I/O; the encodings of keys live in `keys.rs` and the transaction in
//! `commit.rs`.

use crate::workflow::{Case, Effect, OutMail, Refusal};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Which inbound message an update is about: where it sits on the server and its
/// Message-ID. Either one already recorded means the message was processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenMarker {
    /// The ward account's address the message was read from.
    pub account: String,
    pub uidvalidity: u32,
    pub uid: u32,
    /// As the header gives it. Empty when the message has none: then only the
    /// server position deduplicates it.
    pub message_id: String,
}

impl SeenMarker {
    /// `account/UIDVALIDITY/UID`, the key of the `seen` tree.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.account, self.uidvalidity, self.uid)
    }
}

/// What `step` (or the gate before it) made of one inbound message.
// One `Outcome` exists per message in hand, built once and moved: the size of the
// `Applied` variant costs nothing, and a `Box<Case>` would only burden every caller.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The step accepted the event.
    Applied {
        case: Case,
        effects: Vec<Effect>,
        /// Set when this update opened the case: the serial in `case.code`.
        claimed_serial: Option<u32>,
    },
    /// The step refused it: nothing changes but the refusal log and the seen-marker.
    Refused {
        ward: String,
        case: Option<String>,
        sender: String,
        message_id: String,
        at: Timestamp,
        refusal: Refusal,
    },
    /// Not for the core (auto-reply, own mail, loop, a mail too large, a registration
    /// that cannot be read): the seen-marker, and the notice that answers it, if any.
    Ignored {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<Notice>,
    },
}

/// A mail no case step makes (SPEC §8 still holds: it is an outbox entry like the
/// others): an answer to a message the core never sees, or a word to the officers
/// about a dead letter. Its outbox entry has an empty `case`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The ward's config code: whose accounts send it.
    pub ward: String,
    pub mail: OutMail,
}

/// One inbound message's outcome, committed whole or not at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub seen: SeenMarker,
    pub outcome: Outcome,
}

/// What `Store::commit` did. Either way the state has been flushed when it returns,
/// so the caller may move the message to the processed folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// The update is durable; these outbox entries were created, in effect order.
    Applied { outbox_ids: Vec<u64> },
    /// The message (by server position or Message-ID) was processed before; nothing changed.
    AlreadySeen,
}

/// Where an outgoing mail stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboxStatus {
    /// Waiting for the sender.
    Pending,
    /// Handed to SMTP; after a crash in this state the mail is sent again with the
    /// same Message-ID, so a receiver can tell it is the same message.
    Sending,
    Sent {
        at: Timestamp,
    },
    RetryAt {
        at: Timestamp,
        last_error: String,
    },
    /// Given up (permanent failure); an admin may retry it by hand.
    Dead {
        reason: String,
    },
}

impl OutboxStatus {
    /// When an entry in this state is due for sending: pending or caught in `Sending`,
    /// at once whatever the clock says (`Timestamp::MIN`, so those come first, in id
    /// order, which is creation order); retrying, at its retry time; sent or dead,
    /// never (`None`).
    pub fn due_at(&self) -> Option<Timestamp> {
        match self {
            OutboxStatus::Pending | OutboxStatus::Sending => Some(Timestamp::MIN),
            OutboxStatus::RetryAt { at, .. } => Some(*at),
            OutboxStatus::Sent { .. } | OutboxStatus::Dead { .. } => None,
        }
    }
}

/// A mail waiting in, or gone through, the durable outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Unique and increasing in commit order of creation; gaps are normal.
    pub id: u64,
    /// The ward's config code.
    pub ward: String,
    /// The case code; empty for a notice (`Notice`), which is about no case.
    pub case: String,
    /// Fixed when the entry is created: `<{id}.{case code lower-case}@{ward code}.qrca>`,
    /// for a notice `<{id}.notice@{ward code}.qrca>` ([`outbox_message_id`]).
    pub message_id: String,
    /// The ward account the message that queued this mail arrived on: the thread's
    /// account, which sends it unless its daily quota is spent (SPEC §1).
    #[serde(default)]
    pub account: String,
    pub mail: OutMail,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The messages of this entry the server has accepted so far, recorded as each is
    /// accepted: after a crash or a failure part-way through a split mail, only the
    /// rest is sent. `None` until the first is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_sent: Option<PartsSent>,
}

impl OutboxEntry {
    /// When the entry is due for sending ([`OutboxStatus::due_at`]).
    pub fn due_at(&self) -> Option<Timestamp> {
        self.status.due_at()
    }

    /// Whether the outbox worker should send it at `now`: pending, caught in
    /// `Sending` by a crash, or retrying and due.
    pub fn is_due(&self, now: Timestamp) -> bool {
        match &self.status {
            OutboxStatus::Pending | OutboxStatus::Sending => true,
            OutboxStatus::RetryAt { at, .. } => *at <= now,
            OutboxStatus::Sent { .. } | OutboxStatus::Dead { .. } => false,
        }
    }

    /// Whether the server has accepted the message with this Message-ID.
    pub fn part_was_sent(&self, message_id: &str) -> bool {
        self.parts_sent
            .as_ref()
            .is_some_and(|p| p.message_ids.iter().any(|m| m == message_id))
    }
}

/// The messages of a (split) entry that the server accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartsSent {
    /// The account they went from. The rest go from it too: each account has its own
    /// `max_message_bytes`, so another account could split the mail differently and
    /// the Message-IDs would no longer name the same parts.
    pub account: String,
    /// Their Message-IDs, in the order accepted.
    pub message_ids: Vec<String>,
}

/// A refused event, kept for the officers' daily report of refused attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalRecord {
    /// Unique and increasing; the key of the `refusals` tree.
    pub id: u64,
    pub ward: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    pub sender: String,
    pub message_id: String,
    pub at: Timestamp,
    pub refusal: Refusal,
}

/// A message that got no answer, and why (`Store::ignored`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredMessage {
    pub message_id: String,
    pub at: Timestamp,
    pub reason: String,
}

/// The value of the `seen` tree: enough to tell, when debugging, what a marker was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SeenRecord {
    pub message_id: String,
    pub at: Timestamp,
    /// Why the message got no answer, when it was ignored (for the daily report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

/// The Message-ID of an outbox entry: on the ward's own domain part, and a pure
/// function of the entry id and case so a resend after a crash is the same message.
/// A notice (empty case) gets `<{id}.notice@{ward}.qrca>`: still ours (a loop is
/// dropped), and `notice` is no case code.
pub fn outbox_message_id(id: u64, case: &str, ward: &str) -> String {
    if case.is_empty() {
        return format!("<{id}.notice@{ward}.qrca>");
    }
    format!("<{id}.{}@{ward}.qrca>", case.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_key_and_message_id_shapes() {
        let m = SeenMarker {
            account: "qrca.hoankiem.tranhungdao1@gmail.com".into(),
            uidvalidity: 7,
            uid: 42,
            message_id: "<a@b>".into(),
        };
        assert_eq!(m.key(), "qrca.hoankiem.tranhungdao1@gmail.com/7/42");
        assert_eq!(
            outbox_message_id(12, "THD-T-0001", "hoankiem.tranhungdao"),
            "<12.thd-t-0001@hoankiem.tranhungdao.qrca>"
        );
        assert_eq!(
            outbox_message_id(13, "", "hoankiem.tranhungdao"),
            "<13.notice@hoankiem.tranhungdao.qrca>"
        );
    }
}
