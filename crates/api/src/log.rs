//! `/api/v1/log/…`: the verifiable usage log. The tree head, history bundle and
//! consistency proof bodies are `jpki-log`'s documents, re-exported here so that both
//! sides of the API name the same types; their byte formats are specified in
//! `docs/verifiable-log.md`.
//!
//! ```text
//! GET /api/v1/log/sth                             SignedTreeHead (public)
//! GET /api/v1/log/key                             LogKeyView (public)
//! GET /api/v1/log/consistency?first=N&second=M    ConsistencyProofDocument (public)
//! GET /api/v1/log/history[?since=N]               HistoryBundle of the caller:
//!     Authorization: Bearer <session token>                  (portal login), or
//!     Authorization: Bearer <device token> + ?device_id=…    (the phone)
//! ```

use serde::{Deserialize, Serialize};

pub use jpki_log::{
    Checkpoint, ConsistencyProofDocument, HistoryBundle, SignedTreeHead, VerifiedDocument,
};

/// `GET /api/v1/log/key`: the key the log's tree heads verify with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogKeyView {
    /// SHA-256 of the DER SubjectPublicKeyInfo, hex: every tree head names it.
    pub log_id: String,
    /// `ecdsa-p256-sha256` or `rsa-pkcs1-sha256`.
    pub algorithm: String,
    /// The SubjectPublicKeyInfo as PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key_pem: String,
    /// The same, DER in base64 (standard alphabet, padded).
    pub public_key_der: String,
}

/// `?first=N&second=M` of `GET /api/v1/log/consistency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    pub first: u64,
    pub second: u64,
}

/// The query of `GET /api/v1/log/history`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogHistoryQuery {
    /// The size of a published tree head the caller holds: the bundle then carries the
    /// consistency proof from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// With the phone's device token: the phone's secure element serial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}
