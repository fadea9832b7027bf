//! Parsing of the time arguments of the CLI (`--since`).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// Parses an absolute time (RFC 3339, naive ISO, `YYYY-MM-DD`, epoch seconds) or an age relative to
/// `now` (`90s`, `15m`, `2h`, `7d`).
pub fn parse_since(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Some(age) = parse_age(s) {
        return Ok(now - age);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
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
    fn ages_dates_and_timestamps() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().unwrap_or_default();
        assert_eq!(parse_since("15m", now), Ok(now - Duration::minutes(15)));
        assert_eq!(parse_since("2d", now), Ok(now - Duration::days(2)));
        assert_eq!(parse_since("2026-01-01", now).map(|t| t.to_rfc3339()), Ok("2026-01-01T00:00:00+00:00".into()));
        assert!(parse_since("2026-01-01T00:00:00Z", now).is_ok());
        assert!(parse_since("soon", now).is_err());
        assert!(parse_since("-5m", now).is_err());
    }
}
