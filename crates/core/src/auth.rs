//! Sign-in rules: which second factors a user may use, and the lifetimes of codes,
//! challenges and sessions.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::user::FirmRole;

/// A second factor. Every sign-in needs one after the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactor {
    /// A one-time code mailed to the user: the weakest, since mailboxes are often shared or
    /// forwarded.
    Email,
    /// RFC 6238 time-based codes from an authenticator app.
    Totp,
    /// A WebAuthn credential that verified its user (PIN or biometric): phishing-resistant.
    Passkey,
}

impl SecondFactor {
    pub const ALL: [SecondFactor; 3] = [SecondFactor::Email, SecondFactor::Totp, SecondFactor::Passkey];

    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactor::Email => "email",
            SecondFactor::Totp => "totp",
            SecondFactor::Passkey => "passkey",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// The strong factors a user has set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enrolment {
    pub totp: bool,
    pub passkey: bool,
}

impl Enrolment {
    /// The strong factors set up, strongest first.
    pub fn factors(self) -> Vec<SecondFactor> {
        [(SecondFactor::Passkey, self.passkey), (SecondFactor::Totp, self.totp)]
            .into_iter()
            .filter_map(|(factor, set_up)| set_up.then_some(factor))
            .collect()
    }
}

/// How long an emailed code stays valid.
pub const EMAIL_CODE_LIFETIME: Duration = Duration::minutes(10);
/// Wrong codes a challenge survives; the next one kills it.
pub const MAX_CODE_ATTEMPTS: i64 = 5;
/// How long a sign-in challenge (password accepted, factor pending) lives.
pub const CHALLENGE_LIFETIME: Duration = Duration::minutes(10);

/// A firm's sign-in policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorPolicy {
    pub allowed: BTreeSet<SecondFactor>,
    /// Holders of these roles may not use emailed codes once a stronger factor is enrolled,
    /// and are asked to enrol one until they have.
    pub strong_factor_roles: BTreeSet<FirmRole>,
}

impl Default for FactorPolicy {
    fn default() -> Self {
        Self {
            allowed: BTreeSet::from(SecondFactor::ALL),
            strong_factor_roles: BTreeSet::from([FirmRole::Admin, FirmRole::Auditor]),
        }
    }
}

impl FactorPolicy {
    fn needs_strong_factor(&self, roles: &BTreeSet<FirmRole>) -> bool {
        roles.iter().any(|role| self.strong_factor_roles.contains(role))
    }

    /// The factors this user may sign in with now, strongest first.
    pub fn factors_for(&self, roles: &BTreeSet<FirmRole>, enrolled: Enrolment) -> Vec<SecondFactor> {
        let mut factors = enrolled.factors();
        factors.retain(|factor| self.allowed.contains(factor));
        let email_barred = self.needs_strong_factor(roles) && !factors.is_empty();
        if self.allowed.contains(&SecondFactor::Email) && !email_barred {
            factors.push(SecondFactor::Email);
        }
        factors
    }

    /// True when the user should enrol a stronger factor than email at this sign-in.
    pub fn must_enrol_strong_factor(&self, roles: &BTreeSet<FirmRole>, enrolled: Enrolment) -> bool {
        self.needs_strong_factor(roles) && !enrolled.totp && !enrolled.passkey
    }
}

/// Session lifetimes: the session ends after `idle` without use, and after `absolute` in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self { idle: Duration::minutes(30), absolute: Duration::hours(12) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(list: &[FirmRole]) -> BTreeSet<FirmRole> {
        list.iter().copied().collect()
    }

    const NONE: Enrolment = Enrolment { totp: false, passkey: false };
    const TOTP: Enrolment = Enrolment { totp: true, passkey: false };
    const PASSKEY: Enrolment = Enrolment { totp: false, passkey: true };
    const BOTH: Enrolment = Enrolment { totp: true, passkey: true };

    #[test]
    fn everyone_may_use_email_until_a_strong_factor_bars_it_for_admins() {
        let policy = FactorPolicy::default();
        assert_eq!(policy.factors_for(&roles(&[FirmRole::Attorney]), NONE), [SecondFactor::Email]);
        assert_eq!(
            policy.factors_for(&roles(&[FirmRole::Attorney]), TOTP),
            [SecondFactor::Totp, SecondFactor::Email]
        );
        assert_eq!(
            policy.factors_for(&roles(&[FirmRole::Attorney]), BOTH),
            [SecondFactor::Passkey, SecondFactor::Totp, SecondFactor::Email]
        );
        assert_eq!(policy.factors_for(&roles(&[FirmRole::Admin]), NONE), [SecondFactor::Email]);
        assert!(policy.must_enrol_strong_factor(&roles(&[FirmRole::Admin]), NONE));
        assert_eq!(
            policy.factors_for(&roles(&[FirmRole::Auditor, FirmRole::Billing]), TOTP),
            [SecondFactor::Totp]
        );
        assert_eq!(policy.factors_for(&roles(&[FirmRole::Admin]), PASSKEY), [SecondFactor::Passkey]);
        assert!(!policy.must_enrol_strong_factor(&roles(&[FirmRole::Auditor]), TOTP));
        assert!(!policy.must_enrol_strong_factor(&roles(&[FirmRole::Admin]), PASSKEY));
        assert!(!policy.must_enrol_strong_factor(&roles(&[FirmRole::Secretary]), NONE));
    }

    #[test]
    fn a_firm_may_turn_email_codes_off() {
        let policy =
            FactorPolicy { allowed: BTreeSet::from([SecondFactor::Totp]), ..FactorPolicy::default() };
        assert!(policy.factors_for(&roles(&[FirmRole::Paralegal]), NONE).is_empty());
        assert_eq!(policy.factors_for(&roles(&[FirmRole::Paralegal]), BOTH), [SecondFactor::Totp]);
    }

    #[test]
    fn factor_names_round_trip() {
        for factor in SecondFactor::ALL {
            assert_eq!(SecondFactor::parse(factor.as_str()), Some(factor));
        }
        assert_eq!(SecondFactor::parse("sms"), None);
    }
}
