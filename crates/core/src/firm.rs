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

impl FirmName {
    pub fn parse(raw: &str) -> Result<Self, FirmNameError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 200 {
            return Err(FirmNameError::Length);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(FirmNameError::Control);
        }
        Ok(Self(trimmed.to_owned()))
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
    fn firm_names_are_trimmed_and_bounded() {
        assert_eq!(FirmName::parse("  Acme Inc ").map(|n| n.0), Ok("Acme Inc".into()));
        assert_eq!(FirmName::parse("   "), Err(FirmNameError::Length));
        assert_eq!(FirmName::parse("a\u{0007}b"), Err(FirmNameError::Control));
    }
}
