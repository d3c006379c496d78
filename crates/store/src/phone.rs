//! [`PhoneStore`] for [`Store`]: devices, applications, notifications, usage history,
//! and the one-phone-per-person registration transaction.

use jpki_model::{CertificateKind, CertificateStatus, Medium, RevocationReason};
use time::OffsetDateTime;

use crate::codec::{
    StatusColumns, certificate_columns, certificate_from_row, opt_time_column, serial_column,
    time_column, to_micros,
};
use crate::error::{StoreError, db};
use crate::records::{
    ApplicationId, ApplicationRecord, ApplicationState, CertificateRecord, DeviceEvent,
    DeviceRecord, DeviceState, NewApplication, RegistrationOutcome, ResidentId, UsageEntry,
    UsageOutcome, UsageRecord,
};
use crate::store::{BackendPool, RowExt, Store, dispatch};
use crate::traits::PhoneStore;
use crate::usage::{AppendUsage, prepare_all, prepare_usage, usage_from_row};

pub(crate) const APPLICATION_COLUMNS: &str = "id, public_id, resident_id, device_id, kinds, card_issuer, card_serial, \
     request_json, state, submitted_at, issued_at, registered_at, activate_at, failure";

pub(crate) fn kinds_text(kinds: &[CertificateKind]) -> String {
    kinds
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn device_from_row(row: &impl RowExt) -> Result<DeviceRecord, StoreError> {
    let state_text = row.text("state")?;
    Ok(DeviceRecord {
        device_id: row.text("device_id")?,
        token_hash: row.bytes("token_hash")?,
        resident_id: row.opt_int("resident_id")?.map(ResidentId),
        state: DeviceState::from_stored(&state_text).ok_or_else(|| {
            StoreError::corrupt("devices.state", format!("unknown state {state_text:?}"))
        })?,
        created_at: time_column(row, "created_at")?,
        updated_at: time_column(row, "updated_at")?,
    })
}

pub(crate) fn application_from_row(row: &impl RowExt) -> Result<ApplicationRecord, StoreError> {
    let kinds = row
        .text("kinds")?
        .split(',')
        .map(|kind| {
            kind.parse::<CertificateKind>()
                .map_err(|error| StoreError::corrupt("kinds", error))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let state_text = row.text("state")?;
    let request = serde_json::from_str(&row.text("request_json")?)
        .map_err(|error| StoreError::corrupt("request_json", error))?;
    Ok(ApplicationRecord {
        id: ApplicationId(row.int("id")?),
        public_id: row.text("public_id")?,
        resident_id: ResidentId(row.int("resident_id")?),
        device_id: row.text("device_id")?,
        kinds,
        card_certificate: (row.text("card_issuer")?, serial_column(row, "card_serial")?),
        request,
        state: ApplicationState::from_stored(&state_text).ok_or_else(|| {
            StoreError::corrupt(
                "applications.state",
                format!("unknown state {state_text:?}"),
            )
        })?,
        submitted_at: time_column(row, "submitted_at")?,
        issued_at: opt_time_column(row, "issued_at")?,
        registered_at: opt_time_column(row, "registered_at")?,
        activate_at: opt_time_column(row, "activate_at")?,
        failure: row.opt_text("failure")?,
    })
}

fn event_from_row(row: &impl RowExt) -> Result<DeviceEvent, StoreError> {
    Ok(DeviceEvent {
        seq: row.int("seq")?,
        device_id: row.text("device_id")?,
        kind: row.text("kind")?,
        payload: serde_json::from_str(&row.text("payload_json")?)
            .map_err(|error| StoreError::corrupt("payload_json", error))?,
        created_at: time_column(row, "created_at")?,
    })
}

pub(crate) const INSERT_EVENT: &str = "INSERT INTO device_events (device_id, kind, payload_json, created_at) VALUES ($1, $2, $3, $4) RETURNING seq";

impl PhoneStore for Store {
    async fn device(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT device_id, token_hash, resident_id, state, created_at, updated_at \
                 FROM devices WHERE device_id = $1",
            )
            .bind(device_id)
            .fetch_optional(pool)
            .await
            .map_err(db("device"))?
            .map(|row| device_from_row(&row))
            .transpose()
        })
    }

    async fn mark_device_wiped(
        &self,
        device_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = to_micros(at)?;
        dispatch!(self, |pool| {
            let result = sqlx::query(
                "UPDATE devices SET state = 'wiped', updated_at = $2 WHERE device_id = $1",
            )
            .bind(device_id)
            .bind(at)
            .execute(pool)
            .await
            .map_err(db("mark_device_wiped"))?;
            if result.rows_affected() == 0 {
                return Err(StoreError::not_found(format!("device {device_id:?}")));
            }
        });
        Ok(())
    }

    async fn accept_application(
        &self,
        accepted: &crate::AcceptedApplication,
    ) -> Result<ApplicationRecord, StoreError> {
        self.accept_grouped(accepted).await
    }

    async fn application(&self, public_id: &str) -> Result<Option<ApplicationRecord>, StoreError> {
        let sql = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE public_id = $1");
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(public_id)
                .fetch_optional(pool)
                .await
                .map_err(db("application"))?
                .map(|row| application_from_row(&row))
                .transpose()
        })
    }

    async fn applications_of_resident(
        &self,
        resident_id: ResidentId,
    ) -> Result<Vec<ApplicationRecord>, StoreError> {
        let sql = format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE resident_id = $1 ORDER BY id"
        );
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(resident_id.0)
                .fetch_all(pool)
                .await
                .map_err(db("applications_of_resident"))?
                .iter()
                .map(application_from_row)
                .collect()
        })
    }

    async fn queued_applications(&self, limit: u32) -> Result<Vec<ApplicationRecord>, StoreError> {
        let sql = format!(
            "SELECT {APPLICATION_COLUMNS} FROM applications WHERE state = 'queued' ORDER BY id LIMIT $1"
        );
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(i64::from(limit.min(crate::MAX_PAGE_SIZE)))
                .fetch_all(pool)
                .await
                .map_err(db("queued_applications"))?
                .iter()
                .map(application_from_row)
                .collect()
        })
    }

    async fn application_certificates(
        &self,
        id: ApplicationId,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(concat!(
                "SELECT ",
                certificate_columns!(),
                " FROM certificates WHERE (issuer_name, serial) IN \
                 (SELECT issuer_name, serial FROM application_certificates WHERE application_id = $1) \
                 ORDER BY kind"
            ))
            .bind(id.0)
            .fetch_all(pool)
            .await
            .map_err(db("application_certificates"))?
            .iter()
            .map(certificate_from_row)
            .collect()
        })
    }

    async fn complete_issuance(
        &self,
        id: ApplicationId,
        at: OffsetDateTime,
        event: (&str, &serde_json::Value),
        history: &[UsageEntry],
    ) -> Result<ApplicationRecord, StoreError> {
        const OPERATION: &str = "complete_issuance";
        let history = prepare_all(history)?;
        let key = self.log_pseudonym.get();
        let at_micros = to_micros(at)?;
        let payload = event.1.to_string();
        let update = format!(
            "UPDATE applications SET state = 'issued', issued_at = $2 WHERE id = $1 AND state = 'queued' \
             RETURNING {APPLICATION_COLUMNS}"
        );
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            let row = sqlx::query(sqlx::AssertSqlSafe(update.as_str()))
                .bind(id.0)
                .bind(at_micros)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(OPERATION))?
                .ok_or_else(|| StoreError::conflict("the application is not queued"))?;
            let record = application_from_row(&row)?;
            sqlx::query(INSERT_EVENT)
                .bind(&record.device_id)
                .bind(event.0)
                .bind(&payload)
                .bind(at_micros)
                .fetch_one(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
            tx.append_usage_rows(key, &history, OPERATION).await?;
            tx.commit().await.map_err(db(OPERATION))?;
            Ok(record)
        })
    }

    async fn fail_application(
        &self,
        id: ApplicationId,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let _ = to_micros(at)?;
        dispatch!(self, |pool| {
            let result = sqlx::query(
                "UPDATE applications SET state = 'failed', failure = $2 WHERE id = $1 AND state = 'queued'",
            )
            .bind(id.0)
            .bind(reason)
            .execute(pool)
            .await
            .map_err(db("fail_application"))?;
            if result.rows_affected() == 0 {
                return Err(StoreError::conflict("the application is not queued"));
            }
        });
        Ok(())
    }

    async fn register_application(
        &self,
        id: ApplicationId,
        at: OffsetDateTime,
        activate_at: OffsetDateTime,
    ) -> Result<RegistrationOutcome, StoreError> {
        const OPERATION: &str = "register_application";
        let at_micros = to_micros(at)?;
        let activate_micros = to_micros(activate_at.max(at))?;
        let select_application =
            format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1");
        let superseded_status = StatusColumns::encode(&CertificateStatus::Revoked {
            at,
            reason: RevocationReason::Superseded,
        })?;
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            // Step 1: the application, which must be issued and not yet registered.
            let row = sqlx::query(sqlx::AssertSqlSafe(select_application.as_str()))
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(OPERATION))?
                .ok_or_else(|| StoreError::not_found(format!("application {}", id.0)))?;
            let application = application_from_row(&row)?;
            if application.state != ApplicationState::Issued {
                return Err(StoreError::conflict(format!(
                    "the application is {}, not issued",
                    application.state.as_str()
                )));
            }
            // Step 2: serialize every registration of this person. SQLite's write
            // transaction already excludes other writers; on PostgreSQL this UPDATE
            // takes the resident's row lock until commit.
            sqlx::query("UPDATE residents SET updated_at = updated_at WHERE id = $1")
                .bind(application.resident_id.0)
                .execute(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
            // Step 3: the state may have changed while we waited for the lock.
            let state = sqlx::query("SELECT state FROM applications WHERE id = $1")
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db(OPERATION))?
                .text("state")?;
            if state != "issued" {
                return Err(StoreError::conflict(format!(
                    "the application is {state}, not issued"
                )));
            }
            // Step 4: every other live phone certificate of the person that this
            // registration replaces: all of other phones', and those of the kinds
            // applied for on this phone.
            let candidates = sqlx::query(concat!(
                "SELECT ",
                certificate_columns!(),
                " FROM certificates WHERE resident_id = $1 AND device_id IS NOT NULL \
                 AND status IN ('pending', 'active', 'held') \
                 AND (issuer_name, serial) NOT IN \
                     (SELECT issuer_name, serial FROM application_certificates WHERE application_id = $2) \
                 ORDER BY issued_at, issuer_name, serial"
            ))
            .bind(application.resident_id.0)
            .bind(id.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(db(OPERATION))?
            .iter()
            .map(certificate_from_row)
            .collect::<Result<Vec<_>, _>>()?;
            let mut superseded = Vec::new();
            let mut wiped_devices: Vec<String> = Vec::new();
            // The usage lines, appended last (crate::usage).
            let mut usage = Vec::new();
            for mut certificate in candidates {
                let crate::records::Holder::Device(device) = &certificate.holder else {
                    continue;
                };
                let same_device = *device == application.device_id;
                if same_device && !application.kinds.contains(&certificate.kind) {
                    continue;
                }
                sqlx::query(
                    "UPDATE certificates SET status = $3, held_since = NULL, revoked_at = $4, \
                     revocation_reason = $5, status_changed_at = $6 WHERE issuer_name = $1 AND serial = $2",
                )
                .bind(&certificate.issuer_name)
                .bind(certificate.serial.as_bytes())
                .bind(superseded_status.status)
                .bind(superseded_status.revoked_at)
                .bind(superseded_status.revocation_reason)
                .bind(at_micros)
                .execute(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
                certificate.status = CertificateStatus::Revoked {
                    at,
                    reason: RevocationReason::Superseded,
                };
                certificate.status_changed_at = crate::codec::from_micros("at", at_micros)?;
                if !same_device && !wiped_devices.contains(device) {
                    wiped_devices.push(device.clone());
                }
                superseded.push(certificate);
            }
            // Step 5: other open applications of the person can no longer be registered.
            let open = sqlx::query(
                "UPDATE applications SET state = 'superseded' \
                 WHERE resident_id = $1 AND id <> $2 AND state IN ('queued', 'issued') RETURNING public_id",
            )
            .bind(application.resident_id.0)
            .bind(id.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            let superseded_applications = open
                .iter()
                .map(|row| row.text("public_id"))
                .collect::<Result<Vec<_>, _>>()?;
            // Step 6: the replaced phones are told to wipe.
            for device in &wiped_devices {
                sqlx::query(
                    "UPDATE devices SET state = 'superseded', updated_at = $2 WHERE device_id = $1",
                )
                .bind(device)
                .bind(at_micros)
                .execute(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
                let serials: Vec<String> = superseded
                    .iter()
                    .filter(
                        |c| matches!(&c.holder, crate::records::Holder::Device(d) if d == device),
                    )
                    .map(|c| format!("{}:{}", c.issuer_name, c.serial))
                    .collect();
                let payload = serde_json::json!({
                    "reason": "superseded",
                    "replaced_by_device": application.device_id,
                    "certificates": serials,
                });
                sqlx::query(INSERT_EVENT)
                    .bind(device)
                    .bind("wipe")
                    .bind(payload.to_string())
                    .bind(at_micros)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db(OPERATION))?;
                usage.push(prepare_usage(&UsageEntry {
                    resident_id: application.resident_id,
                    at,
                    device_id: Some(device.clone()),
                    action: "superseded".into(),
                    outcome: UsageOutcome::Ok,
                    detail: payload,
                })?);
            }
            // Step 7: this application's certificates: active now, or at activate_at.
            if activate_micros <= at_micros {
                sqlx::query(
                    "UPDATE certificates SET status = 'active', status_changed_at = $2 \
                     WHERE status = 'pending' AND (issuer_name, serial) IN \
                     (SELECT issuer_name, serial FROM application_certificates WHERE application_id = $1)",
                )
                .bind(id.0)
                .bind(at_micros)
                .execute(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
            }
            let updated = sqlx::query(sqlx::AssertSqlSafe(
                format!(
                    "UPDATE applications SET state = 'registered', registered_at = $2, activate_at = $3 \
                     WHERE id = $1 RETURNING {APPLICATION_COLUMNS}"
                )
                .as_str(),
            ))
            .bind(id.0)
            .bind(at_micros)
            .bind(activate_micros)
            .fetch_one(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            let application = application_from_row(&updated)?;
            let certificates = sqlx::query(concat!(
                "SELECT ",
                certificate_columns!(),
                " FROM certificates WHERE (issuer_name, serial) IN \
                 (SELECT issuer_name, serial FROM application_certificates WHERE application_id = $1) ORDER BY kind"
            ))
            .bind(id.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(db(OPERATION))?
            .iter()
            .map(certificate_from_row)
            .collect::<Result<Vec<_>, _>>()?;
            usage.push(prepare_usage(&UsageEntry {
                resident_id: application.resident_id,
                at,
                device_id: Some(application.device_id.clone()),
                action: "registered".into(),
                outcome: UsageOutcome::Ok,
                detail: serde_json::json!({
                    "application": application.public_id,
                    "kinds": application.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                    "certificates": certificates
                        .iter()
                        .map(|c| format!("{}:{}", c.issuer_name, c.serial))
                        .collect::<Vec<_>>(),
                    "superseded": superseded.len(),
                    "superseded_certificates": superseded
                        .iter()
                        .map(|c| format!("{}:{}", c.issuer_name, c.serial))
                        .collect::<Vec<_>>(),
                }),
            })?);
            tx.append_usage_rows(self.log_pseudonym.get(), &usage, OPERATION)
                .await?;
            tx.commit().await.map_err(db(OPERATION))?;
            Ok(RegistrationOutcome {
                application,
                certificates,
                superseded,
                wiped_devices,
                superseded_applications,
            })
        })
    }

    async fn activate_due(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        const OPERATION: &str = "activate_due";
        let now = to_micros(now)?;
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            let rows = sqlx::query(concat!(
                "UPDATE certificates SET status = 'active', status_changed_at = $1 \
                 WHERE status = 'pending' AND (issuer_name, serial) IN \
                 (SELECT c.issuer_name, c.serial FROM application_certificates c \
                  JOIN applications a ON a.id = c.application_id \
                  WHERE a.state = 'registered' AND a.activate_at <= $1) RETURNING ",
                certificate_columns!()
            ))
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            let activated = rows
                .iter()
                .map(certificate_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit().await.map_err(db(OPERATION))?;
            Ok(activated)
        })
    }

    async fn append_event(
        &self,
        device_id: &str,
        kind: &str,
        payload: &serde_json::Value,
        at: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        if kind.is_empty() {
            return Err(StoreError::Invalid("an event needs a kind".into()));
        }
        let at = to_micros(at)?;
        let payload = payload.to_string();
        dispatch!(self, |pool| {
            sqlx::query(INSERT_EVENT)
                .bind(device_id)
                .bind(kind)
                .bind(&payload)
                .bind(at)
                .fetch_one(pool)
                .await
                .map_err(db("append_event"))?
                .int("seq")
        })
    }

    async fn events_after(
        &self,
        device_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DeviceEvent>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT seq, device_id, kind, payload_json, created_at FROM device_events \
                 WHERE device_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(device_id)
            .bind(after)
            .bind(i64::from(limit.min(crate::MAX_PAGE_SIZE)))
            .fetch_all(pool)
            .await
            .map_err(db("events_after"))?
            .iter()
            .map(event_from_row)
            .collect()
        })
    }

    async fn append_usage(&self, entry: &UsageEntry) -> Result<i64, StoreError> {
        self.append_usage_now(std::slice::from_ref(entry), "append_usage")
            .await?
            .first()
            .copied()
            .ok_or_else(|| StoreError::corrupt("usage_history", "the append returned no id"))
    }

    async fn usage_of_resident(
        &self,
        resident_id: ResidentId,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT id, resident_id, occurred_at, device_id, action, outcome, detail_json \
                 FROM usage_history WHERE resident_id = $1 ORDER BY id",
            )
            .bind(resident_id.0)
            .fetch_all(pool)
            .await
            .map_err(db("usage_of_resident"))?
            .iter()
            .map(usage_from_row)
            .collect()
        })
    }
}

/// Writers the RA no longer uses, kept for test set-up: the RA saves the phone and
/// records an application in one transaction (`PhoneStore::accept_application`); tests
/// that need a phone or a queued application in a given state write them directly.
#[cfg(feature = "testing")]
impl Store {
    /// Records a phone, or gives a known phone a new token and makes it active again.
    pub async fn save_device(
        &self,
        device_id: &str,
        token_hash: &[u8],
        at: OffsetDateTime,
    ) -> Result<DeviceRecord, StoreError> {
        if device_id.is_empty() || token_hash.is_empty() {
            return Err(StoreError::Invalid(
                "a device needs an id and a token hash".into(),
            ));
        }
        let at = to_micros(at)?;
        dispatch!(self, |pool| {
            sqlx::query(
                "INSERT INTO devices (device_id, token_hash, resident_id, state, created_at, updated_at) \
                 VALUES ($1, $2, NULL, 'active', $3, $3) \
                 ON CONFLICT (device_id) DO UPDATE SET token_hash = $2, state = 'active', updated_at = $3 \
                 RETURNING device_id, token_hash, resident_id, state, created_at, updated_at",
            )
            .bind(device_id)
            .bind(token_hash)
            .bind(at)
            .fetch_one(pool)
            .await
            .map_err(db("save_device"))
            .and_then(|row| device_from_row(&row))
        })
    }

    /// Records a queued application and binds the phone to the person.
    pub async fn create_application(
        &self,
        application: &NewApplication,
    ) -> Result<ApplicationRecord, StoreError> {
        const OPERATION: &str = "create_application";
        check_new_application(application)?;
        let kinds = kinds_text(&application.kinds);
        let request = application.request.to_string();
        let submitted_at = to_micros(application.submitted_at)?;
        let sql = format!(
            "INSERT INTO applications (public_id, resident_id, device_id, kinds, card_issuer, card_serial, \
             request_json, state, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8) \
             RETURNING {APPLICATION_COLUMNS}"
        );
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            let bound = sqlx::query(
                "UPDATE devices SET resident_id = $2, updated_at = $3 WHERE device_id = $1",
            )
            .bind(&application.device_id)
            .bind(application.resident_id.0)
            .bind(submitted_at)
            .execute(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            if bound.rows_affected() == 0 {
                return Err(StoreError::not_found(format!(
                    "device {:?}",
                    application.device_id
                )));
            }
            let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(&application.public_id)
                .bind(application.resident_id.0)
                .bind(&application.device_id)
                .bind(&kinds)
                .bind(&application.card_certificate.0)
                .bind(application.card_certificate.1.as_bytes())
                .bind(&request)
                .bind(submitted_at)
                .fetch_one(&mut *tx)
                .await
                .map_err(crate::error::unique_conflict(
                    OPERATION,
                    "an application with this id exists",
                ))?;
            let record = application_from_row(&row)?;
            tx.commit().await.map_err(db(OPERATION))?;
            Ok(record)
        })
    }
}

/// What every new application must hold, checked before anything is written
/// (`create_application` and `accept_application` alike).
pub(crate) fn check_new_application(application: &NewApplication) -> Result<(), StoreError> {
    if application.public_id.is_empty() {
        return Err(StoreError::Invalid(
            "an application needs a public id".into(),
        ));
    }
    if application.kinds.is_empty()
        || application
            .kinds
            .iter()
            .any(|kind| kind.medium != Medium::Phone)
    {
        return Err(StoreError::Invalid(
            "an application asks for one or two phone certificate kinds".into(),
        ));
    }
    Ok(())
}
