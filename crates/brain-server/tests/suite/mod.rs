//! Test modules; `helpers` starts the application in-process.

pub(crate) mod helpers;

mod api;
mod audit_verify;
mod dashboard;
mod dashboard_pages;
mod live_connections;
mod listener;
mod modules;
mod routes;
