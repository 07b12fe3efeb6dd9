//! Users, their email addresses and firm roles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroize;

/// An email address, trimmed and lower-cased so that one address maps to one user across
/// the whole deployment. The check is deliberately modest (one `@`, a dotted domain, no
/// spaces or control characters): the invitation mail proves the address is real.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("an email address looks like name@example.com (at most 254 characters)")]
pub struct EmailError;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let email = raw.trim().to_lowercase();
        let (local, domain) = email.split_once('@').ok_or(EmailError)?;
        let well_formed = email.len() <= 254
            && !local.is_empty()
            && local.len() <= 64
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if well_formed { Ok(Self(email)) } else { Err(EmailError) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role within the firm. A user may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirmRole {
    Admin,
    Attorney,
    Paralegal,
    Secretary,
    Billing,
    Auditor,
}

impl FirmRole {
    pub const ALL: [FirmRole; 6] = [
        FirmRole::Admin,
        FirmRole::Attorney,
        FirmRole::Paralegal,
        FirmRole::Secretary,
        FirmRole::Billing,
        FirmRole::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FirmRole::Admin => "admin",
            FirmRole::Attorney => "attorney",
            FirmRole::Paralegal => "paralegal",
            FirmRole::Secretary => "secretary",
            FirmRole::Billing => "billing",
            FirmRole::Auditor => "auditor",
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("unknown firm role; the roles are admin, attorney, paralegal, secretary, billing and auditor")]
pub struct FirmRoleError;

impl FromStr for FirmRole {
    type Err = FirmRoleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FirmRole::ALL.into_iter().find(|role| role.as_str() == s).ok_or(FirmRoleError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("  Ann.Smith@Example.COM ").map(|e| e.0),
            Ok("ann.smith@example.com".to_owned())
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@@example.com",
            "ann@.example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError), "{bad}");
        }
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in FirmRole::ALL {
            assert_eq!(role.as_str().parse::<FirmRole>(), Ok(role));
        }
        assert_eq!("owner".parse::<FirmRole>(), Err(FirmRoleError));
    }
}

/// A password as typed: 12 to 256 characters. It never prints.
pub struct Password(String);

/// A person's name as shown to others: 1 to 200 characters once trimmed, no control
/// characters.
pub fn person_name(raw: &str) -> Result<String, PersonNameError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(PersonNameError);
    }
    Ok(name.to_owned())
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("1 to 200 characters, no control characters")]
pub struct PersonNameError;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("a password has at least 12 characters")]
    TooShort,
    #[error("a password has at most 256 characters")]
    TooLong,
}

impl Password {
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        match raw.chars().count() {
            0..12 => Err(PasswordError::TooShort),
            12..=256 => Ok(Self(raw.to_owned())),
            _ => Err(PasswordError::TooLong),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod password_tests {
    use super::*;

    #[test]
    fn passwords_are_bounded_and_never_print() {
        assert_eq!(Password::parse("short").err(), Some(PasswordError::TooShort));
        assert_eq!(Password::parse(&"x".repeat(257)).err(), Some(PasswordError::TooLong));
        let password = Password::parse("correct horse battery").unwrap();
        assert_eq!(format!("{password:?}"), "Password([redacted])");
    }
}
