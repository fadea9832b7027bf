//! Test modules; `helpers` starts the application in-process.

pub(crate) mod helpers;

mod api;
mod audit_verify;
mod dashboard;
mod dashboard_browser;
mod dashboard_pages;
mod listener;
mod live_connections;
mod modules;
mod routes;
mod trace;
