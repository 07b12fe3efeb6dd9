//! Audit records and their canonical encoding, the input of the per-firm hash chain.
//!
//! A record names who did what to which resource, when, from where, and how it ended —
//! never the content involved (no note text, no passwords, codes or tokens).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::unix_millis;

mod action;

pub use action::{AuditAction, AuditCategory, Severity, words_for};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditActor {
    /// A firm user, with the email address it had at the time.
    User { id: String, email: String },
    /// Someone not (yet) signed in, e.g. a sign-in attempt.
    Anonymous,
    /// The server itself (scheduled work).
    System,
    /// An operator at the command line.
    Cli,
    /// An operator signed in to the operator pages, with the address it had at the time.
    Operator { id: String, email: String },
    /// An operator working in the firm under a support grant: the grant's id, and the
    /// operator's address (the grant names the operator).
    Support { grant: String, email: String },
}

impl AuditActor {
    pub fn kind(&self) -> &'static str {
        match self {
            AuditActor::User { .. } => "user",
            AuditActor::Anonymous => "anonymous",
            AuditActor::System => "system",
            AuditActor::Cli => "cli",
            AuditActor::Operator { .. } => "operator",
            AuditActor::Support { .. } => "support",
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            AuditActor::User { id, .. } | AuditActor::Operator { id, .. } => Some(id),
            AuditActor::Support { grant, .. } => Some(grant),
            _ => None,
        }
    }

    pub fn email(&self) -> Option<&str> {
        match self {
            AuditActor::User { email, .. }
            | AuditActor::Operator { email, .. }
            | AuditActor::Support { email, .. } => Some(email),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// Refused by an access rule.
    Denied,
    /// Attempted and failed (a wrong password, a bad code).
    Failure,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Denied, Outcome::Failure];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == raw)
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// One entry, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub at: OffsetDateTime,
    pub actor: AuditActor,
    pub action: AuditAction,
    pub resource_type: Option<&'static str>,
    pub resource_id: Option<String>,
    pub matter_id: Option<String>,
    pub outcome: Outcome,
    pub origin: Origin,
}

/// The same fields as stored and read back. The action is then its stored name, which an
/// older or altered log may hold outside [`AuditAction`]'s table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAuditEntry {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub matter_id: Option<String>,
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl StoredAuditEntry {
    /// The canonical bytes the chain hashes: every field, length-prefixed, in a fixed order,
    /// with absent fields distinct from empty ones.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = b"ringfence.audit.v1".to_vec();
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&unix_millis(self.at).to_be_bytes());
        for field in [
            Some(self.actor_kind.as_str()),
            self.actor_id.as_deref(),
            self.actor_email.as_deref(),
            Some(self.action.as_str()),
            self.resource_type.as_deref(),
            self.resource_id.as_deref(),
            self.matter_id.as_deref(),
            Some(self.outcome.as_str()),
            self.ip.as_deref(),
            self.user_agent.as_deref(),
            self.request_id.as_deref(),
        ] {
            match field {
                None => out.push(0),
                Some(text) => {
                    out.push(1);
                    out.extend_from_slice(&(text.len() as u64).to_be_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out
    }
}

/// Longest text kept in one field of an entry.
const MAX_FIELD_CHARS: usize = 256;

/// `text` as an entry keeps it: control characters (NUL among them, which PostgreSQL
/// cannot store) and bidirectional overrides (which make a log line read other than it
/// is) written as `\u{…}` escapes, and cut at [`MAX_FIELD_CHARS`]. Whatever a request
/// carried, its entry can be written and read as it is.
pub fn loggable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_FIELD_CHARS));
    for c in text.chars().take(MAX_FIELD_CHARS) {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

impl AuditRecord {
    /// The entry this record becomes at position `seq`, every text field [`loggable`].
    pub fn at_seq(&self, seq: i64) -> StoredAuditEntry {
        let text = |t: &str| loggable(t);
        StoredAuditEntry {
            seq,
            at: crate::clock::from_unix_millis(unix_millis(self.at)),
            actor_kind: self.actor.kind().to_owned(),
            actor_id: self.actor.id().map(text),
            actor_email: self.actor.email().map(text),
            action: self.action.name().to_owned(),
            resource_type: self.resource_type.map(str::to_owned),
            resource_id: self.resource_id.as_deref().map(text),
            matter_id: self.matter_id.as_deref().map(text),
            outcome: self.outcome.as_str().to_owned(),
            ip: self.origin.ip.as_deref().map(text),
            user_agent: self.origin.user_agent.as_deref().map(text),
            request_id: self.origin.request_id.as_deref().map(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_kept_loggable() {
        assert_eq!(loggable("a\0b"), "a\\u{0}b");
        assert_eq!(loggable("x\u{202e}y\n"), "x\\u{202e}y\\u{a}");
        assert_eq!(loggable("Müller & Söhne"), "Müller & Söhne");
        assert_eq!(loggable(&"z".repeat(10_000)).len(), MAX_FIELD_CHARS);
    }

    fn entry() -> StoredAuditEntry {
        AuditRecord {
            at: OffsetDateTime::UNIX_EPOCH,
            actor: AuditActor::User { id: "u1".into(), email: "a@b.example".into() },
            action: AuditAction::UserCreated,
            resource_type: Some("user"),
            resource_id: Some("u2".into()),
            matter_id: None,
            outcome: Outcome::Success,
            origin: Origin::default(),
        }
        .at_seq(7)
    }

    #[test]
    fn every_field_changes_the_canonical_bytes() {
        let base = entry().canonical_bytes();
        let variants: [fn(&mut StoredAuditEntry); 8] = [
            |e| e.seq = 8,
            |e| e.at += time::Duration::milliseconds(1),
            |e| e.actor_email = Some("c@b.example".into()),
            |e| e.action = "user.deleted".into(),
            |e| e.resource_id = None,
            |e| e.matter_id = Some(String::new()),
            |e| e.outcome = "denied".into(),
            |e| e.ip = Some("10.0.0.1".into()),
        ];
        for change in variants {
            let mut changed = entry();
            change(&mut changed);
            assert_ne!(changed.canonical_bytes(), base);
        }
    }
}
