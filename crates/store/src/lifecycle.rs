//! [`LifecycleStore`], [`StatusStore`], [`CrlStore`] and [`AccountStore`] for [`Store`]:
//! status transitions written in one transaction with everything they imply, what the
//! status services read, the CRLs they publish, and the accounts holding API keys.

use futures_util::TryStreamExt;
use jpki_model::{CertificateStatus, RevocationReason, SerialNumber};
use sqlx::Row;
use time::OffsetDateTime;

use crate::ca::describe_status;
use crate::codec::{
    StatusColumns, bind_basic_info, certificate_columns, certificate_from_row, from_micros,
    resident_from_row, serial_column, shard_column, status_from_row, time_column, to_micros,
};
use crate::error::{StoreError, db, unique_conflict};
use crate::phone::INSERT_EVENT;
use crate::records::{
    AccountRecord, AccountRole, CertificateRecord, ChangeKind, CrlRecord, HistoryKind,
    LifecycleBatch, LifecycleOutcome, ListedCertificate, NewAccount, StatusChangeRecord,
    StatusRecord,
};
use crate::registry::{INSERT_HISTORY, UPDATE_RESIDENT};
use crate::store::{BackendPool, RowExt, Store, dispatch};
use crate::traits::{AccountStore, CrlStore, LifecycleStore, StatusStore};
use crate::usage::{AppendUsage, prepare_all};

/// Most rows [`StatusStore::status_changes_since`] returns at once.
const MAX_CHANGES: u32 = crate::MAX_PAGE_SIZE * 10;

/// The compare-and-set of one status change, returning the row after it.
const CHANGE_STATUS: &str = concat!(
    "UPDATE certificates SET status = $3, held_since = $4, revoked_at = $5, \
     revocation_reason = $6, status_changed_at = $7 \
     WHERE issuer_name = $1 AND serial = $2 AND status = $8 \
     AND held_since IS NOT DISTINCT FROM $9 \
     AND revoked_at IS NOT DISTINCT FROM $10 \
     AND revocation_reason IS NOT DISTINCT FROM $11 RETURNING ",
    certificate_columns!()
);

/// What [`listed_from_row`] reads, by position: a million rows make a full CRL, so the
/// status comes as a number and one time, and nothing is looked up by name.
const LISTED_COLUMNS: &str = "serial, \
     CAST(CASE status WHEN 'active' THEN 0 WHEN 'pending' THEN 1 WHEN 'held' THEN 2 ELSE 3 END AS BIGINT) AS state, \
     COALESCE(held_since, revoked_at, issued_at) AS changed, revocation_reason, issued_at";

/// Decodes a row of [`LISTED_COLUMNS`] (both backends: the body is the same SQL types).
macro_rules! listed_from_row {
    ($row:expr) => {{
        let row = $row;
        fn corrupt(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
            move |error| StoreError::corrupt(what, error)
        }
        let serial: &[u8] = row.try_get(0).map_err(corrupt("serial"))?;
        let state: i64 = row.try_get(1).map_err(corrupt("status"))?;
        let changed: i64 = row.try_get(2).map_err(corrupt("status time"))?;
        let reason: Option<i64> = row.try_get(3).map_err(corrupt("revocation_reason"))?;
        let issued: i64 = row.try_get(4).map_err(corrupt("issued_at"))?;
        let status = match (state, reason) {
            (0, None) => CertificateStatus::Active,
            (1, None) => CertificateStatus::Pending,
            (2, None) => CertificateStatus::Held {
                since: from_micros("held_since", changed)?,
            },
            (3, Some(code)) => CertificateStatus::Revoked {
                at: from_micros("revoked_at", changed)?,
                reason: u8::try_from(code)
                    .ok()
                    .and_then(RevocationReason::from_code)
                    .ok_or_else(|| {
                        StoreError::corrupt("revocation_reason", format!("unknown code {code}"))
                    })?,
            },
            _ => {
                return Err(StoreError::corrupt("status", "inconsistent status columns"));
            }
        };
        Ok::<_, StoreError>(ListedCertificate {
            serial: SerialNumber::from_bytes(serial)
                .map_err(|error| StoreError::corrupt("serial", error))?,
            status,
            issued_at: from_micros("issued_at", issued)?,
        })
    }};
}

fn crl_number(column: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|error| StoreError::corrupt(column, error))
}

fn crl_from_row(row: &impl RowExt) -> Result<CrlRecord, StoreError> {
    Ok(CrlRecord {
        issuer_name: row.text("issuer_name")?,
        shard: shard_column(row, "shard")?,
        number: crl_number("number", row.int("number")?)?,
        base_number: row
            .opt_int("base_number")?
            .map(|value| crl_number("base_number", value))
            .transpose()?,
        this_update: time_column(row, "this_update")?,
        next_update: time_column(row, "next_update")?,
        der: row.bytes("der")?,
    })
}

pub(crate) fn account_from_row(row: &impl RowExt) -> Result<AccountRecord, StoreError> {
    let role_text = row.text("role")?;
    Ok(AccountRecord {
        name: row.text("name")?,
        role: AccountRole::parse(&role_text).ok_or_else(|| {
            StoreError::corrupt("accounts.role", format!("unknown role {role_text:?}"))
        })?,
        key_hash: row.bytes("key_hash")?,
        created_at: time_column(row, "created_at")?,
        disabled_at: crate::codec::opt_time_column(row, "disabled_at")?,
    })
}

fn check_batch(batch: &LifecycleBatch) -> Result<(), StoreError> {
    for (index, change) in batch.changes.iter().enumerate() {
        if batch.changes[..index].iter().any(|earlier| {
            earlier.issuer_name == change.issuer_name && earlier.serial == change.serial
        }) {
            return Err(StoreError::Invalid(format!(
                "certificate {} of issuer {:?} is changed twice in one batch",
                change.serial, change.issuer_name
            )));
        }
    }
    if batch.usage.iter().any(|entry| entry.action.is_empty())
        || batch.audit.iter().any(|entry| entry.action.is_empty())
        || batch.events.iter().any(|event| event.kind.is_empty())
    {
        return Err(StoreError::Invalid(
            "usage lines, audit entries and events need an action or kind".into(),
        ));
    }
    Ok(())
}

impl LifecycleStore for Store {
    async fn apply_lifecycle(
        &self,
        batch: &LifecycleBatch,
    ) -> Result<LifecycleOutcome, StoreError> {
        const OPERATION: &str = "apply_lifecycle";
        check_batch(batch)?;
        let usage = prepare_all(&batch.usage)?;
        let at = to_micros(batch.at)?;
        let changes = batch
            .changes
            .iter()
            .map(|change| {
                Ok((
                    change,
                    StatusColumns::encode(&change.expected)?,
                    StatusColumns::encode(&change.new)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let resident_change = batch
            .resident_change
            .as_ref()
            .map(|(id, change)| Ok::<_, StoreError>((*id, change, to_micros(change.at)?)))
            .transpose()?;
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            // Step 0: the resident's change (異動), only while the resident is alive; its
            // row lock also orders concurrent lifecycle batches of one person.
            let mut resident = None;
            if let Some((id, change, changed_at)) = &resident_change {
                let deceased_at = (change.kind == ChangeKind::Death).then_some(*changed_at);
                let updated =
                    bind_basic_info(sqlx::query(UPDATE_RESIDENT).bind(id.0), &change.new_info)
                        .bind(*changed_at)
                        .bind(deceased_at)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db(OPERATION))?;
                let Some(row) = updated else {
                    let current = sqlx::query("SELECT deceased_at FROM residents WHERE id = $1")
                        .bind(id.0)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db(OPERATION))?;
                    return Err(match current {
                        None => StoreError::not_found(format!("resident {id}")),
                        Some(_) => StoreError::ResidentDeceased(*id),
                    });
                };
                let seq = row.int("history_seq")?;
                resident = Some(resident_from_row(&row)?);
                bind_basic_info(
                    sqlx::query(INSERT_HISTORY)
                        .bind(id.0)
                        .bind(seq)
                        .bind(HistoryKind::from(change.kind).as_str()),
                    &change.new_info,
                )
                .bind(*changed_at)
                .execute(&mut *tx)
                .await
                .map_err(unique_conflict(
                    OPERATION,
                    "a concurrent change took the same history position",
                ))?;
            }
            // Step 1: every status change, each a compare-and-set; the first that fails
            // rolls everything back (the transaction is dropped uncommitted).
            let mut certificates = Vec::with_capacity(changes.len());
            for (change, expected, new) in &changes {
                let row = sqlx::query(CHANGE_STATUS)
                    .bind(&change.issuer_name)
                    .bind(change.serial.as_bytes())
                    .bind(new.status)
                    .bind(new.held_since)
                    .bind(new.revoked_at)
                    .bind(new.revocation_reason)
                    .bind(at)
                    .bind(expected.status)
                    .bind(expected.held_since)
                    .bind(expected.revoked_at)
                    .bind(expected.revocation_reason)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(OPERATION))?;
                match row {
                    Some(row) => certificates.push(certificate_from_row(&row)?),
                    None => {
                        let current = sqlx::query(
                            "SELECT status, held_since, revoked_at, revocation_reason \
                             FROM certificates WHERE issuer_name = $1 AND serial = $2",
                        )
                        .bind(&change.issuer_name)
                        .bind(change.serial.as_bytes())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db(OPERATION))?;
                        return Err(match current {
                            None => StoreError::not_found(format!(
                                "certificate {} of issuer {:?}",
                                change.serial, change.issuer_name
                            )),
                            Some(row) => StoreError::conflict(format!(
                                "certificate {} of issuer {:?} is {}, not {} as expected",
                                change.serial,
                                change.issuer_name,
                                describe_status(&status_from_row(&row)?),
                                describe_status(&change.expected)
                            )),
                        });
                    }
                }
            }
            // Step 2: open applications that can no longer be registered.
            let mut cancelled_applications = Vec::new();
            if let Some((resident, reason)) = &batch.cancel_applications {
                let rows = sqlx::query(
                    "UPDATE applications SET state = 'failed', failure = $2 \
                     WHERE resident_id = $1 AND state IN ('queued', 'issued') RETURNING public_id",
                )
                .bind(resident.0)
                .bind(reason)
                .fetch_all(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
                for row in &rows {
                    cancelled_applications.push(row.text("public_id")?);
                }
            }
            // Step 3: phones' states, then their notifications.
            for (device, state) in &batch.device_states {
                let result = sqlx::query(
                    "UPDATE devices SET state = $2, updated_at = $3 WHERE device_id = $1",
                )
                .bind(device)
                .bind(state.as_str())
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
                if result.rows_affected() == 0 {
                    return Err(StoreError::not_found(format!("device {device:?}")));
                }
            }
            let mut events = Vec::with_capacity(batch.events.len());
            for event in &batch.events {
                let row = sqlx::query(INSERT_EVENT)
                    .bind(&event.device_id)
                    .bind(&event.kind)
                    .bind(event.payload.to_string())
                    .bind(at)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(unique_conflict(OPERATION, "event"))?;
                events.push(row.int("seq")?);
            }
            // Step 4: the audit log, then the person's usage history (appended last:
            // crate::usage).
            for entry in &batch.audit {
                sqlx::query(
                    "INSERT INTO audit_log (occurred_at, actor, action, subject, detail_json) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(to_micros(entry.at)?)
                .bind(&entry.actor)
                .bind(&entry.action)
                .bind(&entry.subject)
                .bind(entry.detail_json.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
            }
            tx.append_usage_rows(self.log_pseudonym.get(), &usage, OPERATION)
                .await?;
            tx.commit().await.map_err(db(OPERATION))?;
            Ok(LifecycleOutcome {
                certificates,
                cancelled_applications,
                events,
                resident,
            })
        })
    }

    async fn successors(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(concat!(
                "SELECT ",
                certificate_columns!(),
                " FROM certificates WHERE renewal_of_issuer = $1 AND renewal_of_serial = $2 \
                 ORDER BY issued_at, issuer_name, serial"
            ))
            .bind(issuer_name)
            .bind(serial.as_bytes())
            .fetch_all(pool)
            .await
            .map_err(db("successors"))?
            .iter()
            .map(certificate_from_row)
            .collect()
        })
    }
}

impl StatusStore for Store {
    async fn certificate_status(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
    ) -> Result<Option<StatusRecord>, StoreError> {
        dispatch!(self, |pool| {
            let row = sqlx::query(
                "SELECT serial, status, held_since, revoked_at, revocation_reason, issued_at, \
                 not_after, crl_shard, status_changed_at \
                 FROM certificates WHERE issuer_name = $1 AND serial = $2",
            )
            .bind(issuer_name)
            .bind(serial.as_bytes())
            .fetch_optional(pool)
            .await
            .map_err(db("certificate_status"))?;
            row.map(|row| {
                Ok(StatusRecord {
                    serial: serial_column(&row, "serial")?,
                    status: status_from_row(&row)?,
                    issued_at: time_column(&row, "issued_at")?,
                    not_after: time_column(&row, "not_after")?,
                    crl_shard: shard_column(&row, "crl_shard")?,
                    status_changed_at: time_column(&row, "status_changed_at")?,
                })
            })
            .transpose()
        })
    }

    async fn listed_certificates(
        &self,
        issuer_name: &str,
        shard: u32,
        not_expired_at: OffsetDateTime,
    ) -> Result<Vec<ListedCertificate>, StoreError> {
        const OPERATION: &str = "listed_certificates";
        let not_expired_at = to_micros(not_expired_at)?;
        let sql = format!(
            "SELECT {LISTED_COLUMNS} FROM certificates \
             WHERE issuer_name = $1 AND crl_shard = $2 AND status <> 'active' AND not_after >= $3"
        );
        dispatch!(self, |pool| {
            // Streamed: a full CRL may list a million certificates, and holding every
            // row object at once would cost several times the records themselves.
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(issuer_name)
                .bind(i64::from(shard))
                .bind(not_expired_at)
                .fetch(pool);
            let mut listed = Vec::new();
            while let Some(row) = rows.try_next().await.map_err(db(OPERATION))? {
                listed.push(listed_from_row!(&row)?);
            }
            Ok(listed)
        })
    }

    async fn shard_changes_since(
        &self,
        issuer_name: &str,
        shard: u32,
        since: OffsetDateTime,
    ) -> Result<Vec<ListedCertificate>, StoreError> {
        let since = to_micros(since)?;
        let sql = format!(
            "SELECT {LISTED_COLUMNS} FROM certificates \
             WHERE issuer_name = $1 AND crl_shard = $2 AND status_changed_at >= $3"
        );
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(issuer_name)
                .bind(i64::from(shard))
                .bind(since)
                .fetch_all(pool)
                .await
                .map_err(db("shard_changes_since"))?
                .iter()
                .map(|row| listed_from_row!(row))
                .collect()
        })
    }

    async fn status_changes_since(
        &self,
        since: OffsetDateTime,
        after: Option<(&str, &SerialNumber)>,
        limit: u32,
    ) -> Result<Vec<StatusChangeRecord>, StoreError> {
        let since = to_micros(since)?;
        let limit = i64::from(limit.min(MAX_CHANGES));
        dispatch!(self, |pool| {
            let query = match after {
                None => sqlx::query(
                    "SELECT issuer_name, serial, crl_shard, status_changed_at FROM certificates \
                     WHERE status_changed_at >= $1 \
                     ORDER BY status_changed_at, issuer_name, serial LIMIT $2",
                )
                .bind(since)
                .bind(limit),
                Some((issuer, serial)) => sqlx::query(
                    "SELECT issuer_name, serial, crl_shard, status_changed_at FROM certificates \
                     WHERE status_changed_at >= $1 AND (status_changed_at > $1 \
                       OR issuer_name > $3 OR (issuer_name = $3 AND serial > $4)) \
                     ORDER BY status_changed_at, issuer_name, serial LIMIT $2",
                )
                .bind(since)
                .bind(limit)
                .bind(issuer)
                .bind(serial.as_bytes()),
            };
            query
                .fetch_all(pool)
                .await
                .map_err(db("status_changes_since"))?
                .iter()
                .map(|row| {
                    Ok(StatusChangeRecord {
                        issuer_name: row.text("issuer_name")?,
                        serial: serial_column(row, "serial")?,
                        crl_shard: shard_column(row, "crl_shard")?,
                        status_changed_at: time_column(row, "status_changed_at")?,
                    })
                })
                .collect()
        })
    }

    async fn crl_shards_in_use(&self, issuer_name: &str) -> Result<u32, StoreError> {
        dispatch!(self, |pool| {
            let row = sqlx::query(
                "SELECT COALESCE(MAX(crl_shard) + 1, 0) AS shards FROM certificates WHERE issuer_name = $1",
            )
            .bind(issuer_name)
            .fetch_one(pool)
            .await
            .map_err(db("crl_shards_in_use"))?;
            shard_column(&row, "shards")
        })
    }
}

impl CrlStore for Store {
    async fn save_crl(&self, crl: &CrlRecord) -> Result<(), StoreError> {
        const OPERATION: &str = "save_crl";
        let number = i64::try_from(crl.number)
            .map_err(|_| StoreError::Invalid("a CRL number above 2^63".into()))?;
        let base_number = crl
            .base_number
            .map(|base| {
                i64::try_from(base)
                    .map_err(|_| StoreError::Invalid("a CRL number above 2^63".into()))
            })
            .transpose()?;
        if crl.issuer_name.is_empty() || crl.der.is_empty() || number == 0 {
            return Err(StoreError::Invalid(
                "a CRL needs an issuer, a positive number and its DER".into(),
            ));
        }
        if base_number.is_some_and(|base| base >= number) {
            return Err(StoreError::Invalid(
                "a delta CRL's number must be above its base's".into(),
            ));
        }
        let this_update = to_micros(crl.this_update)?;
        let next_update = to_micros(crl.next_update)?;
        if next_update < this_update {
            return Err(StoreError::Invalid(
                "a CRL's nextUpdate is before its thisUpdate".into(),
            ));
        }
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            sqlx::query(
                "INSERT INTO crl_publications \
                 (issuer_name, shard, number, base_number, this_update, next_update, der) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&crl.issuer_name)
            .bind(i64::from(crl.shard))
            .bind(number)
            .bind(base_number)
            .bind(this_update)
            .bind(next_update)
            .bind(&crl.der)
            .execute(&mut *tx)
            .await
            .map_err(unique_conflict(
                OPERATION,
                "a CRL with this number is already published for this shard",
            ))?;
            if base_number.is_none() {
                // A new base: the older publications of the shard are not served again.
                sqlx::query(
                    "DELETE FROM crl_publications WHERE issuer_name = $1 AND shard = $2 AND number < $3",
                )
                .bind(&crl.issuer_name)
                .bind(i64::from(crl.shard))
                .bind(number)
                .execute(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
            }
            tx.commit().await.map_err(db(OPERATION))?;
        });
        Ok(())
    }

    async fn latest_crls(
        &self,
        issuer_name: &str,
        shard: u32,
    ) -> Result<(Option<CrlRecord>, Option<CrlRecord>), StoreError> {
        const OPERATION: &str = "latest_crls";
        const COLUMNS: &str =
            "issuer_name, shard, number, base_number, this_update, next_update, der";
        dispatch!(self, |pool| {
            let full = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM crl_publications WHERE issuer_name = $1 AND shard = $2 \
                 AND base_number IS NULL ORDER BY number DESC LIMIT 1"
            )))
            .bind(issuer_name)
            .bind(i64::from(shard))
            .fetch_optional(pool)
            .await
            .map_err(db(OPERATION))?
            .map(|row| crl_from_row(&row))
            .transpose()?;
            let Some(full) = full else {
                return Ok((None, None));
            };
            let base =
                i64::try_from(full.number).map_err(|error| StoreError::corrupt("number", error))?;
            let delta = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM crl_publications WHERE issuer_name = $1 AND shard = $2 \
                 AND base_number = $3 ORDER BY number DESC LIMIT 1"
            )))
            .bind(issuer_name)
            .bind(i64::from(shard))
            .bind(base)
            .fetch_optional(pool)
            .await
            .map_err(db(OPERATION))?
            .map(|row| crl_from_row(&row))
            .transpose()?;
            Ok((Some(full), delta))
        })
    }

    async fn crl_heads(&self) -> Result<Vec<(String, u32, u64)>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT issuer_name, shard, MAX(number) AS number FROM crl_publications \
                 GROUP BY issuer_name, shard ORDER BY issuer_name, shard",
            )
            .fetch_all(pool)
            .await
            .map_err(db("crl_heads"))?
            .iter()
            .map(|row| {
                Ok((
                    row.text("issuer_name")?,
                    shard_column(row, "shard")?,
                    crl_number("number", row.int("number")?)?,
                ))
            })
            .collect()
        })
    }
}

pub(crate) const ACCOUNT_COLUMNS: &str = "name, role, key_hash, created_at, disabled_at";

impl AccountStore for Store {
    async fn add_account(&self, account: &NewAccount) -> Result<AccountRecord, StoreError> {
        let valid_name = !account.name.is_empty()
            && account.name.len() <= 64
            && account
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
        if !valid_name {
            return Err(StoreError::Invalid(
                "an account name is 1 to 64 of A-Z a-z 0-9 - _ . @".into(),
            ));
        }
        let created_at = to_micros(account.created_at)?;
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO accounts (name, role, key_hash, created_at, disabled_at) \
                 VALUES ($1, $2, $3, $4, NULL) RETURNING {ACCOUNT_COLUMNS}"
            )))
            .bind(&account.name)
            .bind(account.role.as_str())
            .bind(account.key_hash.as_slice())
            .bind(created_at)
            .fetch_one(pool)
            .await
            .map_err(unique_conflict(
                "add_account",
                "an account with this name or key exists",
            ))
            .and_then(|row| account_from_row(&row))
        })
    }

    async fn account_by_key_hash(
        &self,
        key_hash: &[u8],
    ) -> Result<Option<AccountRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE key_hash = $1"
            )))
            .bind(key_hash)
            .fetch_optional(pool)
            .await
            .map_err(db("account_by_key_hash"))?
            .map(|row| account_from_row(&row))
            .transpose()
        })
    }

    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY name"
            )))
            .fetch_all(pool)
            .await
            .map_err(db("accounts"))?
            .iter()
            .map(account_from_row)
            .collect()
        })
    }

    async fn disable_account(&self, name: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let at = to_micros(at)?;
        dispatch!(self, |pool| {
            let result = sqlx::query(
                "UPDATE accounts SET disabled_at = COALESCE(disabled_at, $2) WHERE name = $1",
            )
            .bind(name)
            .bind(at)
            .execute(pool)
            .await
            .map_err(db("disable_account"))?;
            if result.rows_affected() == 0 {
                return Err(StoreError::not_found(format!("account {name:?}")));
            }
        });
        Ok(())
    }

    async fn key_hashes(&self, role: AccountRole) -> Result<Vec<Vec<u8>>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT key_hash FROM accounts WHERE role = $1 AND disabled_at IS NULL ORDER BY name",
            )
            .bind(role.as_str())
            .fetch_all(pool)
            .await
            .map_err(db("key_hashes"))?
            .iter()
            .map(|row| row.bytes("key_hash"))
            .collect()
        })
    }
}
