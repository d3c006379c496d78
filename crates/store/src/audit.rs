//! [`AuditStore`] for [`Store`]: the append-only audit log.

use crate::codec::{audit_from_row, to_micros};
use crate::error::{StoreError, db};
use crate::records::{AuditEntry, AuditId, AuditRecord};
use crate::store::{RowExt, Store, dispatch};
use crate::traits::AuditStore;

impl AuditStore for Store {
    async fn append(&self, entry: &AuditEntry) -> Result<AuditId, StoreError> {
        let at = to_micros(entry.at)?;
        let detail = entry.detail_json.to_string();
        dispatch!(self, |pool| {
            let row = sqlx::query(
                "INSERT INTO audit_log (occurred_at, actor, action, subject, detail_json) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(at)
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&entry.subject)
            .bind(&detail)
            .fetch_one(pool)
            .await
            .map_err(db("append"))?;
            Ok(AuditId(row.int("id")?))
        })
    }

    async fn audit_entries(&self, subject: &str) -> Result<Vec<AuditRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT id, occurred_at, actor, action, subject, detail_json FROM audit_log \
                 WHERE subject = $1 ORDER BY id",
            )
            .bind(subject)
            .fetch_all(pool)
            .await
            .map_err(db("audit_entries"))?
            .iter()
            .map(audit_from_row)
            .collect()
        })
    }
}
