//! Firms and their parsed attributes.

use std::fmt;

use serde::Serialize;
use thiserror::Error;
use time::OffsetDateTime;

use crate::ids::FirmId;

/// A firm's short name: lowercase letters, digits and single hyphens, 3 to 40 characters,
/// starting with a letter. It appears in URLs and on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct FirmSlug(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SlugError {
    #[error("a slug is 3 to 40 characters long")]
    Length,
    #[error("a slug starts with a lowercase letter")]
    Start,
    #[error("a slug holds only lowercase letters, digits and single hyphens, and does not end with a hyphen")]
    Characters,
}

impl FirmSlug {
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        if !(3..=40).contains(&raw.len()) {
            return Err(SlugError::Length);
        }
        if !raw.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(SlugError::Start);
        }
        let allowed = raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !allowed || raw.contains("--") || raw.ends_with('-') {
            return Err(SlugError::Characters);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FirmSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A firm's display name: 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FirmName(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FirmNameError {
    #[error("a firm name is 1 to 200 characters long")]
    Length,
    #[error("a firm name may not contain control characters")]
    Control,
}

/// What keeps a line of text from being taken: its length, or a control character in it.
enum LineFault {
    Length,
    Control,
}

/// `raw` without the white space around it, when that is 1 to `max` characters long and
/// holds no control character.
fn trimmed_line(raw: &str, max: usize) -> Result<String, LineFault> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max {
        return Err(LineFault::Length);
    }
    if trimmed.chars().any(char::is_control) {
        return Err(LineFault::Control);
    }
    Ok(trimmed.to_owned())
}

impl FirmName {
    pub fn parse(raw: &str) -> Result<Self, FirmNameError> {
        trimmed_line(raw, 200).map(Self).map_err(|fault| match fault {
            LineFault::Length => FirmNameError::Length,
            LineFault::Control => FirmNameError::Control,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a firm stands in its life: in service, or terminated — read-only, kept for export
/// until it is shredded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirmStanding {
    Active,
    /// Suspended by the operator since then: nobody signs in, and every session is refused,
    /// until it is resumed. Its data is untouched.
    Suspended {
        since: OffsetDateTime,
    },
    Terminated(Termination),
}

/// A firm's termination: since when, and when it is shredded unless reinstated first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    pub since: OffsetDateTime,
    pub shred_after: OffsetDateTime,
}

/// How long a terminated firm is kept, read-only, before it is shredded: 1 to 3650 whole
/// days. Six months unless the operator says otherwise, counted as 186 days so that it is
/// never shorter than six calendar months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDays(u16);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("a terminated firm is kept 1 to 3650 days")]
pub struct RetentionDaysError;

impl RetentionDays {
    pub const SIX_MONTHS: RetentionDays = RetentionDays(186);

    pub fn parse(days: i64) -> Result<Self, RetentionDaysError> {
        u16::try_from(days).ok().filter(|d| (1..=3650).contains(d)).map(Self).ok_or(RetentionDaysError)
    }

    pub fn days(self) -> u16 {
        self.0
    }

    pub fn duration(self) -> time::Duration {
        time::Duration::days(i64::from(self.0))
    }
}

/// Why a firm is shredded whatever legal hold it is under, in the operator's words: kept in
/// the firm's tombstone, so the override is on the record for good. 1 to 500 characters, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForceReason(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ForceReasonError {
    #[error("a reason is 1 to 500 characters long")]
    Length,
    #[error("a reason may not contain control characters")]
    Control,
}

impl ForceReason {
    pub fn parse(raw: &str) -> Result<Self, ForceReasonError> {
        trimmed_line(raw, 500).map(Self).map_err(|fault| match fault {
            LineFault::Length => ForceReasonError::Length,
            LineFault::Control => ForceReasonError::Control,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firm {
    pub id: FirmId,
    pub slug: FirmSlug,
    pub name: FirmName,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_the_documented_shape() {
        for good in ["acme", "smith-jones", "firm-2026", "abc"] {
            assert!(FirmSlug::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn slugs_refuse_everything_else() {
        assert_eq!(FirmSlug::parse("ab"), Err(SlugError::Length));
        assert_eq!(FirmSlug::parse(&"a".repeat(41)), Err(SlugError::Length));
        assert_eq!(FirmSlug::parse("1acme"), Err(SlugError::Start));
        assert_eq!(FirmSlug::parse("-acme"), Err(SlugError::Start));
        for bad in ["Acme", "ac me", "acme-", "ac--me", "ac_me", "acmé", "ac/../me"] {
            assert!(FirmSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retention_and_force_reasons_are_bounded() {
        assert_eq!(RetentionDays::parse(1).map(RetentionDays::days), Ok(1));
        assert_eq!(RetentionDays::parse(3650).map(|d| d.duration()), Ok(time::Duration::days(3650)));
        for bad in [0, -1, 3651, i64::MAX] {
            assert_eq!(RetentionDays::parse(bad), Err(RetentionDaysError), "{bad}");
        }
        assert!(
            RetentionDays::SIX_MONTHS.duration() >= time::Duration::days(184),
            "six calendar months at most"
        );
        assert_eq!(
            ForceReason::parse("  court order 12/2027 ").map(|r| r.0),
            Ok("court order 12/2027".into())
        );
        assert_eq!(ForceReason::parse(" "), Err(ForceReasonError::Length));
        assert_eq!(ForceReason::parse(&"x".repeat(501)), Err(ForceReasonError::Length));
        assert_eq!(ForceReason::parse("a\nb"), Err(ForceReasonError::Control));
    }

    #[test]
    fn firm_names_are_trimmed_and_bounded() {
        assert_eq!(FirmName::parse("  Acme Inc ").map(|n| n.0), Ok("Acme Inc".into()));
        assert_eq!(FirmName::parse("   "), Err(FirmNameError::Length));
        assert_eq!(FirmName::parse("a\u{0007}b"), Err(FirmNameError::Control));
    }
}
