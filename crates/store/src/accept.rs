//! [`PhoneStore::accept_application`](crate::PhoneStore::accept_application): everything
//! an accepted phone application writes, in one transaction, and the group commit that
//! lets concurrent applications share that transaction's commit.
//!
//! # Why one transaction, and why grouped
//!
//! An accepted application used to take nine commits (nonce, device, application, usage
//! line, two serial reservations, two certificates, completion). Each commit is a disk
//! flush (SQLite `synchronous=FULL`, PostgreSQL `fsync`), and every transaction that
//! appends usage holds the log's lock (`crate::usage`) until it commits, so commits of
//! different applications never overlap. One transaction per application removes eight
//! flushes; grouping removes most of the rest: concurrent callers hand their write to
//! one writer per [`Store`], which runs every job waiting for it in one transaction,
//! each job inside its own `SAVEPOINT` (a job that fails is rolled back to its savepoint
//! and reported to its caller alone; the others commit), and answers each caller only
//! after `COMMIT` returned. Nothing is acknowledged before it is durable. The writer
//! never waits to fill a batch: a batch is whatever queued while the previous one was
//! being written, so a lone caller pays one commit, as before.
//!
//! # Several jobs at once
//!
//! A batch of more than one job is first written with one statement per step for all
//! its jobs (`WriteAcceptances`: one `UPDATE` consuming every nonce, one upsert of the
//! phones, one `INSERT` each for the applications, serials, certificates, their links
//! and the events), in a transaction of its own. If any job would fail there (a nonce
//! not consumed, a serial taken, a renewal not found, any database error), that
//! transaction is rolled back and the batch is written again one `SAVEPOINT` per job as
//! described above, which gives the job at fault its own error and commits the others.
//! Either way the result is the same rows as writing the jobs one after the other.
//!
//! # What a job writes, in order
//!
//! 1. The nonce, consumed by the same conditional `UPDATE` as
//!    [`NonceStore::consume_nonce`](crate::NonceStore::consume_nonce): a nonce already
//!    used (a replay racing this one), expired or unknown fails the job with
//!    [`StoreError::Nonce`] and nothing of it is written.
//! 2. The phone with its new token digest, bound to the person.
//! 3. The application: `queued`, `issued` (with its certificates) or `failed`.
//! 4. Each certificate: its serial in `serials` (`ON CONFLICT DO NOTHING`: a serial
//!    already there fails the job with [`StoreError::SerialInUse`], so the CA draws
//!    another and signs again; the signed certificate never left the process), then
//!    the certificate, `pending` until the phone registers it, linked to the
//!    application.
//! 5. The phone's event (`ready_to_register`) when issued.
//! 6. The usage lines with their chain links and log leaves (`crate::usage`), for every
//!    job of the batch that succeeded, in job order, in one append after the last job:
//!    the log's lock is taken once per batch and held only for those lines and the
//!    commit. If that append fails (a person's first line on a store without the
//!    pseudonym key), nothing of the batch is committed and each job is written again
//!    in a transaction of its own, so that only the jobs at fault fail.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use jpki_log::PseudonymKey;
use jpki_model::CertificateStatus;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Postgres, Transaction};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::ca::check_new_certificate;
use crate::codec::{StatusColumns, to_micros};
use crate::direct::{self, DirectConnection, DirectTransaction};
use crate::error::{StoreError, db, unique_conflict};
use crate::nonces::nonce_failure;
use crate::phone::{
    APPLICATION_COLUMNS, INSERT_EVENT, application_from_row, check_new_application, kinds_text,
};
use crate::records::{ApplicationRecord, Holder, NewApplication, NewCertificate, UsageEntry};
use crate::store::{Backend, RowExt, SQLITE_BUSY_TIMEOUT, Store};
use crate::usage::{AppendUsage, PreparedUsage, prepare_all};

/// Most jobs one group commit takes: bounds how long the writer holds the write lock
/// (SQLite) or the log's lock (PostgreSQL) against every other writer, and keeps a
/// batch's savepoints (PostgreSQL subtransactions) under the 64 a backend tracks in
/// shared memory, past which every other session's snapshots get slower.
const MAX_BATCH: usize = 32;

const OPERATION: &str = "accept_application";

/// Prepared statements the writer's connection keeps: the usage append's three tables at
/// up to 64 row counts each, and the acceptance's own statements.
const WRITER_STATEMENT_CACHE: usize = 256;

/// Everything an application the RA accepted writes, in one transaction.
#[derive(Clone)]
pub struct AcceptedApplication {
    /// The application nonce and its purpose, consumed by this write; `None` when the
    /// caller's request consumed its own nonce already (the new certificate of a lift).
    pub nonce: Option<(Vec<u8>, String)>,
    /// When the nonce is consumed (and the phone saved).
    pub at: OffsetDateTime,
    /// SHA-256 of the phone's new bearer token.
    pub token_hash: Vec<u8>,
    pub application: NewApplication,
    /// What happens to it now.
    pub outcome: AcceptedOutcome,
    /// The person's usage lines, in order (`applied`, then `issued` and `notified`, or
    /// a failed `issued`).
    pub history: Vec<UsageEntry>,
}

impl fmt::Debug for AcceptedApplication {
    // No nonce, token digest or certificate contents in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptedApplication")
            .field("public_id", &self.application.public_id)
            .field("device_id", &self.application.device_id)
            .field("outcome", &self.outcome)
            .field("history", &self.history.len())
            .finish_non_exhaustive()
    }
}

/// The state an accepted application is written in.
#[derive(Clone)]
pub enum AcceptedOutcome {
    /// Outside the service hours: issued later from the queue.
    Queued,
    /// Issued at once: its certificates (each `awaiting_registration`, with
    /// `application: None`, since the application's id is made by this write) and the
    /// phone's event.
    Issued {
        at: OffsetDateTime,
        certificates: Vec<NewCertificate>,
        event: (String, serde_json::Value),
    },
    /// The CA could not issue it (the reason is the application's `failure`).
    Failed { reason: String },
}

impl fmt::Debug for AcceptedOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Queued => f.write_str("Queued"),
            Self::Issued { certificates, .. } => f
                .debug_struct("Issued")
                .field("certificates", &certificates.len())
                .finish_non_exhaustive(),
            Self::Failed { reason } => f.debug_struct("Failed").field("reason", reason).finish(),
        }
    }
}

/// A certificate checked and encoded before the transaction.
struct PreparedCertificate {
    issuer_name: String,
    serial: Vec<u8>,
    serial_number: jpki_model::SerialNumber,
    kind: &'static str,
    subject_cn: String,
    not_before: i64,
    not_after: i64,
    der: Vec<u8>,
    issued_at: i64,
    renewal_of: Option<(String, Vec<u8>)>,
    crl_shard: i64,
}

/// A job, checked and encoded: nothing in it can fail but the database.
pub(crate) struct PreparedAcceptance {
    nonce: Option<(Vec<u8>, String)>,
    at: i64,
    token_hash: Vec<u8>,
    device_id: String,
    resident_id: i64,
    public_id: String,
    kinds: String,
    card_issuer: String,
    card_serial: Vec<u8>,
    request_json: String,
    submitted_at: i64,
    state: &'static str,
    issued_at: Option<i64>,
    failure: Option<String>,
    certificates: Vec<PreparedCertificate>,
    event: Option<(String, String)>,
    history: Vec<PreparedUsage>,
}

/// Refuses, before anything is written, what the transaction would refuse halfway.
pub(crate) fn prepare(accepted: &AcceptedApplication) -> Result<PreparedAcceptance, StoreError> {
    let application = &accepted.application;
    if let Some((nonce, purpose)) = &accepted.nonce
        && (nonce.is_empty() || purpose.is_empty())
    {
        return Err(StoreError::Invalid(
            "a nonce and its purpose must not be empty".into(),
        ));
    }
    if application.device_id.is_empty() || accepted.token_hash.is_empty() {
        return Err(StoreError::Invalid(
            "a device needs an id and a token hash".into(),
        ));
    }
    check_new_application(application)?;
    let (state, issued_at, failure, certificates, event) = match &accepted.outcome {
        AcceptedOutcome::Queued => ("queued", None, None, Vec::new(), None),
        AcceptedOutcome::Failed { reason } => {
            ("failed", None, Some(reason.clone()), Vec::new(), None)
        }
        AcceptedOutcome::Issued {
            at,
            certificates,
            event,
        } => {
            if certificates.is_empty() {
                return Err(StoreError::Invalid(
                    "an issued application has certificates".into(),
                ));
            }
            if event.0.is_empty() {
                return Err(StoreError::Invalid("an event needs a kind".into()));
            }
            let mut prepared: Vec<PreparedCertificate> = Vec::with_capacity(certificates.len());
            for certificate in certificates {
                prepared.push(prepare_certificate(application, certificate)?);
            }
            (
                "issued",
                Some(to_micros(*at)?),
                None,
                prepared,
                Some((event.0.clone(), event.1.to_string())),
            )
        }
    };
    Ok(PreparedAcceptance {
        nonce: accepted.nonce.clone(),
        at: to_micros(accepted.at)?,
        token_hash: accepted.token_hash.clone(),
        device_id: application.device_id.clone(),
        resident_id: application.resident_id.0,
        public_id: application.public_id.clone(),
        kinds: kinds_text(&application.kinds),
        card_issuer: application.card_certificate.0.clone(),
        card_serial: application.card_certificate.1.as_bytes().to_vec(),
        request_json: application.request.to_string(),
        submitted_at: to_micros(application.submitted_at)?,
        state,
        issued_at,
        failure,
        certificates,
        event,
        history: prepare_all(&accepted.history)?,
    })
}

fn prepare_certificate(
    application: &NewApplication,
    certificate: &NewCertificate,
) -> Result<PreparedCertificate, StoreError> {
    check_new_certificate(certificate)?;
    if !certificate.awaiting_registration || certificate.application.is_some() {
        return Err(StoreError::Invalid(
            "an application's certificates await registration and are linked by the store".into(),
        ));
    }
    if certificate.resident_id != application.resident_id
        || certificate.holder != Holder::Device(application.device_id.clone())
        || !application.kinds.contains(&certificate.kind)
    {
        return Err(StoreError::Invalid(
            "a certificate of an application is of its kinds, for its person and phone".into(),
        ));
    }
    Ok(PreparedCertificate {
        issuer_name: certificate.issuer_name.clone(),
        serial: certificate.serial.as_bytes().to_vec(),
        serial_number: certificate.serial.clone(),
        kind: certificate.kind.as_str(),
        subject_cn: certificate.subject_cn.clone(),
        not_before: to_micros(certificate.not_before)?,
        not_after: to_micros(certificate.not_after)?,
        der: certificate.der.clone(),
        issued_at: to_micros(certificate.issued_at)?,
        renewal_of: certificate
            .renewal_of
            .as_ref()
            .map(|(issuer, serial)| (issuer.clone(), serial.as_bytes().to_vec())),
        crl_shard: i64::from(certificate.crl_shard),
    })
}

/// Writes one prepared job inside a write transaction (see the module docs).
pub(crate) trait WriteAcceptance {
    /// Steps 1 to 5; the usage lines are appended for the whole batch (`write_batch`).
    async fn write_acceptance(
        &mut self,
        job: &PreparedAcceptance,
    ) -> Result<ApplicationRecord, StoreError>;
}

/// Whether every certificate a new one renews, `(issuer, serial)`, is recorded: one
/// query for all of them (both write paths).
macro_rules! renewed_all_recorded {
    ($builder:ty, $connection:expr, $renewed:expr) => {{
        let renewed: &[&(String, Vec<u8>)] = $renewed;
        if renewed.is_empty() {
            true
        } else {
            let mut lookup = <$builder>::new("SELECT issuer_name, serial FROM certificates WHERE ");
            let mut any = lookup.separated(" OR ");
            for (issuer, serial) in renewed {
                any.push("(issuer_name = ")
                    .push_bind_unseparated(issuer.as_str())
                    .push_unseparated(" AND serial = ")
                    .push_bind_unseparated(serial.as_slice())
                    .push_unseparated(")");
            }
            let found = lookup
                .build()
                .fetch_all($connection)
                .await
                .map_err(db(OPERATION))?
                .iter()
                .map(|row| Ok((row.text("issuer_name")?, row.bytes("serial")?)))
                .collect::<Result<Vec<(String, Vec<u8>)>, StoreError>>()?;
            renewed.iter().all(|old| found.contains(old))
        }
    }};
}

/// The multi-row `INSERT` of new certificates, pending and held by the job's phone, from
/// `(job, certificate)` pairs (both write paths: a job alone and a batch together).
macro_rules! insert_pending_certificates {
    ($builder:ty, $rows:expr, $status:expr) => {{
        let status = $status;
        let mut insert = <$builder>::new(
            "INSERT INTO certificates \
             (issuer_name, serial, kind, resident_id, card_id, device_id, subject_cn, \
              not_before, not_after, der, issued_at, renewal_of_issuer, renewal_of_serial, \
              status, held_since, revoked_at, revocation_reason, crl_shard, status_changed_at) ",
        );
        insert.push_values($rows, |mut row, (job, certificate)| {
            row.push_bind(certificate.issuer_name.as_str())
                .push_bind(certificate.serial.as_slice())
                .push_bind(certificate.kind)
                .push_bind(job.resident_id)
                .push("NULL")
                .push_bind(job.device_id.as_str())
                .push_bind(certificate.subject_cn.as_str())
                .push_bind(certificate.not_before)
                .push_bind(certificate.not_after)
                .push_bind(certificate.der.as_slice())
                .push_bind(certificate.issued_at)
                .push_bind(
                    certificate
                        .renewal_of
                        .as_ref()
                        .map(|(issuer, _)| issuer.as_str()),
                )
                .push_bind(
                    certificate
                        .renewal_of
                        .as_ref()
                        .map(|(_, serial)| serial.as_slice()),
                )
                .push_bind(status)
                .push("NULL")
                .push("NULL")
                .push("NULL")
                .push_bind(certificate.crl_shard)
                .push_bind(certificate.issued_at);
        });
        insert
    }};
}

/// Implements [`WriteAcceptance`] for a transaction type, given the driver's statement
/// builder and `query` function (sqlx's, or `crate::direct`'s).
macro_rules! impl_write_acceptance {
    ($transaction:ty, $builder:ty, $query:path) => {
        impl WriteAcceptance for $transaction {
            async fn write_acceptance(
                &mut self,
                job: &PreparedAcceptance,
            ) -> Result<ApplicationRecord, StoreError> {
                // Step 1: the nonce.
                if let Some((nonce, purpose)) = &job.nonce {
                    let consumed = $query(
                        "UPDATE nonces SET used_at = $3 \
                         WHERE nonce = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
                    )
                    .bind(nonce)
                    .bind(purpose)
                    .bind(job.at)
                    .execute(&mut **self)
                    .await
                    .map_err(db(OPERATION))?;
                    if consumed.rows_affected() == 0 {
                        let row = $query(
                            "SELECT purpose, expires_at, used_at FROM nonces WHERE nonce = $1",
                        )
                        .bind(nonce)
                        .fetch_optional(&mut **self)
                        .await
                        .map_err(db(OPERATION))?;
                        return Err(nonce_failure(row.as_ref(), purpose)?.into());
                    }
                }
                // Step 2: the phone, its token, its person.
                $query(
                    "INSERT INTO devices (device_id, token_hash, resident_id, state, created_at, updated_at) \
                     VALUES ($1, $2, $3, 'active', $4, $4) \
                     ON CONFLICT (device_id) DO UPDATE SET token_hash = $2, resident_id = $3, \
                     state = 'active', updated_at = $4",
                )
                .bind(&job.device_id)
                .bind(&job.token_hash)
                .bind(job.resident_id)
                .bind(job.at)
                .execute(&mut **self)
                .await
                .map_err(unique_conflict(OPERATION, "the phone could not be saved"))?;
                // Step 3: the application.
                let insert = format!(
                    "INSERT INTO applications (public_id, resident_id, device_id, kinds, card_issuer, \
                     card_serial, request_json, state, submitted_at, issued_at, failure) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {APPLICATION_COLUMNS}"
                );
                let row = $query(sqlx::AssertSqlSafe(insert.as_str()))
                    .bind(&job.public_id)
                    .bind(job.resident_id)
                    .bind(&job.device_id)
                    .bind(&job.kinds)
                    .bind(&job.card_issuer)
                    .bind(&job.card_serial)
                    .bind(&job.request_json)
                    .bind(job.state)
                    .bind(job.submitted_at)
                    .bind(job.issued_at)
                    .bind(job.failure.as_deref())
                    .fetch_one(&mut **self)
                    .await
                    .map_err(unique_conflict(
                        OPERATION,
                        "an application with this id exists",
                    ))?;
                let record = application_from_row(&row)?;
                // Step 4: the certificates, each under a serial never used before: a
                // multi-row statement for all of the job's certificates per table.
                if !job.certificates.is_empty() {
                    let pending = StatusColumns::encode(&CertificateStatus::Pending)?;
                    let mut reserve = <$builder>::new(
                        "INSERT INTO serials (issuer_name, serial, reserved_at) ",
                    );
                    reserve.push_values(&job.certificates, |mut row, certificate| {
                        row.push_bind(certificate.issuer_name.as_str())
                            .push_bind(certificate.serial.as_slice())
                            .push_bind(certificate.issued_at);
                    });
                    reserve.push(" ON CONFLICT DO NOTHING RETURNING issuer_name, serial");
                    let reserved = reserve
                        .build()
                        .fetch_all(&mut **self)
                        .await
                        .map_err(db(OPERATION))?;
                    if reserved.len() != job.certificates.len() {
                        let reserved = reserved
                            .iter()
                            .map(|row| Ok((row.text("issuer_name")?, row.bytes("serial")?)))
                            .collect::<Result<Vec<(String, Vec<u8>)>, StoreError>>()?;
                        let taken = job
                            .certificates
                            .iter()
                            .find(|certificate| {
                                !reserved.iter().any(|(issuer, serial)| {
                                    *issuer == certificate.issuer_name
                                        && *serial == certificate.serial
                                })
                            })
                            .unwrap_or(&job.certificates[0]);
                        return Err(StoreError::SerialInUse {
                            issuer: taken.issuer_name.clone(),
                            serial: taken.serial_number.clone(),
                        });
                    }
                    let renewed: Vec<&(String, Vec<u8>)> = job
                        .certificates
                        .iter()
                        .filter_map(|certificate| certificate.renewal_of.as_ref())
                        .collect();
                    if !renewed_all_recorded!($builder, &mut **self, &renewed) {
                        return Err(StoreError::not_found(
                            "the certificate named in renewal_of",
                        ));
                    }
                    let mut insert = insert_pending_certificates!(
                        $builder,
                        job.certificates.iter().map(|certificate| (job, certificate)),
                        pending.status
                    );
                    insert
                        .build()
                        .execute(&mut **self)
                        .await
                        .map_err(unique_conflict(
                            OPERATION,
                            "a certificate is already recorded under this serial",
                        ))?;
                    let mut link = <$builder>::new(
                        "INSERT INTO application_certificates (application_id, issuer_name, serial) ",
                    );
                    link.push_values(&job.certificates, |mut row, certificate| {
                        row.push_bind(record.id.0)
                            .push_bind(certificate.issuer_name.as_str())
                            .push_bind(certificate.serial.as_slice());
                    });
                    link.build()
                        .execute(&mut **self)
                        .await
                        .map_err(db(OPERATION))?;
                }
                // Step 5: the phone's notification.
                if let Some((kind, payload)) = &job.event {
                    $query(INSERT_EVENT)
                        .bind(&job.device_id)
                        .bind(kind)
                        .bind(payload)
                        .bind(job.issued_at.unwrap_or(job.at))
                        .fetch_one(&mut **self)
                        .await
                        .map_err(db(OPERATION))?;
                }
                // Step 6, the usage lines, is the batch's: `write_batch`.
                Ok(record)
            }
        }
    };
}

impl_write_acceptance!(
    Transaction<'_, Postgres>,
    sqlx::QueryBuilder<Postgres>,
    sqlx::query
);
impl_write_acceptance!(DirectTransaction<'_>, direct::QueryBuilder, direct::query);

/// Steps 1 to 5 of every job of a batch at once, each step one statement for all the
/// jobs; used when the batch has more than one job. Any shortfall (a nonce not
/// consumed, a serial taken, a renewal not found) or database error is `Err` and the
/// caller rolls the whole transaction back and writes the jobs one savepoint each,
/// which finds the job at fault and gives it its own error.
pub(crate) trait WriteAcceptances {
    async fn write_acceptances(
        &mut self,
        jobs: &[PreparedAcceptance],
    ) -> Result<Vec<ApplicationRecord>, StoreError>;
}

fn shortfall(what: &str) -> StoreError {
    StoreError::Invalid(format!("batched write: {what}"))
}

/// Implements [`WriteAcceptances`] as `impl_write_acceptance!` does [`WriteAcceptance`].
macro_rules! impl_write_acceptances {
    ($transaction:ty, $builder:ty, $query:path) => {
        impl WriteAcceptances for $transaction {
            async fn write_acceptances(
                &mut self,
                jobs: &[PreparedAcceptance],
            ) -> Result<Vec<ApplicationRecord>, StoreError> {
                // Step 1: the nonces, every one consumed or the batch falls back.
                let nonces: Vec<(&Vec<u8>, &String, i64)> = jobs
                    .iter()
                    .filter_map(|job| job.nonce.as_ref().map(|(n, p)| (n, p, job.at)))
                    .collect();
                if !nonces.is_empty() {
                    let mut update =
                        <$builder>::new("UPDATE nonces SET used_at = CASE");
                    for (nonce, _, at) in &nonces {
                        update
                            .push(" WHEN nonce = ")
                            .push_bind(nonce.as_slice())
                            .push(" THEN ")
                            .push_bind(*at);
                    }
                    update.push(" END WHERE ");
                    let mut any = update.separated(" OR ");
                    for (nonce, purpose, at) in &nonces {
                        any.push("(nonce = ")
                            .push_bind_unseparated(nonce.as_slice())
                            .push_unseparated(" AND purpose = ")
                            .push_bind_unseparated(purpose.as_str())
                            .push_unseparated(" AND used_at IS NULL AND expires_at > ")
                            .push_bind_unseparated(*at)
                            .push_unseparated(")");
                    }
                    update.push(" RETURNING nonce");
                    let consumed = update
                        .build()
                        .fetch_all(&mut **self)
                        .await
                        .map_err(db(OPERATION))?;
                    if consumed.len() != nonces.len() {
                        return Err(shortfall("a nonce was not consumed"));
                    }
                }
                // Step 2: the phones, each once with the last job's values (what writing
                // the jobs in order leaves), created at its first job's time.
                let mut devices: Vec<(&PreparedAcceptance, i64)> = Vec::new();
                for job in jobs {
                    match devices.iter_mut().find(|(last, _)| last.device_id == job.device_id) {
                        Some(entry) => entry.0 = job,
                        None => devices.push((job, job.at)),
                    }
                }
                let mut upsert = <$builder>::new(
                    "INSERT INTO devices (device_id, token_hash, resident_id, state, created_at, updated_at) ",
                );
                upsert.push_values(&devices, |mut row, (job, created_at)| {
                    row.push_bind(job.device_id.as_str())
                        .push_bind(job.token_hash.as_slice())
                        .push_bind(job.resident_id)
                        .push("'active'")
                        .push_bind(*created_at)
                        .push_bind(job.at);
                });
                upsert.push(
                    " ON CONFLICT (device_id) DO UPDATE SET token_hash = excluded.token_hash, \
                     resident_id = excluded.resident_id, state = 'active', \
                     updated_at = excluded.updated_at",
                );
                upsert
                    .build()
                    .execute(&mut **self)
                    .await
                    .map_err(db(OPERATION))?;
                // Step 3: the applications.
                let mut insert = <$builder>::new(
                    "INSERT INTO applications (public_id, resident_id, device_id, kinds, card_issuer, \
                     card_serial, request_json, state, submitted_at, issued_at, failure) ",
                );
                insert.push_values(jobs, |mut row, job| {
                    row.push_bind(job.public_id.as_str())
                        .push_bind(job.resident_id)
                        .push_bind(job.device_id.as_str())
                        .push_bind(job.kinds.as_str())
                        .push_bind(job.card_issuer.as_str())
                        .push_bind(job.card_serial.as_slice())
                        .push_bind(job.request_json.as_str())
                        .push_bind(job.state)
                        .push_bind(job.submitted_at)
                        .push_bind(job.issued_at)
                        .push_bind(job.failure.as_deref());
                });
                insert.push(" RETURNING ");
                insert.push(APPLICATION_COLUMNS);
                let mut written = Vec::with_capacity(jobs.len());
                for row in insert
                    .build()
                    .fetch_all(&mut **self)
                    .await
                    .map_err(db(OPERATION))?
                {
                    written.push(application_from_row(&row)?);
                }
                let mut records = Vec::with_capacity(jobs.len());
                for job in jobs {
                    let index = written
                        .iter()
                        .position(|record| record.public_id == job.public_id)
                        .ok_or_else(|| shortfall("an application was not written"))?;
                    records.push(written.swap_remove(index));
                }
                // Step 4: the certificates of every job.
                let certificates: Vec<(&PreparedAcceptance, &ApplicationRecord, &PreparedCertificate)> =
                    jobs.iter()
                        .zip(&records)
                        .flat_map(|(job, record)| {
                            job.certificates.iter().map(move |certificate| (job, record, certificate))
                        })
                        .collect();
                if !certificates.is_empty() {
                    let pending = StatusColumns::encode(&CertificateStatus::Pending)?;
                    let mut reserve = <$builder>::new(
                        "INSERT INTO serials (issuer_name, serial, reserved_at) ",
                    );
                    reserve.push_values(&certificates, |mut row, (_, _, certificate)| {
                        row.push_bind(certificate.issuer_name.as_str())
                            .push_bind(certificate.serial.as_slice())
                            .push_bind(certificate.issued_at);
                    });
                    reserve.push(" ON CONFLICT DO NOTHING RETURNING serial");
                    let reserved = reserve
                        .build()
                        .fetch_all(&mut **self)
                        .await
                        .map_err(db(OPERATION))?;
                    if reserved.len() != certificates.len() {
                        return Err(shortfall("a serial is taken"));
                    }
                    let renewed: Vec<&(String, Vec<u8>)> = certificates
                        .iter()
                        .filter_map(|(_, _, certificate)| certificate.renewal_of.as_ref())
                        .collect();
                    if !renewed_all_recorded!($builder, &mut **self, &renewed) {
                        return Err(shortfall("a renewed certificate is not found"));
                    }
                    let mut insert = insert_pending_certificates!(
                        $builder,
                        certificates.iter().map(|(job, _, certificate)| (*job, *certificate)),
                        pending.status
                    );
                    insert
                        .build()
                        .execute(&mut **self)
                        .await
                        .map_err(db(OPERATION))?;
                    let mut link = <$builder>::new(
                        "INSERT INTO application_certificates (application_id, issuer_name, serial) ",
                    );
                    link.push_values(&certificates, |mut row, (_, record, certificate)| {
                        row.push_bind(record.id.0)
                            .push_bind(certificate.issuer_name.as_str())
                            .push_bind(certificate.serial.as_slice());
                    });
                    link.build()
                        .execute(&mut **self)
                        .await
                        .map_err(db(OPERATION))?;
                }
                // Step 5: the phones' notifications, in job order.
                let events: Vec<(&PreparedAcceptance, &(String, String))> = jobs
                    .iter()
                    .filter_map(|job| job.event.as_ref().map(|event| (job, event)))
                    .collect();
                if !events.is_empty() {
                    let mut insert = <$builder>::new(
                        "INSERT INTO device_events (device_id, kind, payload_json, created_at) ",
                    );
                    insert.push_values(&events, |mut row, (job, (kind, payload))| {
                        row.push_bind(job.device_id.as_str())
                            .push_bind(kind.as_str())
                            .push_bind(payload.as_str())
                            .push_bind(job.issued_at.unwrap_or(job.at));
                    });
                    insert
                        .build()
                        .execute(&mut **self)
                        .await
                        .map_err(db(OPERATION))?;
                }
                Ok(records)
            }
        }
    };
}

impl_write_acceptances!(
    Transaction<'_, Postgres>,
    sqlx::QueryBuilder<Postgres>,
    sqlx::query
);
impl_write_acceptances!(DirectTransaction<'_>, direct::QueryBuilder, direct::query);

/// Jobs handed to the writer together (one, or a test's batch), and where their
/// answers go.
struct Job {
    work: Vec<PreparedAcceptance>,
    reply: oneshot::Sender<Vec<Result<ApplicationRecord, StoreError>>>,
}

/// The writer of one [`Store`] (and its clones), started on first use.
#[derive(Default)]
pub(crate) struct GroupCommit {
    sender: Mutex<Option<mpsc::UnboundedSender<Job>>>,
}

impl fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GroupCommit")
    }
}

impl Store {
    pub(crate) async fn accept_grouped(
        &self,
        accepted: &AcceptedApplication,
    ) -> Result<ApplicationRecord, StoreError> {
        let work = vec![prepare(accepted)?];
        self.submit_to_writer(work)
            .await?
            .pop()
            .ok_or_else(writer_gone)?
    }

    async fn submit_to_writer(
        &self,
        work: Vec<PreparedAcceptance>,
    ) -> Result<Vec<Result<ApplicationRecord, StoreError>>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writer()?
            .send(Job { work, reply })
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())
    }

    /// The writer's queue, starting the writer if there is none yet (or it stopped).
    ///
    /// The writer is a thread of its own with a single-threaded runtime and its own
    /// connection. A batch is a few dozen statements, each a round trip the writer waits
    /// for; on the shared runtime every one of those waits ended behind whatever CPU
    /// work (signature checks, JSON, RSA signing) the workers were doing, which made the
    /// writer, and so every application, several times slower than the database. On
    /// SQLite the statements run on this thread itself (`crate::direct`), not handed to
    /// a connection thread one by one.
    fn writer(&self) -> Result<mpsc::UnboundedSender<Job>, StoreError> {
        let mut sender = self.group_commit.sender.lock().map_err(|_| writer_gone())?;
        if let Some(sender) = sender.as_ref().filter(|sender| !sender.is_closed()) {
            return Ok(sender.clone());
        }
        // A closed store writes nothing more, through the writer's own connection either.
        let closed = match &self.backend {
            Backend::Sqlite(pool, _) => pool.is_closed(),
            Backend::Postgres(pool) => pool.is_closed(),
        };
        if closed {
            return Err(StoreError::Database {
                operation: OPERATION,
                code: None,
                message: "the store is closed".into(),
            });
        }
        let (new_sender, receiver) = mpsc::unbounded_channel();
        // The usage append's multi-row INSERTs have a text per row count (`crate::usage`):
        // room for all of them prepared, next to the writer's other statements.
        let options = match &self.backend {
            Backend::Sqlite(pool, _) => {
                WriterOptions::Sqlite(pool.connect_options().get_filename().to_path_buf())
            }
            Backend::Postgres(pool) => WriterOptions::Postgres(Arc::new(
                pool.connect_options()
                    .as_ref()
                    .clone()
                    .statement_cache_capacity(WRITER_STATEMENT_CACHE),
            )),
        };
        // The thread holds the connection options and the pseudonym key, never the
        // `Store`: when the last clone of the store is dropped (or it is closed), the
        // queue closes and the thread ends, closing its connection.
        let pseudonym = Arc::clone(&self.log_pseudonym);
        std::thread::Builder::new()
            .name("jpki-store-writer".into())
            .spawn(move || {
                // Without a runtime the queue is dropped unread, and every caller is
                // told the writer stopped.
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(run_writer(options, pseudonym, receiver));
                }
            })
            .map_err(|error| StoreError::Database {
                operation: OPERATION,
                code: None,
                message: format!("cannot start the store's writer: {error}"),
            })?;
        *sender = Some(new_sender.clone());
        Ok(new_sender)
    }

    /// Stops the writer (its thread ends once the jobs already queued are answered).
    pub(crate) fn stop_writer(&self) {
        if let Ok(mut sender) = self.group_commit.sender.lock() {
            sender.take();
        }
    }
}

fn writer_gone() -> StoreError {
    StoreError::Database {
        operation: OPERATION,
        code: None,
        message: "the store's writer stopped before answering; the application may or may not be recorded"
            .into(),
    }
}

enum WriterOptions {
    /// The database file, opened on the writer's thread (`crate::direct`).
    Sqlite(PathBuf),
    Postgres(Arc<PgConnectOptions>),
}

enum WriterConnection {
    Sqlite(DirectConnection),
    Postgres(PgConnection),
}

impl WriterOptions {
    async fn connect(&self) -> Result<WriterConnection, StoreError> {
        match self {
            Self::Sqlite(path) => {
                DirectConnection::open(path, SQLITE_BUSY_TIMEOUT, WRITER_STATEMENT_CACHE)
                    .map(WriterConnection::Sqlite)
                    .map_err(db(OPERATION))
            }
            Self::Postgres(options) => PgConnection::connect_with(options)
                .await
                .map(WriterConnection::Postgres)
                .map_err(db(OPERATION)),
        }
    }
}

async fn run_writer(
    options: WriterOptions,
    pseudonym: Arc<OnceLock<PseudonymKey>>,
    mut receiver: mpsc::UnboundedReceiver<Job>,
) {
    let mut connection: Option<WriterConnection> = None;
    while let Some(first) = receiver.recv().await {
        // The batch is whatever queued while the previous one was being written and
        // committed; the writer never waits for more.
        let mut batch = vec![first];
        let mut jobs = batch[0].work.len();
        while jobs < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => {
                    jobs += job.work.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(batch.len());
        let mut work = Vec::with_capacity(jobs);
        for job in batch {
            replies.push((job.reply, job.work.len()));
            work.extend(job.work);
        }
        let key = pseudonym.get();
        let results = match write_on(&mut connection, &options, key, &work).await {
            Err(BatchFailure::Log(_)) if work.len() > 1 => {
                // The batch's usage lines could not be appended (a person's first line
                // without the pseudonym key, say): nothing was committed. Each job is
                // written again alone, so that only the jobs at fault fail.
                let mut results = Vec::with_capacity(work.len());
                for job in &work {
                    match write_on(&mut connection, &options, key, std::slice::from_ref(job)).await
                    {
                        Ok(mut result) => results.append(&mut result),
                        Err(BatchFailure::Log(error) | BatchFailure::Transaction(error)) => {
                            results.push(Err(error));
                        }
                    }
                }
                results
            }
            Ok(results) => results,
            Err(BatchFailure::Log(error) | BatchFailure::Transaction(error)) => {
                work.iter().map(|_| Err(copy_error(&error))).collect()
            }
        };
        let mut results = results.into_iter();
        for (reply, size) in replies {
            // A caller that stopped waiting still had its job committed, like a client
            // that disconnects after the commit.
            let _ = reply.send(results.by_ref().take(size).collect());
        }
    }
}

fn copy_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Database { code, message, .. } => StoreError::Database {
            operation: OPERATION,
            code: code.clone(),
            message: message.clone(),
        },
        other => StoreError::Database {
            operation: OPERATION,
            code: None,
            message: other.to_string(),
        },
    }
}

/// Why a batch wrote nothing at all.
enum BatchFailure {
    /// The transaction itself (connect, begin, a savepoint, the commit): the database
    /// error is every job's, as a lone transaction's caller would get it.
    Transaction(StoreError),
    /// Appending the batch's usage lines.
    Log(StoreError),
}

/// [`write_batch`] on the writer's connection, opening it first if needed; after a
/// failure of the transaction itself the next batch starts on a new connection.
async fn write_on(
    connection: &mut Option<WriterConnection>,
    options: &WriterOptions,
    key: Option<&PseudonymKey>,
    jobs: &[PreparedAcceptance],
) -> Result<Vec<Result<ApplicationRecord, StoreError>>, BatchFailure> {
    let open = match connection {
        Some(open) => open,
        None => connection.insert(options.connect().await.map_err(BatchFailure::Transaction)?),
    };
    let written = write_batch(open, key, jobs).await;
    if matches!(written, Err(BatchFailure::Transaction(_))) {
        *connection = None;
    }
    written
}

/// Writes `jobs` in one transaction on `connection`; one result per job, in order. A
/// job's error is its own (its savepoint is rolled back, the others commit). The usage
/// lines of every job that succeeded are appended last, in job order, in one append:
/// the log's lock is taken once per batch, and held only for those lines and the
/// commit. A lone job's failure to append is its own result.
async fn write_batch(
    connection: &mut WriterConnection,
    key: Option<&PseudonymKey>,
    jobs: &[PreparedAcceptance],
) -> Result<Vec<Result<ApplicationRecord, StoreError>>, BatchFailure> {
    // The body is compiled once per backend, as `dispatch!` does for `Store` methods.
    macro_rules! in_one_transaction {
        ($begin:expr, $raw_sql:path) => {{
            let failed = |error| BatchFailure::Transaction(db(OPERATION)(error));
            // Several jobs: first all of them at once, a statement per step for the
            // whole batch (`write_acceptances`); if any job fails there, nothing of that
            // attempt is kept and the jobs are written again below, a savepoint each.
            if jobs.len() > 1 {
                let mut tx = $begin.await.map_err(failed)?;
                match tx.write_acceptances(jobs).await {
                    Ok(records) => {
                        let history: Vec<PreparedUsage> = jobs
                            .iter()
                            .flat_map(|job| job.history.iter().cloned())
                            .collect();
                        if let Err(error) = tx.append_usage_rows(key, &history, OPERATION).await {
                            tx.rollback().await.map_err(failed)?;
                            return Err(BatchFailure::Log(error));
                        }
                        tx.commit().await.map_err(failed)?;
                        return Ok(records.into_iter().map(Ok).collect());
                    }
                    Err(_) => tx.rollback().await.map_err(failed)?,
                }
            }
            let mut tx = $begin.await.map_err(failed)?;
            let mut results = Vec::with_capacity(jobs.len());
            // A lone job needs no savepoint: if it fails, the whole transaction rolls
            // back below. Between two jobs, ending one job's savepoint and opening the
            // next one's is a single round trip.
            let grouped = jobs.len() > 1;
            if grouped {
                $raw_sql("SAVEPOINT accept_job")
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
            }
            for (index, job) in jobs.iter().enumerate() {
                let result = tx.write_acceptance(job).await;
                if grouped {
                    let end = if result.is_err() {
                        "ROLLBACK TO SAVEPOINT accept_job; RELEASE SAVEPOINT accept_job"
                    } else {
                        "RELEASE SAVEPOINT accept_job"
                    };
                    let next = if index + 1 < jobs.len() {
                        "; SAVEPOINT accept_job"
                    } else {
                        ""
                    };
                    $raw_sql(sqlx::AssertSqlSafe(format!("{end}{next}")))
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                }
                results.push(result);
            }
            // Step 6 of every job that succeeded.
            let history: Vec<PreparedUsage> = jobs
                .iter()
                .zip(&results)
                .filter(|(_, result)| result.is_ok())
                .flat_map(|(job, _)| job.history.iter().cloned())
                .collect();
            if let Err(error) = tx.append_usage_rows(key, &history, OPERATION).await {
                tx.rollback().await.map_err(failed)?;
                if grouped {
                    return Err(BatchFailure::Log(error));
                }
                return Ok(vec![Err(error)]);
            }
            if results.iter().any(Result::is_ok) {
                tx.commit().await.map_err(failed)?;
            } else {
                tx.rollback().await.map_err(failed)?;
            }
            Ok(results)
        }};
    }
    match connection {
        // As `BackendPool::begin_write`: SQLite takes the write lock up front.
        WriterConnection::Sqlite(connection) => {
            in_one_transaction!(connection.begin_with("BEGIN IMMEDIATE"), direct::raw_sql)
        }
        WriterConnection::Postgres(connection) => {
            in_one_transaction!(connection.begin(), sqlx::raw_sql)
        }
    }
}

#[cfg(feature = "testing")]
impl Store {
    /// Writes `applications` in one group commit, in order, as the writer does with
    /// jobs that queued together (jobs queued by other callers meanwhile may join the
    /// same transaction); for tests that need a known batch, such as one job failing
    /// among others. One result per application.
    pub async fn accept_applications_together(
        &self,
        applications: &[AcceptedApplication],
    ) -> Vec<Result<ApplicationRecord, StoreError>> {
        let mut results: Vec<Option<Result<ApplicationRecord, StoreError>>> = Vec::new();
        let mut jobs = Vec::new();
        for accepted in applications {
            match prepare(accepted) {
                Ok(job) => {
                    jobs.push(job);
                    results.push(None);
                }
                Err(error) => results.push(Some(Err(error))),
            }
        }
        let mut written = match self.submit_to_writer(jobs).await {
            Ok(written) => written.into_iter(),
            Err(error) => {
                return results
                    .into_iter()
                    .map(|result| result.unwrap_or_else(|| Err(copy_error(&error))))
                    .collect();
            }
        };
        results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| written.next().unwrap_or_else(|| Err(writer_gone())))
            })
            .collect()
    }
}
