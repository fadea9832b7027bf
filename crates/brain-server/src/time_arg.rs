//! Parsing of time and position arguments, shared by the CLI and the HTTP API: [`parse_since`] for
//! `--since` / `since=` / `until=`, and [`parse_start`], the one grammar of a replay start
//! (`brain replay --from` and `POST /api/consumers/{name}/replay`).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use eventstream_core::{Position, StartFrom};

/// What [`parse_start`] accepts, for error messages.
pub const START_GRAMMAR: &str =
    "`start`, `end` (or `now`), a position, an RFC 3339 time, a date (YYYY-MM-DD) or an age such as 15m, 2h, 7d";

/// Parses where a replay starts:
/// - `start` (or `beginning`): the first event;
/// - `end` (or `now`): after the newest event;
/// - a position: a number (`42`, embedded and NATS) or a Redis id (`1700000000000-0`); the events after it;
/// - a time: RFC 3339, naive ISO, `YYYY-MM-DD` or an age relative to `now` (`15m`, `2h`, `7d`); the events
///   appended at or after it. (Epoch seconds are not accepted here: a bare number is a position.)
///
/// # Errors
/// Anything else, with a message that lists the accepted forms.
pub fn parse_start(s: &str, now: DateTime<Utc>) -> Result<StartFrom, String> {
    let s = s.trim();
    match s {
        "start" | "beginning" => return Ok(StartFrom::Beginning),
        "end" | "now" => return Ok(StartFrom::End),
        _ => {}
    }
    let (digits, seq) = s.split_once('-').map_or((s, None), |(a, b)| (a, Some(b)));
    let all_digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    if all_digits(digits) && seq.is_none_or(all_digits) {
        return s.parse::<Position>().map(StartFrom::After).map_err(|e| format!("invalid position {s:?}: {e}"));
    }
    parse_since(s, now).map(StartFrom::Time).map_err(|_| format!("expected {START_GRAMMAR}, got {s:?}"))
}

/// Parses an absolute time (RFC 3339, naive ISO, `YYYY-MM-DD`, epoch seconds) or an age relative to
/// `now` (`90s`, `15m`, `2h`, `7d`).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Some(age) = parse_age(s) {
        // An age beyond the representable past is an error, not a panic of `DateTime - TimeDelta`.
        return now.checked_sub_signed(age).ok_or_else(|| format!("the age {s:?} reaches before the earliest representable time"));
    }
    // A date is exactly YYYY-MM-DD (chrono alone would also take `1-2-3` as 3 February of year 1).
    let is_date = s.len() == 10 && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if is_date
        && let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(Utc.from_utc_datetime(&t));
    }
    eventstream_core::parse_timestamp(s).map_err(|reason| format!("invalid time {s:?}: {reason} (or an age such as 15m, 2h, 7d)"))
}

fn parse_age(s: &str) -> Option<Duration> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    if n < 0 {
        return None;
    }
    match unit {
        's' => Duration::try_seconds(n),
        'm' => Duration::try_minutes(n),
        'h' => Duration::try_hours(n),
        'd' => Duration::try_days(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_starts_share_one_grammar() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().unwrap_or_default();
        assert_eq!(parse_start("start", now), Ok(StartFrom::Beginning));
        assert_eq!(parse_start("end", now), Ok(StartFrom::End));
        assert_eq!(parse_start("now", now), Ok(StartFrom::End));
        assert!(matches!(parse_start("42", now), Ok(StartFrom::After(_))));
        assert!(matches!(parse_start("1700000000000-0", now), Ok(StartFrom::After(_))));
        let new_year = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
        assert_eq!(parse_start("2026-01-01", now), Ok(StartFrom::Time(new_year)));
        assert_eq!(parse_start("15m", now), Ok(StartFrom::Time(now - Duration::minutes(15))));
        assert!(matches!(parse_start("2026-01-01T00:00:00Z", now), Ok(StartFrom::Time(_))));
        for bad in ["whenever", "a b", "", "-5", "12-", "1-2-3"] {
            assert!(parse_start(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn ages_dates_and_timestamps() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().unwrap_or_default();
        assert_eq!(parse_since("15m", now), Ok(now - Duration::minutes(15)));
        assert_eq!(parse_since("2d", now), Ok(now - Duration::days(2)));
        assert_eq!(parse_since("2026-01-01", now).map(|t| t.to_rfc3339()), Ok("2026-01-01T00:00:00+00:00".into()));
        assert!(parse_since("2026-01-01T00:00:00Z", now).is_ok());
        assert!(parse_since("soon", now).is_err());
        assert!(parse_since("-5m", now).is_err());
    }

    #[test]
    fn out_of_range_ages_are_errors_not_panics() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().unwrap_or_default();
        for bad in ["100000000d", "9999999999999h", "-999999999999d", "99999999999999999999s", "106751991167300d"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
            assert!(parse_start(bad, now).is_err(), "{bad}");
        }
    }
}
