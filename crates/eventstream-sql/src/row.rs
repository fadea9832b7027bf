//! Reading stored rows into typed values.
//!
//! Every column goes through [`RowReader`], so a value this version cannot read (a hand-edited row, an
//! invalid identifier, an out-of-range timestamp) becomes a [`StoreError::Corrupt`] naming the table, row
//! and column instead of a panic or a silently wrong value. Timestamps are stored as integer milliseconds
//! since the Unix epoch on both databases, because the `Any` driver only carries basic types.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;

/// Milliseconds since the Unix epoch, the stored form of every timestamp.
pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The instant `age` before now (the epoch floor for absurd ages).
pub(crate) fn ago(age: std::time::Duration) -> DateTime<Utc> {
    let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
    Utc::now().checked_sub_signed(age).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Typed, error-reporting access to the columns of one row.
pub(crate) struct RowReader<'r> {
    row: &'r AnyRow,
    table: &'static str,
    id: i64,
}

impl<'r> RowReader<'r> {
    /// A reader for a row of `table`; the row's `id` column is read first (when present) so that errors
    /// name the row.
    pub(crate) fn new(row: &'r AnyRow, table: &'static str) -> Self {
        let id = row.try_get::<i64, _>("id").unwrap_or(-1);
        Self { row, table, id }
    }

    /// The row's `id` column (`-1` if it has none).
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    fn corrupt(&self, column: &'static str, reason: impl Into<String>) -> StoreError {
        StoreError::corrupt(self.table, self.id, column, reason)
    }

    /// A non-null integer column.
    pub(crate) fn int(&self, column: &'static str) -> Result<i64, StoreError> {
        self.row.try_get::<i64, _>(column).map_err(|e| self.corrupt(column, e.to_string()))
    }

    /// A nullable integer column.
    pub(crate) fn opt_int(&self, column: &'static str) -> Result<Option<i64>, StoreError> {
        self.row.try_get::<Option<i64>, _>(column).map_err(|e| self.corrupt(column, e.to_string()))
    }

    /// A non-negative integer column that fits in `u32`.
    pub(crate) fn count(&self, column: &'static str) -> Result<u32, StoreError> {
        let n = self.int(column)?;
        u32::try_from(n).map_err(|_| self.corrupt(column, format!("holds {n}, not a count")))
    }

    /// A non-null text column.
    pub(crate) fn text(&self, column: &'static str) -> Result<String, StoreError> {
        self.row.try_get::<String, _>(column).map_err(|e| self.corrupt(column, e.to_string()))
    }

    /// A nullable text column.
    pub(crate) fn opt_text(&self, column: &'static str) -> Result<Option<String>, StoreError> {
        self.row.try_get::<Option<String>, _>(column).map_err(|e| self.corrupt(column, e.to_string()))
    }

    /// A non-null text column parsed into `T` (an identifier newtype or an enum).
    pub(crate) fn parse<T: FromStr>(&self, column: &'static str) -> Result<T, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        let s = self.text(column)?;
        s.parse().map_err(|e: T::Err| self.corrupt(column, e.to_string()))
    }

    /// A nullable text column parsed into `T`.
    pub(crate) fn opt_parse<T: FromStr>(&self, column: &'static str) -> Result<Option<T>, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        match self.opt_text(column)? {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|e: T::Err| self.corrupt(column, e.to_string())),
        }
    }

    /// A non-null timestamp column (epoch milliseconds).
    pub(crate) fn time(&self, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
        let ms = self.int(column)?;
        DateTime::from_timestamp_millis(ms).ok_or_else(|| self.corrupt(column, format!("holds {ms}, not a timestamp")))
    }

    /// A nullable timestamp column (epoch milliseconds).
    pub(crate) fn opt_time(&self, column: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self.opt_int(column)? {
            None => Ok(None),
            Some(ms) => {
                DateTime::from_timestamp_millis(ms).map(Some).ok_or_else(|| self.corrupt(column, format!("holds {ms}, not a timestamp")))
            }
        }
    }
}

/// `$start, $start+1, ...` (`n` placeholders), for `IN (...)` lists.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 4);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('$');
        s.push_str(&(start + i).to_string());
    }
    s
}

/// How many bound values one statement carries at most when a list is split into chunks; far below
/// SQLite's (32766) and PostgreSQL's (65535) limits.
pub(crate) const MAX_BINDS_PER_STATEMENT: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_from_start() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 0), "");
    }
}
