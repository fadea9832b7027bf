//! Generic consumers of every event: the verifiable audit log ([`audit`]) and the event index behind
//! history queries and live tails ([`index`]).
//!
//! They are system subscribers (patterns `*`) that any deployment runs next to its modules; each owns
//! its tables in the state store through its own versioned migrations
//! ([`eventstream_sql::StateStore::migrate_set`]).

pub mod audit;
pub mod index;
