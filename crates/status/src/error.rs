//! The one error type of jpki-status, and its one mapping to the OCSP wire.

use jpki_crypto::CryptoError;
use jpki_pkix::PkixError;
use jpki_pkix::ocsp::OcspResponseStatus;

/// Everything that can go wrong in the status services. Messages never carry key
/// material; request bytes are described, never echoed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    // ---- the client's request ----
    #[error("malformed OCSP request: {0}")]
    MalformedRequest(String),
    #[error("the OCSP request names no certificate authority this responder serves")]
    UnknownIssuer,

    // ---- configuration ----
    #[error("invalid issuer id {0:?}: 1 to 64 characters of A-Z a-z 0-9 _ -")]
    InvalidIssuerId(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("no certificate authority {0:?} is configured here")]
    UnknownAuthority(String),
    #[error("no full CRL has been published yet for {issuer} shard {shard}; publish one first")]
    NoBaseCrl { issuer: String, shard: u32 },
    #[error(
        "the OCSP responder certificate of {issuer} is not valid now (valid until {not_after})"
    )]
    ResponderCertificateExpired {
        issuer: String,
        not_after: time::OffsetDateTime,
    },

    // ---- the data behind the traits ----
    #[error("status backend failed: {0}")]
    Backend(String),

    // ---- encoding and signing ----
    #[error(transparent)]
    Pkix(#[from] PkixError),
    #[error("signing failed: {0}")]
    Signing(#[from] CryptoError),
    #[error("DER encoding failed: {0}")]
    Der(#[from] der::Error),
    #[error("a blocking task failed: {0}")]
    Task(String),
}

impl StatusError {
    /// The OCSP response status a failure is answered with (RFC 6960 §2.3). The only
    /// place where errors meet the OCSP wire.
    pub fn ocsp_status(&self) -> OcspResponseStatus {
        match self {
            Self::MalformedRequest(_) => OcspResponseStatus::MalformedRequest,
            // RFC 5019 §2.2.3 / RFC 6960 §2.3: "not capable of responding authoritatively".
            Self::UnknownIssuer => OcspResponseStatus::Unauthorized,
            // The database may come back: the client should retry.
            Self::Backend(_) => OcspResponseStatus::TryLater,
            Self::InvalidIssuerId(_)
            | Self::Config(_)
            | Self::UnknownAuthority(_)
            | Self::NoBaseCrl { .. }
            | Self::ResponderCertificateExpired { .. }
            | Self::Pkix(_)
            | Self::Signing(_)
            | Self::Der(_)
            | Self::Task(_) => OcspResponseStatus::InternalError,
        }
    }
}
