//! Dates on the command line and in the output: `YYYY-MM-DD` (a whole UTC day) or RFC 3339
//! in, Unix times inside, RFC 3339 UTC out. Proleptic Gregorian arithmetic on days since
//! the epoch (Howard Hinnant's civil-from-days algorithms), so no time zone database is
//! needed.

use anyhow::{Result, anyhow, bail};

const DAY: i64 = 86_400;

/// A date given on the command line: an instant, or a whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateArg {
    /// A calendar day (UTC): from its first to its last second.
    Day {
        /// The day's first second (Unix time).
        start: i64,
    },
    /// An exact instant (Unix time, seconds; fractions are dropped).
    Instant(i64),
}

impl DateArg {
    /// Parses `YYYY-MM-DD` or RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let invalid = || {
            anyhow!(
                "invalid date {text:?}: use YYYY-MM-DD or RFC 3339 (2024-01-31T18:00:00Z, \
                 2024-01-31T20:00:00+02:00)"
            )
        };
        let date = text.get(..10).ok_or_else(invalid)?;
        let start = parse_day(date).ok_or_else(invalid)?;
        let Some(rest) = text.get(10..).filter(|r| !r.is_empty()) else {
            return Ok(DateArg::Day { start });
        };
        let rest = rest.strip_prefix(['T', 't', ' ']).ok_or_else(invalid)?;
        let seconds = parse_time_and_offset(rest).ok_or_else(invalid)?;
        Ok(DateArg::Instant(start + seconds))
    }

    /// The first second this date allows (a lower bound, inclusive).
    pub fn lower(self) -> i64 {
        match self {
            DateArg::Day { start } => start,
            DateArg::Instant(at) => at,
        }
    }

    /// The last second this date allows (an upper bound, inclusive: a day's last second).
    pub fn upper(self) -> i64 {
        match self {
            DateArg::Day { start } => start + DAY - 1,
            DateArg::Instant(at) => at,
        }
    }
}

/// [`DateArg::parse`] as a clap `value_parser`: a bad date fails while parsing the command
/// line, before any session is opened.
pub fn date_arg(text: &str) -> Result<DateArg, String> {
    DateArg::parse(text).map_err(|error| error.to_string())
}

/// Unix time as the 32-bit date Telegram uses: clamped into 1..=i32::MAX (0 means "no
/// bound" to the API).
pub fn to_api_date(unix: i64) -> i32 {
    i32::try_from(unix.clamp(1, i64::from(i32::MAX))).unwrap_or(i32::MAX)
}

/// `YYYY-MM-DD` to the Unix time of that day's midnight UTC.
fn parse_day(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let year: i64 = digits(text.get(0..4)?)?;
    let month: i64 = digits(text.get(5..7)?)?;
    let day: i64 = digits(text.get(8..10)?)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day) * DAY)
}

/// `HH:MM:SS[.frac](Z|±HH:MM)` to seconds after midnight UTC (may be negative or past a
/// day through the offset).
fn parse_time_and_offset(text: &str) -> Option<i64> {
    let hour: i64 = digits(text.get(0..2)?)?;
    let minute: i64 = digits(text.get(3..5)?)?;
    let second: i64 = digits(text.get(6..8)?)?;
    if text.get(2..3)? != ":" || text.get(5..6)? != ":" {
        return None;
    }
    // RFC 3339 allows a leap second (60); it is taken as the next second.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = text.get(8..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return None;
        }
        rest = fraction.get(end..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.get(3..4)? != ":" {
                return None;
            }
            let oh: i64 = digits(rest.get(1..3)?)?;
            let om: i64 = digits(rest.get(4..6)?)?;
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(hour * 3600 + minute * 60 + second - offset)
}

fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A Unix time as RFC 3339 in UTC: `2023-11-14T22:13:20Z`.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(DAY);
    let secs = unix.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Checks that a range is not empty.
pub fn check_range(from: Option<DateArg>, to: Option<DateArg>) -> Result<()> {
    if let (Some(from), Some(to)) = (from, to)
        && from.lower() > to.upper()
    {
        bail!("--from-date is after --to-date");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn days_and_instants_parse() {
        assert_eq!(
            DateArg::parse("2023-11-14").unwrap(),
            DateArg::Day {
                start: 1_699_920_000
            }
        );
        assert_eq!(DateArg::parse("2023-11-14").unwrap().upper(), 1_700_006_399);
        assert_eq!(
            DateArg::parse("2023-11-14T22:13:20Z").unwrap(),
            DateArg::Instant(1_700_000_000)
        );
        assert_eq!(
            DateArg::parse("2023-11-15T00:13:20.5+02:00").unwrap(),
            DateArg::Instant(1_700_000_000)
        );
        assert_eq!(
            DateArg::parse("2023-11-14t17:13:20-05:00").unwrap(),
            DateArg::Instant(1_700_000_000)
        );
        assert_eq!(DateArg::parse("1970-01-01").unwrap().lower(), 0);
        assert_eq!(DateArg::parse("2000-03-01").unwrap().lower(), 951_868_800);
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "2023",
            "2023-13-01",
            "2023-02-29",
            "2023-11-14T25:00:00Z",
            "2023-11-14T10:00:00",
            "2023-11-14T10:00:00+0200",
            "2023-11-14X",
            "yesterday",
            "2023-1-014",
            "２０２３-11-14",
        ] {
            assert!(DateArg::parse(bad).is_err(), "{bad}");
        }
        assert!(DateArg::parse("2024-02-29").is_ok());
    }

    #[test]
    fn formatting_round_trips() {
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        for unix in [0, 951_868_799, 1_700_000_000, 4_102_444_800, -86_401] {
            assert_eq!(
                DateArg::parse(&rfc3339(unix)).unwrap(),
                DateArg::Instant(unix)
            );
        }
    }

    #[test]
    fn api_dates_are_clamped() {
        assert_eq!(to_api_date(-5), 1);
        assert_eq!(to_api_date(i64::MAX), i32::MAX);
        assert_eq!(to_api_date(1_700_000_000), 1_700_000_000);
    }
}
