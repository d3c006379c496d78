//! [`CardStore`] for [`Store`]: My Number cards.

use crate::codec::{card_from_row, to_micros};
use crate::error::{StoreError, db, unique_conflict};
use crate::records::{CardRecord, ResidentId};
use crate::store::{BackendPool, Store, dispatch};
use crate::traits::CardStore;

impl CardStore for Store {
    async fn record_card(&self, card: &CardRecord) -> Result<(), StoreError> {
        const OPERATION: &str = "record_card";
        if card.card_id.is_empty() {
            return Err(StoreError::Invalid("a card needs an id".into()));
        }
        let issued_at = to_micros(card.issued_at)?;
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            let resident = sqlx::query("SELECT 1 AS found FROM residents WHERE id = $1")
                .bind(card.resident_id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
            if resident.is_none() {
                return Err(StoreError::not_found(format!(
                    "resident {}",
                    card.resident_id
                )));
            }
            sqlx::query("INSERT INTO cards (card_id, resident_id, issued_at) VALUES ($1, $2, $3)")
                .bind(&card.card_id)
                .bind(card.resident_id.0)
                .bind(issued_at)
                .execute(&mut *tx)
                .await
                .map_err(unique_conflict(
                    OPERATION,
                    "a card with this id is already recorded",
                ))?;
            tx.commit().await.map_err(db(OPERATION))?;
        });
        Ok(())
    }

    async fn card(&self, card_id: &str) -> Result<Option<CardRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query("SELECT card_id, resident_id, issued_at FROM cards WHERE card_id = $1")
                .bind(card_id)
                .fetch_optional(pool)
                .await
                .map_err(db("card"))?
                .map(|row| card_from_row(&row))
                .transpose()
        })
    }

    async fn cards_of_resident(
        &self,
        resident_id: ResidentId,
    ) -> Result<Vec<CardRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT card_id, resident_id, issued_at FROM cards WHERE resident_id = $1 \
                 ORDER BY issued_at, card_id",
            )
            .bind(resident_id.0)
            .fetch_all(pool)
            .await
            .map_err(db("cards_of_resident"))?
            .iter()
            .map(card_from_row)
            .collect()
        })
    }
}
