//! Soft deletion: what can be deleted and restored, and for how long. A deleted matter,
//! note, document, document version or client leaves every list, search and read at once,
//! but its rows stay for the firm's grace period (30 days unless an administrator sets
//! more, never less), within which it can be restored; after it, the purge destroys it for
//! good, files included, and restoring it answers that the grace period has passed.

use std::fmt;

use serde::Serialize;
use thiserror::Error;
use time::{Duration, OffsetDateTime};

/// The shortest grace period, and the default.
pub const MIN_GRACE_DAYS: i64 = 30;
/// The longest grace period a firm may set: ten years.
pub const MAX_GRACE_DAYS: i64 = 3650;

/// How long a deleted thing can be restored, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct GraceDays(i64);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("the grace period is {MIN_GRACE_DAYS} to {MAX_GRACE_DAYS} days")]
pub struct GraceDaysError;

impl GraceDays {
    pub fn parse(days: i64) -> Result<Self, GraceDaysError> {
        if (MIN_GRACE_DAYS..=MAX_GRACE_DAYS).contains(&days) { Ok(Self(days)) } else { Err(GraceDaysError) }
    }

    pub fn days(self) -> i64 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::days(self.0)
    }

    /// The last moment a thing deleted at `deleted_at` can be restored.
    pub fn restorable_until(self, deleted_at: OffsetDateTime) -> OffsetDateTime {
        deleted_at + self.duration()
    }

    /// Whether a thing deleted at `deleted_at` can still be restored at `now`.
    pub fn restorable(self, deleted_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        now < self.restorable_until(deleted_at)
    }
}

impl Default for GraceDays {
    fn default() -> Self {
        Self(MIN_GRACE_DAYS)
    }
}

/// What kind of thing was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletedKind {
    Matter,
    Document,
    DocumentVersion,
    Note,
    Client,
}

impl DeletedKind {
    pub const ALL: [DeletedKind; 5] = [
        DeletedKind::Matter,
        DeletedKind::Document,
        DeletedKind::DocumentVersion,
        DeletedKind::Note,
        DeletedKind::Client,
    ];

    /// The kind as stored (the purge ledger) and as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletedKind::Matter => "matter",
            DeletedKind::Document => "document",
            DeletedKind::DocumentVersion => "document_version",
            DeletedKind::Note => "note",
            DeletedKind::Client => "client",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        DeletedKind::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

impl fmt::Display for DeletedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a restore did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restore {
    Restored,
    /// It is not deleted.
    NotDeleted,
    /// Deleted longer ago than the grace period: purged, or about to be.
    GracePassed,
}

impl Restore {
    /// What restoring a thing deleted at `deleted_at` (if at all) comes to at `now`.
    pub fn decide(deleted_at: Option<OffsetDateTime>, grace: GraceDays, now: OffsetDateTime) -> Self {
        match deleted_at {
            None => Restore::NotDeleted,
            Some(at) if grace.restorable(at, now) => Restore::Restored,
            Some(_) => Restore::GracePassed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grace_period_is_never_less_than_thirty_days() {
        assert_eq!(GraceDays::parse(29), Err(GraceDaysError));
        assert_eq!(GraceDays::parse(3651), Err(GraceDaysError));
        assert_eq!(GraceDays::parse(30).map(GraceDays::days), Ok(30));
        assert_eq!(GraceDays::default().days(), 30);
    }

    #[test]
    fn restoring_is_allowed_until_the_grace_period_ends() {
        let deleted = OffsetDateTime::UNIX_EPOCH + Duration::days(1000);
        let grace = GraceDays::default();
        let decide = |now| Restore::decide(Some(deleted), grace, now);
        assert_eq!(decide(deleted + Duration::days(30) - Duration::seconds(1)), Restore::Restored);
        assert_eq!(decide(deleted + Duration::days(30)), Restore::GracePassed);
        assert_eq!(Restore::decide(None, grace, deleted), Restore::NotDeleted);
        for kind in DeletedKind::ALL {
            assert_eq!(DeletedKind::parse(kind.as_str()), Some(kind));
        }
    }
}
