//! The system consumers against real databases: SQLite (own temp dir) and PostgreSQL (own schema).

#![allow(clippy::unwrap_used)]

mod suite;
