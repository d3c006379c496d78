//! The records the store keeps, as the traits take and return them.
//!
//! Times are kept to the microsecond: a sub-microsecond part of an `OffsetDateTime` is
//! dropped (rounded towards the past) when stored, and every time read back is UTC.

use std::fmt;

use jpki_model::{BasicInfo, CertificateKind, CertificateStatus, MyNumber, SerialNumber};
use time::OffsetDateTime;

/// The registry's key for a resident. Assigned by the store, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResidentId(pub i64);

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A resident to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResident {
    pub my_number: MyNumber,
    pub basic_info: BasicInfo,
}

/// A resident as registered now (the latest of their history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resident {
    pub id: ResidentId,
    /// Personal data: its `Debug` is masked; never log [`MyNumber::expose`].
    pub my_number: MyNumber,
    pub basic_info: BasicInfo,
    pub deceased_at: Option<OffsetDateTime>,
    pub registered_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Resident {
    pub fn is_deceased(&self) -> bool {
        self.deceased_at.is_some()
    }
}

/// A change reported to the registry (異動).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// 転居 / 転入: the address changed.
    Move,
    /// 氏名変更: the name changed.
    Rename,
    /// 職権修正: any field corrected.
    Correction,
    /// 死亡: the resident died. No change is accepted after this one.
    Death,
}

/// One entry of a resident's history: how it began, and every change since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryKind {
    Registered,
    Move,
    Rename,
    Correction,
    Death,
}

impl HistoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Move => "move",
            Self::Rename => "rename",
            Self::Correction => "correction",
            Self::Death => "death",
        }
    }

    pub(crate) fn from_stored(text: &str) -> Option<Self> {
        Some(match text {
            "registered" => Self::Registered,
            "move" => Self::Move,
            "rename" => Self::Rename,
            "correction" => Self::Correction,
            "death" => Self::Death,
            _ => return None,
        })
    }
}

impl From<ChangeKind> for HistoryKind {
    fn from(kind: ChangeKind) -> Self {
        match kind {
            ChangeKind::Move => Self::Move,
            ChangeKind::Rename => Self::Rename,
            ChangeKind::Correction => Self::Correction,
            ChangeKind::Death => Self::Death,
        }
    }
}

/// A change to apply to a resident: the whole basic information after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentChange {
    pub kind: ChangeKind,
    pub new_info: BasicInfo,
    pub at: OffsetDateTime,
}

/// One row of [`crate::RegistryStore::resident_history`]. `seq` starts at 1 (the
/// registration) and grows by one per change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub seq: i64,
    pub kind: HistoryKind,
    pub info: BasicInfo,
    pub at: OffsetDateTime,
}

/// A CA certificate generation. Several may exist per name; the newest is active.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorityRecord {
    /// The issuer name the CA uses for itself, e.g. `"sign"` or `"auth"`.
    pub name: String,
    pub certificate_der: Vec<u8>,
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for AuthorityRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorityRecord")
            .field("name", &self.name)
            .field("certificate_der", &DerLen(self.certificate_der.len()))
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// What holds a certificate's private key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Holder {
    /// A My Number card, by its card id (recorded with [`crate::CardStore`] first).
    Card(String),
    /// A phone secure element, by its device id.
    Device(String),
}

/// A certificate the CA has signed, to record under its reserved serial.
#[derive(Clone, PartialEq, Eq)]
pub struct NewCertificate {
    pub issuer_name: String,
    pub serial: SerialNumber,
    pub kind: CertificateKind,
    pub resident_id: ResidentId,
    pub holder: Holder,
    pub subject_cn: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub der: Vec<u8>,
    pub issued_at: OffsetDateTime,
    /// The certificate this one renews or replaces: (issuer name, serial).
    pub renewal_of: Option<(String, SerialNumber)>,
    /// A phone certificate starts `Pending` until the phone registers it; every other
    /// certificate starts `Active`.
    pub awaiting_registration: bool,
    /// The phone application that produced it, linked in the same transaction.
    pub application: Option<ApplicationId>,
    /// The CRL shard the CA chose and wrote into the certificate's CRL distribution point.
    pub crl_shard: u32,
}

/// A recorded certificate with its current status.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub issuer_name: String,
    pub serial: SerialNumber,
    pub kind: CertificateKind,
    pub resident_id: ResidentId,
    pub holder: Holder,
    pub subject_cn: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub der: Vec<u8>,
    pub issued_at: OffsetDateTime,
    pub renewal_of: Option<(String, SerialNumber)>,
    pub status: CertificateStatus,
    /// The CRL shard written into the certificate.
    pub crl_shard: u32,
    /// When the status last changed (the issuance for a certificate never changed).
    pub status_changed_at: OffsetDateTime,
}

struct DerLen(usize);

impl fmt::Debug for DerLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes of DER>", self.0)
    }
}

impl fmt::Debug for NewCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCertificate")
            .field("issuer_name", &self.issuer_name)
            .field("serial", &self.serial)
            .field("kind", &self.kind)
            .field("resident_id", &self.resident_id)
            .field("holder", &self.holder)
            .field("subject_cn", &self.subject_cn)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("der", &DerLen(self.der.len()))
            .field("issued_at", &self.issued_at)
            .field("renewal_of", &self.renewal_of)
            .field("awaiting_registration", &self.awaiting_registration)
            .field("application", &self.application)
            .field("crl_shard", &self.crl_shard)
            .finish()
    }
}

impl fmt::Debug for CertificateRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateRecord")
            .field("issuer_name", &self.issuer_name)
            .field("serial", &self.serial)
            .field("kind", &self.kind)
            .field("resident_id", &self.resident_id)
            .field("holder", &self.holder)
            .field("subject_cn", &self.subject_cn)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("der", &DerLen(self.der.len()))
            .field("issued_at", &self.issued_at)
            .field("renewal_of", &self.renewal_of)
            .field("status", &self.status)
            .field("crl_shard", &self.crl_shard)
            .field("status_changed_at", &self.status_changed_at)
            .finish()
    }
}

impl CertificateRecord {
    pub(crate) fn from_new(new: &NewCertificate, status: CertificateStatus) -> Self {
        Self {
            issuer_name: new.issuer_name.clone(),
            serial: new.serial.clone(),
            kind: new.kind,
            resident_id: new.resident_id,
            holder: new.holder.clone(),
            subject_cn: new.subject_cn.clone(),
            not_before: new.not_before,
            not_after: new.not_after,
            der: new.der.clone(),
            issued_at: new.issued_at,
            renewal_of: new.renewal_of.clone(),
            status,
            crl_shard: new.crl_shard,
            status_changed_at: new.issued_at,
        }
    }
}

/// A My Number card issued to a resident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRecord {
    pub card_id: String,
    pub resident_id: ResidentId,
    pub issued_at: OffsetDateTime,
}

/// A single-use challenge to remember until it is consumed or expires.
///
/// The nonce is valid while `now < expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNonce {
    pub value: Vec<u8>,
    /// What the nonce may be used for (e.g. `"phone-application"`); consuming it for
    /// another purpose fails.
    pub purpose: String,
    /// Whom or what it was issued to, if the issuer wants that checked later.
    pub subject: Option<String>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A nonce that has just been consumed, by this caller and no other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedNonce {
    pub value: Vec<u8>,
    pub purpose: String,
    pub subject: Option<String>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: OffsetDateTime,
}

/// One audit-log entry. Refer to residents by [`ResidentId`], never by My Number.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    /// Who acted: an operator id, `"citizen:#42"`, `"system"`, ….
    pub actor: String,
    /// What was done, as a stable machine name (`"certificate.hold"`).
    pub action: String,
    /// What it was done to; [`crate::AuditStore::audit_entries`] selects on this.
    pub subject: String,
    pub detail_json: serde_json::Value,
}

/// The position of an entry in the audit log; grows with every append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuditId(pub i64);

/// An audit entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: AuditId,
    pub entry: AuditEntry,
}

// ---------------------------------------------------------------------------------------
// Phones: devices, applications, notifications, usage history
// ---------------------------------------------------------------------------------------

/// Where a phone (its secure element) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceState {
    /// May apply, fetch and register.
    Active,
    /// Another phone of the same person registered: this one must wipe its certificates.
    Superseded,
    /// The phone reported that it wiped its certificates.
    Wiped,
}

impl DeviceState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Superseded => "superseded",
            Self::Wiped => "wiped",
        }
    }

    pub(crate) fn from_stored(text: &str) -> Option<Self> {
        Some(match text {
            "active" => Self::Active,
            "superseded" => Self::Superseded,
            "wiped" => Self::Wiped,
            _ => return None,
        })
    }
}

/// A phone, identified by its secure element's serial (attested by the SE vendor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub device_id: String,
    /// SHA-256 of the bearer token the phone app presents (the token itself is never stored).
    pub token_hash: Vec<u8>,
    pub resident_id: Option<ResidentId>,
    pub state: DeviceState,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApplicationId(pub i64);

/// Where a phone application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplicationState {
    /// Accepted by the RA, waiting for the service hours to issue.
    Queued,
    /// Certificates issued; the phone was notified and may register them.
    Issued,
    /// The phone registered the certificates.
    Registered,
    /// Another application of the same person was registered first.
    Superseded,
    /// Issuance failed; `failure` says why.
    Failed,
}

impl ApplicationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Issued => "issued",
            Self::Registered => "registered",
            Self::Superseded => "superseded",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn from_stored(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => Self::Queued,
            "issued" => Self::Issued,
            "registered" => Self::Registered,
            "superseded" => Self::Superseded,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// An application the RA accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApplication {
    /// Random, unguessable id used in URLs.
    pub public_id: String,
    pub resident_id: ResidentId,
    pub device_id: String,
    pub kinds: Vec<CertificateKind>,
    /// The card signature certificate that signed the application.
    pub card_certificate: (String, SerialNumber),
    /// Everything the CA needs later (public keys, attested data), as verified.
    pub request: serde_json::Value,
    pub submitted_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationRecord {
    pub id: ApplicationId,
    pub public_id: String,
    pub resident_id: ResidentId,
    pub device_id: String,
    pub kinds: Vec<CertificateKind>,
    pub card_certificate: (String, SerialNumber),
    pub request: serde_json::Value,
    pub state: ApplicationState,
    pub submitted_at: OffsetDateTime,
    pub issued_at: Option<OffsetDateTime>,
    pub registered_at: Option<OffsetDateTime>,
    pub activate_at: Option<OffsetDateTime>,
    pub failure: Option<String>,
}

/// A notification for a phone, delivered over the event stream in `seq` order.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEvent {
    pub seq: i64,
    pub device_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: OffsetDateTime,
}

/// One line of a person's usage history (利用履歴).
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEntry {
    pub resident_id: ResidentId,
    pub at: OffsetDateTime,
    pub device_id: Option<String>,
    /// What happened: `applied`, `issued`, `notified`, `registered`, `superseded`, …
    pub action: String,
    pub outcome: UsageOutcome,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageOutcome {
    Ok,
    Refused,
    Failed,
}

impl UsageOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn from_stored(text: &str) -> Option<Self> {
        Some(match text {
            "ok" => Self::Ok,
            "refused" => Self::Refused,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub id: i64,
    pub entry: UsageEntry,
}

/// What a registration changed, all in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationOutcome {
    pub application: ApplicationRecord,
    /// This application's certificates, with their status after registration (`Active`,
    /// or still `Pending` when an activation delay applies).
    pub certificates: Vec<CertificateRecord>,
    /// Certificates of the person's other phones (or replaced kinds on this phone),
    /// revoked with reason superseded.
    pub superseded: Vec<CertificateRecord>,
    /// Other phones told to wipe (a `wipe` event was queued for each).
    pub wiped_devices: Vec<String>,
    /// Other applications of the person that can no longer be registered.
    pub superseded_applications: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Relying parties: login, sessions, signed submissions, platform users, sign requests
// ---------------------------------------------------------------------------------------

/// A login challenge the portal issued (cross-device: shown as a short code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoginChallenge {
    pub id: String,
    pub challenge: Vec<u8>,
    /// Short code a person types on the phone (e.g. `K7QF-92MA`).
    pub code: String,
    /// SHA-256 of the secret the browser holds to collect the session.
    pub browser_secret_hash: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Who approved a login, with which certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginApproval {
    pub at: OffsetDateTime,
    pub resident_id: ResidentId,
    pub device_id: Option<String>,
    pub certificate: (String, SerialNumber),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginChallengeRecord {
    pub id: String,
    pub challenge: Vec<u8>,
    pub code: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub approval: Option<LoginApproval>,
    pub collected_at: Option<OffsetDateTime>,
}

/// A portal session (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub token_hash: Vec<u8>,
    pub resident_id: ResidentId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub login_challenge: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub resident_id: ResidentId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub login_challenge: Option<String>,
}

/// A signed online application (オンライン申請) the portal accepted, with the
/// verification report (and its evidence) made at submission time.
#[derive(Clone, PartialEq)]
pub struct NewSubmission {
    pub public_id: String,
    pub resident_id: ResidentId,
    pub certificate: (String, SerialNumber),
    pub title: String,
    pub content_type: String,
    pub content: Vec<u8>,
    pub signature: Vec<u8>,
    pub report: serde_json::Value,
    pub received_at: OffsetDateTime,
}

impl fmt::Debug for NewSubmission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSubmission")
            .field("public_id", &self.public_id)
            .field("resident_id", &self.resident_id)
            .field("title", &self.title)
            .field("content", &DerLen(self.content.len()))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubmissionRecord {
    pub id: i64,
    pub submission: NewSubmission,
}

/// A private relying party registered with the platform operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingPartyRecord {
    pub id: i64,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
}

/// A person as one relying party knows them: a stable, per-party user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformUser {
    pub relying_party_id: i64,
    pub resident_id: ResidentId,
    pub user_id: String,
    pub created_at: OffsetDateTime,
}

/// Where a sign request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignRequestState {
    Pending,
    Approved,
    Declined,
}

impl SignRequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Declined => "declined",
        }
    }

    pub(crate) fn from_stored(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "declined" => Self::Declined,
            _ => return None,
        })
    }
}

/// A private app's request that the person's phone sign something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSignRequest {
    pub public_id: String,
    pub relying_party_id: i64,
    pub resident_id: ResidentId,
    pub purpose: String,
    /// `signature` (CMS with the phone signature key) or `authentication`.
    pub kind: String,
    pub content: Vec<u8>,
    pub verification_code: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignRequestRecord {
    pub request: NewSignRequest,
    pub relying_party_name: String,
    pub state: SignRequestState,
    pub answered_at: Option<OffsetDateTime>,
    pub device_id: Option<String>,
    pub signature: Option<Vec<u8>>,
    pub certificate: Option<Vec<u8>>,
}

// ---------------------------------------------------------------------------------------
// Lifecycle: status changes with their history, accounts, status services, CRLs
// ---------------------------------------------------------------------------------------

/// One compare-and-set of a certificate's status: applied only if the status is exactly
/// `expected` when the transaction runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub issuer_name: String,
    pub serial: SerialNumber,
    pub expected: CertificateStatus,
    pub new: CertificateStatus,
}

/// A notification to queue for a phone, in the lifecycle's transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeviceEvent {
    pub device_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// Everything one lifecycle transition writes, in one transaction: either all of it or
/// nothing ([`crate::LifecycleStore::apply_lifecycle`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleBatch {
    /// The time of the transition: every changed certificate's `status_changed_at`.
    pub at: OffsetDateTime,
    pub changes: Vec<StatusChange>,
    /// Open applications (queued or issued) of this resident fail with this reason.
    pub cancel_applications: Option<(ResidentId, String)>,
    /// Phones whose state changes (e.g. superseded: told to wipe).
    pub device_states: Vec<(String, DeviceState)>,
    pub events: Vec<NewDeviceEvent>,
    pub usage: Vec<UsageEntry>,
    pub audit: Vec<AuditEntry>,
    /// A change to the resident's record (異動), applied first, in the same transaction
    /// as the revocations it causes (異動等失効).
    pub resident_change: Option<(ResidentId, ResidentChange)>,
}

impl LifecycleBatch {
    /// An empty batch at `at`.
    pub fn new(at: OffsetDateTime) -> Self {
        Self {
            at,
            changes: Vec::new(),
            cancel_applications: None,
            device_states: Vec::new(),
            events: Vec::new(),
            usage: Vec::new(),
            audit: Vec::new(),
            resident_change: None,
        }
    }
}

/// What [`crate::LifecycleStore::apply_lifecycle`] changed.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleOutcome {
    /// The changed certificates, with their new status, in the order of the changes.
    pub certificates: Vec<CertificateRecord>,
    /// Public ids of the applications that were cancelled.
    pub cancelled_applications: Vec<String>,
    /// Sequence numbers of the queued events.
    pub events: Vec<i64>,
    /// The resident's record after the change, when the batch carried one.
    pub resident: Option<Resident>,
}

/// What the status services read about a certificate: no DER, no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    pub serial: SerialNumber,
    pub status: CertificateStatus,
    pub issued_at: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub crl_shard: u32,
    pub status_changed_at: OffsetDateTime,
}

/// A certificate on (or a candidate for) a CRL: what the publisher needs, nothing more
/// (a million of them make a full CRL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCertificate {
    pub serial: SerialNumber,
    pub status: CertificateStatus,
    /// For a pending certificate: answered as on hold since its issuance.
    pub issued_at: OffsetDateTime,
}

/// A status change seen by [`crate::StatusStore::status_changes_since`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChangeRecord {
    pub issuer_name: String,
    pub serial: SerialNumber,
    pub crl_shard: u32,
    pub status_changed_at: OffsetDateTime,
}

/// What an API key lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountRole {
    /// The hotline (一時利用停止 受付): identifies a person, suspends, reads status.
    Hotline,
    /// Reads status and history, changes nothing.
    Auditor,
    /// A registered verifier (署名検証者・利用者証明検証者): OCSP and CRLs when they are
    /// restricted, and the certificate links.
    Verifier,
    /// Municipal counter staff (窓口) on the operator console: finds people and reads their
    /// certificates and history; suspends nothing (migration 6).
    Counter,
    /// Administrator of the operator console: everything the hotline may do (migration 6).
    Admin,
}

impl AccountRole {
    pub const ALL: [Self; 5] = [
        Self::Hotline,
        Self::Auditor,
        Self::Verifier,
        Self::Counter,
        Self::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hotline => "hotline",
            Self::Auditor => "auditor",
            Self::Verifier => "verifier",
            Self::Counter => "counter",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An account to create. Only the SHA-256 digest of its API key is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub name: String,
    pub role: AccountRole,
    pub key_hash: [u8; 32],
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// An account as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub name: String,
    pub role: AccountRole,
    pub key_hash: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
}

impl fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountRecord")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

/// A published CRL (full when `base_number` is `None`, else a delta over that base).
#[derive(Clone, PartialEq, Eq)]
pub struct CrlRecord {
    pub issuer_name: String,
    pub shard: u32,
    pub number: u64,
    pub base_number: Option<u64>,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub der: Vec<u8>,
}

impl fmt::Debug for CrlRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrlRecord")
            .field("issuer_name", &self.issuer_name)
            .field("shard", &self.shard)
            .field("number", &self.number)
            .field("base_number", &self.base_number)
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .field("der", &DerLen(self.der.len()))
            .finish()
    }
}
