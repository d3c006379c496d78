//! The data seams over `jpki-store`: [`StoreStatus`] implements [`StatusLookup`] and
//! [`RevocationSource`] with the store's read-only [`StatusStore`] view.
//!
//! - A **pending** phone certificate (issued, not registered) is answered as on hold
//!   since its issuance ([`KnownStatus::from_certificate_status`]).
//! - **Expired certificates leave the CRLs** (RFC 5280 §3.3 allows it): a full CRL lists
//!   the shard's held, pending and revoked certificates whose notAfter is not before
//!   the CRL's time. OCSP still answers for them.
//! - A database failure is [`StatusError::Backend`]: OCSP answers `tryLater`, a CRL is
//!   not published (the previous one stays served).

use std::sync::Arc;

use jpki_crypto::Clock;
use jpki_model::SerialNumber;
use jpki_store::{ListedCertificate, StatusStore, StoreError};
use time::OffsetDateTime;

use crate::{IssuerId, KnownStatus, RevocationSource, ShardId, StatusError, StatusLookup};

fn backend(error: StoreError) -> StatusError {
    StatusError::Backend(error.to_string())
}

fn known(listed: ListedCertificate) -> (SerialNumber, KnownStatus) {
    let status = KnownStatus::from_certificate_status(&listed.status, listed.issued_at);
    (listed.serial, status)
}

/// The statuses of the certificates in a `jpki-store` database.
#[derive(Debug, Clone)]
pub struct StoreStatus<S> {
    store: S,
    clock: Arc<dyn Clock>,
}

impl<S: StatusStore> StoreStatus<S> {
    /// `clock` decides which certificates have expired (they leave the CRLs).
    pub fn new(store: S, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S: StatusStore> StatusLookup for StoreStatus<S> {
    async fn status(
        &self,
        issuer: &IssuerId,
        serial: &SerialNumber,
    ) -> Result<Option<KnownStatus>, StatusError> {
        let record = self
            .store
            .certificate_status(issuer.as_str(), serial)
            .await
            .map_err(backend)?;
        Ok(record
            .map(|record| KnownStatus::from_certificate_status(&record.status, record.issued_at)))
    }
}

impl<S: StatusStore> RevocationSource for StoreStatus<S> {
    async fn revoked(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
    ) -> Result<Vec<(SerialNumber, KnownStatus)>, StatusError> {
        let now: OffsetDateTime = self.clock.now();
        let listed = self
            .store
            .listed_certificates(issuer.as_str(), shard.get(), now)
            .await
            .map_err(backend)?;
        Ok(listed.into_iter().map(known).collect())
    }

    async fn changed_since(
        &self,
        issuer: &IssuerId,
        shard: ShardId,
        since: OffsetDateTime,
    ) -> Result<Vec<(SerialNumber, KnownStatus)>, StatusError> {
        let changed = self
            .store
            .shard_changes_since(issuer.as_str(), shard.get(), since)
            .await
            .map_err(backend)?;
        Ok(changed.into_iter().map(known).collect())
    }
}
