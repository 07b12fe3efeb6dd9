//! A firm's time zone: people read times on the firm's wall clock, whatever the server's.

use std::fmt;

use thiserror::Error;
use time::{OffsetDateTime, UtcOffset};

/// An IANA time zone ("Africa/Johannesburg", "Europe/London"), from the built-in tz database.
#[derive(Clone)]
pub struct FirmTimeZone {
    name: String,
    zone: jiff::tz::TimeZone,
}

/// The tz database's regions: zones outside them are legacy aliases.
const REGIONS: [&str; 9] =
    ["Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"];

#[derive(Debug, Error, PartialEq, Eq)]
#[error("not a time zone of the tz database (e.g. Africa/Johannesburg, Europe/London, UTC)")]
pub struct UnknownTimeZone;

impl FirmTimeZone {
    pub fn parse(name: &str) -> Result<Self, UnknownTimeZone> {
        let name = name.trim();
        let zone = jiff::tz::db().get(name).map_err(|_| UnknownTimeZone)?;
        Ok(Self { name: zone.iana_name().unwrap_or(name).to_owned(), zone })
    }

    /// Every zone of the built-in database a firm may pick, by name: the regional zones
    /// ("Africa/Johannesburg") and UTC, without the legacy aliases ("US/Eastern", "EST5EDT").
    /// Read from the database once per process: it is built into the binary.
    pub fn names() -> &'static [String] {
        static NAMES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
            let mut names: Vec<String> = jiff::tz::db()
                .available()
                .map(|name| name.to_string())
                .filter(|name| {
                    let region = name.split('/').next().unwrap_or_default();
                    name.contains('/') && REGIONS.contains(&region)
                })
                .collect();
            names.push("UTC".to_owned());
            names.sort();
            names
        });
        &NAMES
    }

    pub fn utc() -> Self {
        Self { name: "UTC".to_owned(), zone: jiff::tz::TimeZone::UTC }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first moment of `date` on the firm's clock (midnight, or the first hour a
    /// daylight-saving change leaves that day).
    pub fn start_of_day(&self, date: time::Date) -> OffsetDateTime {
        let day = jiff::civil::Date::new(date.year() as i16, date.month() as i8, date.day() as i8);
        day.and_then(|day| {
            day.to_datetime(jiff::civil::Time::midnight()).to_zoned_datetime(self.zone.clone())
        })
        .and_then(|zoned| zoned.start_of_day())
        .ok()
        .and_then(|start| OffsetDateTime::from_unix_timestamp(start.timestamp().as_second()).ok())
        .unwrap_or_else(|| date.midnight().assume_utc())
    }

    /// The instant a time on the firm's clock names (a time a daylight-saving change skips
    /// or repeats is taken as the clock was before the change); `None` for one out of range.
    pub fn at_local(&self, local: time::PrimitiveDateTime) -> Option<OffsetDateTime> {
        let date =
            jiff::civil::Date::new(local.year() as i16, local.month() as i8, local.day() as i8).ok()?;
        let time =
            jiff::civil::Time::new(local.hour() as i8, local.minute() as i8, local.second() as i8, 0).ok()?;
        let zoned = date.to_datetime(time).to_zoned_datetime(self.zone.clone()).ok()?;
        OffsetDateTime::from_unix_timestamp(zoned.timestamp().as_second()).ok()
    }

    /// The same instant on the firm's clock (daylight saving included).
    pub fn local(&self, at: OffsetDateTime) -> OffsetDateTime {
        let offset = jiff::Timestamp::from_second(at.unix_timestamp())
            .map(|instant| self.zone.to_offset(instant).seconds())
            .ok()
            .and_then(|seconds| UtcOffset::from_whole_seconds(seconds).ok());
        offset.map_or(at, |offset| at.to_offset(offset))
    }
}

impl FirmTimeZone {
    /// The moment as people read it: "Thursday 3 December 2026 at 14:05 (Africa/Johannesburg)".
    pub fn in_words(&self, at: OffsetDateTime) -> String {
        let local = self.local(at);
        let words = local
            .format(time::macros::format_description!(
                "[weekday] [day padding:none] [month repr:long] [year] at [hour]:[minute]"
            ))
            .unwrap_or_default();
        format!("{words} ({})", self.name)
    }
}

impl fmt::Debug for FirmTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_time_on_the_firms_clock_names_its_instant() {
        let joburg = FirmTimeZone::parse("Africa/Johannesburg").unwrap();
        assert_eq!(joburg.at_local(datetime!(2026-12-03 14:05)), Some(datetime!(2026-12-03 12:05 UTC)));
        let london = FirmTimeZone::parse("Europe/London").unwrap();
        assert_eq!(london.at_local(datetime!(2026-07-01 09:00)), Some(datetime!(2026-07-01 08:00 UTC)));
        // 01:30 on the morning the clocks go forward does not exist there: read as before it.
        assert_eq!(london.at_local(datetime!(2026-03-29 01:30)), Some(datetime!(2026-03-29 01:30 UTC)));
    }

    #[test]
    fn a_moment_in_words_is_on_the_firms_clock() {
        let joburg = FirmTimeZone::parse("Africa/Johannesburg").unwrap();
        assert_eq!(
            joburg.in_words(datetime!(2026-12-03 12:05:59.123456 UTC)),
            "Thursday 3 December 2026 at 14:05 (Africa/Johannesburg)"
        );
        assert_eq!(
            FirmTimeZone::utc().in_words(datetime!(2026-01-09 00:00 UTC)),
            "Friday 9 January 2026 at 00:00 (UTC)"
        );
    }

    #[test]
    fn the_zones_to_pick_from_are_the_regional_ones_and_utc_each_of_which_parses() {
        let names = FirmTimeZone::names();
        for wanted in ["Africa/Johannesburg", "Europe/London", "America/Argentina/Buenos_Aires", "UTC"] {
            assert!(names.iter().any(|n| n == wanted), "{wanted}");
        }
        for legacy in ["US/Eastern", "EST5EDT", "Etc/GMT+2", "GB"] {
            assert!(!names.iter().any(|n| n == legacy), "{legacy}");
        }
        assert!(names.is_sorted() && names.len() > 300, "{}", names.len());
        assert!(names.iter().all(|n| FirmTimeZone::parse(n).is_ok()));
    }

    #[test]
    fn a_day_begins_at_the_firms_midnight() {
        let joburg = FirmTimeZone::parse("Africa/Johannesburg").unwrap();
        assert_eq!(joburg.start_of_day(time::macros::date!(2026 - 12 - 03)), datetime!(2026-12-02 22:00 UTC));
        // São Paulo skipped midnight on 4 November 2018: that day began at 01:00 there.
        let sao_paulo = FirmTimeZone::parse("America/Sao_Paulo").unwrap();
        assert_eq!(
            sao_paulo.start_of_day(time::macros::date!(2018 - 11 - 04)),
            datetime!(2018-11-04 03:00 UTC)
        );
        assert_eq!(
            FirmTimeZone::utc().start_of_day(time::macros::date!(2026 - 01 - 09)),
            datetime!(2026-01-09 00:00 UTC)
        );
    }

    #[test]
    fn times_follow_the_zone_and_its_daylight_saving() {
        let london = FirmTimeZone::parse("Europe/London").unwrap();
        let winter = london.local(datetime!(2026-01-15 12:00 UTC));
        assert_eq!((winter.hour(), winter.offset().whole_hours()), (12, 0));
        let summer = london.local(datetime!(2026-07-15 12:00 UTC));
        assert_eq!((summer.hour(), summer.offset().whole_hours()), (13, 1));
        let joburg = FirmTimeZone::parse(" Africa/Johannesburg ").unwrap();
        assert_eq!(joburg.local(datetime!(2026-11-23 23:30 UTC)).day(), 24);
        assert_eq!(joburg.name(), "Africa/Johannesburg");
        assert_eq!(FirmTimeZone::utc().local(datetime!(2026-11-23 23:30 UTC)).hour(), 23);
    }

    #[test]
    fn unknown_zones_are_refused() {
        for bad in ["", "Mars/Olympus", "../../etc/passwd", "Europe/London; DROP"] {
            assert_eq!(FirmTimeZone::parse(bad).unwrap_err(), UnknownTimeZone, "{bad:?}");
        }
    }
}
