//! Roster items and unanswered inbound subscription requests, per owner (a local username).

use jid::BareJid;
use sqlx::any::AnyRow;
use sqlx::Row;
use tandem_xmpp::roster::{RosterItem, Subscription};

use super::{Result, Storage, StorageError};

impl Storage {
    pub async fn roster(&self, owner: &str) -> Result<Vec<RosterItem>> {
        let rows = sqlx::query("SELECT * FROM roster WHERE owner = $1 ORDER BY contact")
            .bind(owner)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(item_from_row).collect()
    }

    pub async fn roster_item(&self, owner: &str, contact: &BareJid) -> Result<Option<RosterItem>> {
        let row = sqlx::query("SELECT * FROM roster WHERE owner = $1 AND contact = $2")
            .bind(owner)
            .bind(contact.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(item_from_row).transpose()
    }

    /// Stores an item, or deletes it when nothing is left worth keeping.
    pub async fn put_roster_item(&self, owner: &str, item: &RosterItem) -> Result<()> {
        if item.is_empty() {
            return self.delete_roster_item(owner, &item.jid).await;
        }
        let groups = serde_json::to_string(&item.groups)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO roster (owner, contact, name, groups, subscription, ask, pending_in, listed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (owner, contact) DO UPDATE SET name = excluded.name, groups = excluded.groups,
                subscription = excluded.subscription, ask = excluded.ask,
                pending_in = excluded.pending_in, listed = excluded.listed",
        )
        .bind(owner)
        .bind(item.jid.as_str())
        .bind(item.name.as_deref())
        .bind(groups)
        .bind(item.subscription.as_str())
        .bind(i64::from(item.ask))
        .bind(i64::from(item.pending_in))
        .bind(i64::from(item.listed))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_roster_item(&self, owner: &str, contact: &BareJid) -> Result<()> {
        sqlx::query("DELETE FROM roster WHERE owner = $1 AND contact = $2")
            .bind(owner)
            .bind(contact.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Local usernames whose roster lets `contact` see their presence (subscription from or
    /// both): the ones whose presence a probe from `contact` may be answered with.
    pub async fn subscribers_of(&self, contact: &BareJid) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT owner FROM roster WHERE contact = $1 AND subscription IN ('from', 'both')",
        )
        .bind(contact.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get("owner").map_err(StorageError::from))
            .collect()
    }

    /// Remembers an inbound subscription request until the user answers it (RFC 6121 §3.1.3).
    pub async fn put_pending_subscription(
        &self,
        owner: &str,
        contact: &BareJid,
        stanza: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO pending_subscriptions (owner, contact, stanza) VALUES ($1, $2, $3)
             ON CONFLICT (owner, contact) DO UPDATE SET stanza = excluded.stanza",
        )
        .bind(owner)
        .bind(contact.as_str())
        .bind(stanza)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn pending_subscriptions(&self, owner: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT stanza FROM pending_subscriptions WHERE owner = $1 ORDER BY contact",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get("stanza").map_err(StorageError::from))
            .collect()
    }

    pub async fn delete_pending_subscription(&self, owner: &str, contact: &BareJid) -> Result<()> {
        sqlx::query("DELETE FROM pending_subscriptions WHERE owner = $1 AND contact = $2")
            .bind(owner)
            .bind(contact.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn item_from_row(row: &AnyRow) -> Result<RosterItem> {
    let contact: String = row.try_get("contact")?;
    let jid = BareJid::new(&contact)
        .map_err(|e| StorageError::Corrupt(format!("roster contact {contact:?}: {e}")))?;
    let subscription: String = row.try_get("subscription")?;
    let groups: String = row.try_get("groups")?;
    Ok(RosterItem {
        jid,
        name: row.try_get("name")?,
        groups: serde_json::from_str(&groups)
            .map_err(|e| StorageError::Corrupt(format!("roster groups: {e}")))?,
        subscription: Subscription::parse(&subscription)
            .ok_or_else(|| StorageError::Corrupt(format!("subscription {subscription:?}")))?,
        // Flags are integers: the one boolean representation both backends share.
        ask: row.try_get::<i64, _>("ask")? != 0,
        pending_in: row.try_get::<i64, _>("pending_in")? != 0,
        listed: row.try_get::<i64, _>("listed")? != 0,
    })
}
