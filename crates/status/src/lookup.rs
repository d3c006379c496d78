//! The data seams: what the responder and the CRL publisher read, as traits the lead
//! implements over the database, and [`InMemoryStatus`], which implements both for
//! tests, benchmarks and the embedded sandbox.
//!
//! The traits are async (a future that is `Send`, like `jpki-store`'s traits) because
//! the real backend is sqlx; the in-memory implementation answers immediately. They are
//! read-only on purpose: the status services never change a certificate's status
//! (ARCHITECTURE "narrow interfaces per consumer").

use std::collections::{BTreeMap, HashMap};
use std::future::{Future, ready};
use std::sync::{Arc, RwLock};

use jpki_model::{CertificateStatus, RevocationReason, SerialNumber};
use time::OffsetDateTime;

use crate::{IssuerId, ShardId, StatusError};

/// What the status services say about a certificate they know.
///
/// ```text
/// Good                      OCSP good;    not on a CRL
/// Held { since }            OCSP revoked, reason certificateHold, time `since`;
///                           CRL entry certificateHold (RFC 5280 §5.3.1, RFC 6960 §2.2)
/// Revoked { at, reason }    OCSP revoked; CRL entry with the reason (none for unspecified)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownStatus {
    Good,
    Held {
        since: OffsetDateTime,
    },
    Revoked {
        at: OffsetDateTime,
        reason: RevocationReason,
    },
}

impl KnownStatus {
    /// The status services' view of a lifecycle status. `Pending` (a phone certificate
    /// issued but not yet registered) is answered as on hold since `pending_since` (the
    /// lead passes the issuance time), as `jpki-model` prescribes; a `Revoked` record
    /// with reason `certificateHold` is a hold.
    pub fn from_certificate_status(
        status: &CertificateStatus,
        pending_since: OffsetDateTime,
    ) -> Self {
        match status {
            CertificateStatus::Active => Self::Good,
            CertificateStatus::Pending => Self::Held {
                since: pending_since,
            },
            CertificateStatus::Held { since }
            | CertificateStatus::Revoked {
                at: since,
                reason: RevocationReason::CertificateHold,
            } => Self::Held { since: *since },
            CertificateStatus::Revoked { at, reason } => Self::Revoked {
                at: *at,
                reason: *reason,
            },
        }
    }
}

/// The current status of a certificate, for the OCSP responder.
pub trait StatusLookup: Send + Sync {
    /// The status of the certificate `serial` of `issuer`; `Ok(None)` when that issuer
    /// never issued it (answered `unknown`). A backend failure is answered `tryLater`.
    fn status(
        &self,
        issuer: &IssuerId,
        serial: &SerialNumber,
    ) -> impl Future<Output = Result<Option<KnownStatus>, StatusError>> + Send;
}

/// The revoked and held certificates of one CRL shard, for the CRL publisher.
pub trait RevocationSource: Send + Sync {
    /// Every certificate of (`issuer`, `shard`) that is held or revoked now, with its
    /// status. (Good certificates, if returned, are ignored.) Whether expired
    /// certificates stay listed is the source's choice; RFC 5280 §3.3 allows dropping
    /// an entry once the certificate has expired.
    fn revoked(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
    ) -> impl Future<Output = Result<Vec<(SerialNumber, KnownStatus)>, StatusError>> + Send;

    /// Every certificate of (`issuer`, `shard`) whose status changed at or after
    /// `since`, with its current status (active for a released hold). A full CRL made
    /// at `since` must reflect every change before `since`.
    fn changed_since(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<(SerialNumber, KnownStatus)>, StatusError>> + Send;
}

impl<T: StatusLookup> StatusLookup for Arc<T> {
    fn status(
        &self,
        issuer: &IssuerId,
        serial: &SerialNumber,
    ) -> impl Future<Output = Result<Option<KnownStatus>, StatusError>> + Send {
        (**self).status(issuer, serial)
    }
}

impl<T: RevocationSource> RevocationSource for Arc<T> {
    fn revoked(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
    ) -> impl Future<Output = Result<Vec<(SerialNumber, KnownStatus)>, StatusError>> + Send {
        (**self).revoked(issuer, shard)
    }

    fn changed_since(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<(SerialNumber, KnownStatus)>, StatusError>> + Send {
        (**self).changed_since(issuer, shard, since)
    }
}

#[derive(Debug, Clone)]
struct Record {
    shard: ShardId,
    status: KnownStatus,
    changed_at: OffsetDateTime,
}

/// Certificate statuses in memory: a [`StatusLookup`] and a [`RevocationSource`].
#[derive(Debug, Default)]
pub struct InMemoryStatus {
    records: RwLock<HashMap<IssuerId, BTreeMap<SerialNumber, Record>>>,
}

impl InMemoryStatus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `serial` of `issuer` (in CRL shard `shard`) has `status` since
    /// `changed_at`. Issuance is [`KnownStatus::Good`].
    pub fn set(
        &self,
        issuer: &IssuerId,
        serial: &SerialNumber,
        shard: ShardId,
        status: KnownStatus,
        changed_at: OffsetDateTime,
    ) {
        let mut records = self
            .records
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        records.entry(issuer.clone()).or_default().insert(
            serial.clone(),
            Record {
                shard,
                status,
                changed_at,
            },
        );
    }

    /// Forgets a certificate (it becomes `unknown`).
    pub fn remove(&self, issuer: &IssuerId, serial: &SerialNumber) {
        let mut records = self
            .records
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(serials) = records.get_mut(issuer) {
            serials.remove(serial);
        }
    }

    /// The status now, without a future.
    pub fn current(&self, issuer: &IssuerId, serial: &SerialNumber) -> Option<KnownStatus> {
        let records = self
            .records
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        records
            .get(issuer)
            .and_then(|serials| serials.get(serial))
            .map(|record| record.status)
    }

    /// Number of certificates known.
    pub fn len(&self) -> usize {
        let records = self
            .records
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        records.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn collect(
        &self,
        issuer: &IssuerId,
        keep: impl Fn(&Record) -> bool,
    ) -> Vec<(SerialNumber, KnownStatus)> {
        let records = self
            .records
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        records
            .get(issuer)
            .map(|serials| {
                serials
                    .iter()
                    .filter(|(_, record)| keep(record))
                    .map(|(serial, record)| (serial.clone(), record.status))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl StatusLookup for InMemoryStatus {
    fn status(
        &self,
        issuer: &IssuerId,
        serial: &SerialNumber,
    ) -> impl Future<Output = Result<Option<KnownStatus>, StatusError>> + Send {
        ready(Ok(self.current(issuer, serial)))
    }
}

impl RevocationSource for InMemoryStatus {
    fn revoked(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
    ) -> impl Future<Output = Result<Vec<(SerialNumber, KnownStatus)>, StatusError>> + Send {
        ready(Ok(self.collect(issuer, |record| {
            record.shard == shard && record.status != KnownStatus::Good
        })))
    }

    fn changed_since(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<(SerialNumber, KnownStatus)>, StatusError>> + Send {
        ready(Ok(self.collect(issuer, |record| {
            record.shard == shard && record.changed_at >= since
        })))
    }
}
