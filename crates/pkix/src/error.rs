//! The one error type of jpki-pkix.

use jpki_crypto::CryptoError;
use jpki_model::CertificateKind;
use time::OffsetDateTime;

/// Everything that can go wrong while building, issuing or parsing. Messages name the
/// rule that was broken; none carries key material or personal data (a malformed SAN is
/// reported by OID, never by its value).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkixError {
    // ---- input that is not what it claims to be ----
    #[error("malformed DER: {0}")]
    Der(#[from] der::Error),
    #[error("malformed PEM: {0}")]
    Pem(String),
    #[error("expected PEM label {expected:?}, found {found:?}")]
    PemLabel {
        expected: &'static str,
        found: String,
    },
    #[error("malformed certificate: {0}")]
    MalformedCertificate(String),
    #[error("malformed JPKI basic information in the subjectAltName: {0}")]
    MalformedBasicInfo(String),

    // ---- keys and algorithms ----
    #[error("unsupported public key: {0} (jpki accepts RSA of 2048 to 8192 bits, or EC P-256)")]
    UnsupportedKey(String),
    #[error("RSA key of {bits} bits is too weak: at least 2048 bits are required")]
    WeakRsaKey { bits: usize },
    #[error(
        "unsupported signature algorithm {0} (jpki accepts sha256WithRSAEncryption and ecdsa-with-SHA256)"
    )]
    UnsupportedSignatureAlgorithm(String),
    #[error("the signature algorithm {algorithm} does not match the {key} public key")]
    AlgorithmKeyMismatch { algorithm: String, key: String },
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the certificate's issuer name is not the presumed issuer's subject name")]
    IssuerNameMismatch,
    #[error("signing failed: {0}")]
    Signing(#[from] CryptoError),

    // ---- values a caller supplied ----
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("serial number is {len} octets once DER-encoded; RFC 5280 allows at most 20")]
    SerialTooLong { len: usize },
    #[error("time {0} cannot be encoded in a certificate (years 1970 to 9999 only)")]
    TimeOutOfRange(OffsetDateTime),

    // ---- issuance invariants (the issuer re-checks them itself) ----
    #[error("the certificate to issue is not a CA certificate: {0}")]
    NotACa(String),
    #[error("notBefore {not_before} is not earlier than notAfter {not_after}")]
    EmptyValidity {
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    },
    #[error("notAfter {not_after} is past the issuing CA's notAfter {issuer_not_after}")]
    OutlivesIssuer {
        not_after: OffsetDateTime,
        issuer_not_after: OffsetDateTime,
    },
    #[error("notBefore {not_before} is before the issuing CA's notBefore {issuer_not_before}")]
    PredatesIssuer {
        not_before: OffsetDateTime,
        issuer_not_before: OffsetDateTime,
    },
    #[error("a {kind} must carry the basic 4 information, and none was given")]
    MissingBasicInfo { kind: CertificateKind },
    #[error("a {kind} must not carry personal data, but basic information was given")]
    UnexpectedBasicInfo { kind: CertificateKind },
    #[error("the signing key does not match the issuer certificate's public key")]
    IssuerKeyMismatch,
    #[error("this CA issues {issuer_purpose} certificates only; refusing a {kind}")]
    IssuerPurposeMismatch {
        issuer_purpose: &'static str,
        kind: CertificateKind,
    },

    // ---- validity rule ----
    #[error(
        "no validity left: the computed notAfter {not_after} is not after the issuance time {issued_at}"
    )]
    NoValidityLeft {
        issued_at: OffsetDateTime,
        not_after: OffsetDateTime,
    },

    // ---- certificate content that contradicts the JPKI profile ----
    #[error("inconsistent certificate policies: {0}")]
    InconsistentPolicies(String),
}

impl From<x509_cert::builder::Error> for PkixError {
    fn from(error: x509_cert::builder::Error) -> Self {
        match error {
            x509_cert::builder::Error::Asn1(inner) => Self::Der(inner),
            other => Self::MalformedCertificate(other.to_string()),
        }
    }
}

impl From<spki::Error> for PkixError {
    fn from(error: spki::Error) -> Self {
        match error {
            spki::Error::Asn1(inner) => Self::Der(inner),
            other => Self::UnsupportedKey(other.to_string()),
        }
    }
}

impl PkixError {
    pub(crate) fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}
