//! Redis stream ids (`<ms>-<seq>`) and their translation to and from [`Position`]s and [`StartFrom`].
//!
//! A position issued by this backend is the stream id as Redis wrote it. Time ranges use the id's
//! millisecond part, which Redis takes from its own clock at `XADD`: that is the entry's append time.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use eventstream_core::{LogError, Position, StartFrom};

/// A parsed stream id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StreamId {
    pub(crate) ms: u64,
    pub(crate) seq: u64,
}

/// Why a string is not a stream id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotAStreamId;

impl FromStr for StreamId {
    type Err = NotAStreamId;
    fn from_str(s: &str) -> Result<Self, NotAStreamId> {
        let (ms, seq) = s.split_once('-').ok_or(NotAStreamId)?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return Err(NotAStreamId);
        }
        Ok(Self { ms: ms.parse().map_err(|_| NotAStreamId)?, seq: seq.parse().map_err(|_| NotAStreamId)? })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl StreamId {
    /// The smallest id.
    pub(crate) const ZERO: StreamId = StreamId { ms: 0, seq: 0 };

    /// Parses a position this backend issued.
    pub(crate) fn from_position(p: &Position) -> Result<Self, LogError> {
        p.as_str().parse().map_err(|_| LogError::InvalidPosition {
            position: p.to_string(),
            reason: "a redis position is a stream id `<milliseconds>-<sequence>`".to_owned(),
        })
    }

    /// The id as a [`Position`].
    pub(crate) fn to_position(self) -> Position {
        // Two u64 in decimal and a dash: at most 41 characters of digits and `-`, always valid.
        #[allow(clippy::expect_used)]
        Position::try_from(self.to_string()).expect("a stream id is a valid position")
    }

    /// When Redis stored the entry.
    pub(crate) fn appended_at(self) -> DateTime<Utc> {
        i64::try_from(self.ms).ok().and_then(|ms| Utc.timestamp_millis_opt(ms).single()).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The largest id strictly before the instant `t`: reading after it yields entries appended at or
    /// after `t`.
    pub(crate) fn just_before(t: &DateTime<Utc>) -> Self {
        match u64::try_from(t.timestamp_millis()) {
            Ok(0) | Err(_) => Self::ZERO,
            Ok(ms) => Self { ms: ms - 1, seq: u64::MAX },
        }
    }
}

/// The id after which reading starts (exclusive), as a Redis argument: `$` for [`StartFrom::End`].
pub(crate) fn exclusive_start(from: &StartFrom) -> Result<String, LogError> {
    Ok(match from {
        StartFrom::Beginning => StreamId::ZERO.to_string(),
        StartFrom::End => "$".to_owned(),
        StartFrom::After(p) => StreamId::from_position(p)?.to_string(),
        StartFrom::Time(t) => StreamId::just_before(t).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_print() {
        let id: StreamId = "1700000000000-3".parse().unwrap_or_else(|_| panic!("parse"));
        assert_eq!(id, StreamId { ms: 1_700_000_000_000, seq: 3 });
        assert_eq!(id.to_position().as_str(), "1700000000000-3");
        for bad in ["", "12", "-1", "1-", "a-1", "1-2-3", "+", "1 -2", "99999999999999999999999-0"] {
            assert!(bad.parse::<StreamId>().is_err(), "{bad}");
        }
        assert!(StreamId { ms: 5, seq: 1 } < StreamId { ms: 5, seq: 2 });
        assert!(StreamId { ms: 5, seq: u64::MAX } < StreamId { ms: 6, seq: 0 });
    }

    #[test]
    fn start_positions_translate() {
        let t = Utc.timestamp_millis_opt(1_700_000_000_123).single().unwrap_or_else(|| panic!("time"));
        assert_eq!(exclusive_start(&StartFrom::Time(t)).ok().as_deref(), Some("1700000000122-18446744073709551615"));
        assert_eq!(exclusive_start(&StartFrom::Beginning).ok().as_deref(), Some("0-0"));
        assert_eq!(exclusive_start(&StartFrom::End).ok().as_deref(), Some("$"));
        let bad = Position::try_from("42".to_owned()).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(exclusive_start(&StartFrom::After(bad)), Err(LogError::InvalidPosition { .. })));
        assert_eq!(StreamId { ms: 1_700_000_000_123, seq: 0 }.appended_at(), t);
    }
}
