//! [`RegistryStore`] for [`Store`]: residents and their history.

use jpki_model::{BirthDate, MyNumber};
use time::OffsetDateTime;

use crate::codec::{
    bind_basic_info, history_from_row, resident_columns, resident_from_row, to_micros,
};
use crate::error::{StoreError, db, unique_conflict};
use crate::records::{
    ChangeKind, HistoryEntry, HistoryKind, NewResident, Resident, ResidentChange, ResidentId,
};
use crate::store::{BackendPool, RowExt, Store, dispatch, dispatch_read};
use crate::traits::RegistryStore;

/// The most rows one page of [`RegistryStore::list_residents`] returns.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Replaces a living resident's record and takes the next history position; binds
/// (id, the six basic-information columns, updated_at, deceased_at).
pub(crate) const UPDATE_RESIDENT: &str = concat!(
    "UPDATE residents SET name = $2, name_substitute = $3, address = $4, \
     address_substitute = $5, date_of_birth = $6, sex = $7, updated_at = $8, \
     deceased_at = $9, history_seq = history_seq + 1 \
     WHERE id = $1 AND deceased_at IS NULL RETURNING history_seq, ",
    resident_columns!()
);

pub(crate) const INSERT_HISTORY: &str = "INSERT INTO resident_history \
     (resident_id, seq, kind, name, name_substitute, address, address_substitute, \
      date_of_birth, sex, changed_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

impl RegistryStore for Store {
    async fn add_resident(
        &self,
        resident: &NewResident,
        at: OffsetDateTime,
    ) -> Result<Resident, StoreError> {
        const OPERATION: &str = "add_resident";
        let at_micros = to_micros(at)?;
        let info = &resident.basic_info;
        let id = dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            let row = bind_basic_info(
                sqlx::query(
                    "INSERT INTO residents \
                     (my_number, name, name_substitute, address, address_substitute, \
                      date_of_birth, sex, deceased_at, registered_at, updated_at, history_seq) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $8, 1) RETURNING id",
                )
                .bind(resident.my_number.expose()),
                info,
            )
            .bind(at_micros)
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_conflict(
                OPERATION,
                "a resident with this My Number is already registered",
            ))?;
            let id = row.int("id")?;
            bind_basic_info(
                sqlx::query(INSERT_HISTORY)
                    .bind(id)
                    .bind(1_i64)
                    .bind(HistoryKind::Registered.as_str()),
                info,
            )
            .bind(at_micros)
            .execute(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            tx.commit().await.map_err(db(OPERATION))?;
            id
        });
        Ok(Resident {
            id: ResidentId(id),
            my_number: resident.my_number.clone(),
            basic_info: info.clone(),
            deceased_at: None,
            registered_at: crate::codec::from_micros("registered_at", at_micros)?,
            updated_at: crate::codec::from_micros("updated_at", at_micros)?,
        })
    }

    async fn resident(&self, id: ResidentId) -> Result<Option<Resident>, StoreError> {
        dispatch_read!(self, "resident", |pool, query| {
            query(concat!(
                "SELECT ",
                resident_columns!(),
                " FROM residents WHERE id = $1"
            ))
            .bind(id.0)
            .fetch_optional(pool)
            .await
            .map_err(db("resident"))?
            .map(|row| resident_from_row(&row))
            .transpose()
        })
    }

    async fn resident_by_my_number(
        &self,
        my_number: &MyNumber,
    ) -> Result<Option<Resident>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(concat!(
                "SELECT ",
                resident_columns!(),
                " FROM residents WHERE my_number = $1"
            ))
            .bind(my_number.expose())
            .fetch_optional(pool)
            .await
            .map_err(db("resident_by_my_number"))?
            .map(|row| resident_from_row(&row))
            .transpose()
        })
    }

    async fn find_residents(
        &self,
        name: &str,
        date_of_birth: BirthDate,
        address: Option<&str>,
    ) -> Result<Vec<Resident>, StoreError> {
        let date_of_birth = date_of_birth.to_string();
        dispatch!(self, |pool| {
            sqlx::query(concat!(
                "SELECT ",
                resident_columns!(),
                " FROM residents WHERE name = $1 AND date_of_birth = $2 \
                  AND ($3 IS NULL OR address = $3) ORDER BY id"
            ))
            .bind(name)
            .bind(&date_of_birth)
            .bind(address)
            .fetch_all(pool)
            .await
            .map_err(db("find_residents"))?
            .iter()
            .map(resident_from_row)
            .collect()
        })
    }

    async fn list_residents(
        &self,
        after: Option<ResidentId>,
        limit: u32,
    ) -> Result<Vec<Resident>, StoreError> {
        let after = after.map_or(i64::MIN, |id| id.0);
        let limit = i64::from(limit.min(MAX_PAGE_SIZE));
        dispatch!(self, |pool| {
            sqlx::query(concat!(
                "SELECT ",
                resident_columns!(),
                " FROM residents WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(db("list_residents"))?
            .iter()
            .map(resident_from_row)
            .collect()
        })
    }

    async fn record_change(
        &self,
        id: ResidentId,
        change: &ResidentChange,
    ) -> Result<Resident, StoreError> {
        const OPERATION: &str = "record_change";
        let at_micros = to_micros(change.at)?;
        let deceased_at = (change.kind == ChangeKind::Death).then_some(at_micros);
        let kind = HistoryKind::from(change.kind);
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            // Step 1: update the current record, only while the resident is alive. The
            // row lock this takes (PostgreSQL) or the write lock (SQLite) orders
            // concurrent changes to one resident, so `history_seq` is never handed out
            // twice.
            let updated =
                bind_basic_info(sqlx::query(UPDATE_RESIDENT).bind(id.0), &change.new_info)
                    .bind(at_micros)
                    .bind(deceased_at)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(OPERATION))?;
            let Some(row) = updated else {
                // Step 1b: say why nothing was updated; the transaction rolls back on drop.
                let current = sqlx::query("SELECT deceased_at FROM residents WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(OPERATION))?;
                return Err(match current {
                    None => StoreError::not_found(format!("resident {id}")),
                    Some(_) => StoreError::ResidentDeceased(id),
                });
            };
            let seq = row.int("history_seq")?;
            let resident = resident_from_row(&row)?;
            // Step 2: append the history entry under the new sequence number.
            bind_basic_info(
                sqlx::query(INSERT_HISTORY)
                    .bind(id.0)
                    .bind(seq)
                    .bind(kind.as_str()),
                &change.new_info,
            )
            .bind(at_micros)
            .execute(&mut *tx)
            .await
            .map_err(unique_conflict(
                OPERATION,
                "a concurrent change took the same history position",
            ))?;
            tx.commit().await.map_err(db(OPERATION))?;
            Ok(resident)
        })
    }

    async fn resident_history(&self, id: ResidentId) -> Result<Vec<HistoryEntry>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT seq, kind, name, name_substitute, address, address_substitute, \
                 date_of_birth, sex, changed_at FROM resident_history \
                 WHERE resident_id = $1 ORDER BY seq",
            )
            .bind(id.0)
            .fetch_all(pool)
            .await
            .map_err(db("resident_history"))?
            .iter()
            .map(history_from_row)
            .collect()
        })
    }
}
