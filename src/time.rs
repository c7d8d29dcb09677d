//! Time as data. Nothing in the library reads the clock: commands take the current time as a
//! parameter ([`Timestamp`]) so that tests can pin it and output stays reproducible.
//!
//! A timestamp reads and writes (serde, `Display`) as the RFC 3339 string
//! [`Timestamp::rfc3339`] gives, so records and the bundle manifest hold `Timestamp` values
//! and their JSON stays a plain string.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// A timestamp's calendar fields in UTC (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Timestamp {
    /// The current system time. Only the CLI layer calls this.
    pub fn now() -> Timestamp {
        let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        Timestamp(secs)
    }

    /// The calendar date and time of day, UTC.
    pub fn civil(self) -> Civil {
        let secs = self.0.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(self.0.div_euclid(86_400));
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: (secs / 60) % 60,
            second: secs % 60,
        }
    }

    /// RFC 3339 in UTC with second precision: `2026-11-26T13:45:00Z`.
    pub fn rfc3339(self) -> String {
        let c = self.civil();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// Parses the form [`Timestamp::rfc3339`] writes (also accepts fractional seconds and a
    /// `+00:00` offset).
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if s.len() < 19 {
            return None;
        }
        // Digits only: `parse` alone would take a sign ("-001" as year -1, "+1" as a month),
        // which RFC 3339 does not allow, so that a year stays within 0000..=9999.
        let num = |r: std::ops::Range<usize>| {
            let t = s.get(r)?;
            t.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| t.parse::<i64>().ok())?
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let b = s.as_bytes();
        if b[4] != b'-'
            || b[7] != b'-'
            || (b[10] != b'T' && b[10] != b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let rest = &s[19..];
        let rest = match rest.strip_prefix('.') {
            Some(r) => r.trim_start_matches(|c: char| c.is_ascii_digit()),
            None => rest,
        };
        let offset = match rest {
            "Z" | "" | "+00:00" => 0,
            r if r.len() == 6
                && (r.starts_with('+') || r.starts_with('-'))
                && r.as_bytes()[3] == b':' =>
            {
                let digits = |t: &str| {
                    t.bytes()
                        .all(|b| b.is_ascii_digit())
                        .then(|| t.parse::<i64>().ok())?
                };
                let (oh, om) = (digits(r.get(1..3)?)?, digits(r.get(4..6)?)?);
                if oh > 23 || om > 59 {
                    return None;
                }
                let sign = if r.starts_with('-') { -1 } else { 1 };
                sign * (oh * 3600 + om * 60)
            }
            _ => return None,
        };
        Some(Timestamp(
            days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset,
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

/// Accepts what [`Timestamp::parse_rfc3339`] accepts; anything else is an error that quotes
/// the string.
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not an RFC 3339 time")))
    }
}

// Howard Hinnant's civil calendar algorithms (public domain), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A length of time written as a number and a unit (`90s`, `30m`, `12h`, `3d`, `1w`; the unit
/// in either case), in seconds; None for anything else, a negative number, or an overflow.
/// Shared by the options that take one (`export --valid-for`, `log --since`).
pub fn parse_duration(text: &str) -> Option<i64> {
    let t = text.trim();
    let unit = t.chars().last()?.to_ascii_lowercase();
    let seconds: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let n: i64 = t[..t.len() - 1].parse().ok().filter(|n| *n >= 0)?;
    n.checked_mul(seconds)
}

#[cfg(test)]
mod tests {

    #[test]
    fn durations_take_a_number_and_a_unit() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration(" 30M "), Some(1800));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("3d"), Some(259_200));
        assert_eq!(parse_duration("1w"), Some(604_800));
        for bad in [
            "",
            "h",
            "30",
            "30x",
            "-1h",
            "1.5h",
            "h1",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1_795_700_000).rfc3339(), "2026-11-26T13:33:20Z");
        for t in [0i64, 951_782_400, 1_795_700_000, -86_401, 4_102_444_800] {
            assert_eq!(
                Timestamp::parse_rfc3339(&Timestamp(t).rfc3339()),
                Some(Timestamp(t))
            );
        }
        assert_eq!(
            Timestamp::parse_rfc3339("2022-05-10T17:00:06.000Z"),
            Timestamp::parse_rfc3339("2022-05-10T17:00:06Z")
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2022-05-10T19:00:06+02:00"),
            Timestamp::parse_rfc3339("2022-05-10T17:00:06Z")
        );
        assert_eq!(Timestamp::parse_rfc3339("2022-13-10T17:00:06Z"), None);
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
        // Years outside 0000..=9999 and signed fields are not RFC 3339.
        for bad in [
            "-001-01-01T00:00:00Z",
            "+999-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "2026-+1-01T00:00:00Z",
            "2026-01-01T-1:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn serde_and_display_use_the_rfc3339_string() {
        let t = Timestamp(1_795_700_000);
        assert_eq!(t.to_string(), "2026-11-26T13:33:20Z");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-26T13:33:20Z\""
        );
        let back: Timestamp = serde_json::from_str("\"2026-11-26T13:33:20Z\"").unwrap();
        assert_eq!(back, t);
        let offset: Timestamp = serde_json::from_str("\"2026-11-26T15:33:20+02:00\"").unwrap();
        assert_eq!(offset, t);
        for bad in ["\"\"", "\"yesterday\"", "1795700000", "null"] {
            assert!(serde_json::from_str::<Timestamp>(bad).is_err(), "{bad}");
        }
        let c = Timestamp(-1).civil();
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.second),
            (1969, 12, 31, 23, 59, 59)
        );
    }

    #[test]
    fn an_offset_is_two_digit_hours_a_colon_and_two_digit_minutes() {
        let t = Timestamp::parse_rfc3339("2026-11-26T13:33:20Z").unwrap();
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-26T12:33:20-01:00"),
            Some(t)
        );
        for bad in [
            "2026-01-01T00:00:00++1:00",
            "2026-01-01T00:00:00+-1:00",
            "2026-01-01T00:00:00+01x00",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+01:60",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }
}
