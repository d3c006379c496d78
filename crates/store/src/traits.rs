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
    AccountRecord, AccountRole, ApplicationId, ApplicationRecord, AuditEntry, AuditId, AuditRecord,
    AuthorityRecord, CardRecord, CertificateRecord, ConsumedNonce, CrlRecord, DeviceEvent,
    DeviceRecord, HistoryEntry, Holder, LifecycleBatch, LifecycleOutcome, ListedCertificate,
    NewAccount, NewCertificate, NewNonce, NewResident, RegistrationOutcome, Resident,
    ResidentChange, ResidentId, StatusChangeRecord, StatusRecord, UsageEntry, UsageRecord,
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

    /// The person's latest certificate of each of `kinds` that they have (the last of
    /// [`CertificateStore::certificates_of_resident`] of that kind), at most one per kind,
    /// in no particular order: one statement, one index lookup per kind however many
    /// certificates the person has.
    fn latest_certificates_of_kinds(
        &self,
        resident_id: ResidentId,
        kinds: &[jpki_model::CertificateKind],
    ) -> impl Future<Output = Result<Vec<CertificateRecord>, StoreError>> + Send;

    /// Ordered by issue time, then issuer and serial.
    fn certificates_of_holder(
        &self,
        holder: &Holder,
    ) -> impl Future<Output = Result<Vec<CertificateRecord>, StoreError>> + Send;

    /// Sets the status to `new` only if it is exactly `expected` now (timestamps
    /// compared to the microsecond), and the time of the change to `at`.
    /// [`StoreError::Conflict`] and nothing changed if it is not;
    /// [`StoreError::NotFound`] for an unknown certificate. The store does not judge
    /// the transition itself: that is the lifecycle's job.
    fn set_status(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
        expected: &CertificateStatus,
        new: &CertificateStatus,
        at: OffsetDateTime,
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

    /// Whether the nonce could be consumed now, without consuming it: a read, for
    /// refusing a replay before doing expensive work. The same failures as
    /// [`NonceStore::consume_nonce`]; only consuming it decides a race.
    fn check_nonce(
        &self,
        value: &[u8],
        purpose: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

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

    /// Everything an accepted application writes, in one transaction: the nonce consumed,
    /// the phone saved with its token digest and bound to the person, the application
    /// (queued, issued with its certificates and the phone's event, or failed), and the
    /// usage lines with their chain links and log leaves. All or nothing: a nonce that
    /// cannot be consumed (a replay) fails with [`StoreError::Nonce`], a serial already
    /// used with [`StoreError::SerialInUse`], and either leaves nothing behind.
    ///
    /// Concurrent calls on one [`crate::Store`] share transactions (group commit, see
    /// `crate::accept`): each returns only after its transaction committed, and a call
    /// that fails takes no other call down with it.
    fn accept_application(
        &self,
        accepted: &crate::AcceptedApplication,
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

/// The relying parties' view (portal login, signed submissions, platform operator,
/// sign requests from private apps).
pub trait RelyingStore: Send + Sync {
    fn create_login_challenge(
        &self,
        challenge: &crate::records::NewLoginChallenge,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn login_challenge(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<crate::records::LoginChallengeRecord>, StoreError>> + Send;

    fn login_challenge_by_code(
        &self,
        code: &str,
    ) -> impl Future<Output = Result<Option<crate::records::LoginChallengeRecord>, StoreError>> + Send;

    /// Marks an unexpired, unapproved challenge approved (compare-and-set: Conflict
    /// otherwise).
    fn approve_login_challenge(
        &self,
        id: &str,
        approval: &crate::records::LoginApproval,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The browser collects the session of an approved challenge, once, with its secret:
    /// the session is created in the same transaction.
    fn collect_login_session(
        &self,
        id: &str,
        browser_secret_hash: &[u8],
        session: &crate::records::NewSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn create_session(
        &self,
        session: &crate::records::NewSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A live (unexpired, unrevoked) session.
    fn session(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<crate::records::SessionRecord>, StoreError>> + Send;

    fn revoke_session(
        &self,
        token_hash: &[u8],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn insert_submission(
        &self,
        submission: &crate::records::NewSubmission,
    ) -> impl Future<Output = Result<crate::records::SubmissionRecord, StoreError>> + Send;

    fn submission(
        &self,
        public_id: &str,
    ) -> impl Future<Output = Result<Option<crate::records::SubmissionRecord>, StoreError>> + Send;

    fn submissions_of_resident(
        &self,
        resident_id: ResidentId,
    ) -> impl Future<Output = Result<Vec<crate::records::SubmissionRecord>, StoreError>> + Send;

    fn add_relying_party(
        &self,
        name: &str,
        key_hash: &[u8],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<crate::records::RelyingPartyRecord, StoreError>> + Send;

    /// An enabled relying party by the hash of its API key.
    fn relying_party_by_key(
        &self,
        key_hash: &[u8],
    ) -> impl Future<Output = Result<Option<crate::records::RelyingPartyRecord>, StoreError>> + Send;

    /// The party's user id for this person, created (with `new_user_id`) the first time.
    fn platform_user(
        &self,
        relying_party_id: i64,
        resident_id: ResidentId,
        new_user_id: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<crate::records::PlatformUser, StoreError>> + Send;

    fn platform_user_by_resident(
        &self,
        relying_party_id: i64,
        resident_id: ResidentId,
    ) -> impl Future<Output = Result<Option<crate::records::PlatformUser>, StoreError>> + Send;

    fn platform_user_by_id(
        &self,
        relying_party_id: i64,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<crate::records::PlatformUser>, StoreError>> + Send;

    fn create_sign_request(
        &self,
        request: &crate::records::NewSignRequest,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn sign_request(
        &self,
        public_id: &str,
    ) -> impl Future<Output = Result<Option<crate::records::SignRequestRecord>, StoreError>> + Send;

    /// Pending, unexpired requests for a person, oldest first.
    fn pending_sign_requests(
        &self,
        resident_id: ResidentId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<crate::records::SignRequestRecord>, StoreError>> + Send;

    /// Answers a pending, unexpired request (compare-and-set: Conflict otherwise).
    fn answer_sign_request(
        &self,
        public_id: &str,
        approved: bool,
        device_id: &str,
        signature: Option<&[u8]>,
        certificate: Option<&[u8]>,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The lifecycle state machine's view (`jpki-authority`'s `lifecycle`): status changes
/// written together with their usage history, audit entries and phone notifications, and
/// the old→new certificate links.
pub trait LifecycleStore: Send + Sync {
    /// Applies every status change of `batch` (each a compare-and-set, its
    /// `status_changed_at` set to `batch.at`), cancels the open applications, changes
    /// the phones' states, queues the events and appends the usage and audit lines, in
    /// one transaction. If any change finds another status than it expects, or names an
    /// unknown certificate, nothing at all is written ([`StoreError::Conflict`] /
    /// [`StoreError::NotFound`]).
    fn apply_lifecycle(
        &self,
        batch: &LifecycleBatch,
    ) -> impl Future<Output = Result<LifecycleOutcome, StoreError>> + Send;

    /// The certificates recorded as renewing or replacing (`renewal_of`) this one,
    /// oldest first (新旧紐付け).
    fn successors(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
    ) -> impl Future<Output = Result<Vec<CertificateRecord>, StoreError>> + Send;
}

/// What the status services read (OCSP responder, CRL publisher): statuses only.
pub trait StatusStore: Send + Sync {
    /// One certificate's status; `None` when the issuer never issued it.
    fn certificate_status(
        &self,
        issuer_name: &str,
        serial: &SerialNumber,
    ) -> impl Future<Output = Result<Option<StatusRecord>, StoreError>> + Send;

    /// Every certificate of the shard that is not active (pending, held, revoked) and
    /// has not expired before `not_expired_at`, in serial order: a full CRL's entries.
    fn listed_certificates(
        &self,
        issuer_name: &str,
        shard: u32,
        not_expired_at: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<ListedCertificate>, StoreError>> + Send;

    /// Every certificate of the shard whose status changed at or after `since` (issuance
    /// included), whatever its status now: a delta CRL's candidates.
    fn shard_changes_since(
        &self,
        issuer_name: &str,
        shard: u32,
        since: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<ListedCertificate>, StoreError>> + Send;

    /// Status changes (issuance included) of every issuer at or after `since`, in
    /// (time, issuer, serial) order, at most `limit` (capped at [`crate::MAX_PAGE_SIZE`] ×
    /// 10). With `after` (the issuer and serial of the last change read at `since`), the
    /// next page: the changes at `since` after it, then the later ones — so that any
    /// number of changes sharing one timestamp are all read.
    fn status_changes_since(
        &self,
        since: OffsetDateTime,
        after: Option<(&str, &SerialNumber)>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StatusChangeRecord>, StoreError>> + Send;

    /// One more than the highest CRL shard any certificate of the issuer was given (0
    /// when it issued nothing).
    fn crl_shards_in_use(
        &self,
        issuer_name: &str,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;
}

/// Published CRLs, so that every status process serves the same ones and a restart
/// continues their numbers.
pub trait CrlStore: Send + Sync {
    /// Saves a published CRL. [`StoreError::Conflict`] when that number is already
    /// published for the shard (another process published concurrently). Saving a full
    /// CRL deletes the shard's publications older than it.
    fn save_crl(&self, crl: &CrlRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The shard's latest full CRL, and the latest delta CRL over it.
    fn latest_crls(
        &self,
        issuer_name: &str,
        shard: u32,
    ) -> impl Future<Output = Result<(Option<CrlRecord>, Option<CrlRecord>), StoreError>> + Send;

    /// The latest CRL number of every shard with a publication: (issuer, shard, number).
    fn crl_heads(&self)
    -> impl Future<Output = Result<Vec<(String, u32, u64)>, StoreError>> + Send;
}

/// Accounts holding API keys: operators (hotline, auditor) and registered verifiers.
pub trait AccountStore: Send + Sync {
    /// [`StoreError::Conflict`] for a name or key already recorded.
    fn add_account(
        &self,
        account: &NewAccount,
    ) -> impl Future<Output = Result<AccountRecord, StoreError>> + Send;

    /// The account whose key has this SHA-256 digest, disabled or not.
    fn account_by_key_hash(
        &self,
        key_hash: &[u8],
    ) -> impl Future<Output = Result<Option<AccountRecord>, StoreError>> + Send;

    /// Every account, by name.
    fn accounts(&self) -> impl Future<Output = Result<Vec<AccountRecord>, StoreError>> + Send;

    /// Disables an account: its key is refused from then on. [`StoreError::NotFound`]
    /// for an unknown name; disabling twice keeps the first time.
    fn disable_account(
        &self,
        name: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The key digests of the enabled accounts with `role`.
    fn key_hashes(
        &self,
        role: AccountRole,
    ) -> impl Future<Output = Result<Vec<Vec<u8>>, StoreError>> + Send;
}
