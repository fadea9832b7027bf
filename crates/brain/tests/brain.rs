//! The one integration test binary of the `brain` crate: it runs the real binary as a user would.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod suite;
