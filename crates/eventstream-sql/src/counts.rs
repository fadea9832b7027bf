//! Counts by subscriber and event type over the inbox and the dead letters, for metrics and dashboards,
//! so that no other crate has to query these tables by name.

use crate::row::RowReader;
use crate::{StateStore, StoreError};

/// How many rows one subscriber has for one event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeCount {
    /// The subscriber (consumer group) name.
    pub subscriber: String,
    /// The event type; empty when the row has none (an undecodable entry).
    pub event_type: String,
    /// The number of rows.
    pub count: i64,
}

impl StateStore {
    /// Events processed, by subscriber and type: counted in the transaction that writes their inbox rows
    /// (retention does not lower them; a reprocessing replay counts again). The cost does not grow with
    /// history: it reads a few counter rows per subscriber and type, never the inbox itself.
    ///
    /// # Errors
    /// The query fails.
    pub async fn processed_counts_by_type(&self) -> Result<Vec<TypeCount>, StoreError> {
        self.counts_by_type(
            "SELECT subscriber_name AS s, event_type AS t, CAST(SUM(processed) AS BIGINT) AS n FROM processed_counts \
             GROUP BY subscriber_name, event_type ORDER BY subscriber_name, event_type",
            "processed_counts",
        )
        .await
    }

    /// Dead letters of every status, by subscriber and type.
    ///
    /// # Errors
    /// The query fails.
    pub async fn dead_letter_counts_by_type(&self) -> Result<Vec<TypeCount>, StoreError> {
        self.counts_by_type(
            "SELECT subscriber_name AS s, event_type AS t, COUNT(*) AS n FROM dead_letters \
             GROUP BY subscriber_name, event_type ORDER BY subscriber_name, event_type",
            "dead_letters",
        )
        .await
    }

    async fn counts_by_type(&self, sql: &'static str, table: &'static str) -> Result<Vec<TypeCount>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows = sqlx::query(sql).fetch_all(&mut *conn).await.map_err(|e| StoreError::sqlx("counting rows by type", e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let r = RowReader::new(row, table);
            out.push(TypeCount { subscriber: r.text("s")?, event_type: r.opt_text("t")?.unwrap_or_default(), count: r.int("n")? });
        }
        Ok(out)
    }
}
