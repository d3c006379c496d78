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
