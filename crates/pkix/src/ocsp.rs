//! OCSP (RFC 6960) messages: the DER types, a request builder, the signing step of a
//! response, and a checked read-only view of a response for relying parties.
//!
//! Scope:
//! - The wire types of RFC 6960 §4.1 and §4.2 ([`OcspRequest`], [`TbsRequest`],
//!   [`Request`], [`CertId`], [`OcspResponse`], [`ResponseBytes`],
//!   [`BasicOcspResponse`], [`ResponseData`], [`ResponderId`], [`SingleResponse`],
//!   [`CertStatus`], [`RevokedInfo`]) as `der` 0.8 derives, encoding and decoding.
//! - The nonce extension (`id-pkix-ocsp-nonce`, RFC 8954) and CertID construction for
//!   SHA-1 and SHA-2 hashes ([`CertId::new`], [`CertId::for_issuer`]).
//! - [`BasicOcspResponse::sign`]: the signature over `tbsResponseData` through any
//!   [`jpki_crypto::Signer`].
//! - [`OcspResponseView`]: what a relying party reads — response status, producedAt,
//!   responder id, single responses with their status, nonce, certificates — with
//!   [`OcspResponseView::verify_for_issuer`], which finds the key that signed (the CA
//!   itself or a delegated responder certificate from `certs`) and checks it.
//!
//! Not here: deciding what to answer (that is `jpki-status`), HTTP transport, path
//! validation beyond "this responder certificate was issued by this CA".
//!
//! A decision a reviewer may question: **`x509-ocsp` is not used.** Its only release
//! (0.2.1) is built on `der` 0.7 / `x509-cert` 0.2, which would put a second generation
//! of the whole DER stack into the tree (STACK-NOTES §3). The types below are the
//! RFC 6960 ASN.1 module written out with `der` 0.8 derives; the module is `EXPLICIT
//! TAGS`, so every context tag is explicit except the three `IMPLICIT` ones RFC 6960
//! spells out in `CertStatus`.

use der::asn1::{AnyRef, BitString, BitStringRef, GeneralizedTime, Int, Null, OctetString};
use der::{Choice, Decode, Encode, Enumerated, Sequence};
use jpki_crypto::{DigestAlgorithm, SignatureAlgorithm, Signer, verify_signature};
use jpki_model::{RevocationReason, SerialNumber};
use spki::{AlgorithmIdentifierOwned, AlgorithmIdentifierRef, ObjectIdentifier};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{CrlReason, ExtendedKeyUsage};
use x509_cert::ext::{Extension, Extensions};
use x509_cert::name::Name;

use crate::PkixError;
use crate::certificate::JpkiCertificate;
use crate::csr::signature_algorithm_of;
use crate::signer::SignerAdapter;

/// `id-pkix-ocsp-basic` (RFC 6960 §4.2.1), `1.3.6.1.5.5.7.48.1.1`.
pub const ID_PKIX_OCSP_BASIC: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
/// `id-pkix-ocsp-nonce` (RFC 6960 §4.4.1, RFC 8954), `1.3.6.1.5.5.7.48.1.2`.
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// `id-pkix-ocsp-nocheck` (RFC 6960 §4.2.2.2.1), `1.3.6.1.5.5.7.48.1.5`.
pub const ID_PKIX_OCSP_NOCHECK: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");
/// `id-kp-OCSPSigning` (RFC 5280 §4.2.1.12), `1.3.6.1.5.5.7.3.9`.
pub const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
/// `id-sha1` (RFC 3279 §2.2.1), `1.3.14.3.2.26`.
pub const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// `id-sha224` (RFC 5754 §2.1), `2.16.840.1.101.3.4.2.4`.
pub const ID_SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
/// `id-sha256` (RFC 5754 §2.2), `2.16.840.1.101.3.4.2.1`.
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// `id-sha384` (RFC 5754 §2.3), `2.16.840.1.101.3.4.2.2`.
pub const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// `id-sha512` (RFC 5754 §2.4), `2.16.840.1.101.3.4.2.3`.
pub const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// Longest nonce accepted (RFC 8954 §2.1: a responder MUST reject nonces longer than
/// 128 octets with `malformedRequest`).
pub const MAX_NONCE_LEN: usize = 128;

// ---------------------------------------------------------------------------------------
// Wire types (RFC 6960 §4.1.1 and §4.2.1).

/// OCSP protocol version.
///
/// ```text
/// Version ::= INTEGER { v1(0) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Enumerated)]
#[asn1(type = "INTEGER")]
#[repr(u8)]
pub enum Version {
    #[default]
    V1 = 0,
}

/// An OCSP request (RFC 6960 §4.1.1).
///
/// ```text
/// OCSPRequest ::= SEQUENCE {
///     tbsRequest                  TBSRequest,
///     optionalSignature   [0]     EXPLICIT Signature OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct OcspRequest {
    pub tbs_request: TbsRequest,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub optional_signature: Option<OcspSignature>,
}

/// The signed part of a request (RFC 6960 §4.1.1).
///
/// ```text
/// TBSRequest ::= SEQUENCE {
///     version             [0]     EXPLICIT Version DEFAULT v1,
///     requestorName       [1]     EXPLICIT GeneralName OPTIONAL,
///     requestList                 SEQUENCE OF Request,
///     requestExtensions   [2]     EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct TbsRequest {
    #[asn1(
        context_specific = "0",
        default = "Default::default",
        tag_mode = "EXPLICIT"
    )]
    pub version: Version,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    pub requestor_name: Option<GeneralName>,
    pub request_list: Vec<Request>,
    #[asn1(context_specific = "2", optional = "true", tag_mode = "EXPLICIT")]
    pub request_extensions: Option<Extensions>,
}

/// The optional signature of a request (RFC 6960 §4.1.1).
///
/// ```text
/// Signature ::= SEQUENCE {
///     signatureAlgorithm      AlgorithmIdentifier,
///     signature               BIT STRING,
///     certs               [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct OcspSignature {
    pub signature_algorithm: AlgorithmIdentifierOwned,
    pub signature: BitString,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub certs: Option<Vec<Certificate>>,
}

/// One certificate asked about (RFC 6960 §4.1.1).
///
/// ```text
/// Request ::= SEQUENCE {
///     reqCert                     CertID,
///     singleRequestExtensions     [0] EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct Request {
    pub req_cert: CertId,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub single_request_extensions: Option<Extensions>,
}

/// A certificate's identity in OCSP (RFC 6960 §4.1.1): its issuer by hashes, and its
/// serial number. The serial is kept as a signed INTEGER as sent, so that a malformed
/// (negative, zero, over-long) serial can be answered `unknown` instead of failing the
/// whole message.
///
/// ```text
/// CertID ::= SEQUENCE {
///     hashAlgorithm       AlgorithmIdentifier,
///     issuerNameHash      OCTET STRING, -- Hash of issuer's DN
///     issuerKeyHash       OCTET STRING, -- Hash of issuer's public key
///     serialNumber        CertificateSerialNumber }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct CertId {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub issuer_name_hash: OctetString,
    pub issuer_key_hash: OctetString,
    pub serial_number: Int,
}

/// An OCSP response (RFC 6960 §4.2.1).
///
/// ```text
/// OCSPResponse ::= SEQUENCE {
///     responseStatus         OCSPResponseStatus,
///     responseBytes          [0] EXPLICIT ResponseBytes OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct OcspResponse {
    pub response_status: OcspResponseStatus,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub response_bytes: Option<ResponseBytes>,
}

/// The outcome of processing a request (RFC 6960 §4.2.1; 4 is not used).
///
/// ```text
/// OCSPResponseStatus ::= ENUMERATED {
///     successful            (0),  -- Response has valid confirmations
///     malformedRequest      (1),  -- Illegal confirmation request
///     internalError         (2),  -- Internal error in issuer
///     tryLater              (3),  -- Try again later
///                                 -- (4) is not used
///     sigRequired           (5),  -- Must sign the request
///     unauthorized          (6)   -- Request unauthorized }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Enumerated)]
#[repr(u8)]
pub enum OcspResponseStatus {
    Successful = 0,
    MalformedRequest = 1,
    InternalError = 2,
    TryLater = 3,
    SigRequired = 5,
    Unauthorized = 6,
}

impl OcspResponseStatus {
    /// The RFC 6960 name, as OpenSSL prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Successful => "successful",
            Self::MalformedRequest => "malformedrequest",
            Self::InternalError => "internalerror",
            Self::TryLater => "trylater",
            Self::SigRequired => "sigrequired",
            Self::Unauthorized => "unauthorized",
        }
    }
}

/// The typed payload of a successful response (RFC 6960 §4.2.1).
///
/// ```text
/// ResponseBytes ::= SEQUENCE {
///     responseType   OBJECT IDENTIFIER,
///     response       OCTET STRING }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct ResponseBytes {
    pub response_type: ObjectIdentifier,
    pub response: OctetString,
}

/// The one response type every client supports (RFC 6960 §4.2.1).
///
/// ```text
/// BasicOCSPResponse ::= SEQUENCE {
///     tbsResponseData      ResponseData,
///     signatureAlgorithm   AlgorithmIdentifier,
///     signature            BIT STRING,
///     certs            [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct BasicOcspResponse {
    pub tbs_response_data: ResponseData,
    pub signature_algorithm: AlgorithmIdentifierOwned,
    pub signature: BitString,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub certs: Option<Vec<Certificate>>,
}

/// The signed part of a basic response (RFC 6960 §4.2.1).
///
/// ```text
/// ResponseData ::= SEQUENCE {
///     version              [0] EXPLICIT Version DEFAULT v1,
///     responderID              ResponderID,
///     producedAt               GeneralizedTime,
///     responses                SEQUENCE OF SingleResponse,
///     responseExtensions   [1] EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct ResponseData {
    #[asn1(
        context_specific = "0",
        default = "Default::default",
        tag_mode = "EXPLICIT"
    )]
    pub version: Version,
    pub responder_id: ResponderId,
    pub produced_at: GeneralizedTime,
    pub responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    pub response_extensions: Option<Extensions>,
}

/// Who signed (RFC 6960 §4.2.1). `KeyHash` is the SHA-1 of the responder's
/// subjectPublicKey BIT STRING contents.
///
/// ```text
/// ResponderID ::= CHOICE {
///     byName   [1] Name,
///     byKey    [2] KeyHash }
/// KeyHash ::= OCTET STRING
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Choice)]
pub enum ResponderId {
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", constructed = "true")]
    ByName(Name),
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", constructed = "true")]
    ByKey(OctetString),
}

/// The answer about one certificate (RFC 6960 §4.2.1).
///
/// ```text
/// SingleResponse ::= SEQUENCE {
///     certID                       CertID,
///     certStatus                   CertStatus,
///     thisUpdate                   GeneralizedTime,
///     nextUpdate         [0]       EXPLICIT GeneralizedTime OPTIONAL,
///     singleExtensions   [1]       EXPLICIT Extensions OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct SingleResponse {
    pub cert_id: CertId,
    pub cert_status: CertStatus,
    pub this_update: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", optional = "true", tag_mode = "EXPLICIT")]
    pub single_extensions: Option<Extensions>,
}

/// A certificate's status (RFC 6960 §4.2.1). A certificate on hold is `revoked` with
/// reason `certificateHold` (RFC 6960 §2.2).
///
/// ```text
/// CertStatus ::= CHOICE {
///     good        [0]     IMPLICIT NULL,
///     revoked     [1]     IMPLICIT RevokedInfo,
///     unknown     [2]     IMPLICIT UnknownInfo }
/// UnknownInfo ::= NULL
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Choice)]
pub enum CertStatus {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

/// When and why a certificate was revoked (RFC 6960 §4.2.1).
///
/// ```text
/// RevokedInfo ::= SEQUENCE {
///     revocationTime              GeneralizedTime,
///     revocationReason    [0]     EXPLICIT CRLReason OPTIONAL }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub struct RevokedInfo {
    pub revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    pub revocation_reason: Option<CrlReason>,
}

// ---------------------------------------------------------------------------------------
// Conversions.

/// The `CRLReason` value of a jpki revocation reason.
pub fn crl_reason(reason: RevocationReason) -> CrlReason {
    match reason {
        RevocationReason::Unspecified => CrlReason::Unspecified,
        RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
        RevocationReason::CaCompromise => CrlReason::CaCompromise,
        RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
        RevocationReason::Superseded => CrlReason::Superseded,
        RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
        RevocationReason::CertificateHold => CrlReason::CertificateHold,
        RevocationReason::RemoveFromCrl => CrlReason::RemoveFromCRL,
        RevocationReason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise => CrlReason::AaCompromise,
    }
}

/// The jpki revocation reason of a `CRLReason` value.
pub fn revocation_reason(reason: CrlReason) -> RevocationReason {
    match reason {
        CrlReason::Unspecified => RevocationReason::Unspecified,
        CrlReason::KeyCompromise => RevocationReason::KeyCompromise,
        CrlReason::CaCompromise => RevocationReason::CaCompromise,
        CrlReason::AffiliationChanged => RevocationReason::AffiliationChanged,
        CrlReason::Superseded => RevocationReason::Superseded,
        CrlReason::CessationOfOperation => RevocationReason::CessationOfOperation,
        CrlReason::CertificateHold => RevocationReason::CertificateHold,
        CrlReason::RemoveFromCRL => RevocationReason::RemoveFromCrl,
        CrlReason::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
        CrlReason::AaCompromise => RevocationReason::AaCompromise,
    }
}

/// An instant as an OCSP GeneralizedTime (whole seconds, UTC; sub-seconds truncated).
pub fn generalized_time(instant: OffsetDateTime) -> Result<GeneralizedTime, PkixError> {
    let seconds =
        u64::try_from(instant.unix_timestamp()).map_err(|_| PkixError::TimeOutOfRange(instant))?;
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(seconds))
        .map_err(|_| PkixError::TimeOutOfRange(instant))
}

/// A GeneralizedTime as an instant.
pub fn instant_of(time: &GeneralizedTime) -> Result<OffsetDateTime, PkixError> {
    let seconds = i64::try_from(time.to_unix_duration().as_secs())
        .map_err(|_| invalid("time", "out of range"))?;
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| invalid("time", "out of range"))
}

/// The hash function a CertID names, if jpki knows it (SHA-1 and SHA-2).
pub fn digest_algorithm_of(oid: &ObjectIdentifier) -> Option<DigestAlgorithm> {
    Some(match *oid {
        ID_SHA1 => DigestAlgorithm::Sha1,
        ID_SHA224 => DigestAlgorithm::Sha224,
        ID_SHA256 => DigestAlgorithm::Sha256,
        ID_SHA384 => DigestAlgorithm::Sha384,
        ID_SHA512 => DigestAlgorithm::Sha512,
        _ => return None,
    })
}

/// The AlgorithmIdentifier jpki writes for a CertID hash: the OID with NULL
/// parameters, as OpenSSL writes it for SHA-1 and SHA-2 alike.
pub fn hash_algorithm_identifier(algorithm: DigestAlgorithm) -> AlgorithmIdentifierOwned {
    let oid = match algorithm {
        DigestAlgorithm::Sha1 => ID_SHA1,
        DigestAlgorithm::Sha224 => ID_SHA224,
        DigestAlgorithm::Sha256 => ID_SHA256,
        DigestAlgorithm::Sha384 => ID_SHA384,
        DigestAlgorithm::Sha512 => ID_SHA512,
    };
    AlgorithmIdentifierOwned {
        oid,
        parameters: Some(der::asn1::Any::null()),
    }
}

/// A serial number as the DER INTEGER a certificate carries (a 0x00 is prepended when
/// the first magnitude byte has its high bit set).
pub fn serial_integer(serial: &SerialNumber) -> Result<Int, PkixError> {
    let magnitude = serial.as_bytes();
    let integer = if magnitude.first().is_some_and(|b| b & 0x80 != 0) {
        let mut bytes = Vec::with_capacity(magnitude.len() + 1);
        bytes.push(0);
        bytes.extend_from_slice(magnitude);
        Int::new(&bytes)?
    } else {
        Int::new(magnitude)?
    };
    Ok(integer)
}

/// The serial number of a DER INTEGER, when it is one a certificate may carry
/// (positive, at most 20 magnitude octets); `None` otherwise.
pub fn serial_of_integer(integer: &Int) -> Option<SerialNumber> {
    let bytes = integer.as_bytes();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    SerialNumber::from_bytes(bytes).ok()
}

impl CertId {
    /// A CertID from its parts: the issuer's Name DER and subjectPublicKey BIT STRING
    /// contents are hashed with `hash`.
    pub fn new(
        hash: DigestAlgorithm,
        issuer_name_der: &[u8],
        issuer_key_bits: &[u8],
        serial: &SerialNumber,
    ) -> Result<Self, PkixError> {
        Ok(Self {
            hash_algorithm: hash_algorithm_identifier(hash),
            issuer_name_hash: OctetString::new(hash.hash(issuer_name_der))?,
            issuer_key_hash: OctetString::new(hash.hash(issuer_key_bits))?,
            serial_number: serial_integer(serial)?,
        })
    }

    /// The CertID of the certificate `serial` issued by `issuer`.
    pub fn for_issuer(
        issuer: &JpkiCertificate,
        serial: &SerialNumber,
        hash: DigestAlgorithm,
    ) -> Result<Self, PkixError> {
        Self::new(
            hash,
            issuer.subject().der(),
            issuer.public_key_bits(),
            serial,
        )
    }

    /// The hash function, when jpki knows it.
    pub fn digest_algorithm(&self) -> Option<DigestAlgorithm> {
        digest_algorithm_of(&self.hash_algorithm.oid)
    }

    /// The serial number, when it is a valid certificate serial.
    pub fn serial(&self) -> Option<SerialNumber> {
        serial_of_integer(&self.serial_number)
    }

    /// True when this CertID names `issuer` (by both hashes, with its own algorithm).
    pub fn names_issuer(&self, issuer_name_der: &[u8], issuer_key_bits: &[u8]) -> bool {
        self.digest_algorithm().is_some_and(|hash| {
            self.issuer_name_hash.as_bytes() == hash.hash(issuer_name_der).as_slice()
                && self.issuer_key_hash.as_bytes() == hash.hash(issuer_key_bits).as_slice()
        })
    }

    /// True when this CertID is the one of (`issuer`, `serial`).
    pub fn identifies(&self, issuer: &JpkiCertificate, serial: &SerialNumber) -> bool {
        self.serial().as_ref() == Some(serial)
            && self.names_issuer(issuer.subject().der(), issuer.public_key_bits())
    }
}

impl CertStatus {
    pub fn good() -> Self {
        Self::Good(Null)
    }

    pub fn unknown() -> Self {
        Self::Unknown(Null)
    }

    /// `revoked` at `at`, with the reason when one is given.
    pub fn revoked(
        at: OffsetDateTime,
        reason: Option<RevocationReason>,
    ) -> Result<Self, PkixError> {
        Ok(Self::Revoked(RevokedInfo {
            revocation_time: generalized_time(at)?,
            revocation_reason: reason.map(crl_reason),
        }))
    }
}

/// The nonce extension carrying `nonce` (RFC 8954: `Nonce ::= OCTET STRING (SIZE(1..32))`
/// inside the extnValue OCTET STRING; non-critical).
pub fn nonce_extension(nonce: &[u8]) -> Result<Extension, PkixError> {
    if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
        return Err(PkixError::field(
            "OCSP nonce",
            format!("must be 1 to {MAX_NONCE_LEN} octets"),
        ));
    }
    Ok(Extension {
        extn_id: ID_PKIX_OCSP_NONCE,
        critical: false,
        extn_value: OctetString::new(OctetString::new(nonce)?.to_der()?)?,
    })
}

/// The nonce value of a nonce extension: the inner OCTET STRING (RFC 8954), or, for
/// clients that put the raw bytes directly into extnValue (OpenSSL before 0.9.7 and
/// some others), the whole extnValue.
pub fn nonce_value(extension: &Extension) -> &[u8] {
    let value = extension.extn_value.as_bytes();
    match <&der::asn1::OctetStringRef>::from_der(value) {
        Ok(inner) => inner.as_bytes(),
        Err(_) => value,
    }
}

/// The first extension with `oid`, if any.
pub fn find_extension<'a>(
    extensions: Option<&'a Extensions>,
    oid: &ObjectIdentifier,
) -> Option<&'a Extension> {
    extensions?
        .iter()
        .find(|extension| extension.extn_id == *oid)
}

impl OcspRequest {
    /// An unsigned request for `cert_ids`, with a nonce extension when `nonce` is given
    /// (what `openssl ocsp` sends).
    pub fn new(cert_ids: Vec<CertId>, nonce: Option<&[u8]>) -> Result<Self, PkixError> {
        if cert_ids.is_empty() {
            return Err(PkixError::field(
                "OCSP request",
                "must ask about at least one certificate",
            ));
        }
        let request_extensions = nonce
            .map(|nonce| nonce_extension(nonce).map(|extension| vec![extension]))
            .transpose()?;
        Ok(Self {
            tbs_request: TbsRequest {
                version: Version::V1,
                requestor_name: None,
                request_list: cert_ids
                    .into_iter()
                    .map(|req_cert| Request {
                        req_cert,
                        single_request_extensions: None,
                    })
                    .collect(),
                request_extensions,
            },
            optional_signature: None,
        })
    }

    /// The nonce of the request, if it carries one.
    pub fn nonce(&self) -> Option<&[u8]> {
        find_extension(
            self.tbs_request.request_extensions.as_ref(),
            &ID_PKIX_OCSP_NONCE,
        )
        .map(nonce_value)
    }
}

impl OcspResponse {
    /// A response without a body: every status but `successful`.
    pub fn error(status: OcspResponseStatus) -> Self {
        Self {
            response_status: status,
            response_bytes: None,
        }
    }

    /// A `successful` response carrying `basic`.
    pub fn successful(basic: &BasicOcspResponse) -> Result<Self, PkixError> {
        Ok(Self {
            response_status: OcspResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: ID_PKIX_OCSP_BASIC,
                response: OctetString::new(basic.to_der()?)?,
            }),
        })
    }
}

impl BasicOcspResponse {
    /// Signs `tbs_response_data` with `signer` and attaches `certs` (for a delegated
    /// responder: its certificate, so that clients can check the delegation).
    pub fn sign(
        tbs_response_data: ResponseData,
        certs: Option<Vec<Certificate>>,
        signer: &dyn Signer,
    ) -> Result<Self, PkixError> {
        let adapter = SignerAdapter::new(signer)?;
        let tbs = tbs_response_data.to_der()?;
        let signature = adapter.sign_to_bit_string(&tbs)?;
        Ok(Self {
            tbs_response_data,
            signature_algorithm: adapter.algorithm_identifier().clone(),
            signature,
            certs,
        })
    }
}

/// SHA-1 of a subjectPublicKey BIT STRING contents: the `byKey` responder id of that
/// key (RFC 6960 §4.2.1).
pub fn responder_key_hash(public_key_bits: &[u8]) -> Vec<u8> {
    DigestAlgorithm::Sha1.hash(public_key_bits)
}

// ---------------------------------------------------------------------------------------
// The relying party's view.

/// A certificate's status as a relying party reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspCertStatus {
    Good,
    /// Revoked, or on hold when `reason` is `certificateHold`.
    Revoked {
        at: OffsetDateTime,
        reason: Option<RevocationReason>,
    },
    Unknown,
}

/// One single response, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleResponseView {
    pub cert_id: CertId,
    pub status: OcspCertStatus,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
}

/// Which key signed a response, once [`OcspResponseView::verify_for_issuer`] checked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseSigner {
    /// The CA's own key.
    Issuer,
    /// A delegated responder certificate (RFC 6960 §4.2.2.2) from the response's
    /// `certs`, issued by the CA, with id-kp-OCSPSigning, valid at the time given.
    Delegated(Box<JpkiCertificate>),
}

#[derive(Sequence)]
struct BasicEnvelope<'a> {
    tbs: AnyRef<'a>,
    algorithm: AlgorithmIdentifierRef<'a>,
    signature: BitStringRef<'a>,
    #[asn1(context_specific = "0", optional = "true", tag_mode = "EXPLICIT")]
    certs: Option<Vec<AnyRef<'a>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct BasicView {
    tbs_der: Vec<u8>,
    signature_algorithm: Option<SignatureAlgorithm>,
    signature: Vec<u8>,
    responder_id: ResponderId,
    produced_at: OffsetDateTime,
    responses: Vec<SingleResponseView>,
    nonce: Option<Vec<u8>>,
    certificates: Vec<Vec<u8>>,
}

/// A parsed OCSP response: everything a relying party checks, kept with the exact
/// signed bytes so the signature can be verified.
///
/// Parsing refuses malformed DER, a successful response without a basic response, a
/// response type other than `id-pkix-ocsp-basic`, a version other than v1, and times
/// out of range. It does not verify anything: call
/// [`OcspResponseView::verify_for_issuer`], then look the certificate up with
/// [`OcspResponseView::find`] and check its thisUpdate / nextUpdate against your clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspResponseView {
    status: OcspResponseStatus,
    basic: Option<BasicView>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PkixError {
    PkixError::field(field, reason)
}

impl OcspResponseView {
    /// Parses a DER `OCSPResponse`.
    pub fn from_der(der: &[u8]) -> Result<Self, PkixError> {
        let response = OcspResponse::from_der(der)?;
        let basic = match (response.response_status, &response.response_bytes) {
            (OcspResponseStatus::Successful, Some(bytes)) => {
                if bytes.response_type != ID_PKIX_OCSP_BASIC {
                    return Err(invalid(
                        "OCSP response",
                        format!("unsupported response type {}", bytes.response_type),
                    ));
                }
                Some(Self::parse_basic(bytes.response.as_bytes())?)
            }
            (OcspResponseStatus::Successful, None) => {
                return Err(invalid(
                    "OCSP response",
                    "successful, but without responseBytes",
                ));
            }
            (_, Some(_)) => {
                return Err(invalid(
                    "OCSP response",
                    "an error status with responseBytes",
                ));
            }
            (_, None) => None,
        };
        Ok(Self {
            status: response.response_status,
            basic,
        })
    }

    fn parse_basic(der: &[u8]) -> Result<BasicView, PkixError> {
        let envelope = BasicEnvelope::from_der(der)?;
        let tbs_der = envelope.tbs.to_der()?;
        let data = ResponseData::from_der(&tbs_der)?;
        let signature = envelope
            .signature
            .as_bytes()
            .ok_or_else(|| invalid("OCSP response", "signature has unused bits"))?
            .to_vec();
        let certificates = envelope
            .certs
            .unwrap_or_default()
            .iter()
            .map(|cert| cert.to_der())
            .collect::<Result<Vec<_>, _>>()?;
        let responses = data
            .responses
            .iter()
            .map(|single| {
                let status = match &single.cert_status {
                    CertStatus::Good(_) => OcspCertStatus::Good,
                    CertStatus::Unknown(_) => OcspCertStatus::Unknown,
                    CertStatus::Revoked(info) => OcspCertStatus::Revoked {
                        at: instant_of(&info.revocation_time)?,
                        reason: info.revocation_reason.map(revocation_reason),
                    },
                };
                Ok(SingleResponseView {
                    cert_id: single.cert_id.clone(),
                    status,
                    this_update: instant_of(&single.this_update)?,
                    next_update: single.next_update.as_ref().map(instant_of).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, PkixError>>()?;
        let nonce = find_extension(data.response_extensions.as_ref(), &ID_PKIX_OCSP_NONCE)
            .map(|extension| nonce_value(extension).to_vec());
        Ok(BasicView {
            tbs_der,
            signature_algorithm: signature_algorithm_of(&envelope.algorithm).ok(),
            signature,
            responder_id: data.responder_id,
            produced_at: instant_of(&data.produced_at)?,
            responses,
            nonce,
            certificates,
        })
    }

    /// The response status; anything but `successful` carries no answers.
    pub fn response_status(&self) -> OcspResponseStatus {
        self.status
    }

    /// producedAt, for a successful response.
    pub fn produced_at(&self) -> Option<OffsetDateTime> {
        self.basic.as_ref().map(|basic| basic.produced_at)
    }

    /// The responder id, for a successful response.
    pub fn responder_id(&self) -> Option<&ResponderId> {
        self.basic.as_ref().map(|basic| &basic.responder_id)
    }

    /// The single responses, in order (empty for an error response).
    pub fn responses(&self) -> &[SingleResponseView] {
        self.basic
            .as_ref()
            .map_or(&[], |basic| basic.responses.as_slice())
    }

    /// The nonce the responder echoed, if any.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.basic.as_ref()?.nonce.as_deref()
    }

    /// The DER certificates in `certs` (a delegated responder puts its own there).
    pub fn certificates(&self) -> &[Vec<u8>] {
        self.basic
            .as_ref()
            .map_or(&[], |basic| basic.certificates.as_slice())
    }

    /// The signature algorithm, when it is one jpki verifies.
    pub fn signature_algorithm(&self) -> Option<SignatureAlgorithm> {
        self.basic.as_ref()?.signature_algorithm
    }

    /// The single response about (`issuer`, `serial`), whatever CertID hash the
    /// responder used.
    pub fn find(
        &self,
        issuer: &JpkiCertificate,
        serial: &SerialNumber,
    ) -> Option<&SingleResponseView> {
        self.responses()
            .iter()
            .find(|single| single.cert_id.identifies(issuer, serial))
    }

    /// True when the responder id names `certificate` (by key hash or by subject).
    pub fn is_responder(&self, certificate: &JpkiCertificate) -> bool {
        match self.responder_id() {
            Some(ResponderId::ByKey(hash)) => {
                hash.as_bytes() == responder_key_hash(certificate.public_key_bits()).as_slice()
            }
            Some(ResponderId::ByName(name)) => name
                .to_der()
                .is_ok_and(|der| der.as_slice() == certificate.subject().der()),
            None => false,
        }
    }

    /// Checks the signature with a DER SubjectPublicKeyInfo.
    pub fn verify_signature_with(&self, public_key_der: &[u8]) -> Result<(), PkixError> {
        let basic = self.basic.as_ref().ok_or_else(|| {
            invalid(
                "OCSP response",
                format!("status {} carries no signature", self.status.as_str()),
            )
        })?;
        let algorithm = basic.signature_algorithm.ok_or_else(|| {
            PkixError::UnsupportedSignatureAlgorithm("the OCSP response's algorithm".to_owned())
        })?;
        verify_signature(algorithm, public_key_der, &basic.tbs_der, &basic.signature)
            .map_err(|_| PkixError::BadSignature)
    }

    /// Finds and checks the key that signed this response on behalf of `issuer`:
    ///
    /// 1. when the responder id names the CA, the CA's key must verify the signature;
    /// 2. otherwise a certificate from `certs` named by the responder id must be issued
    ///    by the CA (name and signature), carry id-kp-OCSPSigning in its
    ///    extendedKeyUsage, be valid at `at`, and its key must verify the signature.
    ///
    /// Each single response's CertID must also name `issuer` (a delegated responder
    /// speaks only for the CA that certified it, RFC 6960 §4.2.2.2).
    pub fn verify_for_issuer(
        &self,
        issuer: &JpkiCertificate,
        at: OffsetDateTime,
    ) -> Result<ResponseSigner, PkixError> {
        if self.basic.is_none() {
            return Err(invalid(
                "OCSP response",
                format!("status {} carries no signature", self.status.as_str()),
            ));
        }
        if let Some(foreign) = self
            .responses()
            .iter()
            .find(|single| {
                !single
                    .cert_id
                    .names_issuer(issuer.subject().der(), issuer.public_key_bits())
            })
            .map(|single| single.cert_id.serial_number.as_bytes().to_vec())
        {
            return Err(invalid(
                "OCSP response",
                format!(
                    "a single response (serial {}) is not about a certificate of this issuer",
                    hex_upper(&foreign)
                ),
            ));
        }
        if self.is_responder(issuer) {
            self.verify_signature_with(issuer.public_key_der())?;
            return Ok(ResponseSigner::Issuer);
        }
        for der in self.certificates() {
            let Ok(candidate) = JpkiCertificate::from_der(der) else {
                continue;
            };
            if !self.is_responder(&candidate) {
                continue;
            }
            candidate.verify_issued_by(issuer)?;
            if !has_ocsp_signing(der)? {
                return Err(invalid(
                    "OCSP responder certificate",
                    "lacks id-kp-OCSPSigning in extendedKeyUsage (RFC 6960 §4.2.2.2)",
                ));
            }
            if at < candidate.not_before() || at > candidate.not_after() {
                return Err(invalid(
                    "OCSP responder certificate",
                    format!(
                        "not valid at {at} (valid {} to {})",
                        candidate.not_before(),
                        candidate.not_after()
                    ),
                ));
            }
            self.verify_signature_with(candidate.public_key_der())?;
            return Ok(ResponseSigner::Delegated(Box::new(candidate)));
        }
        Err(invalid(
            "OCSP response",
            "signed neither by the issuer nor by a responder certificate in certs",
        ))
    }
}

/// True when the DER certificate's extendedKeyUsage lists id-kp-OCSPSigning.
pub fn has_ocsp_signing(certificate_der: &[u8]) -> Result<bool, PkixError> {
    let certificate = Certificate::from_der(certificate_der)?;
    Ok(certificate
        .tbs_certificate()
        .get_extension::<ExtendedKeyUsage>()?
        .is_some_and(|(_, usage)| usage.0.contains(&ID_KP_OCSP_SIGNING)))
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(parts: &[&str]) -> Vec<u8> {
        hex::decode(parts.concat()).unwrap()
    }

    /// `openssl ocsp -issuer ca.pem -serial 0x1001 -reqout req.der` (OpenSSL 3.0.19, a
    /// throwaway RSA-2048 CA `C=JP, O=JPKI, OU=fixture CA`): one SHA-1 CertID and a
    /// 16-byte nonce.
    const OPENSSL_REQUEST_SHA1_NONCE: &[&str] = &[
        "30683066303f303d303b300906052b0e03021a050004141ec2df27b8f7370823533ea62acd548cd912fa0604",
        "14266b7fc3cfd7e293cdb86e64632e96e7c9243ec502021001a2233021301f06092b06010505073001020412",
        "0410b08231ddd03e881934ce43efd632a7e6",
    ];

    /// `openssl ocsp -sha256 -issuer ca.pem -serial 0x1001 -serial 0x80AB -no_nonce
    /// -reqout req.der`: two SHA-256 CertIDs (NULL parameters), no nonce.
    const OPENSSL_REQUEST_SHA256_TWO: &[&str] = &[
        "3081bd3081ba3081b730593057300d0609608648016503040201050004205d424711e0d829d3781177feafca",
        "dd1eea937f2f1c8f4a6fe05024c584c4d0f1042053b2d3a41153425f740f170fc4b5269094544317cf941611",
        "bdb091d7945daafe02021001305a3058300d0609608648016503040201050004205d424711e0d829d3781177",
        "feafcadd1eea937f2f1c8f4a6fe05024c584c4d0f1042053b2d3a41153425f740f170fc4b5269094544317cf",
        "941611bdb091d7945daafe02030080ab",
    ];

    /// `openssl ocsp -index index.txt -rsigner ca.pem -rkey ca.key -CA ca.pem -reqin
    /// <the request above> -respout resp.der -ndays 1 -resp_key_id`, with 1001 valid and
    /// 80AB revoked `certificateHold` at 2026-11-26 00:00:00 UTC. Signed by the CA itself,
    /// which is in `certs`.
    const OPENSSL_RESPONSE_TWO: &[&str] = &[
        "308205cc0a0100a08205c5308205c106092b0601050507300101048205b2308205ae30820147a2160414266b",
        "7fc3cfd7e293cdb86e64632e96e7c9243ec5180f32303236313132363133333335315a3082011a307f305730",
        "0d0609608648016503040201050004205d424711e0d829d3781177feafcadd1eea937f2f1c8f4a6fe05024c5",
        "84c4d0f1042053b2d3a41153425f740f170fc4b5269094544317cf941611bdb091d7945daafe020210018000",
        "180f32303236313132363133333335315aa011180f32303236313132373133333335315a3081963058300d06",
        "09608648016503040201050004205d424711e0d829d3781177feafcadd1eea937f2f1c8f4a6fe05024c584c4",
        "d0f1042053b2d3a41153425f740f170fc4b5269094544317cf941611bdb091d7945daafe02030080aba11618",
        "0f32303236313132363030303030305aa0030a0106180f32303236313132363133333335315aa011180f3230",
        "3236313132373133333335315a300d06092a864886f70d01010b0500038201010079b4e152045d6ee56169a9",
        "3cbbc2f7eee8e237918a60be62db80a3624f382862ed0f0d862017318461264467adb1a0882342566eba84f9",
        "b04da6a244a7168ca38a90319cf64780292243552d12602be1bc8b4aebbb4a334fb27d7eb72eb3df05b80247",
        "f66d658f807ba9fc5e948efb9d365085282c0d040058545693244f2863d055edbef5ac4dd5077fc03efd4a64",
        "336ebdc6eb3ea7da1d5d9dcb51545c9e664d512407d7ae364372b404cc2a4da6d5555a3e5bbc4313fb323225",
        "74c1b5b3e915510f28370e0ec29e3ab5c229a8a66789a2b526362a8ba98802bf1fd71458efacfecd14794f9f",
        "da0fdc938a279aa4fe8c9db5a229adda46a6aa8cac4279e5eda082034b30820347308203433082022ba00302",
        "0102021430b91ba87981d54b9a86009a2d1be9cc735b5937300d06092a864886f70d01010b05003031310b30",
        "09060355040613024a50310d300b060355040a0c044a504b4931133011060355040b0c0a6669787475726520",
        "4341301e170d3236313132363133333334395a170d3336313132333133333334395a3031310b300906035504",
        "0613024a50310d300b060355040a0c044a504b4931133011060355040b0c0a66697874757265204341308201",
        "22300d06092a864886f70d01010105000382010f003082010a02820101008f90f2db2c22e0729c7b85c2effb",
        "0110924352a33376f6f233980bb3b43977c600fdbab84ef02314705d8ff1dcbb42cde7c60d6048c26e04c8b5",
        "e66533f799cd82708fbc79c7ebff9a76ea8106e95ec2be696e35283a59378083b832f4f99f378673b98e0289",
        "f98c53bb5b789a8b4c00fd12134624e1b998fa0b1880583e33f4e748e916f7d3fa159d966c93eeefdca85737",
        "233be6f9665b6cbb49ccbda3d8632084c95156e08078c8e9baf2b04785858d54207cc55bdcb7b45749e22ef8",
        "c58330ac2805f1dd97e2e8788cb99ce40b54170b4489470b1b3ccbc0857ee8e5be564d471df0395af190863b",
        "f83e8ddc2adb4f5ee6222748bc28cf004c6ba77a89cf0203010001a3533051301d0603551d0e04160414266b",
        "7fc3cfd7e293cdb86e64632e96e7c9243ec5301f0603551d23041830168014266b7fc3cfd7e293cdb86e6463",
        "2e96e7c9243ec5300f0603551d130101ff040530030101ff300d06092a864886f70d01010b05000382010100",
        "315cfb4b9d66bca26def7decaf5cccb5c68b5521f2ae716a4664eb8d32eae638918b3fec092360b7e14bb684",
        "4a1c9f255e8353fe84b11b83fc5fc60631d1d5937db4c8c356f24ea65dd7a2906fff0c0c1b649e4b5ae8c575",
        "84f1eaf1dc9ce3d62f69177a7bc2074efb5ddc13ec2ecc290afb7a9f10ae900c80973fd63202bcadac0f8def",
        "33dd85b207be8d50b6fb3d60be7ad5f456c5f4f83e74f3b5af50a10a0ff2afe220ee8e49e2ade883fe8f47d4",
        "a98c4b4de7453975d030b6e397170fb7905cd68c47c2e71299c500fd6425f8fb0abc170a0c903ec1fb6745f6",
        "923316f4f56823135806fb05b234bbc706a0d236e133f5cd5840c69f9849491143b99f68",
    ];

    #[test]
    fn openssl_requests_decode_and_re_encode_byte_for_byte() {
        let der = bytes(OPENSSL_REQUEST_SHA1_NONCE);
        let request = OcspRequest::from_der(&der).unwrap();
        assert_eq!(request.to_der().unwrap(), der);
        assert_eq!(request.tbs_request.version, Version::V1);
        let ids: Vec<&CertId> = request
            .tbs_request
            .request_list
            .iter()
            .map(|r| &r.req_cert)
            .collect();
        assert_eq!(ids.len(), 1);
        assert_eq!(ids[0].digest_algorithm(), Some(DigestAlgorithm::Sha1));
        assert_eq!(ids[0].serial(), SerialNumber::from_hex("1001").ok());
        assert_eq!(
            request.nonce().map(hex::encode),
            Some("b08231ddd03e881934ce43efd632a7e6".to_owned())
        );

        let der = bytes(OPENSSL_REQUEST_SHA256_TWO);
        let request = OcspRequest::from_der(&der).unwrap();
        assert_eq!(request.to_der().unwrap(), der);
        assert_eq!(request.nonce(), None);
        let serials: Vec<_> = request
            .tbs_request
            .request_list
            .iter()
            .map(|r| (r.req_cert.digest_algorithm(), r.req_cert.serial()))
            .collect();
        assert_eq!(
            serials,
            [
                (
                    Some(DigestAlgorithm::Sha256),
                    SerialNumber::from_hex("1001").ok()
                ),
                (
                    Some(DigestAlgorithm::Sha256),
                    SerialNumber::from_hex("80AB").ok()
                ),
            ]
        );
        // Our encoder writes the SHA-256 AlgorithmIdentifier exactly as OpenSSL does.
        let ours = hash_algorithm_identifier(DigestAlgorithm::Sha256);
        assert_eq!(
            ours,
            request.tbs_request.request_list[0].req_cert.hash_algorithm
        );
    }

    #[test]
    fn an_openssl_response_decodes_re_encodes_and_verifies() {
        let der = bytes(OPENSSL_RESPONSE_TWO);
        let response = OcspResponse::from_der(&der).unwrap();
        assert_eq!(response.to_der().unwrap(), der);
        let body = response.response_bytes.as_ref().unwrap();
        let basic = BasicOcspResponse::from_der(body.response.as_bytes()).unwrap();
        assert_eq!(basic.to_der().unwrap(), body.response.as_bytes());

        let view = OcspResponseView::from_der(&der).unwrap();
        assert_eq!(view.response_status(), OcspResponseStatus::Successful);
        assert_eq!(view.nonce(), None);
        assert_eq!(view.certificates().len(), 1);
        let ca = JpkiCertificate::from_der(&view.certificates()[0]).unwrap();
        assert!(view.is_responder(&ca), "responder id is the CA key hash");
        let at = view.produced_at().unwrap();
        assert_eq!(at, time::macros::datetime!(2026-11-26 13:33:51 UTC));
        assert_eq!(
            view.verify_for_issuer(&ca, at).unwrap(),
            ResponseSigner::Issuer
        );

        let good = view
            .find(&ca, &SerialNumber::from_hex("1001").unwrap())
            .unwrap();
        assert_eq!(good.status, OcspCertStatus::Good);
        assert_eq!(good.next_update, Some(at + time::Duration::days(1)));
        let held = view
            .find(&ca, &SerialNumber::from_hex("80AB").unwrap())
            .unwrap();
        assert_eq!(
            held.status,
            OcspCertStatus::Revoked {
                at: time::macros::datetime!(2026-11-26 00:00:00 UTC),
                reason: Some(RevocationReason::CertificateHold),
            }
        );
        assert!(
            view.find(&ca, &SerialNumber::from_hex("1002").unwrap())
                .is_none()
        );

        // One flipped bit in the signed data breaks the signature.
        let mut tampered = der.clone();
        let index = tampered.windows(2).position(|w| w == [0x02, 0x02]).unwrap();
        tampered[index + 3] ^= 0x01;
        let view = OcspResponseView::from_der(&tampered).unwrap();
        assert!(view.verify_for_issuer(&ca, at).is_err());
    }

    #[test]
    fn serial_integers_round_trip_and_refuse_non_serials() {
        let serial = SerialNumber::from_hex("8001").unwrap();
        let integer = serial_integer(&serial).unwrap();
        assert_eq!(integer.as_bytes(), &[0x00, 0x80, 0x01]);
        assert_eq!(serial_of_integer(&integer), Some(serial));
        let small = SerialNumber::from_hex("7f").unwrap();
        assert_eq!(serial_integer(&small).unwrap().as_bytes(), &[0x7f]);
        assert_eq!(serial_of_integer(&Int::new(&[0xff]).unwrap()), None);
        assert_eq!(serial_of_integer(&Int::new(&[0x00]).unwrap()), None);
        assert_eq!(serial_of_integer(&Int::new(&[0x01; 21]).unwrap()), None);
    }

    #[test]
    fn error_responses_are_five_bytes() {
        let der = OcspResponse::error(OcspResponseStatus::MalformedRequest)
            .to_der()
            .unwrap();
        assert_eq!(der, [0x30, 0x03, 0x0a, 0x01, 0x01]);
        let view = OcspResponseView::from_der(&der).unwrap();
        assert_eq!(view.response_status(), OcspResponseStatus::MalformedRequest);
        assert!(view.responses().is_empty());
        let unauthorized = OcspResponse::error(OcspResponseStatus::Unauthorized)
            .to_der()
            .unwrap();
        assert_eq!(unauthorized, [0x30, 0x03, 0x0a, 0x01, 0x06]);
    }

    #[test]
    fn requests_round_trip_with_and_without_nonce() {
        let serial = SerialNumber::from_hex("1001").unwrap();
        let id = CertId::new(DigestAlgorithm::Sha256, b"name", b"key", &serial).unwrap();
        let request = OcspRequest::new(vec![id.clone()], Some(&[7u8; 16])).unwrap();
        let der = request.to_der().unwrap();
        let back = OcspRequest::from_der(&der).unwrap();
        assert_eq!(back, request);
        assert_eq!(back.nonce(), Some(&[7u8; 16][..]));
        assert_eq!(
            back.tbs_request.request_list[0].req_cert.serial(),
            Some(serial)
        );
        assert!(id.names_issuer(b"name", b"key"));
        assert!(!id.names_issuer(b"name", b"other key"));
        let plain = OcspRequest::new(vec![id], None).unwrap();
        assert_eq!(
            OcspRequest::from_der(&plain.to_der().unwrap())
                .unwrap()
                .nonce(),
            None
        );
        assert!(OcspRequest::new(Vec::new(), None).is_err());
    }

    #[test]
    fn nonces_are_bounded_and_read_in_both_encodings() {
        assert!(nonce_extension(&[]).is_err());
        assert!(nonce_extension(&[0; MAX_NONCE_LEN + 1]).is_err());
        let extension = nonce_extension(&[1, 2, 3]).unwrap();
        assert_eq!(extension.extn_value.as_bytes(), &[0x04, 0x03, 1, 2, 3]);
        assert_eq!(nonce_value(&extension), &[1, 2, 3]);
        let raw = Extension {
            extn_id: ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(vec![0xAA, 0xBB]).unwrap(),
        };
        assert_eq!(nonce_value(&raw), &[0xAA, 0xBB]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let truncated = bytes(OPENSSL_RESPONSE_TWO);
        let truncated = &truncated[..truncated.len() / 2];
        for bytes in [
            &[][..],
            &[0x30],
            &[0x30, 0x80, 0x00, 0x00],
            &[0x30, 0x03, 0x0a, 0x01, 0x04],
            &[0x30, 0x05, 0x0a, 0x01, 0x00, 0xa0, 0x00],
            &[0xff; 64],
            truncated,
        ] {
            assert!(OcspResponseView::from_der(bytes).is_err(), "{bytes:?}");
            assert!(OcspRequest::from_der(bytes).is_err(), "{bytes:?}");
        }
    }
}
