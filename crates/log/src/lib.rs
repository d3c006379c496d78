//! Verifiable usage history (利用履歴) for jpki.
//!
//! The real service lets a citizen read their usage history to spot operations they did
//! not make; that only helps if the operator cannot quietly edit or delete a line. This
//! crate makes every line tamper-evident:
//!
//! 1. Each usage entry has a canonical, versioned byte encoding ([`entry_bytes`]) and a
//!    hash `E(i)`.
//! 2. Each person's entries form a hash chain, `chain(i) = SHA-256("jpki-log chain v1" ||
//!    chain(i-1) || E(i))` from a genesis derived from the person's pseudonymous log id
//!    ([`genesis`], [`next_chain`]).
//! 3. Each chain link is a leaf of one global RFC 9162 §2.1 Merkle tree ([`MerkleTree`]
//!    over a [`LeafStore`]), whose signed tree heads ([`SignedTreeHead`], signed through
//!    any `jpki_crypto::Signer` by a [`LogKey`]) are published at `/api/v1/log/sth`.
//! 4. A citizen downloads a [`HistoryBundle`] (entries, links, an inclusion proof per
//!    entry, the tree head, and a consistency proof from a head they saw before) and
//!    verifies it offline with the log's public key: [`verify_bundle`],
//!    [`verify_bundle_since`] with a saved [`Checkpoint`], or [`verify_document`] for any
//!    downloaded document. Errors ([`LogVerifyError`]) name the entry (by `seq`) and which
//!    of its content, chain link or inclusion failed, or which tree head or consistency
//!    proof failed.
//!
//! [`VerifiableLog`] ties the pieces together for the operator; storage is two traits
//! ([`LeafStore`], [`ChainStore`]) with in-memory implementations. The byte formats are
//! written out in `docs/verifiable-log.md`. [`bench()`] measures append and proof speed
//! for `jpki bench`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use jpki_crypto::{Clock, ManualClock};
//! use jpki_log::{LogKey, LogTime, LogVerifyError, PersonLogId, UsageEvent, VerifiableLog};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = LogKey::generate_p256()?;
//! let clock = ManualClock::new(time::macros::datetime!(2026-04-01 09:00 UTC));
//! let mut log = VerifiableLog::in_memory();
//! let person = PersonLogId::pseudonymous(&[7; 32], "resident-0001")?;
//! let mut usage_rows = BTreeMap::new(); // the usage history table, by seq
//! for action in ["registered", "signed"] {
//!     let event = UsageEvent {
//!         at: LogTime::from_datetime(clock.now())?,
//!         device_id: Some("phone-1".into()),
//!         action: action.into(),
//!         outcome: "ok".into(),
//!         detail: serde_json::json!({"relying_party": "bank.example"}),
//!     };
//!     let receipt = log.append(&person, &event)?;
//!     usage_rows.insert(receipt.seq, event);
//! }
//! let tree_head = log.sign_tree_head(&key, &clock)?;
//! let bundle = log.history_bundle(&person, &usage_rows, &tree_head, None)?;
//!
//! // The citizen's side, offline, with the log's public key.
//! let verified = jpki_log::verify_bundle(&bundle, key.public_key())?;
//! assert_eq!(verified.entries.len(), 2);
//!
//! // The operator edits a row: the verifier names the entry and what failed.
//! usage_rows.get_mut(&2).ok_or("row")?.action = "authenticated".into();
//! let bundle = log.history_bundle(&person, &usage_rows, &tree_head, None)?;
//! assert_eq!(
//!     jpki_log::verify_bundle(&bundle, key.public_key()),
//!     Err(LogVerifyError::EntryContent { seq: 2 })
//! );
//! # Ok(())
//! # }
//! ```
//!
//! Not here: the database (the entries' content stays in the store's `usage_history`;
//! `jpki-store` appends each row's link and leaf in the row's transaction), the service
//! that signs heads and builds bundles over it (`jpki_authority::usage_log`), HTTP
//! routes (`/api/v1/log/…` in `jpki-portal`), the CLI (`jpki log`), tree head gossip
//! or witness cosigning, and any index by person inside the tree (so the
//! log cannot prove that a person has *no* entries after a given one; see the
//! [`bundle`] module docs for what closes that gap).
//!
//! A decision a reviewer will question: **the leaf commits the chain link, not the
//! entry, and every entry gets its own inclusion proof although the last link's would
//! anchor the whole chain.** Committing `chain(i)` in each leaf makes a deletion or
//! reordering in the middle visible from the chain alone, and committing `E(i)` as well
//! lets one entry be checked on its own. Per-entry proofs cost `log2(n)` hashes each
//! (about 20 × 32 bytes at a million leaves) but let the verifier name the first entry
//! that broke and which commitment failed, instead of "the chain does not match", and
//! prove each entry's leaf index, which tells a citizen holding an older tree head which
//! entries that head already covered.
//!
//! A second one: tree storage is synchronous and the tree keeps a cache of complete
//! subtree roots in memory (about 32 bytes per leaf at the default cache floor, lower at a
//! higher floor: [`MerkleTree::open_with_cache_floor`]), rebuilt from the leaves at open.
//! Proof generation therefore never waits on I/O and costs O(log n), at the price of one
//! pass over the leaves at start.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod bench;
pub mod bundle;
mod chain;
mod entry;
mod error;
mod hash;
mod key;
mod log;
mod merkle;
mod proof;
mod sth;

pub use bench::{LogBenchConfig, LogBenchReport, bench};
pub use bundle::{
    BundleEntry, CHECKPOINT_FORMAT, CONSISTENCY_PROOF_FORMAT, Checkpoint, ConsistencyProofDocument,
    ENTRY_PROOF_FORMAT, EntryProof, HISTORY_BUNDLE_FORMAT, HistoryBundle, MAX_DOCUMENT_LEN,
    PreviousTreeHead, VerifiedDocument, VerifiedEntry, VerifiedHistory, verify_bundle,
    verify_bundle_since, verify_consistency_document, verify_document, verify_entry_proof,
    verify_tree_heads,
};
pub use chain::{
    CHAIN_TAG_V1, ChainHead, ChainLink, GENESIS_TAG_V1, LEAF_TAG_V1, genesis, leaf_data,
    link_leaf_hash, next_chain,
};
pub use entry::{
    ACTION_MAX_LEN, DETAIL_MAX_DEPTH, DETAIL_MAX_LEN, DEVICE_ID_MAX_LEN, ENTRY_TAG_V1, LogTime,
    OUTCOME_MAX_LEN, PERSON_LOG_ID_MAX_LEN, PSEUDONYM_KEY_LEN, PersonLogId, PseudonymKey,
    UsageEvent, canonical_json, entry_bytes, entry_hash,
};
pub use error::{EntryError, LogError, LogVerifyError, TreeHeadRole};
pub use hash::{
    HASH_LEN, HashParseError, HashValue, empty_tree_hash, leaf_hash, node_hash, sha256_concat,
};
pub use key::{LogKey, LogPublicKey, SoftwareP256Key};
pub use log::{AppendReceipt, ChainStore, InMemoryChainStore, VerifiableLog, build_history_bundle};
pub use merkle::{DEFAULT_CACHE_FLOOR, InMemoryLeafStore, LeafStore, MAX_CACHE_FLOOR, MerkleTree};
pub use proof::{
    MAX_PROOF_LEN, ProofError, root_from_inclusion_proof, verify_consistency, verify_inclusion,
};
pub use sth::{SignedTreeHead, TREE_HEAD_SIGNED_LEN, TREE_HEAD_TAG_V1, TreeHead, timestamp_millis};
