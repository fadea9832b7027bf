//! Files that hold state or secrets are the owner's alone.

use std::path::Path;

/// Creates `path` empty with mode 0600 (owner only) unless it exists. An empty file is a valid SQLite
/// database, and SQLite gives its `-wal`/`-shm` files the database file's mode: creating it first keeps
/// all three private.
///
/// # Errors
/// The file cannot be created (other than because it exists).
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
