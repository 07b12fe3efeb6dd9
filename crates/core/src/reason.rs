//! Why someone did something the record must explain: a data subject's request refused, a
//! legal hold placed or lifted. Free text of a paragraph or a few.

use thiserror::Error;

/// The longest reason taken, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// A reason: 1 to 2000 characters once trimmed, no control characters but line breaks and
/// tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("1 to 2000 characters, no control characters but line breaks and tabs")]
pub struct ReasonError;

impl Reason {
    pub fn parse(raw: &str) -> Result<Self, ReasonError> {
        let reason = raw.trim();
        let printable = !reason.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS || !printable {
            return Err(ReasonError);
        }
        Ok(Self(reason.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_trimmed_printable_text_of_bounded_length() {
        assert_eq!(
            Reason::parse("  litigation expected\nsee letter  ").unwrap().as_str(),
            "litigation expected\nsee letter"
        );
        assert_eq!(Reason::parse("   "), Err(ReasonError));
        assert_eq!(Reason::parse("a\0b"), Err(ReasonError));
        assert_eq!(Reason::parse("a\u{1b}[2Jb"), Err(ReasonError));
        assert!(Reason::parse(&"x".repeat(MAX_REASON_CHARS)).is_ok());
        assert_eq!(Reason::parse(&"é".repeat(MAX_REASON_CHARS + 1)), Err(ReasonError));
    }
}
