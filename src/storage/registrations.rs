//! SIP registrations (RFC 3261 §10.3), kept so a restart does not forget the phones.

use sqlx::Row;
use tandem_sip::registrar::Binding;

use super::{Result, Storage, StorageError};

impl Storage {
    /// The bindings of an address-of-record (lapsed ones included; the registrar drops them).
    pub async fn bindings(&self, aor: &str) -> Result<Vec<Binding>> {
        let rows = sqlx::query(
            "SELECT contact, expires_at, call_id, cseq, q, instance, source FROM registrations
             WHERE aor = $1 ORDER BY contact",
        )
        .bind(aor)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let expires_at: i64 = r.try_get("expires_at")?;
                let cseq: i64 = r.try_get("cseq")?;
                let q: Option<String> = r.try_get("q")?;
                Ok(Binding {
                    contact: r.try_get("contact")?,
                    expires_at: u64::try_from(expires_at)
                        .map_err(|_| StorageError::Corrupt(format!("expiry {expires_at}")))?,
                    call_id: r.try_get("call_id")?,
                    cseq: u32::try_from(cseq)
                        .map_err(|_| StorageError::Corrupt(format!("cseq {cseq}")))?,
                    // q is stored as text: both backends keep it exactly as the phone sent it.
                    q: q.and_then(|q| q.parse().ok()),
                    instance: r.try_get("instance")?,
                    source: r.try_get("source")?,
                })
            })
            .collect()
    }

    /// Replaces every binding of `aor` at once, as the registrar decided (§10.3: all or none).
    pub async fn replace_bindings(&self, aor: &str, bindings: &[Binding]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM registrations WHERE aor = $1")
            .bind(aor)
            .execute(&mut *tx)
            .await?;
        for b in bindings {
            sqlx::query(
                "INSERT INTO registrations (aor, contact, expires_at, call_id, cseq, q, instance, source)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(aor)
            .bind(&b.contact)
            .bind(i64::try_from(b.expires_at).unwrap_or(i64::MAX))
            .bind(&b.call_id)
            .bind(i64::from(b.cseq))
            .bind(b.q.map(|q| q.to_string()))
            .bind(b.instance.as_deref())
            .bind(&b.source)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
