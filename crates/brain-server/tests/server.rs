//! In-process tests of the server library: the whole application on port 0 in a temp dir, driven over
//! real HTTP. (The process boundary — CLI, SIGKILL, replicas — is tested in the `brain` crate.)

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod suite;
