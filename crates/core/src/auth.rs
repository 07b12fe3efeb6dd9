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
            allowed: BTreeSet::from([SecondFactor::Email, SecondFactor::Totp]),
            strong_factor_roles: BTreeSet::from([FirmRole::Admin, FirmRole::Auditor]),
        }
    }
}

impl FactorPolicy {
    fn needs_strong_factor(&self, roles: &BTreeSet<FirmRole>) -> bool {
        roles.iter().any(|role| self.strong_factor_roles.contains(role))
    }

    /// The factors this user may sign in with now, strongest first.
    pub fn factors_for(&self, roles: &BTreeSet<FirmRole>, totp_enrolled: bool) -> Vec<SecondFactor> {
        let mut factors = Vec::new();
        if totp_enrolled && self.allowed.contains(&SecondFactor::Totp) {
            factors.push(SecondFactor::Totp);
        }
        let email_barred = self.needs_strong_factor(roles) && !factors.is_empty();
        if self.allowed.contains(&SecondFactor::Email) && !email_barred {
            factors.push(SecondFactor::Email);
        }
        factors
    }

    /// True when the user should enrol a stronger factor than email at this sign-in.
    pub fn must_enrol_strong_factor(&self, roles: &BTreeSet<FirmRole>, totp_enrolled: bool) -> bool {
        self.needs_strong_factor(roles) && !totp_enrolled
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

    #[test]
    fn everyone_may_use_email_until_a_strong_factor_bars_it_for_admins() {
        let policy = FactorPolicy::default();
        assert_eq!(policy.factors_for(&roles(&[FirmRole::Attorney]), false), [SecondFactor::Email]);
        assert_eq!(
            policy.factors_for(&roles(&[FirmRole::Attorney]), true),
            [SecondFactor::Totp, SecondFactor::Email]
        );
        assert_eq!(policy.factors_for(&roles(&[FirmRole::Admin]), false), [SecondFactor::Email]);
        assert!(policy.must_enrol_strong_factor(&roles(&[FirmRole::Admin]), false));
        assert_eq!(
            policy.factors_for(&roles(&[FirmRole::Auditor, FirmRole::Billing]), true),
            [SecondFactor::Totp]
        );
        assert!(!policy.must_enrol_strong_factor(&roles(&[FirmRole::Auditor]), true));
        assert!(!policy.must_enrol_strong_factor(&roles(&[FirmRole::Secretary]), false));
    }

    #[test]
    fn a_firm_may_turn_email_codes_off() {
        let policy =
            FactorPolicy { allowed: BTreeSet::from([SecondFactor::Totp]), ..FactorPolicy::default() };
        assert!(policy.factors_for(&roles(&[FirmRole::Paralegal]), false).is_empty());
        assert_eq!(policy.factors_for(&roles(&[FirmRole::Paralegal]), true), [SecondFactor::Totp]);
    }
}
