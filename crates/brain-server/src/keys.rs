//! API keys: each maps to a [`Principal`] (tenant + role). Owned here: the `api_keys` table, key
//! creation, authentication, listing, revocation and the first-start admin key.
//!
//! Keys live in the state store (table `api_keys`, created by this module's versioned migration at start),
//! so replicas sharing one PostgreSQL share their keys. Only the SHA-256 of a key's secret is stored: a
//! leaked database does not leak usable keys. A key is `brk_` followed by 64 hex digits (256 random bits);
//! its public id (`key_` + 16 hex digits) is what lists and revocation use.

use std::path::{Path, PathBuf};

use brain_http::{Principal, Role};
use chrono::{DateTime, TimeZone, Utc};
use eventstream_core::TenantId;
use eventstream_sql::sqlx::{self, Row};
use eventstream_sql::{StateStore, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The prefix of every key secret.
const KEY_PREFIX: &str = "brk_";
/// Longest `Authorization` value looked at; anything longer cannot be one of our keys.
const MAX_KEY_CHARS: usize = 200;
/// The table recording which of the key store's migrations ran.
const MIGRATIONS_TABLE: &str = "_api_keys_migrations";
/// The key store's versioned migrations (version, description, SQLite, PostgreSQL), oldest first.
/// Version 1 uses `IF NOT EXISTS` so stores whose table an earlier version created ad hoc adopt it.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[(1, "api keys", API_KEYS_V1, API_KEYS_V1)];
/// The `api_keys` table (the same SQL on both databases).
const API_KEYS_V1: &str = "CREATE TABLE IF NOT EXISTS api_keys (
    id         TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    tenant_id  TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
)";
/// The file the first-start admin key is written to, in the data dir.
pub const ADMIN_KEY_FILE: &str = "admin.key";

/// A key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// Public id (`key_...`).
    pub id: String,
    /// The tenant it acts for.
    pub tenant: TenantId,
    /// What it may do.
    pub role: Role,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked: Option<DateTime<Utc>>,
}

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored row cannot be read (a hand-edited table).
    #[error("api_keys row {id} is corrupt: {reason}")]
    Corrupt {
        /// The key id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The admin key file cannot be written.
    #[error("cannot write the admin key to {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl KeyError {
    /// Whether retrying later may help (the database is down).
    pub fn is_transient(&self) -> bool {
        matches!(self, KeyError::Store(e) if e.is_transient())
    }
}

/// The key table. A cheap handle: clones share the store's pool.
#[derive(Debug, Clone)]
pub struct KeyStore {
    store: StateStore,
    /// Where [`KeyStore::authenticate`] looks keys up: the store itself, or a small pool of its own so
    /// that authentication keeps working while the main pool is saturated.
    lookup: StateStore,
}

fn ms_to_time(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// Hex SHA-256 of a key secret: what the table stores.
fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl KeyStore {
    /// Creates the `api_keys` table if needed.
    ///
    /// # Errors
    /// The state store fails.
    pub async fn open(store: StateStore) -> Result<Self, KeyError> {
        store.migrate_set(MIGRATIONS_TABLE, MIGRATIONS).await?;
        Ok(Self { lookup: store.clone(), store })
    }

    /// Looks keys up in `lookup` (a second, small connection pool on the same database) instead of the
    /// main pool, so that requests still authenticate while the main pool is busy.
    #[must_use]
    pub fn with_lookup_store(mut self, lookup: StateStore) -> Self {
        self.lookup = lookup;
        self
    }

    /// Creates a key; returns it with its secret, which is shown once and never stored.
    ///
    /// # Errors
    /// The state store fails.
    pub async fn create(&self, tenant: &TenantId, role: Role) -> Result<(KeyInfo, String), KeyError> {
        let secret = format!("{KEY_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
        let id = format!("key_{}", hex::encode(rand::random::<[u8; 8]>()));
        let now = Utc::now();
        sqlx::query("INSERT INTO api_keys (id, key_hash, tenant_id, role, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id.as_str())
            .bind(hash_secret(&secret))
            .bind(tenant.as_str())
            .bind(role.as_str())
            .bind(now.timestamp_millis())
            .execute(self.store.pool())
            .await
            .map_err(|e| StoreError::sqlx("creating an API key", e))?;
        let created = ms_to_time(now.timestamp_millis()).unwrap_or(now);
        Ok((KeyInfo { id, tenant: tenant.clone(), role, created, revoked: None }, secret))
    }

    /// The principal of a presented key, or `None` for an unknown, revoked or malformed key.
    ///
    /// # Errors
    /// The state store fails, or the key's row is corrupt.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<Principal>, KeyError> {
        if !presented.starts_with(KEY_PREFIX) || presented.len() > MAX_KEY_CHARS {
            return Ok(None);
        }
        let row = sqlx::query("SELECT id, tenant_id, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(hash_secret(presented))
            .fetch_optional(self.lookup.pool())
            .await
            .map_err(|e| StoreError::sqlx("checking an API key", e))?;
        let Some(row) = row else { return Ok(None) };
        let text = |col: &str| row.try_get::<String, _>(col);
        let id = text("id").map_err(|e| KeyError::Corrupt { id: "?".into(), reason: e.to_string() })?;
        let corrupt = |reason: String| KeyError::Corrupt { id: id.clone(), reason };
        let tenant = text("tenant_id").map_err(|e| corrupt(e.to_string()))?.parse::<TenantId>().map_err(|e| corrupt(e.to_string()))?;
        let role = text("role").map_err(|e| corrupt(e.to_string()))?.parse::<Role>().map_err(corrupt)?;
        Ok(Some(Principal { tenant, role, key_id: id.clone() }))
    }

    /// Whether key `id` exists and is not revoked: what open streams re-check (through a short cache
    /// shared by the streams of a key).
    ///
    /// # Errors
    /// The state store fails.
    pub async fn is_live(&self, id: &str) -> Result<bool, KeyError> {
        let row = sqlx::query("SELECT 1 AS live FROM api_keys WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .fetch_optional(self.store.pool())
            .await
            .map_err(|e| StoreError::sqlx("re-checking an API key", e))?;
        Ok(row.is_some())
    }

    /// Every key, oldest first.
    ///
    /// # Errors
    /// The state store fails, or a row is corrupt.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let rows = sqlx::query("SELECT id, tenant_id, role, created_at, revoked_at FROM api_keys ORDER BY created_at, id")
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| StoreError::sqlx("listing API keys", e))?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id").map_err(|e| KeyError::Corrupt { id: "?".into(), reason: e.to_string() })?;
                let corrupt = |reason: String| KeyError::Corrupt { id: id.clone(), reason };
                let tenant = row
                    .try_get::<String, _>("tenant_id")
                    .map_err(|e| corrupt(e.to_string()))?
                    .parse::<TenantId>()
                    .map_err(|e| corrupt(e.to_string()))?;
                let role = row.try_get::<String, _>("role").map_err(|e| corrupt(e.to_string()))?.parse::<Role>().map_err(corrupt)?;
                let created_ms: i64 = row.try_get("created_at").map_err(|e| corrupt(e.to_string()))?;
                let created = ms_to_time(created_ms).ok_or_else(|| corrupt("created_at out of range".into()))?;
                let revoked_ms: Option<i64> = row.try_get("revoked_at").map_err(|e| corrupt(e.to_string()))?;
                let revoked = revoked_ms.and_then(ms_to_time);
                Ok(KeyInfo { id: id.clone(), tenant, role, created, revoked })
            })
            .collect()
    }

    /// Revokes key `id`; returns whether a live key was revoked (false: unknown or already revoked).
    ///
    /// # Errors
    /// The state store fails.
    pub async fn revoke(&self, id: &str) -> Result<bool, KeyError> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(Utc::now().timestamp_millis())
            .execute(self.store.pool())
            .await
            .map_err(|e| StoreError::sqlx("revoking an API key", e))?;
        Ok(done.rows_affected() > 0)
    }

    /// How many keys exist (revoked ones included).
    async fn count(&self) -> Result<i64, KeyError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys")
            .fetch_one(self.store.pool())
            .await
            .map_err(|e| StoreError::sqlx("counting API keys", e))?;
        row.try_get::<i64, _>("n").map_err(|e| KeyError::Corrupt { id: "COUNT".into(), reason: e.to_string() })
    }

    /// On a store without any key, creates an admin key of tenant `default`, writes it to
    /// `<data_dir>/admin.key` (mode 0600) and returns it; otherwise returns `None`.
    ///
    /// # Errors
    /// The state store fails or the file cannot be written.
    pub async fn bootstrap_admin(&self, data_dir: &Path) -> Result<Option<String>, KeyError> {
        if self.count().await? > 0 {
            return Ok(None);
        }
        let tenant = TenantId::default_tenant();
        let (_, secret) = self.create(&tenant, Role::Admin).await?;
        let path = data_dir.join(ADMIN_KEY_FILE);
        write_private(&path, &format!("{secret}\n")).map_err(|source| KeyError::Write { path, source })?;
        Ok(Some(secret))
    }
}

/// Writes `text` to `path`, readable by the owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    // An existing file keeps its old mode on open: tighten it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hash_to_stable_hex() {
        let h = hash_secret("brk_abc");
        assert_eq!(h.len(), 64);
        assert_eq!(h, hash_secret("brk_abc"));
        assert_ne!(h, hash_secret("brk_abd"));
    }

    #[tokio::test]
    async fn keys_authenticate_until_revoked() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = StateStore::connect(&eventstream_sql::sqlite_url(&dir.path().join("s.db"))).await.unwrap_or_else(|e| panic!("{e}"));
        let keys = KeyStore::open(store.clone()).await.unwrap_or_else(|e| panic!("{e}"));
        let admin = keys.bootstrap_admin(dir.path()).await.unwrap_or_else(|e| panic!("{e}"));
        let admin = admin.unwrap_or_else(|| panic!("first bootstrap creates a key"));
        assert!(keys.bootstrap_admin(dir.path()).await.unwrap_or_else(|e| panic!("{e}")).is_none());
        let file = std::fs::read_to_string(dir.path().join(ADMIN_KEY_FILE)).unwrap_or_default();
        assert_eq!(file.trim(), admin);
        let p = keys.authenticate(&admin).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("admin key works"));
        assert_eq!((p.tenant.as_str(), p.role), ("default", Role::Admin));
        let t: TenantId = "acme".parse().unwrap_or_else(|e| panic!("{e}"));
        let (info, secret) = keys.create(&t, Role::Reader).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(keys.authenticate(&secret).await.unwrap_or_else(|e| panic!("{e}")).is_some());
        assert!(keys.is_live(&info.id).await.unwrap_or_else(|e| panic!("{e}")));
        assert!(!keys.is_live("key_unknown").await.unwrap_or_else(|e| panic!("{e}")));
        assert!(keys.authenticate("brk_nope").await.unwrap_or_else(|e| panic!("{e}")).is_none());
        assert!(keys.revoke(&info.id).await.unwrap_or_else(|e| panic!("{e}")));
        assert!(!keys.revoke(&info.id).await.unwrap_or_else(|e| panic!("{e}")));
        assert!(keys.authenticate(&secret).await.unwrap_or_else(|e| panic!("{e}")).is_none());
        assert!(!keys.is_live(&info.id).await.unwrap_or_else(|e| panic!("{e}")));
        let listed = keys.list().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(listed.len(), 2);
        assert!(listed[1].revoked.is_some());
        // Re-opening (a second replica) keeps the table.
        assert!(KeyStore::open(store).await.is_ok());
    }
}
