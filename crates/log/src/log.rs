//! [`VerifiableLog`]: the operator's side. Appends usage entries (chain link + leaf),
//! signs tree heads, and builds the documents a citizen downloads.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use jpki_crypto::Clock;
use serde::{Deserialize, Serialize};

use crate::bundle::{
    BundleEntry, CONSISTENCY_PROOF_FORMAT, ConsistencyProofDocument, ENTRY_PROOF_FORMAT,
    EntryProof, HISTORY_BUNDLE_FORMAT, HistoryBundle, PreviousTreeHead,
};
use crate::chain::{ChainLink, genesis, link_leaf_hash, next_chain};
use crate::entry::{PersonLogId, UsageEvent, entry_hash};
use crate::error::LogError;
use crate::hash::HashValue;
use crate::key::LogKey;
use crate::merkle::{InMemoryLeafStore, LeafStore, MerkleTree};
use crate::sth::{SignedTreeHead, TreeHead};

/// Where each person's chain links live (the log's own table, apart from the usage
/// history that holds the entries' content).
pub trait ChainStore: fmt::Debug + Send + Sync {
    /// The last link of `person`'s chain, if any.
    fn head(&self, person: &PersonLogId) -> Result<Option<ChainLink>, LogError>;

    /// Appends `link` to `person`'s chain; `link.seq` is the head's `seq + 1` (1 for the
    /// first). An implementation refuses any other `seq`.
    fn append(&mut self, person: &PersonLogId, link: ChainLink) -> Result<(), LogError>;

    /// Every link of `person`'s chain, in `seq` order.
    fn links(&self, person: &PersonLogId) -> Result<Vec<ChainLink>, LogError>;
}

/// Chain links in a `HashMap`.
#[derive(Debug, Clone, Default)]
pub struct InMemoryChainStore {
    chains: HashMap<PersonLogId, Vec<ChainLink>>,
}

impl InMemoryChainStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl ChainStore for InMemoryChainStore {
    fn head(&self, person: &PersonLogId) -> Result<Option<ChainLink>, LogError> {
        Ok(self
            .chains
            .get(person)
            .and_then(|links| links.last())
            .copied())
    }

    fn append(&mut self, person: &PersonLogId, link: ChainLink) -> Result<(), LogError> {
        let links = self.chains.entry(person.clone()).or_default();
        let expected = links.len() as u64 + 1;
        if link.seq != expected {
            return Err(LogError::Storage(format!(
                "link seq {} appended to {person}'s chain of {} links",
                link.seq,
                links.len()
            )));
        }
        links.push(link);
        Ok(())
    }

    fn links(&self, person: &PersonLogId) -> Result<Vec<ChainLink>, LogError> {
        Ok(self.chains.get(person).cloned().unwrap_or_default())
    }
}

/// What [`VerifiableLog::append`] committed. The caller stores `seq` with the usage row
/// (the bundle builder finds each row's content by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendReceipt {
    pub seq: u64,
    pub leaf_index: u64,
    pub entry_hash: HashValue,
    pub chain: HashValue,
    pub leaf_hash: HashValue,
    /// Tree size right after this append.
    pub tree_size: u64,
}

/// The log: a Merkle tree of chain links, and the links per person.
///
/// One writer at a time: [`VerifiableLog::append`] takes `&mut self`; a server shares
/// the log behind a mutex (an append is a few microseconds).
#[derive(Debug)]
pub struct VerifiableLog<L: LeafStore = InMemoryLeafStore, C: ChainStore = InMemoryChainStore> {
    tree: MerkleTree<L>,
    chains: C,
}

impl VerifiableLog {
    /// An empty log in memory.
    pub fn in_memory() -> Self {
        Self {
            tree: MerkleTree::new(),
            chains: InMemoryChainStore::new(),
        }
    }
}

impl<L: LeafStore, C: ChainStore> VerifiableLog<L, C> {
    /// A log over an opened tree and a chain store.
    pub fn new(tree: MerkleTree<L>, chains: C) -> Self {
        Self { tree, chains }
    }

    pub fn tree(&self) -> &MerkleTree<L> {
        &self.tree
    }

    pub fn chains(&self) -> &C {
        &self.chains
    }

    /// Appends `event` as the next entry of `person`'s chain.
    ///
    /// 1. Read the person's head: `seq = head.seq + 1` (1 for a first entry) and the
    ///    previous chain value (`chain(0)`, the genesis, for a first entry).
    /// 2. Encode the entry and compute `E(seq)`, `chain(seq)` and the leaf hash. An entry
    ///    that cannot be encoded is refused here, before anything is written.
    /// 3. Append the leaf to the tree (its store write comes first).
    /// 4. Append the link to the chain store. If this fails, the leaf stays in the tree
    ///    as an orphan that no chain references: harmless, the next append of this person
    ///    reuses the same `seq`. The reverse order would leave a link to a missing leaf.
    ///    jpki's database deployment does not use this type: `jpki-store` writes the
    ///    usage row, the link and the leaf in one transaction (docs/verifiable-log.md
    ///    §8.2), and `jpki-authority`'s usage log keeps a [`MerkleTree`] of the
    ///    committed leaves.
    pub fn append(
        &mut self,
        person: &PersonLogId,
        event: &UsageEvent,
    ) -> Result<AppendReceipt, LogError> {
        let head = self.chains.head(person)?;
        let (seq, previous) = match head {
            Some(link) => (link.seq.saturating_add(1), link.chain),
            None => (1, genesis(person)),
        };
        let entry_hash = entry_hash(person, seq, event)?;
        let chain = next_chain(&previous, &entry_hash);
        let leaf_hash = link_leaf_hash(person, seq, &chain, &entry_hash);
        let leaf_index = self.tree.append(leaf_hash)?;
        self.chains.append(
            person,
            ChainLink {
                seq,
                leaf_index,
                entry_hash,
                chain,
            },
        )?;
        Ok(AppendReceipt {
            seq,
            leaf_index,
            entry_hash,
            chain,
            leaf_hash,
            tree_size: self.tree.size(),
        })
    }

    /// Signs the current tree head with `key`, stamped with `clock`'s time.
    pub fn sign_tree_head(
        &self,
        key: &LogKey,
        clock: &dyn Clock,
    ) -> Result<SignedTreeHead, LogError> {
        key.sign(TreeHead::now(self.tree.size(), self.tree.root(), clock)?)
    }

    /// `person`'s history as of `tree_head`, for offline verification: every link in the
    /// tree of `tree_head` with its inclusion proof, the entry content from `events`
    /// (the usage history, by `seq`; a missing row is sent as `null` and the verifier
    /// reports it), and, when `since` is given, a consistency proof from it.
    pub fn history_bundle(
        &self,
        person: &PersonLogId,
        events: &BTreeMap<u64, UsageEvent>,
        tree_head: &SignedTreeHead,
        since: Option<&SignedTreeHead>,
    ) -> Result<HistoryBundle, LogError> {
        let links = self.chains.links(person)?;
        build_history_bundle(&self.tree, person, &links, events, tree_head, since)
    }

    /// The proof of one entry (`seq` of `person`) in the tree of `tree_head`.
    pub fn entry_proof(
        &self,
        person: &PersonLogId,
        seq: u64,
        event: Option<&UsageEvent>,
        tree_head: &SignedTreeHead,
    ) -> Result<EntryProof, LogError> {
        check_tree_head(&self.tree, tree_head)?;
        let links = self.chains.links(person)?;
        let Some(position) = links.iter().position(|link| link.seq == seq) else {
            return Err(LogError::Inconsistent(format!(
                "{person} has no entry seq {seq}"
            )));
        };
        let link = links
            .get(position)
            .copied()
            .ok_or_else(|| LogError::Inconsistent(format!("{person} link {seq}")))?;
        let previous_chain = match position.checked_sub(1).and_then(|p| links.get(p)) {
            Some(previous) => previous.chain,
            None => genesis(person),
        };
        Ok(EntryProof {
            format: ENTRY_PROOF_FORMAT.to_owned(),
            person_log_id: person.clone(),
            previous_chain,
            entry: bundle_entry(&self.tree, &link, event.cloned(), tree_head.tree_size)?,
            tree_head: tree_head.clone(),
        })
    }

    /// The proof that the tree of `to` extends the tree of `from`.
    pub fn consistency_proof(
        &self,
        from: &SignedTreeHead,
        to: &SignedTreeHead,
    ) -> Result<ConsistencyProofDocument, LogError> {
        Ok(ConsistencyProofDocument {
            format: CONSISTENCY_PROOF_FORMAT.to_owned(),
            proof: consistency_between(&self.tree, from, to)?,
            from: from.clone(),
            to: to.clone(),
        })
    }
}

/// Refuses a tree head that is not a head of `tree` (a size it never had, or another
/// root at that size).
fn check_tree_head<L: LeafStore>(
    tree: &MerkleTree<L>,
    tree_head: &SignedTreeHead,
) -> Result<(), LogError> {
    let foreign = || LogError::ForeignTreeHead {
        tree_size: tree_head.tree_size,
    };
    if tree_head.tree_size > tree.size() {
        return Err(foreign());
    }
    if tree.root_at(tree_head.tree_size)? != tree_head.root_hash {
        return Err(foreign());
    }
    Ok(())
}

fn consistency_between<L: LeafStore>(
    tree: &MerkleTree<L>,
    from: &SignedTreeHead,
    to: &SignedTreeHead,
) -> Result<Vec<HashValue>, LogError> {
    check_tree_head(tree, from)?;
    check_tree_head(tree, to)?;
    tree.consistency_proof(from.tree_size, to.tree_size)
}

fn bundle_entry<L: LeafStore>(
    tree: &MerkleTree<L>,
    link: &ChainLink,
    event: Option<UsageEvent>,
    tree_size: u64,
) -> Result<BundleEntry, LogError> {
    Ok(BundleEntry {
        seq: link.seq,
        leaf_index: link.leaf_index,
        entry_hash: link.entry_hash,
        chain: link.chain,
        event,
        inclusion_proof: tree.inclusion_proof(link.leaf_index, tree_size)?,
    })
}

/// Builds a [`HistoryBundle`] from a tree, the person's links and the usage rows, for a
/// deployment that keeps links elsewhere than in a [`ChainStore`]. `links` must be in
/// `seq` order; links whose leaf is not in the tree of `tree_head` are left out (they
/// were appended after it was signed).
pub fn build_history_bundle<L: LeafStore>(
    tree: &MerkleTree<L>,
    person: &PersonLogId,
    links: &[ChainLink],
    events: &BTreeMap<u64, UsageEvent>,
    tree_head: &SignedTreeHead,
    since: Option<&SignedTreeHead>,
) -> Result<HistoryBundle, LogError> {
    check_tree_head(tree, tree_head)?;
    let previous = match since {
        Some(from) => Some(PreviousTreeHead {
            consistency_proof: consistency_between(tree, from, tree_head)?,
            tree_head: from.clone(),
        }),
        None => None,
    };
    let entries = links
        .iter()
        .filter(|link| link.leaf_index < tree_head.tree_size)
        .map(|link| {
            bundle_entry(
                tree,
                link,
                events.get(&link.seq).cloned(),
                tree_head.tree_size,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HistoryBundle {
        format: HISTORY_BUNDLE_FORMAT.to_owned(),
        person_log_id: person.clone(),
        tree_head: tree_head.clone(),
        previous,
        entries,
    })
}
