//! Persistent state: accounts, rosters, pending subscription requests, offline messages.
//!
//! SQLite through sqlx (async, so a slow disk never blocks a session task). Writes that must
//! survive a crash use `synchronous = FULL`; offline messages are deleted only after they were
//! written to the recipient's connection.

mod offline;
mod roster;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

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
    pool: SqlitePool,
}

const SCHEMA: &[&'static str] = &[
    "CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY NOT NULL,
        sha1_salt BLOB NOT NULL, sha1_iterations INTEGER NOT NULL,
        sha1_stored_key BLOB NOT NULL, sha1_server_key BLOB NOT NULL,
        sha256_salt BLOB NOT NULL, sha256_iterations INTEGER NOT NULL,
        sha256_stored_key BLOB NOT NULL, sha256_server_key BLOB NOT NULL,
        ha1_md5 TEXT NOT NULL, ha1_sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS roster (
        owner TEXT NOT NULL, contact TEXT NOT NULL,
        name TEXT, groups TEXT NOT NULL DEFAULT '[]',
        subscription TEXT NOT NULL DEFAULT 'none',
        ask INTEGER NOT NULL DEFAULT 0, pending_in INTEGER NOT NULL DEFAULT 0,
        listed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (owner, contact))",
    "CREATE TABLE IF NOT EXISTS pending_subscriptions (
        owner TEXT NOT NULL, contact TEXT NOT NULL, stanza TEXT NOT NULL,
        PRIMARY KEY (owner, contact))",
    "CREATE TABLE IF NOT EXISTS offline (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        owner TEXT NOT NULL, stanza TEXT NOT NULL, stored_at INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS offline_by_owner ON offline (owner, id)",
];

impl Storage {
    /// Opens (creating if needed) the database at an sqlx SQLite URL.
    pub async fn open(url: &str) -> Result<Storage> {
        let memory = url.contains(":memory:");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // `tandem user add` may write while the server runs.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            // An in-memory database exists once per connection: keep exactly one.
            .max_connections(if memory { 1 } else { 4 })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&pool).await?;
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
