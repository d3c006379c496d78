//! The documents a citizen downloads, and their offline verification.
//!
//! - [`HistoryBundle`] (`jpki-log/history-bundle/v1`): one person's whole history as of
//!   a signed tree head: every entry with its content, its chain link and the inclusion
//!   proof of that link, plus optionally an earlier tree head and the consistency proof
//!   from it. Verified by [`verify_bundle`], or [`verify_bundle_since`] against a
//!   [`Checkpoint`] the citizen kept from an earlier verification.
//! - [`EntryProof`] (`jpki-log/entry-proof/v1`): one entry, [`verify_entry_proof`].
//! - [`ConsistencyProofDocument`] (`jpki-log/consistency-proof/v1`): two tree heads and
//!   the proof that the later tree extends the earlier one,
//!   [`verify_consistency_document`].
//! - [`verify_document`] reads any of them (or a bare signed tree head) from JSON:
//!   what `jpki log verify` calls.
//!
//! # What each check catches
//!
//! Each entry of a history carries three commitments, checked in this order, and the
//! first that fails names the entry:
//!
//! 1. **content**: `SHA-256(entry bytes)` of the content shown must equal the entry hash
//!    the log committed. An edited usage row fails here ([`LogVerifyError::EntryContent`]);
//!    a deleted row whose link remains fails as [`LogVerifyError::EntryContentMissing`].
//! 2. **chain link**: `chain(i) = SHA-256(tag || chain(i-1) || E(i))`, from the genesis
//!    of the person. Links re-computed over an edited or shortened history fail here or
//!    at 3; a sequence gap is [`LogVerifyError::EntryDeleted`], a permutation
//!    [`LogVerifyError::EntryOutOfOrder`].
//! 3. **inclusion**: the leaf of `(person, seq, chain(i), E(i))` is in the signed tree at
//!    its index. A link the operator re-computed after the fact is not in the tree
//!    ([`LogVerifyError::Inclusion`]).
//!
//! Every entry gets its own inclusion proof (not only the last link, which the chain
//! would suffice to anchor): then a failure names the first entry that broke, each entry
//! is checkable alone ([`EntryProof`]), and the leaf index of each entry is proven, so a
//! citizen who holds an earlier tree head knows which entries were already in that tree
//! ([`VerifiedEntry::in_previous_tree`]).
//!
//! What a bundle cannot show by itself: that no entry was dropped from the *end* of the
//! history (the tree has no index by person). A [`Checkpoint`] closes that gap for
//! everything the citizen saw before: [`verify_bundle_since`] requires the bundle to
//! prove consistency from the saved tree head and to contain the saved chain head
//! unchanged. And an operator who rewrites the whole tree and signs a new head is
//! caught only by someone holding an earlier head (a consistency proof fails): that is
//! why tree heads are published.

use serde::{Deserialize, Serialize};

use crate::chain::{ChainHead, genesis, link_leaf_hash, next_chain};
use crate::entry::{PersonLogId, UsageEvent, entry_hash};
use crate::error::{LogError, LogVerifyError, TreeHeadRole};
use crate::hash::HashValue;
use crate::key::LogPublicKey;
use crate::proof::{verify_consistency, verify_inclusion};
use crate::sth::SignedTreeHead;

pub const HISTORY_BUNDLE_FORMAT: &str = "jpki-log/history-bundle/v1";
pub const ENTRY_PROOF_FORMAT: &str = "jpki-log/entry-proof/v1";
pub const CONSISTENCY_PROOF_FORMAT: &str = "jpki-log/consistency-proof/v1";
pub const CHECKPOINT_FORMAT: &str = "jpki-log/checkpoint/v1";

/// Largest JSON document the verifiers read (256 MiB: a history of ~100,000 entries).
pub const MAX_DOCUMENT_LEN: usize = 256 << 20;

/// One entry of a history as downloaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    pub seq: u64,
    pub leaf_index: u64,
    /// `E(seq)` as the log committed it.
    pub entry_hash: HashValue,
    /// `chain(seq)` as the log committed it.
    pub chain: HashValue,
    /// The content from the usage history; `null` when the row is gone.
    pub event: Option<UsageEvent>,
    /// `PATH(leaf_index, D[0:tree_size])` of the tree head.
    pub inclusion_proof: Vec<HashValue>,
}

/// An earlier tree head and the consistency proof from it to the bundle's tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousTreeHead {
    pub tree_head: SignedTreeHead,
    pub consistency_proof: Vec<HashValue>,
}

/// One person's history, verifiable offline with the log's public key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryBundle {
    pub format: String,
    pub person_log_id: PersonLogId,
    pub tree_head: SignedTreeHead,
    pub previous: Option<PreviousTreeHead>,
    pub entries: Vec<BundleEntry>,
}

/// One entry, verifiable offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryProof {
    pub format: String,
    pub person_log_id: PersonLogId,
    /// `chain(seq - 1)` (the genesis for seq 1).
    pub previous_chain: HashValue,
    pub entry: BundleEntry,
    pub tree_head: SignedTreeHead,
}

/// Two tree heads and the proof that the later tree extends the earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProofDocument {
    pub format: String,
    pub from: SignedTreeHead,
    pub to: SignedTreeHead,
    pub proof: Vec<HashValue>,
}

/// What a citizen keeps after a successful verification: the tree head and the head of
/// their chain they saw. The next bundle must extend both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub format: String,
    pub person_log_id: PersonLogId,
    pub tree_head: SignedTreeHead,
    /// `None` when the history was empty.
    pub head: Option<ChainHead>,
}

/// An entry whose content, chain link and inclusion all verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEntry {
    pub seq: u64,
    pub leaf_index: u64,
    pub entry_hash: HashValue,
    pub chain: HashValue,
    pub event: UsageEvent,
    /// The entry was already in the earlier tree head's tree (consistency-proven to be
    /// unchanged since then).
    pub in_previous_tree: bool,
}

/// A history that verified: everything in it is what the log committed.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedHistory {
    pub person_log_id: PersonLogId,
    pub tree_head: SignedTreeHead,
    /// The earlier tree head the current one was proven consistent with.
    pub previous_tree_head: Option<SignedTreeHead>,
    pub entries: Vec<VerifiedEntry>,
}

impl VerifiedHistory {
    /// The last entry's `(seq, chain)`.
    pub fn head(&self) -> Option<ChainHead> {
        self.entries.last().map(|entry| ChainHead {
            seq: entry.seq,
            chain: entry.chain,
        })
    }

    /// What to keep for the next verification ([`verify_bundle_since`]).
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            format: CHECKPOINT_FORMAT.to_owned(),
            person_log_id: self.person_log_id.clone(),
            tree_head: self.tree_head.clone(),
            head: self.head(),
        }
    }
}

fn check_len(text: &str) -> Result<(), LogVerifyError> {
    if text.len() > MAX_DOCUMENT_LEN {
        return Err(LogVerifyError::Malformed(format!(
            "document of {} bytes (at most {MAX_DOCUMENT_LEN})",
            text.len()
        )));
    }
    Ok(())
}

fn check_format(expected: &'static str, found: &str) -> Result<(), LogVerifyError> {
    if found != expected {
        return Err(LogVerifyError::UnsupportedFormat {
            expected,
            found: found.chars().take(80).collect(),
        });
    }
    Ok(())
}

fn parse<T: for<'de> Deserialize<'de>>(
    what: &'static str,
    expected_format: &'static str,
    text: &str,
) -> Result<T, LogVerifyError> {
    check_len(text)?;
    let format = peek_format(text)?;
    check_format(expected_format, format.as_deref().unwrap_or(""))?;
    serde_json::from_str(text).map_err(|e| LogVerifyError::Malformed(format!("{what}: {e}")))
}

fn peek_format(text: &str) -> Result<Option<String>, LogVerifyError> {
    #[derive(Deserialize)]
    struct Peek {
        format: Option<String>,
    }
    serde_json::from_str::<Peek>(text)
        .map(|peek| peek.format)
        .map_err(|e| LogVerifyError::Malformed(format!("not a JSON object: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, LogError> {
    serde_json::to_string(value).map_err(|e| LogError::Json(e.to_string()))
}

impl HistoryBundle {
    pub fn to_json(&self) -> Result<String, LogError> {
        to_json(self)
    }

    pub fn from_json(text: &str) -> Result<Self, LogVerifyError> {
        parse("history bundle", HISTORY_BUNDLE_FORMAT, text)
    }
}

impl EntryProof {
    pub fn to_json(&self) -> Result<String, LogError> {
        to_json(self)
    }

    pub fn from_json(text: &str) -> Result<Self, LogVerifyError> {
        parse("entry proof", ENTRY_PROOF_FORMAT, text)
    }
}

impl ConsistencyProofDocument {
    pub fn to_json(&self) -> Result<String, LogError> {
        to_json(self)
    }

    pub fn from_json(text: &str) -> Result<Self, LogVerifyError> {
        parse("consistency proof", CONSISTENCY_PROOF_FORMAT, text)
    }
}

impl Checkpoint {
    pub fn to_json(&self) -> Result<String, LogError> {
        to_json(self)
    }

    pub fn from_json(text: &str) -> Result<Self, LogVerifyError> {
        parse("checkpoint", CHECKPOINT_FORMAT, text)
    }
}

/// Checks that `current` extends `previous`: both signed by `key`, in order, and the
/// consistency proof verifies.
pub fn verify_tree_heads(
    previous: &SignedTreeHead,
    current: &SignedTreeHead,
    consistency_proof: &[HashValue],
    key: &LogPublicKey,
) -> Result<(), LogVerifyError> {
    current.verify_as(key, TreeHeadRole::Current)?;
    previous.verify_as(key, TreeHeadRole::Previous)?;
    if previous.tree_size > current.tree_size || previous.timestamp > current.timestamp {
        return Err(LogVerifyError::TreeHeadsOutOfOrder {
            previous_size: previous.tree_size,
            previous_timestamp: previous.timestamp,
            current_size: current.tree_size,
            current_timestamp: current.timestamp,
        });
    }
    verify_consistency(
        previous.tree_size,
        current.tree_size,
        &previous.root_hash,
        &current.root_hash,
        consistency_proof,
    )
    .map_err(|reason| LogVerifyError::Consistency {
        from: previous.tree_size,
        to: current.tree_size,
        reason,
    })
}

/// Checks the three commitments of one entry (content, chain link from
/// `previous_chain`, inclusion in `tree_head`), in that order.
fn verify_entry(
    person: &PersonLogId,
    entry: &BundleEntry,
    previous_chain: &HashValue,
    tree_head: &SignedTreeHead,
) -> Result<UsageEvent, LogVerifyError> {
    let seq = entry.seq;
    // 1. Content.
    let Some(event) = &entry.event else {
        return Err(LogVerifyError::EntryContentMissing { seq });
    };
    let computed = entry_hash(person, seq, event)
        .map_err(|reason| LogVerifyError::EntryEncoding { seq, reason })?;
    if computed != entry.entry_hash {
        return Err(LogVerifyError::EntryContent { seq });
    }
    // 2. Chain link.
    if next_chain(previous_chain, &entry.entry_hash) != entry.chain {
        return Err(LogVerifyError::ChainLink {
            seq,
            previous: seq.saturating_sub(1),
        });
    }
    // 3. Inclusion of the leaf committing (person, seq, chain, entry hash).
    let leaf = link_leaf_hash(person, seq, &entry.chain, &entry.entry_hash);
    verify_inclusion(
        &leaf,
        entry.leaf_index,
        tree_head.tree_size,
        &entry.inclusion_proof,
        &tree_head.root_hash,
    )
    .map_err(|reason| LogVerifyError::Inclusion {
        seq,
        leaf_index: entry.leaf_index,
        tree_size: tree_head.tree_size,
        reason,
    })?;
    Ok(event.clone())
}

/// Verifies a history bundle with the log's public key.
///
/// 1. The format is `jpki-log/history-bundle/v1`.
/// 2. The tree head is from this log and its signature verifies.
/// 3. With an earlier tree head: it is from this log, signed, not later than the
///    current one, and the consistency proof from it verifies.
/// 4. The entries are seq 1, 2, 3, … with no gap or permutation, at strictly
///    increasing leaf indexes, and each one's content, chain link and inclusion verify
///    (see the module docs).
pub fn verify_bundle(
    bundle: &HistoryBundle,
    log_key: &LogPublicKey,
) -> Result<VerifiedHistory, LogVerifyError> {
    // Step 1.
    check_format(HISTORY_BUNDLE_FORMAT, &bundle.format)?;
    let person = &bundle.person_log_id;
    let tree_head = &bundle.tree_head;
    // Step 2.
    tree_head.verify_as(log_key, TreeHeadRole::Current)?;
    // Step 3.
    if let Some(previous) = &bundle.previous {
        verify_tree_heads(
            &previous.tree_head,
            tree_head,
            &previous.consistency_proof,
            log_key,
        )?;
    }
    let previous_size = bundle.previous.as_ref().map(|p| p.tree_head.tree_size);
    // Step 4.
    let mut entries = Vec::with_capacity(bundle.entries.len());
    let mut previous_chain = genesis(person);
    let mut previous_leaf: Option<u64> = None;
    for (position, entry) in bundle.entries.iter().enumerate() {
        let expected = position as u64 + 1;
        if entry.seq != expected {
            let later = bundle.entries.get(position + 1..).unwrap_or_default();
            if entry.seq > expected && !later.iter().any(|e| e.seq == expected) {
                return Err(LogVerifyError::EntryDeleted {
                    seq: expected,
                    next_present: entry.seq,
                });
            }
            return Err(LogVerifyError::EntryOutOfOrder {
                position,
                expected,
                found: entry.seq,
            });
        }
        if let Some(previous_leaf_index) = previous_leaf
            && entry.leaf_index <= previous_leaf_index
        {
            return Err(LogVerifyError::LeafOrder {
                seq: entry.seq,
                leaf_index: entry.leaf_index,
                previous_leaf_index,
            });
        }
        let event = verify_entry(person, entry, &previous_chain, tree_head)?;
        entries.push(VerifiedEntry {
            seq: entry.seq,
            leaf_index: entry.leaf_index,
            entry_hash: entry.entry_hash,
            chain: entry.chain,
            event,
            in_previous_tree: previous_size.is_some_and(|size| entry.leaf_index < size),
        });
        previous_chain = entry.chain;
        previous_leaf = Some(entry.leaf_index);
    }
    Ok(VerifiedHistory {
        person_log_id: person.clone(),
        tree_head: tree_head.clone(),
        previous_tree_head: bundle.previous.as_ref().map(|p| p.tree_head.clone()),
        entries,
    })
}

/// [`verify_bundle`], then checks the bundle against what the citizen saw before:
///
/// 5. The checkpoint is for the same person.
/// 6. The bundle's tree head is the checkpoint's, or the bundle proves consistency from
///    exactly the checkpoint's tree head (so nothing committed then has changed).
/// 7. The history still reaches the checkpoint's head `seq` (nothing was cut from the
///    end) and has the same chain value there (nothing up to it was changed).
pub fn verify_bundle_since(
    bundle: &HistoryBundle,
    log_key: &LogPublicKey,
    checkpoint: &Checkpoint,
) -> Result<VerifiedHistory, LogVerifyError> {
    check_format(CHECKPOINT_FORMAT, &checkpoint.format)?;
    // Step 5.
    if checkpoint.person_log_id != bundle.person_log_id {
        return Err(LogVerifyError::CheckpointPerson {
            checkpoint: checkpoint.person_log_id.to_string(),
            bundle: bundle.person_log_id.to_string(),
        });
    }
    let verified = verify_bundle(bundle, log_key)?;
    // Step 6.
    let covered = checkpoint.tree_head.same_tree_as(&bundle.tree_head)
        || bundle
            .previous
            .as_ref()
            .is_some_and(|previous| previous.tree_head.same_tree_as(&checkpoint.tree_head));
    if !covered {
        return Err(LogVerifyError::CheckpointNotCovered {
            tree_size: checkpoint.tree_head.tree_size,
        });
    }
    // Step 7.
    if let Some(head) = checkpoint.head {
        let last_seq = verified.entries.last().map_or(0, |entry| entry.seq);
        let Some(entry) = usize::try_from(head.seq)
            .ok()
            .and_then(|seq| seq.checked_sub(1))
            .and_then(|index| verified.entries.get(index))
        else {
            return Err(LogVerifyError::HistoryTruncated {
                known_seq: head.seq,
                last_seq,
            });
        };
        if entry.chain != head.chain {
            return Err(LogVerifyError::CheckpointChain { seq: head.seq });
        }
    }
    Ok(verified)
}

/// Verifies one entry's proof: the tree head, then content, chain link (from the
/// given previous chain value, which must be the genesis for seq 1) and inclusion.
pub fn verify_entry_proof(
    proof: &EntryProof,
    log_key: &LogPublicKey,
) -> Result<VerifiedEntry, LogVerifyError> {
    check_format(ENTRY_PROOF_FORMAT, &proof.format)?;
    proof.tree_head.verify_as(log_key, TreeHeadRole::Current)?;
    let person = &proof.person_log_id;
    let seq = proof.entry.seq;
    if seq == 0 {
        return Err(LogVerifyError::EntryEncoding {
            seq,
            reason: crate::error::EntryError::SeqZero,
        });
    }
    if seq == 1 && proof.previous_chain != genesis(person) {
        return Err(LogVerifyError::ChainLink { seq, previous: 0 });
    }
    let event = verify_entry(
        person,
        &proof.entry,
        &proof.previous_chain,
        &proof.tree_head,
    )?;
    Ok(VerifiedEntry {
        seq,
        leaf_index: proof.entry.leaf_index,
        entry_hash: proof.entry.entry_hash,
        chain: proof.entry.chain,
        event,
        in_previous_tree: false,
    })
}

/// Verifies a consistency proof document.
pub fn verify_consistency_document(
    document: &ConsistencyProofDocument,
    log_key: &LogPublicKey,
) -> Result<(), LogVerifyError> {
    check_format(CONSISTENCY_PROOF_FORMAT, &document.format)?;
    verify_tree_heads(&document.from, &document.to, &document.proof, log_key)
}

/// What [`verify_document`] verified.
#[derive(Debug, Clone, PartialEq)]
pub enum VerifiedDocument {
    History(VerifiedHistory),
    Entry {
        person_log_id: PersonLogId,
        entry: VerifiedEntry,
        tree_head: SignedTreeHead,
    },
    Consistency {
        from: SignedTreeHead,
        to: SignedTreeHead,
    },
    TreeHead(SignedTreeHead),
}

/// Reads and verifies any jpki-log document (by its `format`; a JSON object without one
/// is read as a signed tree head): the entry point of `jpki log verify`.
pub fn verify_document(
    text: &str,
    log_key: &LogPublicKey,
) -> Result<VerifiedDocument, LogVerifyError> {
    check_len(text)?;
    match peek_format(text)?.as_deref() {
        Some(HISTORY_BUNDLE_FORMAT) => {
            verify_bundle(&HistoryBundle::from_json(text)?, log_key).map(VerifiedDocument::History)
        }
        Some(ENTRY_PROOF_FORMAT) => {
            let proof = EntryProof::from_json(text)?;
            let entry = verify_entry_proof(&proof, log_key)?;
            Ok(VerifiedDocument::Entry {
                person_log_id: proof.person_log_id,
                entry,
                tree_head: proof.tree_head,
            })
        }
        Some(CONSISTENCY_PROOF_FORMAT) => {
            let document = ConsistencyProofDocument::from_json(text)?;
            verify_consistency_document(&document, log_key)?;
            Ok(VerifiedDocument::Consistency {
                from: document.from,
                to: document.to,
            })
        }
        Some(other) => Err(LogVerifyError::UnsupportedFormat {
            expected: "jpki-log",
            found: other.chars().take(80).collect(),
        }),
        None => {
            let tree_head = SignedTreeHead::from_json(text)?;
            tree_head.verify(log_key)?;
            Ok(VerifiedDocument::TreeHead(tree_head))
        }
    }
}
