//! The credits module's data: accounts, ledger entries, amounts.

use serde::{Deserialize, Serialize};

/// Milli-credits per credit: balances are integers of 1/1000 credit, so sums and comparisons are exact.
pub const MILLI: f64 = 1000.0;

/// The largest amount of one operation, in credits.
pub const MAX_AMOUNT: f64 = 1e12;

/// The largest balance an account may hold, in milli-credits.
pub const MAX_BALANCE_MILLI: i64 = 1_000_000_000_000_000_000;

/// Milli-credits as credits.
pub fn credits(milli: i64) -> f64 {
    milli as f64 / MILLI
}

/// An agent's account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    /// The agent.
    pub agent_id: String,
    /// What it can spend.
    pub balance: f64,
    /// Allocated in total.
    pub allocated: f64,
    /// Consumed in total.
    pub consumed: f64,
    /// Refunded in total.
    pub refunded: f64,
    /// When it last changed (epoch seconds).
    pub updated_at: f64,
}

/// One line of an account's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    /// Its number within the account (1, 2, ...).
    pub seq: i64,
    /// `allocated`, `consumed` or `refunded`.
    pub kind: String,
    /// The amount (positive).
    pub amount: f64,
    /// The balance after it.
    pub balance_after: f64,
    /// Why.
    pub reason: String,
    /// The mission it was for.
    pub mission_id: Option<String>,
    /// When (epoch seconds).
    pub created_at: f64,
}

/// The body of allocate, consume and refund.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountRequest {
    /// Credits (positive, at most 1e12, thousandths at most).
    pub amount: f64,
    /// Why (default: the operation's name).
    #[serde(default)]
    pub reason: Option<String>,
    /// The mission it is for.
    #[serde(default)]
    pub mission_id: Option<String>,
}

/// The query of the history route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Entries, newest first (1 to 1000, default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// The kind of a balance change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Credits added.
    Allocate,
    /// Credits spent.
    Consume,
    /// Spent credits given back.
    Refund,
}

impl Operation {
    /// The ledger's spelling.
    pub fn kind(self) -> &'static str {
        match self {
            Operation::Allocate => "allocated",
            Operation::Consume => "consumed",
            Operation::Refund => "refunded",
        }
    }
}
