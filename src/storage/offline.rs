//! Offline messages (XEP-0160): stored in arrival order, removed once delivered.

use sqlx::Row;

use super::{unix_now, Result, Storage};

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

    /// Removes and returns the stored messages, oldest first. One `DELETE ... RETURNING`
    /// statement: a message stored meanwhile is either returned or left for next time, and two
    /// resources coming online together cannot both take the same message.
    pub async fn take_offline(&self, owner: &str) -> Result<Vec<OfflineMessage>> {
        let rows =
            sqlx::query("DELETE FROM offline WHERE owner = $1 RETURNING id, stanza, stored_at")
                .bind(owner)
                .fetch_all(&self.pool)
                .await?;
        let mut messages = rows
            .iter()
            .map(|r| {
                Ok(OfflineMessage {
                    id: r.try_get("id")?,
                    stanza: r.try_get("stanza")?,
                    stored_at: r.try_get("stored_at")?,
                })
            })
            .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
        messages.sort_by_key(|m| m.id);
        Ok(messages)
    }

    /// How many messages wait for `owner` (for quotas and tests).
    pub async fn offline_count(&self, owner: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM offline WHERE owner = $1")
            .bind(owner)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
