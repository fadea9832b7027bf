//! The CLI as a user meets it.
