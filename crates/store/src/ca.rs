//! [`CaStore`] and [`CertificateStore`] for [`Store`]: CA generations, serials, and
//! the certificates the CA issued.

use jpki_model::{CertificateStatus, Medium, SerialNumber};
use sha2::{Digest, Sha256};

use crate::codec::{
    StatusColumns, authority_from_row, certificate_columns, certificate_from_row, status_from_row,
    to_micros,
};
use crate::error::{StoreError, db, unique_conflict};
use crate::records::{AuthorityRecord, CertificateRecord, Holder, NewCertificate, ResidentId};
use crate::store::{BackendPool, RowExt, Store, dispatch, dispatch_read};
use crate::traits::{CaStore, CertificateStore};
use time::OffsetDateTime;

impl CaStore for Store {
    async fn save_authority(&self, authority: &AuthorityRecord) -> Result<(), StoreError> {
        if authority.name.is_empty() {
            return Err(StoreError::Invalid("an authority needs a name".into()));
        }
        if authority.certificate_der.is_empty() {
            return Err(StoreError::Invalid(
                "an authority needs its certificate".into(),
            ));
        }
        let created_at = to_micros(authority.created_at)?;
        let fingerprint = Sha256::digest(&authority.certificate_der).to_vec();
        dispatch!(self, |pool| {
            sqlx::query(
                "INSERT INTO authorities (name, certificate_der, fingerprint, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&authority.name)
            .bind(&authority.certificate_der)
            .bind(&fingerprint)
            .bind(created_at)
            .execute(pool)
            .await
            .map_err(unique_conflict(
                "save_authority",
                "this certificate is already saved for this authority",
            ))?;
        });
        Ok(())
    }

    async fn active_authority(&self, name: &str) -> Result<Option<AuthorityRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT name, certificate_der, created_at FROM authorities WHERE name = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT 1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(db("active_authority"))?
            .map(|row| authority_from_row(&row))
            .transpose()
        })
    }

    async fn authorities(&self) -> Result<Vec<AuthorityRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT name, certificate_der, created_at FROM authorities \
                 ORDER BY name, created_at, id",
            )
            .fetch_all(pool)
            .await
            .map_err(db("authorities"))?
            .iter()
            .map(authority_from_row)
            .collect()
        })
    }

    async fn reserve_serial(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        if issuer_name.is_empty() {
            return Err(StoreError::Invalid("a serial needs an issuer name".into()));
        }
        let at = to_micros(at)?;
        dispatch!(self, |pool| {
            // One statement: the primary key makes "ever used" atomic, even between
            // concurrent callers in different processes.
            sqlx::query(
                "INSERT INTO serials (issuer_name, serial, reserved_at) VALUES ($1, $2, $3)",
            )
            .bind(issuer_name)
            .bind(serial.as_bytes())
            .bind(at)
            .execute(pool)
            .await
            .map_err(unique_conflict(
                "reserve_serial",
                "this serial was already used for this issuer",
            ))?;
        });
        Ok(())
    }

    async fn record_certificate(
        &self,
        certificate: &NewCertificate,
    ) -> Result<CertificateRecord, StoreError> {
        const OPERATION: &str = "record_certificate";
        check_new_certificate(certificate)?;
        let (card_id, device_id) = match &certificate.holder {
            Holder::Card(card) => (Some(card.as_str()), None),
            Holder::Device(device) => (None, Some(device.as_str())),
        };
        let (renewal_issuer, renewal_serial) = match &certificate.renewal_of {
            Some((issuer, serial)) => (Some(issuer.as_str()), Some(serial.as_bytes())),
            None => (None, None),
        };
        let not_before = to_micros(certificate.not_before)?;
        let not_after = to_micros(certificate.not_after)?;
        let issued_at = to_micros(certificate.issued_at)?;
        let serial = certificate.serial.as_bytes();
        let initial_status = if certificate.awaiting_registration {
            CertificateStatus::Pending
        } else {
            CertificateStatus::Active
        };
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            // Step 1: the serial must have been persisted before signing.
            let reserved = sqlx::query(
                "SELECT 1 AS found FROM serials WHERE issuer_name = $1 AND serial = $2",
            )
            .bind(&certificate.issuer_name)
            .bind(serial)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            if reserved.is_none() {
                return Err(StoreError::SerialNotReserved {
                    issuer: certificate.issuer_name.clone(),
                    serial: certificate.serial.clone(),
                });
            }
            // Step 2: the resident must exist.
            let resident = sqlx::query("SELECT 1 AS found FROM residents WHERE id = $1")
                .bind(certificate.resident_id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
            if resident.is_none() {
                return Err(StoreError::not_found(format!(
                    "resident {}",
                    certificate.resident_id
                )));
            }
            // Step 3: a card holder must be a recorded card of that same resident.
            if let Some(card_id) = card_id {
                let card = sqlx::query("SELECT resident_id FROM cards WHERE card_id = $1")
                    .bind(card_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(OPERATION))?;
                match card {
                    None => return Err(StoreError::not_found(format!("card {card_id:?}"))),
                    Some(row) if row.int("resident_id")? != certificate.resident_id.0 => {
                        return Err(StoreError::Invalid(format!(
                            "card {card_id:?} belongs to another resident"
                        )));
                    }
                    Some(_) => {}
                }
            }
            // Step 3b: a device holder must be a recorded phone.
            if let Some(device_id) = device_id {
                let device = sqlx::query("SELECT 1 AS found FROM devices WHERE device_id = $1")
                    .bind(device_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db(OPERATION))?;
                if device.is_none() {
                    return Err(StoreError::not_found(format!("device {device_id:?}")));
                }
            }
            // Step 4: the renewed certificate must be recorded.
            if let (Some(issuer), Some(old_serial)) = (renewal_issuer, renewal_serial) {
                let old = sqlx::query(
                    "SELECT 1 AS found FROM certificates WHERE issuer_name = $1 AND serial = $2",
                )
                .bind(issuer)
                .bind(old_serial)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
                if old.is_none() {
                    return Err(StoreError::not_found("the certificate named in renewal_of"));
                }
            }
            // Step 5: record it, active (or pending registration). The primary key refuses
            // a second record.
            let active = StatusColumns::encode(&initial_status)?;
            sqlx::query(
                "INSERT INTO certificates \
                 (issuer_name, serial, kind, resident_id, card_id, device_id, subject_cn, \
                  not_before, not_after, der, issued_at, renewal_of_issuer, renewal_of_serial, \
                  status, held_since, revoked_at, revocation_reason, crl_shard, status_changed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, NULL, NULL, \
                  $15, $11)",
            )
            .bind(&certificate.issuer_name)
            .bind(serial)
            .bind(certificate.kind.as_str())
            .bind(certificate.resident_id.0)
            .bind(card_id)
            .bind(device_id)
            .bind(&certificate.subject_cn)
            .bind(not_before)
            .bind(not_after)
            .bind(&certificate.der)
            .bind(issued_at)
            .bind(renewal_issuer)
            .bind(renewal_serial)
            .bind(active.status)
            .bind(i64::from(certificate.crl_shard))
            .execute(&mut *tx)
            .await
            .map_err(unique_conflict(
                OPERATION,
                "a certificate is already recorded under this serial",
            ))?;
            // Step 6: link it to the phone application that asked for it.
            if let Some(application) = certificate.application {
                sqlx::query(
                    "INSERT INTO application_certificates (application_id, issuer_name, serial) \
                     VALUES ($1, $2, $3)",
                )
                .bind(application.0)
                .bind(&certificate.issuer_name)
                .bind(serial)
                .execute(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
            }
            tx.commit().await.map_err(db(OPERATION))?;
        });
        Ok(CertificateRecord::from_new(certificate, initial_status))
    }
}

/// What the store refuses before touching the database.
pub(crate) fn check_new_certificate(certificate: &NewCertificate) -> Result<(), StoreError> {
    if certificate.kind.medium != Medium::Phone
        && (certificate.awaiting_registration || certificate.application.is_some())
    {
        return Err(StoreError::Invalid(
            "only phone certificates await registration or belong to an application".into(),
        ));
    }
    if certificate.issuer_name.is_empty() {
        return Err(StoreError::Invalid(
            "a certificate needs an issuer name".into(),
        ));
    }
    if certificate.der.is_empty() {
        return Err(StoreError::Invalid("a certificate needs its DER".into()));
    }
    if certificate.not_before > certificate.not_after {
        return Err(StoreError::Invalid(
            "a certificate's notBefore is after its notAfter".into(),
        ));
    }
    match (&certificate.holder, certificate.kind.medium) {
        (Holder::Card(id), Medium::Card) | (Holder::Device(id), Medium::Phone)
            if !id.is_empty() =>
        {
            Ok(())
        }
        (Holder::Card(_), Medium::Card) | (Holder::Device(_), Medium::Phone) => Err(
            StoreError::Invalid("the holder's id must not be empty".into()),
        ),
        (Holder::Card(_), Medium::Phone) => Err(StoreError::Invalid(format!(
            "a {} is held by a device, not a card",
            certificate.kind.label_en()
        ))),
        (Holder::Device(_), Medium::Card) => Err(StoreError::Invalid(format!(
            "a {} is held by a card, not a device",
            certificate.kind.label_en()
        ))),
    }
}

/// One index lookup (migration 7) per kind, all in one statement: for kind `i`, the
/// parameters `$2i+1` (the person) and `$2i+2` (the kind).
fn latest_of_kinds_sql(kinds: usize) -> String {
    (0..kinds)
        .map(|i| {
            format!(
                concat!(
                    "SELECT * FROM (SELECT ",
                    certificate_columns!(),
                    " FROM certificates WHERE resident_id = ${} AND kind = ${} \
                     ORDER BY issued_at DESC, issuer_name DESC, serial DESC LIMIT 1) AS latest_{}"
                ),
                2 * i + 1,
                2 * i + 2,
                i
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

impl CertificateStore for Store {
    async fn certificate(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
    ) -> Result<Option<CertificateRecord>, StoreError> {
        dispatch_read!(self, "certificate", |pool, query| {
            query(concat!(
                "SELECT ",
                certificate_columns!(),
                " FROM certificates WHERE issuer_name = $1 AND serial = $2"
            ))
            .bind(issuer_name)
            .bind(serial.as_bytes())
            .fetch_optional(pool)
            .await
            .map_err(db("certificate"))?
            .map(|row| certificate_from_row(&row))
            .transpose()
        })
    }

    async fn certificates_of_resident(
        &self,
        resident_id: ResidentId,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(concat!(
                "SELECT ",
                certificate_columns!(),
                " FROM certificates WHERE resident_id = $1 ORDER BY issued_at, issuer_name, serial"
            ))
            .bind(resident_id.0)
            .fetch_all(pool)
            .await
            .map_err(db("certificates_of_resident"))?
            .iter()
            .map(certificate_from_row)
            .collect()
        })
    }

    async fn latest_certificates_of_kinds(
        &self,
        resident_id: ResidentId,
        kinds: &[jpki_model::CertificateKind],
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let sql = latest_of_kinds_sql(kinds.len());
        dispatch_read!(self, "latest_certificates_of_kinds", |pool, query| {
            let mut latest = query(sqlx::AssertSqlSafe(sql.as_str()));
            for kind in kinds {
                latest = latest.bind(resident_id.0).bind(kind.as_str());
            }
            latest
                .fetch_all(pool)
                .await
                .map_err(db("latest_certificates_of_kinds"))?
                .iter()
                .map(certificate_from_row)
                .collect()
        })
    }

    async fn certificates_of_holder(
        &self,
        holder: &Holder,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        dispatch!(self, |pool| {
            let rows = match holder {
                Holder::Card(card_id) => sqlx::query(concat!(
                    "SELECT ",
                    certificate_columns!(),
                    " FROM certificates WHERE card_id = $1 ORDER BY issued_at, issuer_name, serial"
                ))
                .bind(card_id)
                .fetch_all(pool)
                .await,
                Holder::Device(device_id) => sqlx::query(concat!(
                    "SELECT ",
                    certificate_columns!(),
                    " FROM certificates WHERE device_id = $1 ORDER BY issued_at, issuer_name, serial"
                ))
                .bind(device_id)
                .fetch_all(pool)
                .await,
            };
            rows.map_err(db("certificates_of_holder"))?
                .iter()
                .map(certificate_from_row)
                .collect()
        })
    }

    async fn set_status(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
        expected: &CertificateStatus,
        new: &CertificateStatus,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "set_status";
        let expected_columns = StatusColumns::encode(expected)?;
        let new_columns = StatusColumns::encode(new)?;
        let changed_at = to_micros(at)?;
        dispatch!(self, |pool| {
            // One conditional UPDATE: it changes the row only if every status column
            // still holds the expected value, so two callers racing from the same
            // expected status cannot both succeed.
            let result = sqlx::query(
                "UPDATE certificates SET status = $3, held_since = $4, revoked_at = $5, \
                 revocation_reason = $6, status_changed_at = $11 \
                 WHERE issuer_name = $1 AND serial = $2 AND status = $7 \
                 AND held_since IS NOT DISTINCT FROM $8 \
                 AND revoked_at IS NOT DISTINCT FROM $9 \
                 AND revocation_reason IS NOT DISTINCT FROM $10",
            )
            .bind(issuer_name)
            .bind(serial.as_bytes())
            .bind(new_columns.status)
            .bind(new_columns.held_since)
            .bind(new_columns.revoked_at)
            .bind(new_columns.revocation_reason)
            .bind(expected_columns.status)
            .bind(expected_columns.held_since)
            .bind(expected_columns.revoked_at)
            .bind(expected_columns.revocation_reason)
            .bind(changed_at)
            .execute(pool)
            .await
            .map_err(db(OPERATION))?;
            if result.rows_affected() == 1 {
                return Ok(());
            }
            let current = sqlx::query(
                "SELECT status, held_since, revoked_at, revocation_reason FROM certificates \
                 WHERE issuer_name = $1 AND serial = $2",
            )
            .bind(issuer_name)
            .bind(serial.as_bytes())
            .fetch_optional(pool)
            .await
            .map_err(db(OPERATION))?;
            match current {
                None => Err(StoreError::not_found(format!(
                    "certificate {serial} of issuer {issuer_name:?}"
                ))),
                Some(row) => Err(StoreError::conflict(format!(
                    "certificate {serial} of issuer {issuer_name:?} is {}, not {} as expected",
                    describe_status(&status_from_row(&row)?),
                    describe_status(expected)
                ))),
            }
        })
    }
}

pub(crate) fn describe_status(status: &CertificateStatus) -> String {
    match status {
        CertificateStatus::Pending => "pending registration".into(),
        CertificateStatus::Active => "active".into(),
        CertificateStatus::Held { since } => format!("held since {since}"),
        CertificateStatus::Revoked { at, reason } => {
            format!("revoked at {at} ({})", reason.as_str())
        }
    }
}
