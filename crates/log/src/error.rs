//! Errors of jpki-log.
//!
//! Two enums, one per side of the trust boundary: [`LogError`] is the operator's (a store
//! failed, a request was out of range, signing failed) and [`LogVerifyError`] is the
//! verdict a citizen's verifier reaches on a bundle it was given (what exactly does not
//! hold, and for which entry). A `LogVerifyError` never means "the verifier broke": every
//! variant is a property of the input. [`EntryError`] is shared: encoding an entry fails
//! the same way on both sides.
//!
//! Each verification error has a stable code ([`LogVerifyError::code`], `LOGV-…`) that
//! portals and logs can match on.

use std::fmt;

use jpki_crypto::CryptoError;

use crate::proof::ProofError;

/// An entry that cannot be encoded (a field out of range, a detail that is not
/// canonicalisable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error(
        "person log id {0:?} is not 1 to 128 characters of ASCII letters, digits, '.', '_', ':' or '-'"
    )]
    InvalidPersonLogId(String),
    #[error("the pseudonymisation key is {len} bytes; at least 32 are required")]
    PseudonymKeyTooShort { len: usize },
    #[error("{field} is {len} bytes; it must be {min} to {max}")]
    FieldLength {
        field: &'static str,
        len: usize,
        min: usize,
        max: usize,
    },
    #[error("sequence numbers start at 1")]
    SeqZero,
    #[error("time {0} is outside 1970-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999Z")]
    TimeOutOfRange(String),
    #[error("time {0:?} is not of the form YYYY-MM-DDTHH:MM:SS.ffffffZ")]
    TimeFormat(String),
    #[error("detail contains the non-integer number {0}; the canonical form allows integers only")]
    NonIntegerNumber(String),
    #[error("detail nests deeper than {max} levels")]
    DetailTooDeep { max: usize },
    #[error("detail is {len} bytes in canonical form; at most {max} are allowed")]
    DetailTooLarge { len: usize, max: usize },
}

/// Which signed tree head a verification error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeHeadRole {
    /// The tree head the bundle's inclusion proofs lead to.
    Current,
    /// The earlier tree head the consistency proof starts from.
    Previous,
}

impl fmt::Display for TreeHeadRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Current => "current",
            Self::Previous => "previous",
        })
    }
}

/// What [`crate::verify_bundle`] (and the other verifiers) found wrong. Entry errors name
/// the entry by its sequence number in the person's chain and say which of its three
/// commitments failed: its content, its chain link, or its inclusion in the tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogVerifyError {
    #[error("LOGV-FORMAT: not a {expected} document (format {found:?})")]
    UnsupportedFormat {
        expected: &'static str,
        found: String,
    },
    #[error("LOGV-MALFORMED: {0}")]
    Malformed(String),
    #[error("LOGV-KEY: the log public key is not usable: {0}")]
    UnsupportedLogKey(String),

    #[error("LOGV-STH-LOG: the {role} tree head is from another log (log id {found})")]
    WrongLog { role: TreeHeadRole, found: String },
    #[error("LOGV-STH-SIG: the {role} tree head's signature does not verify")]
    TreeHeadSignature { role: TreeHeadRole },
    #[error(
        "LOGV-STH-ORDER: the previous tree head (size {previous_size}, time {previous_timestamp}) \
         is not before the current one (size {current_size}, time {current_timestamp})"
    )]
    TreeHeadsOutOfOrder {
        previous_size: u64,
        previous_timestamp: u64,
        current_size: u64,
        current_timestamp: u64,
    },
    #[error("LOGV-CONSISTENCY: the log is not append-only from size {from} to size {to}: {reason}")]
    Consistency {
        from: u64,
        to: u64,
        reason: ProofError,
    },

    #[error(
        "LOGV-ENTRY-DELETED: entry seq {seq} is missing from the history (the next entry present is seq {next_present})"
    )]
    EntryDeleted { seq: u64, next_present: u64 },
    #[error(
        "LOGV-ENTRY-ORDER: at position {position} the history has entry seq {found} where seq {expected} belongs"
    )]
    EntryOutOfOrder {
        position: usize,
        expected: u64,
        found: u64,
    },
    #[error(
        "LOGV-ENTRY-GONE: entry seq {seq} is committed in the log but its content was removed from the usage history"
    )]
    EntryContentMissing { seq: u64 },
    #[error("LOGV-ENTRY-ENCODING: entry seq {seq} cannot be encoded: {reason}")]
    EntryEncoding { seq: u64, reason: EntryError },
    #[error(
        "LOGV-ENTRY-CONTENT: entry seq {seq} was edited: its content does not match the entry hash the log committed"
    )]
    EntryContent { seq: u64 },
    #[error(
        "LOGV-ENTRY-CHAIN: entry seq {seq}'s chain link does not follow from entry seq {previous}'s"
    )]
    ChainLink { seq: u64, previous: u64 },
    #[error(
        "LOGV-ENTRY-LEAF-ORDER: entry seq {seq} is at leaf {leaf_index}, not after the previous entry's leaf {previous_leaf_index}"
    )]
    LeafOrder {
        seq: u64,
        leaf_index: u64,
        previous_leaf_index: u64,
    },
    #[error(
        "LOGV-ENTRY-INCLUSION: entry seq {seq} is not in the signed tree of {tree_size} leaves at leaf {leaf_index}: {reason}"
    )]
    Inclusion {
        seq: u64,
        leaf_index: u64,
        tree_size: u64,
        reason: ProofError,
    },

    #[error("LOGV-CHECKPOINT-PERSON: the checkpoint is for {checkpoint}, the bundle for {bundle}")]
    CheckpointPerson { checkpoint: String, bundle: String },
    #[error(
        "LOGV-CHECKPOINT-STH: the bundle does not prove consistency with the saved tree head of size {tree_size}"
    )]
    CheckpointNotCovered { tree_size: u64 },
    #[error(
        "LOGV-TRUNCATED: the history was seen up to entry seq {known_seq} but now ends at seq {last_seq}"
    )]
    HistoryTruncated { known_seq: u64, last_seq: u64 },
    #[error("LOGV-CHECKPOINT-CHAIN: entry seq {seq} no longer has the chain value seen before")]
    CheckpointChain { seq: u64 },
}

impl LogVerifyError {
    /// The stable code that starts the message (`LOGV-ENTRY-CONTENT`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedFormat { .. } => "LOGV-FORMAT",
            Self::Malformed(_) => "LOGV-MALFORMED",
            Self::UnsupportedLogKey(_) => "LOGV-KEY",
            Self::WrongLog { .. } => "LOGV-STH-LOG",
            Self::TreeHeadSignature { .. } => "LOGV-STH-SIG",
            Self::TreeHeadsOutOfOrder { .. } => "LOGV-STH-ORDER",
            Self::Consistency { .. } => "LOGV-CONSISTENCY",
            Self::EntryDeleted { .. } => "LOGV-ENTRY-DELETED",
            Self::EntryOutOfOrder { .. } => "LOGV-ENTRY-ORDER",
            Self::EntryContentMissing { .. } => "LOGV-ENTRY-GONE",
            Self::EntryEncoding { .. } => "LOGV-ENTRY-ENCODING",
            Self::EntryContent { .. } => "LOGV-ENTRY-CONTENT",
            Self::ChainLink { .. } => "LOGV-ENTRY-CHAIN",
            Self::LeafOrder { .. } => "LOGV-ENTRY-LEAF-ORDER",
            Self::Inclusion { .. } => "LOGV-ENTRY-INCLUSION",
            Self::CheckpointPerson { .. } => "LOGV-CHECKPOINT-PERSON",
            Self::CheckpointNotCovered { .. } => "LOGV-CHECKPOINT-STH",
            Self::HistoryTruncated { .. } => "LOGV-TRUNCATED",
            Self::CheckpointChain { .. } => "LOGV-CHECKPOINT-CHAIN",
        }
    }

    /// The entry this error is about, if it is about one entry.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Self::EntryDeleted { seq, .. }
            | Self::EntryContentMissing { seq }
            | Self::EntryEncoding { seq, .. }
            | Self::EntryContent { seq }
            | Self::ChainLink { seq, .. }
            | Self::LeafOrder { seq, .. }
            | Self::Inclusion { seq, .. }
            | Self::CheckpointChain { seq } => Some(*seq),
            Self::EntryOutOfOrder { expected, .. } => Some(*expected),
            _ => None,
        }
    }
}

/// Failures on the operator's side: stores, requests out of range, signing.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Entry(#[from] EntryError),
    #[error("log storage failed: {0}")]
    Storage(String),
    #[error("log state is inconsistent: {0}")]
    Inconsistent(String),
    #[error("leaf index {index} is outside the tree of {tree_size} leaves")]
    LeafIndexOutOfRange { index: u64, tree_size: u64 },
    #[error("tree size {requested} is larger than the log ({size} leaves)")]
    TreeSizeOutOfRange { requested: u64, size: u64 },
    #[error("the tree head of size {tree_size} is not a head of this log's tree")]
    ForeignTreeHead { tree_size: u64 },
    #[error("the cache floor must be 1 to {max}, not {floor}")]
    CacheFloor { floor: u32, max: u32 },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("the log key is not supported: {0}")]
    UnsupportedKey(String),
    #[error("the signer's algorithm {signer:?} does not match its public key ({key:?})")]
    SignerMismatch {
        signer: jpki_crypto::SignatureAlgorithm,
        key: jpki_crypto::SignatureAlgorithm,
    },
    #[error("the tree head signature just made does not verify with the log's public key")]
    SelfCheck,
    #[error("the clock reads {0}, before 1970")]
    Clock(String),
    #[error("JSON: {0}")]
    Json(String),
    #[error(transparent)]
    Verify(#[from] LogVerifyError),
}
