//! Data subjects' requests (POPIA ss 23-25, GDPR arts 15-17): what a person may ask of the
//! firm about the personal information it holds on them, the states a request goes
//! through, and the calendar it runs on. Dates are whole days on the firm's clock: a
//! request received on a day is due a number of days later, and overdue from the day after.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;
use time::macros::format_description;
use time::{Date, Duration};

/// What the data subject asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// What personal information the firm holds on them (POPIA s23, GDPR art. 15).
    Access,
    /// Correct it (POPIA s24, GDPR art. 16).
    Correction,
    /// Erase it (POPIA s24, GDPR art. 17).
    Erasure,
    /// Stop processing it (POPIA s11(3), GDPR art. 21).
    Objection,
}

impl RequestKind {
    pub const ALL: [RequestKind; 4] =
        [RequestKind::Access, RequestKind::Correction, RequestKind::Erasure, RequestKind::Objection];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Access => "access",
            RequestKind::Correction => "correction",
            RequestKind::Erasure => "erasure",
            RequestKind::Objection => "objection",
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("unknown kind of request; the kinds are access, correction, erasure and objection")]
pub struct RequestKindError;

impl FromStr for RequestKind {
    type Err = RequestKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestKind::ALL.into_iter().find(|kind| kind.as_str() == s).ok_or(RequestKindError)
    }
}

/// Where a request stands. Once closed (completed or refused) it stays so, with its
/// outcome's reason on record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    Open,
    /// Done as asked.
    Completed,
    /// Not done, for the reason recorded (a retention duty, a legal hold, …).
    Refused,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 3] =
        [RequestStatus::Open, RequestStatus::Completed, RequestStatus::Refused];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Open => "open",
            RequestStatus::Completed => "completed",
            RequestStatus::Refused => "refused",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        RequestStatus::ALL.into_iter().find(|status| status.as_str() == raw)
    }
}

/// How many days after receipt the firm answers a request: 30 unless the firm sets
/// otherwise (GDPR art. 12(3) allows one month; POPIA asks for a reasonable time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseDays(u16);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("a request is answered within 1 to 90 days")]
pub struct ResponseDaysError;

impl ResponseDays {
    pub const DEFAULT: ResponseDays = ResponseDays(30);
    pub const MAX: u16 = 90;

    pub fn new(days: i64) -> Result<Self, ResponseDaysError> {
        u16::try_from(days).ok().filter(|d| (1..=Self::MAX).contains(d)).map(Self).ok_or(ResponseDaysError)
    }

    pub fn get(self) -> u16 {
        self.0
    }

    /// The day a request received on `received` is due.
    pub fn due_on(self, received: Date) -> Date {
        received.saturating_add(Duration::days(i64::from(self.0)))
    }
}

/// Whether a request is overdue on `today`: still open after its due day.
pub fn overdue(status: RequestStatus, due_on: Date, today: Date) -> bool {
    status == RequestStatus::Open && today > due_on
}

/// The oldest receipt a request can be registered with: a date further back is far more
/// likely a slip of the keyboard than a request left unregistered for over a year.
pub const MAX_RECEIPT_AGE_DAYS: i64 = 366;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReceivedError {
    #[error("a date is written YYYY-MM-DD")]
    Malformed,
    #[error("a request cannot be received after today")]
    InTheFuture,
    #[error("a request received more than a year ago cannot be registered")]
    TooOld,
}

/// The day a request was received, as written (`YYYY-MM-DD`), on or before `today` and not
/// more than [`MAX_RECEIPT_AGE_DAYS`] before it.
pub fn parse_received(raw: &str, today: Date) -> Result<Date, ReceivedError> {
    let day = parse_day(raw).ok_or(ReceivedError::Malformed)?;
    if day > today {
        return Err(ReceivedError::InTheFuture);
    }
    if day < today.saturating_sub(Duration::days(MAX_RECEIPT_AGE_DAYS)) {
        return Err(ReceivedError::TooOld);
    }
    Ok(day)
}

/// A day written `YYYY-MM-DD`, the form the register stores and the API speaks.
pub fn parse_day(raw: &str) -> Option<Date> {
    if raw.len() != 10 {
        return None;
    }
    Date::parse(raw, format_description!("[year]-[month]-[day]")).ok()
}

/// A day as the register stores it and the API speaks it: `YYYY-MM-DD`.
pub fn format_day(day: Date) -> String {
    day.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn kinds_and_statuses_round_trip_through_their_names() {
        for kind in RequestKind::ALL {
            assert_eq!(kind.as_str().parse::<RequestKind>(), Ok(kind));
        }
        assert_eq!("deletion".parse::<RequestKind>(), Err(RequestKindError));
        for status in RequestStatus::ALL {
            assert_eq!(RequestStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn a_request_is_due_thirty_days_after_receipt_and_overdue_from_the_next_day() {
        let received = date!(2026 - 01 - 15);
        let due = ResponseDays::DEFAULT.due_on(received);
        assert_eq!(due, date!(2026 - 02 - 14));
        assert!(!overdue(RequestStatus::Open, due, due));
        assert!(overdue(RequestStatus::Open, due, date!(2026 - 02 - 15)));
        assert!(!overdue(RequestStatus::Completed, due, date!(2026 - 03 - 15)));
        assert_eq!(ResponseDays::new(10).map(|d| d.due_on(received)), Ok(date!(2026 - 01 - 25)));
    }

    #[test]
    fn response_days_are_bounded() {
        for bad in [0, -1, 91, i64::MAX, i64::MIN] {
            assert_eq!(ResponseDays::new(bad), Err(ResponseDaysError), "{bad}");
        }
        assert_eq!(ResponseDays::new(90).map(ResponseDays::get), Ok(90));
    }

    #[test]
    fn receipt_dates_are_strict_days_not_in_the_future_nor_long_ago() {
        let today = date!(2026 - 06 - 30);
        assert_eq!(parse_received("2026-06-30", today), Ok(today));
        assert_eq!(parse_received("2026-07-01", today), Err(ReceivedError::InTheFuture));
        assert_eq!(parse_received("2025-06-01", today), Err(ReceivedError::TooOld));
        for bad in [
            "",
            "2026-6-30",
            "30/06/2026",
            "2026-02-30",
            "2026-06-30T00:00:00Z",
            "2026-06-30\0",
            " 2026-06-30",
        ] {
            assert_eq!(parse_received(bad, today), Err(ReceivedError::Malformed), "{bad:?}");
        }
        assert_eq!(format_day(today), "2026-06-30");
    }
}
