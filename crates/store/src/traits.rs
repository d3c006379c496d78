//! One trait per consumer, each the narrowest view that consumer needs (Boulder's
//! storage-authority split). [`crate::Store`] implements them all; a component takes
//! only the trait it needs (`fn new(store: impl CaStore)`), so the CA cannot list
//! residents and the status services cannot write anything but status.
//!
//! Methods return `impl Future + Send` rather than being `async fn`, so that callers
//! in multi-threaded runtimes can rely on the future being `Send`. The traits are
//! therefore not object-safe: take them as generics.

use std::future::Future;

use jpki_model::{BirthDate, CertificateStatus, MyNumber, SerialNumber};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::records::{
    ApplicationId, ApplicationRecord, AuditEntry, AuditId, AuditRecord, AuthorityRecord,
    CardRecord, CertificateRecord, ConsumedNonce, DeviceEvent, DeviceRecord, HistoryEntry, Holder,
    NewApplication, NewCertificate, NewNonce, NewResident, RegistrationOutcome, Resident,
    ResidentChange, ResidentId, UsageEntry, UsageRecord,
};

/// The resident registry: the municipality's view.
pub trait RegistryStore: Send + Sync {
    /// Registers a resident and writes history entry 1 (`Registered`) in one
    /// transaction. [`StoreError::Conflict`] if the My Number is already registered.
    fn add_resident(
        &self,
        resident: &NewResident,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Resident, StoreError>> + Send;

    fn resident(
        &self,
        id: ResidentId,
    ) -> impl Future<Output = Result<Option<Resident>, StoreError>> + Send;

    fn resident_by_my_number(
        &self,
        my_number: &MyNumber,
    ) -> impl Future<Output = Result<Option<Resident>, StoreError>> + Send;

    /// Residents whose current name and date of birth match exactly, and whose current
    /// address matches exactly when one is given. Ordered by id.
    fn find_residents(
        &self,
        name: &str,
        date_of_birth: BirthDate,
        address: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Resident>, StoreError>> + Send;

    /// Residents with an id greater than `after`, in id order, at most `limit` of them
    /// (capped at [`crate::MAX_PAGE_SIZE`]).
    fn list_residents(
        &self,
        after: Option<ResidentId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Resident>, StoreError>> + Send;

    /// Applies a change: replaces the current record and appends a history entry, in one
    /// transaction. `Death` also marks the resident deceased. Refused with
    /// [`StoreError::ResidentDeceased`] for a deceased resident and
    /// [`StoreError::NotFound`] for an unknown one.
    fn record_change(
        &self,
        id: ResidentId,
        change: &ResidentChange,
    ) -> impl Future<Output = Result<Resident, StoreError>> + Send;

    /// The resident's history, oldest first (empty for an unknown resident).
    fn resident_history(
        &self,
        id: ResidentId,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, StoreError>> + Send;
}

/// The certification authority's view: its own certificates, serials and what it
/// issued. It cannot list or search residents.
pub trait CaStore: Send + Sync {
    /// Saves a CA certificate generation. [`StoreError::Conflict`] if this exact
    /// certificate is already saved under this name.
    fn save_authority(
        &self,
        authority: &AuthorityRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The newest generation saved under `name` (latest `created_at`, then latest
    /// saved), if any.
    fn active_authority(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<AuthorityRecord>, StoreError>> + Send;

    /// Every generation, by name, oldest first.
    fn authorities(&self) -> impl Future<Output = Result<Vec<AuthorityRecord>, StoreError>> + Send;

    /// Persists a serial for `issuer_name` before anything is signed with it.
    /// [`StoreError::Conflict`] if it was ever reserved for that issuer, even by a
    /// concurrent caller: a serial is never handed out twice.
    fn reserve_serial(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a signed certificate with status `Active`. Requires the serial to be
    /// reserved ([`StoreError::SerialNotReserved`]), the resident to exist, a card
    /// holder to be a recorded card of that resident, and `renewal_of` (if any) to be
    /// recorded ([`StoreError::NotFound`]); [`StoreError::Conflict`] if a certificate
    /// is already recorded under this serial.
    fn record_certificate(
        &self,
        certificate: &NewCertificate,
    ) -> impl Future<Output = Result<CertificateRecord, StoreError>> + Send;
}

/// The read side of certificates (portal, status services, CLI), plus the status
/// compare-and-set that the lifecycle state machine builds on.
pub trait CertificateStore: Send + Sync {
    fn certificate(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
    ) -> impl Future<Output = Result<Option<CertificateRecord>, StoreError>> + Send;

    /// Ordered by issue time, then issuer and serial.
    fn certificates_of_resident(
        &self,
        resident_id: ResidentId,
    ) -> impl Future<Output = Result<Vec<CertificateRecord>, StoreError>> + Send;

    /// Ordered by issue time, then issuer and serial.
    fn certificates_of_holder(
        &self,
        holder: &Holder,
    ) -> impl Future<Output = Result<Vec<CertificateRecord>, StoreError>> + Send;

    /// Sets the status to `new` only if it is exactly `expected` now (timestamps
    /// compared to the microsecond). [`StoreError::Conflict`] and nothing changed if
    /// it is not; [`StoreError::NotFound`] for an unknown certificate. The store does
    /// not judge the transition itself: that is the lifecycle's job.
    fn set_status(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
        expected: &CertificateStatus,
        new: &CertificateStatus,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// My Number cards issued to residents.
pub trait CardStore: Send + Sync {
    /// [`StoreError::Conflict`] for a card id already recorded, [`StoreError::NotFound`]
    /// for an unknown resident.
    fn record_card(&self, card: &CardRecord)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    fn card(
        &self,
        card_id: &str,
    ) -> impl Future<Output = Result<Option<CardRecord>, StoreError>> + Send;

    /// Ordered by issue time, then card id.
    fn cards_of_resident(
        &self,
        resident_id: ResidentId,
    ) -> impl Future<Output = Result<Vec<CardRecord>, StoreError>> + Send;
}

/// Single-use challenges (application nonces, login challenges).
pub trait NonceStore: Send + Sync {
    /// [`StoreError::Conflict`] if this value was already issued (and not purged).
    fn issue_nonce(&self, nonce: &NewNonce) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks the nonce used and returns it, atomically: of any number of concurrent
    /// callers, exactly one succeeds. Failures are [`StoreError::Nonce`] with
    /// [`crate::NonceError`] `Unknown`, `WrongPurpose` (the nonce stays usable for its
    /// own purpose), `AlreadyUsed` or `Expired` (`now >= expires_at`), checked in that
    /// order.
    fn consume_nonce(
        &self,
        value: &[u8],
        purpose: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<ConsumedNonce, StoreError>> + Send;

    /// Deletes nonces that expired at or before `before`, used or not; returns how many.
    fn purge_expired_nonces(
        &self,
        before: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// The audit log: append and read, nothing else.
pub trait AuditStore: Send + Sync {
    fn append(
        &self,
        entry: &AuditEntry,
    ) -> impl Future<Output = Result<AuditId, StoreError>> + Send;

    /// Every entry about `subject`, in append order.
    fn audit_entries(
        &self,
        subject: &str,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;
}

/// The phone flow's view (RA and portal): devices, applications, notifications and
/// each person's usage history.
pub trait PhoneStore: Send + Sync {
    /// Records a phone, or gives a known phone a new token and makes it active again.
    fn save_device(
        &self,
        device_id: &str,
        token_hash: &[u8],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<DeviceRecord, StoreError>> + Send;

    fn device(
        &self,
        device_id: &str,
    ) -> impl Future<Output = Result<Option<DeviceRecord>, StoreError>> + Send;

    /// Marks a phone wiped (it reported erasing its certificates).
    fn mark_device_wiped(
        &self,
        device_id: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records an accepted application (state queued) and binds the phone to the person.
    fn create_application(
        &self,
        application: &NewApplication,
    ) -> impl Future<Output = Result<ApplicationRecord, StoreError>> + Send;

    fn application(
        &self,
        public_id: &str,
    ) -> impl Future<Output = Result<Option<ApplicationRecord>, StoreError>> + Send;

    fn applications_of_resident(
        &self,
        resident_id: ResidentId,
    ) -> impl Future<Output = Result<Vec<ApplicationRecord>, StoreError>> + Send;

    /// Queued applications, oldest first.
    fn queued_applications(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ApplicationRecord>, StoreError>> + Send;

    /// The certificates recorded for an application.
    fn application_certificates(
        &self,
        id: ApplicationId,
    ) -> impl Future<Output = Result<Vec<CertificateRecord>, StoreError>> + Send;

    /// queued → issued, with the phone's `ready_to_register` event and the history lines,
    /// in one transaction.
    fn complete_issuance(
        &self,
        id: ApplicationId,
        at: OffsetDateTime,
        event: (&str, &serde_json::Value),
        history: &[UsageEntry],
    ) -> impl Future<Output = Result<ApplicationRecord, StoreError>> + Send;

    /// queued → failed.
    fn fail_application(
        &self,
        id: ApplicationId,
        reason: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// issued → registered, atomically with everything one phone per person implies:
    /// this application's certificates become active (or stay pending until
    /// `activate_at`); every other phone certificate of the person that this one
    /// replaces is revoked (superseded); other open applications are superseded; other
    /// phones get a `wipe` event; history lines are written. Concurrent registrations
    /// for one person are serialized: exactly one ends up active.
    fn register_application(
        &self,
        id: ApplicationId,
        at: OffsetDateTime,
        activate_at: OffsetDateTime,
    ) -> impl Future<Output = Result<RegistrationOutcome, StoreError>> + Send;

    /// Pending certificates of registered applications whose activation time has come
    /// become active; returns them.
    fn activate_due(
        &self,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<CertificateRecord>, StoreError>> + Send;

    fn append_event(
        &self,
        device_id: &str,
        kind: &str,
        payload: &serde_json::Value,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Events for a phone with `seq > after`, oldest first.
    fn events_after(
        &self,
        device_id: &str,
        after: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<DeviceEvent>, StoreError>> + Send;

    fn append_usage(
        &self,
        entry: &UsageEntry,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// A person's usage history, oldest first.
    fn usage_of_resident(
        &self,
        resident_id: ResidentId,
    ) -> impl Future<Output = Result<Vec<UsageRecord>, StoreError>> + Send;
}
