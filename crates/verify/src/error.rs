//! The one error type of jpki-verify.
//!
//! Verification *outcomes* are not errors: a bad signature, an expired certificate or an
//! unreachable responder is a [`crate::Verdict`]. `VerifyError` is for the operations
//! around them that can fail on their own: loading trust anchors, talking HTTP, decoding
//! evidence a caller hands in.

use std::path::PathBuf;

/// What can go wrong outside a verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("trust anchor {source_name}: {reason}")]
    BadAnchor { source_name: String, reason: String },
    #[error("no certificate found in {0}")]
    NoCertificate(String),
    #[error(
        "{source_name} is not one of the published J-LIS CA certificates (SHA-256 {fingerprint})"
    )]
    NotJlisAnchor {
        source_name: String,
        fingerprint: String,
    },
    #[error("certificate: {0}")]
    Certificate(#[from] jpki_pkix::PkixError),
    #[error("HTTP transport: {0}")]
    Transport(#[from] crate::status::http::TransportError),
    #[error("status evidence: {0}")]
    Evidence(String),
}
