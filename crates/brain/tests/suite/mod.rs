//! Test modules; `support` starts the binary and talks to it.

pub mod support;

mod cli;
mod api;
mod modules;
