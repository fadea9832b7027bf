//! Test modules; `support` starts the binary and talks to it. Only what needs the process boundary is
//! here (the CLI, SIGKILL, replicas, backends chosen by flags); routes are tested in-process in the
//! `brain-server` crate.

pub mod support;

mod api;
mod audit;
mod backends;
mod bench_report;
mod cli;
mod cluster;
mod course_chain;
mod demo;
mod missions_crash;
mod private_files;
