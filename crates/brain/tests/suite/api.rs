//! HTTP API tests (owned by the API work).
