//! The one integration test binary of the `brain` crate: it runs the real binary as a user would, where
//! the process boundary is what is tested (routes are tested in-process in `brain-server`).

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod suite;
