//! Sign-in throttling, as pure rules over a failure record: a few free failures, then a
//! delay that doubles with each further failure, and a hard lock at 100 failures an hour
//! (NIST SP 800-63B 5.2.2). The store keeps the record so it survives restarts, and counts
//! an attempt *before* it is checked, in one statement that also applies [`ThrottleRule::check`]
//! (see `ringfence_store`'s `sign_in_failures::reserve`), so parallel attempts cannot
//! all pass the check before any of them is counted.

use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Failures allowed in a window before delays start.
    pub free_failures: i64,
    /// Failures in a window that lock until the window ends.
    pub lock_after: i64,
    pub window: Duration,
    pub max_delay: Duration,
}

/// Per account: NIST's 100 failures an hour.
pub const ACCOUNT: ThrottleRule = ThrottleRule {
    free_failures: 5,
    lock_after: 100,
    window: Duration::hours(1),
    max_delay: Duration::minutes(5),
};

/// Per source address: more lenient, since offices share one address.
pub const SOURCE_IP: ThrottleRule = ThrottleRule {
    free_failures: 20,
    lock_after: 1000,
    window: Duration::hours(1),
    max_delay: Duration::minutes(5),
};

/// Sign-in codes mailed per account: a correct password is not a guess, but each one
/// mails the owner, so someone who knows the password cannot flood the mailbox.
pub const CODE_MAILS: ThrottleRule = ThrottleRule {
    free_failures: 5,
    lock_after: 30,
    window: Duration::hours(1),
    max_delay: Duration::minutes(5),
};

/// Password reset requests per account: each may mail the owner, and asking is open to
/// anyone who knows the address, so a stranger cannot flood the mailbox.
pub const RESET_MAILS: ThrottleRule = ThrottleRule {
    free_failures: 3,
    lock_after: 3,
    window: Duration::hours(1),
    max_delay: Duration::minutes(15),
};

/// Password reset links asked for from one source address (of any accounts): someone
/// going down a list of addresses is stopped without stopping an office's sign-ins.
pub const RESET_ASKS: ThrottleRule = ThrottleRule {
    free_failures: 10,
    lock_after: 30,
    window: Duration::hours(1),
    max_delay: Duration::minutes(5),
};

/// Wrong second factors given to reset links of one account, all links together: whoever
/// holds the mailbox may guess an authenticator code only a few times a day.
pub const RESET_FACTORS: ThrottleRule = ThrottleRule {
    free_failures: 5,
    lock_after: 10,
    window: Duration::hours(24),
    max_delay: Duration::hours(1),
};

/// Passwordless sign-ins started per source address: each keeps a row in the shared
/// control store until it is answered or expires, so anonymous callers are bounded.
pub const PASSKEY_STARTS: ThrottleRule = ThrottleRule {
    free_failures: 30,
    lock_after: 300,
    window: Duration::hours(1),
    max_delay: Duration::minutes(1),
};

/// Failures recorded against one key (an account or an address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureRecord {
    pub failures: i64,
    pub window_start: OffsetDateTime,
    pub last_failure: OffsetDateTime,
}

impl ThrottleRule {
    /// `Err(wait)` when an attempt now must be refused with `Retry-After: wait`.
    pub fn check(&self, record: Option<&FailureRecord>, now: OffsetDateTime) -> Result<(), Duration> {
        let Some(record) = record else { return Ok(()) };
        let window_end = record.window_start + self.window;
        if now >= window_end {
            return Ok(());
        }
        if record.failures >= self.lock_after {
            return Err(window_end - now);
        }
        let allowed_at = record.last_failure + self.delay_after(record.failures);
        if now < allowed_at { Err(allowed_at - now) } else { Ok(()) }
    }

    /// How long after the latest of `failures` failures the next attempt must wait.
    pub fn delay_after(&self, failures: i64) -> Duration {
        let excess = failures - self.free_failures;
        if excess < 0 {
            return Duration::ZERO;
        }
        if excess >= self.delay_cap_exponent() {
            return self.max_delay;
        }
        Duration::seconds(1i64 << excess)
    }

    /// The smallest excess of failures whose doubling delay reaches `max_delay` (at most 20):
    /// from there on every delay is `max_delay`. The store's statement uses it too.
    pub fn delay_cap_exponent(&self) -> i64 {
        (0..20).find(|&e| Duration::seconds(1i64 << e) >= self.max_delay).unwrap_or(20)
    }

    /// Whether a failure at `now` continues the record's window or starts a new one.
    pub fn continues_window(&self, record: &FailureRecord, now: OffsetDateTime) -> bool {
        now < record.window_start + self.window
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

    fn record(failures: i64, last_failure: OffsetDateTime) -> FailureRecord {
        FailureRecord { failures, window_start: T0, last_failure }
    }

    #[test]
    fn the_first_failures_are_free() {
        assert_eq!(ACCOUNT.check(None, T0), Ok(()));
        assert_eq!(ACCOUNT.check(Some(&record(4, T0)), T0), Ok(()));
    }

    #[test]
    fn delays_double_after_the_free_failures() {
        assert_eq!(ACCOUNT.check(Some(&record(5, T0)), T0), Err(Duration::seconds(1)));
        assert_eq!(ACCOUNT.check(Some(&record(7, T0)), T0), Err(Duration::seconds(4)));
        assert_eq!(ACCOUNT.check(Some(&record(7, T0)), T0 + Duration::seconds(4)), Ok(()));
        assert_eq!(ACCOUNT.check(Some(&record(40, T0)), T0), Err(Duration::minutes(5)));
    }

    #[test]
    fn the_delay_is_capped_from_the_cap_exponent_on() {
        assert_eq!(ACCOUNT.delay_cap_exponent(), 9);
        assert_eq!(ACCOUNT.delay_after(5 + 8), Duration::seconds(256));
        assert_eq!(ACCOUNT.delay_after(5 + 9), Duration::minutes(5));
        assert_eq!(ACCOUNT.delay_after(4), Duration::ZERO);
    }

    #[test]
    fn a_hundred_failures_in_an_hour_lock_until_the_window_ends() {
        let later = T0 + Duration::minutes(50);
        assert_eq!(ACCOUNT.check(Some(&record(100, T0)), later), Err(Duration::minutes(10)));
        assert_eq!(ACCOUNT.check(Some(&record(100, T0)), T0 + Duration::hours(1)), Ok(()));
    }
}
