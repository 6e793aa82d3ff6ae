//! Event time. Timestamps are UTC milliseconds since the Unix epoch (`i64`), dates are
//! [`chrono::NaiveDate`] in UTC. Windows are computed from event time only, never the wall clock.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Start of the UTC minute containing `ts`.
pub fn minute_floor(ts: i64) -> i64 {
    ts.div_euclid(MINUTE_MS) * MINUTE_MS
}

/// Start of the window of `width_ms` containing `ts`, windows aligned on the epoch.
pub fn window_floor(ts: i64, width_ms: i64) -> i64 {
    ts.div_euclid(width_ms) * width_ms
}

/// UTC date of `ts`.
pub fn date_of(ts: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(ts)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .date_naive()
}

/// Days since 1970-01-01 (the Avro `date` and ClickHouse `Date` representation).
pub fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch is a valid date")).num_days() as i32
}

/// The date `days` after 1970-01-01.
pub fn date_from_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch is a valid date")
        + Duration::days(days as i64)
}

/// Milliseconds at 00:00 UTC of `d`.
pub fn date_start_ms(d: NaiveDate) -> i64 {
    days_since_epoch(d) as i64 * DAY_MS
}

/// First day of the month containing `d`.
pub fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists in every month")
}

/// First day of the month after the one containing `d`.
pub fn next_month_start(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("day 1 exists in every month")
}

/// Monday of the ISO week containing `d`.
pub fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// Minutes in the calendar month containing `d`.
pub fn minutes_in_month(d: NaiveDate) -> i64 {
    (next_month_start(d) - month_start(d)).num_days() * 24 * 60
}

/// RFC 3339 text of a millisecond timestamp, for messages.
pub fn fmt_ts(ts: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ts)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| format!("{ts}ms"))
}

/// Parses `2026-01-31T12:00:00Z` (any RFC 3339) or a plain date `2026-01-31` (midnight UTC).
pub fn parse_ts(s: &str) -> Result<i64, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.timestamp_millis());
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(date_start_ms)
        .map_err(|_| format!("'{s}' is not an RFC 3339 timestamp or a YYYY-MM-DD date"))
}

/// Serde for an event timestamp: writes integer milliseconds, reads milliseconds or RFC 3339.
pub mod serde_ts {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(ts: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(*ts)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = i64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("milliseconds since the epoch or an RFC 3339 timestamp")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(|_| E::custom(format!("timestamp {v} is out of range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
                super::parse_ts(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Serde for a calendar date: writes `YYYY-MM-DD`, reads that or days since the epoch (Avro).
pub mod serde_date {
    use chrono::NaiveDate;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&d.format("%Y-%m-%d"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NaiveDate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a YYYY-MM-DD date or days since 1970-01-01")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NaiveDate, E> {
                i32::try_from(v)
                    .map(super::date_from_days)
                    .map_err(|_| E::custom(format!("date {v} is out of range")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NaiveDate, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NaiveDate, E> {
                NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                    .map_err(|_| E::custom(format!("'{v}' is not a YYYY-MM-DD date")))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_and_calendars() {
        let ts = parse_ts("2026-02-14T10:31:45.500Z").unwrap();
        assert_eq!(fmt_ts(minute_floor(ts)), "2026-02-14T10:31:00.000Z");
        let d = date_of(ts);
        assert_eq!(d.to_string(), "2026-02-14");
        assert_eq!(week_start(d).to_string(), "2026-02-09");
        assert_eq!(next_month_start(d).to_string(), "2026-03-01");
        assert_eq!(minutes_in_month(d), 28 * 1440);
        assert_eq!(date_from_days(days_since_epoch(d)), d);
        assert_eq!(
            next_month_start(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()).to_string(),
            "2027-01-01"
        );
        assert_eq!(minute_floor(-1), -60_000);
    }
}
