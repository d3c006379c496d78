//! The registration authority: decides whether a certificate may be issued, and of
//! what kind, and hands the CA an [`AuthorizedIssuance`] — the only input the CA takes.

use std::fmt;

use jpki_model::{
    BasicInfo, BirthDate, CertificateKind, Medium, Purpose, SerialNumber, time::jst_date,
};
use jpki_pkix::VerifiedCsr;
use jpki_store::{Holder, Resident, ResidentId};
use time::OffsetDateTime;

use crate::AuthorityError;

/// A signature certificate is not issued to a person under this age (JPKI-FACTS §2.2).
pub const SIGNATURE_MINIMUM_AGE: i32 = 15;

/// The certificate a renewal replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    pub issuer_name: String,
    pub serial: SerialNumber,
    pub not_after: OffsetDateTime,
}

/// A request the RA approved. Fields are private to this crate: the CA can only be
/// handed what an RA function built after its checks.
#[derive(Clone)]
pub struct AuthorizedIssuance {
    pub(crate) kind: CertificateKind,
    pub(crate) resident_id: ResidentId,
    pub(crate) holder: Holder,
    pub(crate) public_key_der: Vec<u8>,
    pub(crate) basic_info: Option<BasicInfo>,
    pub(crate) date_of_birth: BirthDate,
    pub(crate) renewal_of: Option<Renewal>,
    pub(crate) cap: Option<OffsetDateTime>,
    /// Phone certificates wait for the phone to register them.
    pub(crate) awaiting_registration: bool,
    pub(crate) application: Option<jpki_store::ApplicationId>,
}

impl AuthorizedIssuance {
    pub fn kind(&self) -> CertificateKind {
        self.kind
    }

    pub fn resident_id(&self) -> ResidentId {
        self.resident_id
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

impl fmt::Debug for AuthorizedIssuance {
    // No basic 4 information in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedIssuance")
            .field("kind", &self.kind)
            .field("resident_id", &self.resident_id)
            .field("holder", &self.holder)
            .field("renewal_of", &self.renewal_of)
            .finish_non_exhaustive()
    }
}

/// One key to certify: the CSR the card signed, and the public key the card reported
/// when it generated the pair.
#[derive(Debug, Clone)]
pub struct CardKeyRequest {
    pub csr: VerifiedCsr,
    pub generated_public_key_der: Vec<u8>,
}

/// What the counter asks for when it issues a card.
#[derive(Debug, Clone)]
pub struct CardIssuanceRequest {
    pub resident: Resident,
    pub card_id: String,
    pub authentication: CardKeyRequest,
    /// `None` when the resident is under 15 or declines the signature certificate.
    pub signature: Option<CardKeyRequest>,
}

/// Whether a signature certificate may be issued to `resident` at `now`.
pub fn check_signature_age(resident: &Resident, now: OffsetDateTime) -> Result<(), AuthorityError> {
    let age = resident.basic_info.date_of_birth().age_on(jst_date(now));
    if age < SIGNATURE_MINIMUM_AGE {
        return Err(AuthorityError::SignatureUnderAge {
            resident: resident.id,
            age,
        });
    }
    Ok(())
}

/// The counter's card issuance. Checks, in order:
/// 1. the resident is alive;
/// 2. a signature certificate only for a resident 15 or older;
/// 3. each CSR's key is the key the card generated (the CSR's own signature was checked
///    when it became a [`VerifiedCsr`]).
pub fn authorize_card_issuance(
    request: &CardIssuanceRequest,
    now: OffsetDateTime,
) -> Result<Vec<AuthorizedIssuance>, AuthorityError> {
    let resident = &request.resident;
    if resident.is_deceased() {
        return Err(AuthorityError::ResidentDeceased(resident.id));
    }
    if request.signature.is_some() {
        check_signature_age(resident, now)?;
    }
    let mut approved = Vec::with_capacity(2);
    let requests = [
        (Purpose::Authentication, Some(&request.authentication)),
        (Purpose::Signature, request.signature.as_ref()),
    ];
    for (purpose, key_request) in requests {
        let Some(key_request) = key_request else {
            continue;
        };
        let kind = CertificateKind {
            medium: Medium::Card,
            purpose,
        };
        if key_request.csr.public_key_der() != key_request.generated_public_key_der.as_slice() {
            return Err(AuthorityError::CsrKeyMismatch(kind));
        }
        approved.push(AuthorizedIssuance {
            kind,
            resident_id: resident.id,
            holder: Holder::Card(request.card_id.clone()),
            public_key_der: key_request.csr.public_key_der().to_vec(),
            basic_info: (purpose == Purpose::Signature).then(|| resident.basic_info.clone()),
            date_of_birth: resident.basic_info.date_of_birth(),
            renewal_of: None,
            cap: None,
            awaiting_registration: false,
            application: None,
        });
    }
    Ok(approved)
}
