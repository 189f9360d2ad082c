//! Accounts: only salted SCRAM keys and digest HA1s are kept, never a password.

use sqlx::Row;
use tandem_xmpp::sasl::{PasswordRecord, ScramCredentials, ScramHash};

use super::{unix_now, Result, Storage, StorageError};

impl Storage {
    /// Creates an account; fails with [`StorageError::UserExists`] if it is taken.
    pub async fn add_user(&self, username: &str, record: &PasswordRecord) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO users (username, sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
                sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key, ha1_md5, ha1_sha256, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(username)
        .bind(&record.scram_sha1.salt)
        .bind(record.scram_sha1.iterations as i64)
        .bind(&record.scram_sha1.stored_key)
        .bind(&record.scram_sha1.server_key)
        .bind(&record.scram_sha256.salt)
        .bind(record.scram_sha256.iterations as i64)
        .bind(&record.scram_sha256.stored_key)
        .bind(&record.scram_sha256.server_key)
        .bind(&record.ha1_md5)
        .bind(&record.ha1_sha256)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StorageError::UserExists(username.to_owned()));
        }
        Ok(())
    }

    pub async fn get_user(&self, username: &str) -> Result<Option<PasswordRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let creds = |hash: ScramHash, prefix: &str| -> Result<ScramCredentials> {
            let iterations: i64 = row.try_get(format!("{prefix}_iterations").as_str())?;
            Ok(ScramCredentials {
                hash,
                salt: row.try_get(format!("{prefix}_salt").as_str())?,
                iterations: u32::try_from(iterations).map_err(|_| {
                    StorageError::Corrupt(format!("{username}: iteration count {iterations}"))
                })?,
                stored_key: row.try_get(format!("{prefix}_stored_key").as_str())?,
                server_key: row.try_get(format!("{prefix}_server_key").as_str())?,
            })
        };
        Ok(Some(PasswordRecord {
            scram_sha1: creds(ScramHash::Sha1, "sha1")?,
            scram_sha256: creds(ScramHash::Sha256, "sha256")?,
            ha1_md5: row.try_get("ha1_md5")?,
            ha1_sha256: row.try_get("ha1_sha256")?,
        }))
    }

    pub async fn user_exists(&self, username: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Deletes an account with everything it owns; false if there was none.
    pub async fn delete_user(&self, username: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        for statement in [
            "DELETE FROM roster WHERE owner = $1",
            "DELETE FROM pending_subscriptions WHERE owner = $1",
            "DELETE FROM offline WHERE owner = $1",
        ] {
            sqlx::query(statement)
                .bind(username)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }

    pub async fn list_users(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT username FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get("username").map_err(StorageError::from))
            .collect()
    }
}
