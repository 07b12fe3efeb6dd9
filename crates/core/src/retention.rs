//! How long a firm keeps a closed matter: a retention window of 90 days to 5 years, or
//! indefinitely (the default). With auto-delete off (the default) matters past their window
//! are listed for an administrator to review and dispose of; with it on, the matter's leads
//! are mailed `notice_days` before, and the matter is deleted (softly: restorable for the
//! grace period, then purged) once the window has passed and the notice has run.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use time::{Duration, OffsetDateTime};

/// The shortest window: records a firm keeps at all are kept at least this long.
pub const MIN_WINDOW_DAYS: i64 = 90;
/// The longest window short of keeping forever: five years.
pub const MAX_WINDOW_DAYS: i64 = 5 * 365 + 1;
/// Notice given to a matter's leads before automatic deletion, by default.
pub const DEFAULT_NOTICE_DAYS: i64 = 30;
const MAX_NOTICE_DAYS: i64 = MIN_WINDOW_DAYS;

/// A firm's retention rule for closed matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Days a closed matter is kept; `None` keeps it indefinitely.
    window_days: Option<i64>,
    auto_delete: bool,
    notice_days: i64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RetentionError {
    #[error(
        "a retention window is {MIN_WINDOW_DAYS} to {MAX_WINDOW_DAYS} days (5 years), or none to keep matters indefinitely"
    )]
    Window,
    #[error("automatic deletion needs a retention window: matters kept indefinitely are never due")]
    AutoDeleteWithoutWindow,
    #[error("notice is 1 to {MAX_NOTICE_DAYS} days")]
    Notice,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self { window_days: None, auto_delete: false, notice_days: DEFAULT_NOTICE_DAYS }
    }
}

impl RetentionPolicy {
    pub fn new(
        window_days: Option<i64>,
        auto_delete: bool,
        notice_days: i64,
    ) -> Result<Self, RetentionError> {
        if window_days.is_some_and(|days| !(MIN_WINDOW_DAYS..=MAX_WINDOW_DAYS).contains(&days)) {
            return Err(RetentionError::Window);
        }
        if auto_delete && window_days.is_none() {
            return Err(RetentionError::AutoDeleteWithoutWindow);
        }
        if !(1..=MAX_NOTICE_DAYS).contains(&notice_days) {
            return Err(RetentionError::Notice);
        }
        Ok(Self { window_days, auto_delete, notice_days })
    }

    pub fn window_days(&self) -> Option<i64> {
        self.window_days
    }

    pub fn auto_delete(&self) -> bool {
        self.auto_delete
    }

    pub fn notice_days(&self) -> i64 {
        self.notice_days
    }

    /// Matters closed at or before this moment are past their window at `now`; `None` when
    /// matters are kept indefinitely.
    pub fn closed_by_for_disposal(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.window_days.map(|days| now - Duration::days(days))
    }

    /// Matters closed at or before this moment are within the notice period at `now` (or
    /// past it).
    pub fn closed_by_for_notice(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.closed_by_for_disposal(now + Duration::days(self.notice_days))
    }

    /// When a matter closed at `closed_at` is due for disposal.
    pub fn due_at(&self, closed_at: OffsetDateTime) -> Option<OffsetDateTime> {
        self.window_days.map(|days| closed_at + Duration::days(days))
    }
}

/// The policy as the API and the pages show and take it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct RetentionPolicyView {
    pub window_days: Option<i64>,
    pub auto_delete: bool,
    pub notice_days: i64,
}

impl From<RetentionPolicy> for RetentionPolicyView {
    fn from(policy: RetentionPolicy) -> Self {
        Self {
            window_days: policy.window_days,
            auto_delete: policy.auto_delete,
            notice_days: policy.notice_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_ninety_days_to_five_years_or_indefinite() {
        assert!(RetentionPolicy::new(None, false, 30).is_ok());
        assert!(RetentionPolicy::new(Some(90), true, 30).is_ok());
        assert!(RetentionPolicy::new(Some(MAX_WINDOW_DAYS), false, 30).is_ok());
        assert_eq!(RetentionPolicy::new(Some(89), false, 30), Err(RetentionError::Window));
        assert_eq!(RetentionPolicy::new(Some(MAX_WINDOW_DAYS + 1), false, 30), Err(RetentionError::Window));
        assert_eq!(RetentionPolicy::new(None, true, 30), Err(RetentionError::AutoDeleteWithoutWindow));
        assert_eq!(RetentionPolicy::new(Some(90), true, 0), Err(RetentionError::Notice));
        assert_eq!(RetentionPolicy::new(Some(90), true, 91), Err(RetentionError::Notice));
    }

    #[test]
    fn a_matter_is_due_a_window_after_it_closed_and_noticed_before() {
        let policy = RetentionPolicy::new(Some(365), true, 30).unwrap();
        let closed = OffsetDateTime::UNIX_EPOCH + Duration::days(1000);
        assert_eq!(policy.due_at(closed), Some(closed + Duration::days(365)));
        let now = closed + Duration::days(334);
        assert!(policy.closed_by_for_notice(now).unwrap() < closed);
        assert!(policy.closed_by_for_notice(now + Duration::days(1)).unwrap() >= closed);
        assert!(policy.closed_by_for_disposal(now + Duration::days(30)).unwrap() < closed);
        assert!(policy.closed_by_for_disposal(now + Duration::days(31)).unwrap() >= closed);
        assert_eq!(RetentionPolicy::default().closed_by_for_disposal(now), None);
    }
}
