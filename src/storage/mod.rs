//! Persistent state: accounts, rosters, pending subscription requests, offline messages.
//!
//! SQLite (the embedded default) or PostgreSQL, through sqlx's `Any` driver so that one set of
//! queries serves both: async, so a slow disk or network never blocks a session task. Only
//! portable SQL is used (`$n` placeholders, `ON CONFLICT`, integers for flags). SQLite runs in
//! WAL mode with `synchronous = FULL`.

mod offline;
mod registrations;
mod roster;
mod users;

use std::sync::Once;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::Executor;

/// Storage failures, typed so callers can tell a missing row from a broken database.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("user {0} already exists")]
    UserExists(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Storage {
    pool: AnyPool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The schema, written once for both backends; `{blob}`, `{int}` and `{serial}` are the
/// only words that differ.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY NOT NULL,
        sha1_salt {blob} NOT NULL, sha1_iterations {int} NOT NULL,
        sha1_stored_key {blob} NOT NULL, sha1_server_key {blob} NOT NULL,
        sha256_salt {blob} NOT NULL, sha256_iterations {int} NOT NULL,
        sha256_stored_key {blob} NOT NULL, sha256_server_key {blob} NOT NULL,
        ha1_md5 TEXT NOT NULL, ha1_sha256 TEXT NOT NULL,
        created_at {int} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS roster (
        owner TEXT NOT NULL, contact TEXT NOT NULL,
        name TEXT, groups TEXT NOT NULL DEFAULT '[]',
        subscription TEXT NOT NULL DEFAULT 'none',
        ask {int} NOT NULL DEFAULT 0, pending_in {int} NOT NULL DEFAULT 0,
        listed {int} NOT NULL DEFAULT 0,
        PRIMARY KEY (owner, contact))",
    "CREATE INDEX IF NOT EXISTS roster_by_contact ON roster (contact)",
    "CREATE TABLE IF NOT EXISTS pending_subscriptions (
        owner TEXT NOT NULL, contact TEXT NOT NULL, stanza TEXT NOT NULL,
        PRIMARY KEY (owner, contact))",
    "CREATE TABLE IF NOT EXISTS offline (
        id {serial},
        owner TEXT NOT NULL, stanza TEXT NOT NULL, stored_at {int} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS offline_by_owner ON offline (owner, id)",
    "CREATE TABLE IF NOT EXISTS registrations (
        aor TEXT NOT NULL, contact TEXT NOT NULL, expires_at {int} NOT NULL,
        call_id TEXT NOT NULL, cseq {int} NOT NULL, q TEXT, instance TEXT, source TEXT NOT NULL,
        PRIMARY KEY (aor, contact))",
];

fn schema_for(backend: Backend, statement: &str) -> String {
    let (blob, int, serial) = match backend {
        Backend::Sqlite => ("BLOB", "INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        Backend::Postgres => ("BYTEA", "BIGINT", "BIGSERIAL PRIMARY KEY"),
    };
    statement
        .replace("{blob}", blob)
        .replace("{int}", int)
        .replace("{serial}", serial)
}

/// Per-connection SQLite settings. busy_timeout first: `tandem user add` may write while the
/// server runs, and the other pragmas may need a lock themselves.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;";

impl Storage {
    /// Opens (creating if needed) the database at an sqlx URL: `sqlite://path`,
    /// `sqlite::memory:` or `postgres://...`.
    pub async fn open(url: &str) -> Result<Storage> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let memory = url.contains(":memory:");
        let mut options = AnyPoolOptions::new().idle_timeout(None).max_lifetime(None);
        let url = match backend {
            Backend::Sqlite if memory => {
                // An in-memory database exists once per connection: keep exactly one.
                options = options.max_connections(1).min_connections(1);
                url.to_string()
            }
            Backend::Sqlite => {
                options = options.max_connections(4);
                format!("{url}?mode=rwc")
            }
            Backend::Postgres => {
                options = options.max_connections(8);
                url.to_string()
            }
        };
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        for statement in SCHEMA {
            let sql = schema_for(backend, statement);
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
        }
        Ok(Storage { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
