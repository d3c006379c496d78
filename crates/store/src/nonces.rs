//! [`NonceStore`] for [`Store`]: single-use challenges.

use time::OffsetDateTime;

use crate::codec::{from_micros, time_column, to_micros};
use crate::error::{NonceError, StoreError, db, unique_conflict};
use crate::records::{ConsumedNonce, NewNonce};
use crate::store::{RowExt, Store, dispatch, dispatch_read};
use crate::traits::NonceStore;

/// Why a nonce cannot be consumed, from its row (`purpose`, `expires_at`, `used_at`;
/// `None` when there is no such nonce). Called only once consuming it has failed (or a
/// check found it unusable), so a row of the right purpose, unused, has expired.
pub(crate) fn nonce_failure(
    row: Option<&impl RowExt>,
    purpose: &str,
) -> Result<NonceError, StoreError> {
    let Some(row) = row else {
        return Ok(NonceError::Unknown);
    };
    Ok(if row.text("purpose")? != purpose {
        NonceError::WrongPurpose
    } else if row.opt_int("used_at")?.is_some() {
        NonceError::AlreadyUsed
    } else {
        NonceError::Expired
    })
}

impl NonceStore for Store {
    async fn issue_nonce(&self, nonce: &NewNonce) -> Result<(), StoreError> {
        if nonce.value.is_empty() {
            return Err(StoreError::Invalid("a nonce must not be empty".into()));
        }
        if nonce.expires_at <= nonce.issued_at {
            return Err(StoreError::Invalid(
                "a nonce must expire after it is issued".into(),
            ));
        }
        let issued_at = to_micros(nonce.issued_at)?;
        let expires_at = to_micros(nonce.expires_at)?;
        dispatch!(self, |pool| {
            sqlx::query(
                "INSERT INTO nonces (nonce, purpose, subject, issued_at, expires_at, used_at) \
                 VALUES ($1, $2, $3, $4, $5, NULL)",
            )
            .bind(&nonce.value)
            .bind(&nonce.purpose)
            .bind(nonce.subject.as_deref())
            .bind(issued_at)
            .bind(expires_at)
            .execute(pool)
            .await
            .map_err(unique_conflict(
                "issue_nonce",
                "this nonce was already issued",
            ))?;
        });
        Ok(())
    }

    async fn consume_nonce(
        &self,
        value: &[u8],
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<ConsumedNonce, StoreError> {
        const OPERATION: &str = "consume_nonce";
        let now_micros = to_micros(now)?;
        dispatch!(self, |pool| {
            // Step 1: one conditional UPDATE. Only a caller whose statement finds the
            // row still unused gets it back; every other concurrent caller finds
            // `used_at` set and gets no row.
            let consumed = sqlx::query(
                "UPDATE nonces SET used_at = $3 \
                 WHERE nonce = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
                 RETURNING subject, issued_at, expires_at",
            )
            .bind(value)
            .bind(purpose)
            .bind(now_micros)
            .fetch_optional(pool)
            .await
            .map_err(db(OPERATION))?;
            if let Some(row) = consumed {
                return Ok(ConsumedNonce {
                    value: value.to_vec(),
                    purpose: purpose.to_owned(),
                    subject: row.opt_text("subject")?,
                    issued_at: time_column(&row, "issued_at")?,
                    expires_at: time_column(&row, "expires_at")?,
                    used_at: from_micros("used_at", now_micros)?,
                });
            }
            // Step 2: nothing was consumed; find out why (reads only).
            let row =
                sqlx::query("SELECT purpose, expires_at, used_at FROM nonces WHERE nonce = $1")
                    .bind(value)
                    .fetch_optional(pool)
                    .await
                    .map_err(db(OPERATION))?;
            Err(nonce_failure(row.as_ref(), purpose)?.into())
        })
    }

    async fn check_nonce(
        &self,
        value: &[u8],
        purpose: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now_micros = to_micros(now)?;
        dispatch_read!(self, "check_nonce", |pool, query| {
            let row = query("SELECT purpose, expires_at, used_at FROM nonces WHERE nonce = $1")
                .bind(value)
                .fetch_optional(pool)
                .await
                .map_err(db("check_nonce"))?;
            if let Some(row) = &row
                && row.text("purpose")? == purpose
                && row.opt_int("used_at")?.is_none()
                && row.int("expires_at")? > now_micros
            {
                return Ok(());
            }
            Err(nonce_failure(row.as_ref(), purpose)?.into())
        })
    }

    async fn purge_expired_nonces(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let before = to_micros(before)?;
        dispatch!(self, |pool| {
            let result = sqlx::query("DELETE FROM nonces WHERE expires_at <= $1")
                .bind(before)
                .execute(pool)
                .await
                .map_err(db("purge_expired_nonces"))?;
            Ok(result.rows_affected())
        })
    }
}
