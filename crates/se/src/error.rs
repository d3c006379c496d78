//! The errors of jpki-se.
//!
//! Inside the secure element, failures are status words (the one edge to the wire is
//! `Session::transmit`). [`SeError`] is for the host side: SE files, manufacturing, the
//! vendor CA, the simulated sensor, and the typed host operations. The verdicts of the
//! attestation verifier are [`crate::AttestationError`], a separate enum on purpose: a
//! registration authority matches on them to decide what to tell an applicant, and
//! none of them is a failure of this crate.

use std::path::PathBuf;

use jpki_apdu::StatusWord;
use jpki_card::CardFileError;
use jpki_crypto::CryptoError;
use jpki_pkix::PkixError;
use jpki_reader::ReaderError;

/// Why a host-side operation on a secure element failed. Messages never contain PINs,
/// keys, binding secrets or biometric template names.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot save the secure element file: {0}")]
    Save(#[source] CardFileError),
    #[error("not a secure element file: it is not JSON ({0})")]
    Syntax(String),
    #[error(
        "not a jpki secure element file (format {found:?}, expected \"jpki-virtual-secure-element\")"
    )]
    UnknownFormat { found: String },
    #[error("secure element file version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion { found: u64, supported: u32 },
    #[error("the file is malformed: {0}")]
    Malformed(String),
    #[error(
        "the file does not open: wrong device key (KEK), or its public or sealed part was changed"
    )]
    Unseal,
    #[error("the file is inconsistent: {0}")]
    Inconsistent(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("the vendor CA key does not match the vendor CA certificate")]
    VendorKeyMismatch,
    #[error("cryptographic failure: {0}")]
    Crypto(#[from] CryptoError),
    #[error("certificate failure: {0}")]
    Pkix(#[from] PkixError),
    #[error("DER encoding failure: {0}")]
    Der(#[from] der::Error),
    #[error(transparent)]
    Reader(#[from] ReaderError),
    #[error("{operation} failed: the secure element answered {sw}")]
    Refused {
        operation: &'static str,
        sw: StatusWord,
    },
    #[error("unexpected answer from the secure element: {0}")]
    UnexpectedAnswer(String),
    #[error("the presented biometric does not match the enrolled template: no assertion")]
    NoBiometricMatch,
}

impl SeError {
    /// The status word the secure element answered, when the failure is its refusal.
    pub fn status_word(&self) -> Option<StatusWord> {
        match self {
            Self::Refused { sw, .. } => Some(*sw),
            Self::Reader(error) => error.status_word(),
            _ => None,
        }
    }
}
