//! Test modules; `support` starts the binary and talks to it.

pub mod support;

mod api;
mod audit;
mod backends;
mod cli;
mod dashboard;
mod dashboard_pages;
mod missions_crash;
mod modules;
