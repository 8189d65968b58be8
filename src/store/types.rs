//! The records the store keeps besides `Case`, and the update it commits.
//!
//! Owns the shape of an inbound message's outcome (`Update`), of outbox entries (and
//! the pure rules over them: when one is due, which thread an answer joins) and of
//! refusal records, all plain serde data. It must not do I/O; the encodings of keys
//! live in `keys.rs` and the transaction in `commit/`.

use crate::workflow::{Case, Effect, OutMail, Refusal};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Which inbound message an update is about: where it sits on the server and its
/// Message-ID (either one already recorded means the message was processed), and
/// what an answer needs to join its thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenMarker {
    /// The ward account's address the message was read from.
    pub account: String,
    pub uidvalidity: u32,
    pub uid: u32,
    /// As the header gives it. Empty when the message has none: then `digest` stands
    /// in for it.
    pub message_id: String,
    /// The message's From address, lower-case; empty when unknown. A mail of this
    /// update addressed to it answers the message ([`Thread::answering`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sender: String,
    /// The message's References, in header order, as the reader gave them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// SHA-256 of the message's bytes, in hex, for a message without a Message-ID
    /// (empty otherwise): a UIDVALIDITY change renumbers every message of INBOX, and
    /// without it such a message would look new at its new position.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
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
    /// One message whose lines went to several cases (revocations of permits of
    /// several cases, or revocations beside decisions): each case as its steps left
    /// it, with their effects, all in one commit.
    AppliedMany { cases: Vec<(Case, Vec<Effect>)> },
    /// The step refused it: nothing changes but the refusal log and the seen-marker.
    Refused {
        ward: String,
        case: Option<String>,
        sender: String,
        message_id: String,
        at: Timestamp,
        refusal: Refusal,
    },
    /// A delivery report saying a mail of the outbox did not reach a recipient: the
    /// seen-marker, the recipient recorded on the entry (`refused`, if not already),
    /// a line in the case's audit trail, and the officers' notice (once: the caller
    /// gives none when the recipient was recorded before).
    Bounced {
        entry: u64,
        bounce: RefusedRecipient,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audit: Option<crate::workflow::AuditEntry>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notice: Option<Notice>,
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
    /// The inbound message this mail answers, fixed when the entry is created (so a
    /// resend is the same bytes); `None` for a mail that answers no one in particular.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<Thread>,
    /// The messages of this entry the server has accepted so far, recorded as each is
    /// accepted: after a crash or a failure part-way through a split mail, only the
    /// rest is sent. `None` until the first is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_sent: Option<PartsSent>,
    /// Recipients the server refused for good while it took the message for the
    /// others, each once, with its words (the officers are told when the first is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedRecipient>,
}

impl OutboxEntry {
    /// When the entry is due for sending ([`OutboxStatus::due_at`]).
    pub fn due_at(&self) -> Option<Timestamp> {
        self.status.due_at()
    }

    /// Whether the outbox worker should send it at `now`: pending, caught in
    /// `Sending` by a crash, or retrying and due.
    pub fn is_due(&self, now: Timestamp) -> bool {
        self.due_at().is_some_and(|at| at <= now)
    }

    /// Whether the server has accepted the message with this Message-ID.
    pub fn part_was_sent(&self, message_id: &str) -> bool {
        self.parts_sent
            .as_ref()
            .is_some_and(|p| p.message_ids.iter().any(|m| m == message_id))
    }
}

/// Where an answer sits in its thread (RFC 5322 §3.6.4): `In-Reply-To` and
/// `References`, so that the person's mail client (Gmail first) shows the answer
/// under the message it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// The answered message's Message-ID.
    pub in_reply_to: String,
    /// Its References, then its Message-ID; at most [`MAX_REFERENCES`].
    pub references: Vec<String>,
}

/// How many Message-IDs an answer's References keeps: the thread's first (its root,
/// which clients thread on when the middle is missing) and the latest ones. A long
/// Gmail thread would otherwise grow the header by one id per exchange, without end.
pub const MAX_REFERENCES: usize = 10;

/// A Message-ID copied from someone's header into ours must be one: `<left@right>`
/// of printable ASCII, no spaces, short enough for a header line. Anything else is
/// left out rather than repaired, so no bytes of a stranger's choosing shape ours.
const MAX_ID_LEN: usize = 250;

fn is_message_id(id: &str) -> bool {
    let Some(inner) = id.strip_prefix('<').and_then(|i| i.strip_suffix('>')) else {
        return false;
    };
    id.len() <= MAX_ID_LEN
        && inner
            .split_once('@')
            .is_some_and(|(l, r)| !l.is_empty() && !r.is_empty())
        && inner
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
}

impl Thread {
    /// The thread of a mail written in answer to the message `seen` describes: set
    /// when that message has a usable Message-ID and its sender is among the mail's
    /// recipients (a mail to someone else, say the organisation told of a decision
    /// its officer sent, starts no reply to a message they never saw).
    pub fn answering(seen: &SeenMarker, mail: &OutMail) -> Option<Thread> {
        let id = seen.message_id.trim();
        let sender = seen.sender.trim();
        if !is_message_id(id) || sender.is_empty() {
            return None;
        }
        let addressed = mail
            .to
            .iter()
            .chain(&mail.cc)
            .any(|r| r.trim().eq_ignore_ascii_case(sender));
        if !addressed {
            return None;
        }
        let mut references: Vec<String> = Vec::new();
        for r in &seen.references {
            let r = r.trim();
            if is_message_id(r) && r != id && !references.iter().any(|k| k == r) {
                references.push(r.to_owned());
            }
        }
        references.push(id.to_owned());
        if references.len() > MAX_REFERENCES {
            // The root, then the latest: the id answered is always the last.
            let cut = references.len() - (MAX_REFERENCES - 1);
            references.drain(1..cut);
        }
        Some(Thread {
            in_reply_to: id.to_owned(),
            references,
        })
    }
}

/// A recipient of an entry that the server refused for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedRecipient {
    pub recipient: String,
    pub reason: String,
}

/// An account of a ward that cannot send: the server refused its login, its sender
/// address or its TLS for good. No mail goes from it until it logs in again (`meta`
/// key `unusable/<address>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusableAccount {
    pub address: String,
    pub ward: String,
    pub since: Timestamp,
    /// The server's words.
    pub reason: String,
}

/// An account whose server said it has sent all it may (Gmail's `5.4.5 Daily user
/// sending quota exceeded`), whatever our count said: no mail goes from it before
/// `until` (an hour on), then it is tried again (`meta` key `quota-spent/<address>`,
/// removed by the first part it sends after `until`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSpent {
    pub address: String,
    pub since: Timestamp,
    pub until: Timestamp,
    /// The server's words.
    pub reason: String,
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
            sender: String::new(),
            references: Vec::new(),
            digest: String::new(),
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

    fn mail(to: &[&str], cc: &[&str]) -> OutMail {
        OutMail {
            template: crate::workflow::Template::DecisionRecorded,
            to: to.iter().map(|s| (*s).to_owned()).collect(),
            cc: cc.iter().map(|s| (*s).to_owned()).collect(),
            reply_token: None,
            attachments: Vec::new(),
            data: Box::default(),
        }
    }

    fn seen(message_id: &str, sender: &str, references: &[&str]) -> SeenMarker {
        SeenMarker {
            account: "qrca.hoankiem.tranhungdao1@gmail.com".into(),
            uidvalidity: 1,
            uid: 1,
            message_id: message_id.into(),
            sender: sender.into(),
            references: references.iter().map(|s| (*s).to_owned()).collect(),
            digest: String::new(),
        }
    }

    #[test]
    fn an_answer_to_the_sender_joins_the_thread() {
        let s = seen(
            "<CA1@mail.gmail.com>",
            "canbo.an@x.vn",
            &["<7.thd-t-0001@w.qrca>"],
        );
        let thread = Thread::answering(&s, &mail(&["Canbo.An@X.vn"], &[]))
            .unwrap_or_else(|| panic!("the sender is addressed"));
        assert_eq!(thread.in_reply_to, "<CA1@mail.gmail.com>");
        assert_eq!(
            thread.references,
            ["<7.thd-t-0001@w.qrca>", "<CA1@mail.gmail.com>"]
        );
        // In Cc counts too; a mail only to others, or a message without an id or a
        // sender, starts no reply.
        assert!(Thread::answering(&s, &mail(&["org@y.vn"], &["canbo.an@x.vn"])).is_some());
        assert_eq!(Thread::answering(&s, &mail(&["org@y.vn"], &[])), None);
        assert_eq!(
            Thread::answering(
                &seen("", "canbo.an@x.vn", &[]),
                &mail(&["canbo.an@x.vn"], &[])
            ),
            None
        );
        assert_eq!(
            Thread::answering(&seen("<a@b>", "", &[]), &mail(&["canbo.an@x.vn"], &[])),
            None
        );
    }

    #[test]
    fn references_keep_the_root_and_the_latest_and_drop_what_is_no_message_id() {
        let long: Vec<String> = (1..=30).map(|n| format!("<{n}@a.vn>")).collect();
        let mut refs: Vec<&str> = long.iter().map(String::as_str).collect();
        refs.extend([
            "<bad id@a.vn>",
            "no-brackets@a.vn",
            "<\u{1ec7}@a.vn>",
            "<x@y>\r\nBcc: evil@z",
            "<3@a.vn>",
            "<last@a.vn>",
        ]);
        let s = seen("<last@a.vn>", "o@x.vn", &refs);
        let thread =
            Thread::answering(&s, &mail(&["o@x.vn"], &[])).unwrap_or_else(|| panic!("threaded"));
        assert_eq!(thread.references.len(), MAX_REFERENCES);
        assert_eq!(thread.references[0], "<1@a.vn>");
        assert_eq!(thread.references[1], "<23@a.vn>");
        assert_eq!(thread.references[8], "<30@a.vn>");
        assert_eq!(thread.references[9], "<last@a.vn>");
        // A Message-ID that is not one is no thread at all.
        let bad = seen("<x@y>\r\nBcc: evil@z", "o@x.vn", &[]);
        assert_eq!(Thread::answering(&bad, &mail(&["o@x.vn"], &[])), None);
    }
}
