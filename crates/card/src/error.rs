use std::path::PathBuf;

use jpki_crypto::CryptoError;

/// Why a card file could not be written or read, or a card could not be built.
///
/// Inside the card, failures are status words (the one edge to the wire is
/// `Applet::process`); this enum is for the host side of the card: its file, its
/// configuration. Messages never contain PINs, keys or personal data: errors about the
/// sealed part name the position, not the content.
#[derive(Debug, thiserror::Error)]
pub enum CardFileError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a virtual card file: it is not JSON ({0})")]
    Syntax(String),
    #[error("not a jpki virtual card file (format {found:?}, expected \"jpki-virtual-card\")")]
    UnknownFormat { found: String },
    #[error(
        "virtual card file version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion { found: u64, supported: u32 },
    #[error("the card file is malformed: {0}")]
    Malformed(String),
    #[error(
        "the card file does not open: wrong device key (KEK), or its public or sealed part was changed"
    )]
    Unseal,
    #[error("the card file is inconsistent: {0}")]
    Inconsistent(String),
    #[error("invalid JPKI AP profile: {0}")]
    InvalidProfile(String),
    #[error("cryptographic failure: {0}")]
    Crypto(#[from] CryptoError),
}
