//! Test modules; `helpers` starts the application in-process.

pub(crate) mod helpers;

mod api;
mod dashboard;
mod modules;
mod routes;
