//! Intentionally empty. The `brain` package is a binary (`src/main.rs`); this library target exists only
//! so that the package can dev-depend on itself with the `test-hooks` feature (see `Cargo.toml`), which
//! builds the binary that the integration tests run with its test hooks. A `cargo build` without that
//! feature has none.
