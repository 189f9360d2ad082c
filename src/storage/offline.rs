//! Offline messages (XEP-0160): stored in arrival order, removed once delivered.

use sqlx::Row;

use super::{unix_now, Result, Storage, StorageError};

/// One stored message, serialised as it will be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineMessage {
    pub id: i64,
    pub stanza: String,
    pub stored_at: i64,
}

impl Storage {
    pub async fn store_offline(&self, owner: &str, stanza: &str) -> Result<()> {
        sqlx::query("INSERT INTO offline (owner, stanza, stored_at) VALUES ($1, $2, $3)")
            .bind(owner)
            .bind(stanza)
            .bind(unix_now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The stored messages, oldest first; they stay stored until [`Storage::delete_offline`].
    pub async fn offline_messages(&self, owner: &str) -> Result<Vec<OfflineMessage>> {
        let rows =
            sqlx::query("SELECT id, stanza, stored_at FROM offline WHERE owner = $1 ORDER BY id")
                .bind(owner)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(OfflineMessage {
                    id: r.try_get("id")?,
                    stanza: r.try_get("stanza")?,
                    stored_at: r.try_get("stored_at")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(StorageError::from)
    }

    pub async fn delete_offline(&self, owner: &str, ids: &[i64]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for id in ids {
            sqlx::query("DELETE FROM offline WHERE owner = $1 AND id = $2")
                .bind(owner)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
