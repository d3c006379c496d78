//! The global Merkle tree (RFC 9162 §2.1) over a [`LeafStore`], with a cache of the
//! roots of complete power-of-two subtrees.
//!
//! # Structure and complexity
//!
//! For `n` leaves, a *complete subtree* at level `h ≥ 1` and index `j` covers leaves
//! `[j·2^h, (j+1)·2^h)`; it exists once `n ≥ (j+1)·2^h` and never changes afterwards
//! (the log only appends). The tree keeps, in memory:
//!
//! - `levels`: the root of every complete subtree at levels `h ≥ cache_floor` (default
//!   1), i.e. about `n / 2^(cache_floor-1)` hashes (32 bytes each): 32 MB for a million
//!   leaves at floor 1. Levels below the floor are recomputed from the `2^h` leaves in
//!   the store when needed (at floor `f`, a proof reads at most `2^(f-1)` leaves per
//!   node below the floor: a memory/latency trade-off).
//! - `frontier`: the roots of the complete subtrees the current tree decomposes into
//!   (one per set bit of `n`), so appending needs no reads.
//!
//! Costs, with `H` a SHA-256 of 65 bytes:
//!
//! | operation | cost |
//! |---|---|
//! | [`MerkleTree::append`] | 1 store write + amortised 1 `H` (≤ log2 n) |
//! | [`MerkleTree::root`] (current) | ≤ log2 n `H`, no reads |
//! | [`MerkleTree::root_at`] (any earlier size) | O(log n) `H` and cache reads |
//! | [`MerkleTree::inclusion_proof`] | O(log n): ≤ log2 n cache reads, + ≤ log2 n `H` for the one right-edge node that is not a complete subtree |
//! | [`MerkleTree::consistency_proof`] | O(log n), likewise |
//! | [`MerkleTree::open`] over `n` stored leaves | n leaf reads + ~n `H` (once, at start) |
//!
//! Why at most one incomplete node per inclusion path: the RFC's `PATH(m, D[n])` splits
//! at the largest power of two `k < n`; the left part `D[0:k]` is always complete, and
//! once the path descends into a left part everything below is complete. Only the right
//! parts met while descending along the tree's right edge can be incomplete, and they
//! are nested, so computing the first one computes the others' subtrees from the cache.

use std::fmt;

use crate::error::LogError;
use crate::hash::{HashValue, empty_tree_hash, leaf_hash, node_hash};

/// Where the leaf hashes live. The log only appends: leaf `i` is written once, as the
/// `i`-th append, and never changes.
///
/// Synchronous on purpose: the tree reads leaves on the proof path, which must not wait
/// on I/O. jpki's database deployment keeps the tree in memory over an
/// [`InMemoryLeafStore`], filled from the stored leaves at start and with each leaf
/// committed since: `jpki-store` writes every leaf in the same transaction as the usage
/// row it commits (docs/verifiable-log.md §8).
pub trait LeafStore: fmt::Debug + Send + Sync {
    /// Number of leaves stored.
    fn size(&self) -> Result<u64, LogError>;

    /// Stores `leaf_hash` as leaf `index`. `index` is always the current size; an
    /// implementation refuses any other index (another writer appended first). Returns
    /// only once the leaf is durable: the tree uses it, and a tree head may be signed over
    /// it, as soon as this returns.
    fn append(&mut self, index: u64, leaf_hash: &HashValue) -> Result<(), LogError>;

    /// The leaf hash at `index`.
    fn leaf(&self, index: u64) -> Result<HashValue, LogError>;

    /// Leaves `start..end`, in order. The default reads them one by one.
    fn leaves(&self, start: u64, end: u64) -> Result<Vec<HashValue>, LogError> {
        (start..end).map(|index| self.leaf(index)).collect()
    }
}

/// Leaf hashes in a `Vec` (32 bytes a leaf).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InMemoryLeafStore {
    leaves: Vec<HashValue>,
}

impl InMemoryLeafStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_leaves(leaves: Vec<HashValue>) -> Self {
        Self { leaves }
    }

    pub fn as_slice(&self) -> &[HashValue] {
        &self.leaves
    }
}

fn to_usize(value: u64) -> Result<usize, LogError> {
    usize::try_from(value).map_err(|_| LogError::Storage(format!("index {value} exceeds memory")))
}

impl LeafStore for InMemoryLeafStore {
    fn size(&self) -> Result<u64, LogError> {
        Ok(self.leaves.len() as u64)
    }

    fn append(&mut self, index: u64, leaf_hash: &HashValue) -> Result<(), LogError> {
        if index != self.leaves.len() as u64 {
            return Err(LogError::Storage(format!(
                "append at {index} but the store holds {} leaves",
                self.leaves.len()
            )));
        }
        self.leaves.push(*leaf_hash);
        Ok(())
    }

    fn leaf(&self, index: u64) -> Result<HashValue, LogError> {
        self.leaves
            .get(to_usize(index)?)
            .copied()
            .ok_or(LogError::LeafIndexOutOfRange {
                index,
                tree_size: self.leaves.len() as u64,
            })
    }

    fn leaves(&self, start: u64, end: u64) -> Result<Vec<HashValue>, LogError> {
        self.leaves
            .get(to_usize(start)?..to_usize(end)?)
            .map(<[HashValue]>::to_vec)
            .ok_or(LogError::LeafIndexOutOfRange {
                index: end,
                tree_size: self.leaves.len() as u64,
            })
    }
}

/// Largest power of two strictly below `n` (`n ≥ 2`): the RFC's split point `k`.
fn split_point(n: u64) -> u64 {
    1 << 63u32.saturating_sub(n.saturating_sub(1).leading_zeros())
}

/// Default [`MerkleTree`] cache floor: cache every level from 1 up.
pub const DEFAULT_CACHE_FLOOR: u32 = 1;
/// Highest accepted cache floor (a proof then hashes up to 2^15 leaves per node).
pub const MAX_CACHE_FLOOR: u32 = 16;

/// How many leaves [`MerkleTree::open`] reads at once.
const OPEN_CHUNK: u64 = 1 << 16;

/// An append-only RFC 9162 Merkle tree (see the module docs for the structure).
pub struct MerkleTree<S: LeafStore = InMemoryLeafStore> {
    store: S,
    size: u64,
    cache_floor: u32,
    /// `levels[i]` holds the complete subtrees at level `cache_floor + i`, in order.
    levels: Vec<Vec<HashValue>>,
    /// (level, root) of the complete subtrees the current tree decomposes into, left to
    /// right, strictly decreasing levels.
    frontier: Vec<(u32, HashValue)>,
}

impl<S: LeafStore> fmt::Debug for MerkleTree<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerkleTree")
            .field("size", &self.size)
            .field("cache_floor", &self.cache_floor)
            .field("cached_nodes", &self.cached_nodes())
            .field("store", &"..")
            .finish()
    }
}

impl Default for MerkleTree<InMemoryLeafStore> {
    fn default() -> Self {
        Self::new()
    }
}

impl MerkleTree<InMemoryLeafStore> {
    /// An empty tree in memory.
    pub fn new() -> Self {
        Self {
            store: InMemoryLeafStore::new(),
            size: 0,
            cache_floor: DEFAULT_CACHE_FLOOR,
            levels: Vec::new(),
            frontier: Vec::new(),
        }
    }
}

impl<S: LeafStore> MerkleTree<S> {
    /// Opens the tree over the leaves already in `store`, rebuilding the cache (one pass
    /// over the leaves).
    pub fn open(store: S) -> Result<Self, LogError> {
        Self::open_with_cache_floor(store, DEFAULT_CACHE_FLOOR)
    }

    /// Like [`MerkleTree::open`], caching complete subtrees from level `cache_floor` up
    /// (1..=[`MAX_CACHE_FLOOR`]).
    pub fn open_with_cache_floor(store: S, cache_floor: u32) -> Result<Self, LogError> {
        if !(1..=MAX_CACHE_FLOOR).contains(&cache_floor) {
            return Err(LogError::CacheFloor {
                floor: cache_floor,
                max: MAX_CACHE_FLOOR,
            });
        }
        let stored = store.size()?;
        let mut tree = Self {
            store,
            size: 0,
            cache_floor,
            levels: Vec::new(),
            frontier: Vec::new(),
        };
        let mut start = 0;
        while start < stored {
            let end = stored.min(start.saturating_add(OPEN_CHUNK));
            let leaves = tree.store.leaves(start, end)?;
            if leaves.len() as u64 != end - start {
                return Err(LogError::Inconsistent(format!(
                    "the leaf store returned {} leaves for {start}..{end}",
                    leaves.len()
                )));
            }
            for leaf in leaves {
                tree.absorb(leaf);
            }
            start = end;
        }
        Ok(tree)
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn cache_floor(&self) -> u32 {
        self.cache_floor
    }

    /// Number of hashes held in the subtree cache and the frontier.
    pub fn cached_nodes(&self) -> u64 {
        self.levels
            .iter()
            .map(|level| level.len() as u64)
            .sum::<u64>()
            + self.frontier.len() as u64
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn into_store(self) -> S {
        self.store
    }

    /// Appends a leaf hash; returns its index.
    pub fn append(&mut self, leaf_hash: HashValue) -> Result<u64, LogError> {
        let index = self.size;
        // Step 1: persist. On failure nothing in memory has changed.
        self.store.append(index, &leaf_hash)?;
        // Step 2: update the frontier and the cache (cannot fail).
        self.absorb(leaf_hash);
        Ok(index)
    }

    /// Appends `SHA-256(0x00 || leaf_data)`; returns its index.
    pub fn append_leaf_data(&mut self, leaf_data: &[u8]) -> Result<u64, LogError> {
        self.append(leaf_hash(leaf_data))
    }

    /// Adds leaf `self.size` to the frontier and caches the subtrees it completes.
    fn absorb(&mut self, leaf_hash: HashValue) {
        let mut carry = (0u32, leaf_hash);
        while let Some(&(level, left)) = self.frontier.last() {
            if level != carry.0 {
                break;
            }
            self.frontier.pop();
            carry = (level + 1, node_hash(&left, &carry.1));
            if carry.0 >= self.cache_floor {
                let row = (carry.0 - self.cache_floor) as usize;
                while self.levels.len() <= row {
                    self.levels.push(Vec::new());
                }
                if let Some(level_nodes) = self.levels.get_mut(row) {
                    level_nodes.push(carry.1);
                }
            }
        }
        self.frontier.push(carry);
        self.size += 1;
    }

    /// The root of the current tree (`MTH(D[0:n])`; the empty-tree hash when empty).
    pub fn root(&self) -> HashValue {
        let mut nodes = self.frontier.iter().rev();
        let Some(&(_, mut root)) = nodes.next() else {
            return empty_tree_hash();
        };
        for (_, left) in nodes {
            root = node_hash(left, &root);
        }
        root
    }

    /// The root the tree had when it had `tree_size` leaves.
    pub fn root_at(&self, tree_size: u64) -> Result<HashValue, LogError> {
        self.check_size(tree_size)?;
        if tree_size == self.size {
            return Ok(self.root());
        }
        if tree_size == 0 {
            return Ok(empty_tree_hash());
        }
        self.range_root(0, tree_size)
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: u64) -> Result<HashValue, LogError> {
        if index >= self.size {
            return Err(LogError::LeafIndexOutOfRange {
                index,
                tree_size: self.size,
            });
        }
        self.store.leaf(index)
    }

    /// RFC 9162 §2.1.3.1: `PATH(index, D[0:tree_size])`, the nodes from the leaf's
    /// sibling up to the root's child.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<HashValue>, LogError> {
        self.check_size(tree_size)?;
        if index >= tree_size {
            return Err(LogError::LeafIndexOutOfRange { index, tree_size });
        }
        // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])        if m < k
        //               = PATH(m - k, D[k:n]) : MTH(D[0:k])    if m >= k
        // walked top-down, so the nodes come out root-first and are reversed at the end.
        let mut path = Vec::new();
        let (mut start, mut end, mut m) = (0u64, tree_size, index);
        while end - start > 1 {
            let k = split_point(end - start);
            if m < k {
                path.push(self.range_root(start + k, end)?);
                end = start + k;
            } else {
                path.push(self.range_root(start, start + k)?);
                start += k;
                m -= k;
            }
        }
        path.reverse();
        Ok(path)
    }

    /// RFC 9162 §2.1.4.1: `PROOF(first, D[0:second])`. Empty when `first` is 0 or equals
    /// `second` (nothing to prove; see [`crate::verify_consistency`]).
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<HashValue>, LogError> {
        self.check_size(second)?;
        if first > second {
            return Err(LogError::TreeSizeOutOfRange {
                requested: first,
                size: second,
            });
        }
        if first == 0 || first == second {
            return Ok(Vec::new());
        }
        // SUBPROOF(m, D[n], b) = [] if m = n and b; [MTH(D[n])] if m = n and not b;
        //   SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          if m <= k
        //   SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  if m > k
        let mut proof = Vec::new();
        let (mut start, mut end, mut m, mut b) = (0u64, second, first, true);
        loop {
            let n = end - start;
            if m == n {
                if !b {
                    proof.push(self.range_root(start, end)?);
                }
                break;
            }
            let k = split_point(n);
            if m <= k {
                proof.push(self.range_root(start + k, end)?);
                end = start + k;
            } else {
                proof.push(self.range_root(start, start + k)?);
                start += k;
                m -= k;
                b = false;
            }
        }
        proof.reverse();
        Ok(proof)
    }

    fn check_size(&self, tree_size: u64) -> Result<(), LogError> {
        if tree_size > self.size {
            return Err(LogError::TreeSizeOutOfRange {
                requested: tree_size,
                size: self.size,
            });
        }
        Ok(())
    }

    /// `MTH(D[start:end])` for `start < end <= size`.
    fn range_root(&self, start: u64, end: u64) -> Result<HashValue, LogError> {
        let n = end - start;
        if n.is_power_of_two() && start.is_multiple_of(n) {
            let level = n.trailing_zeros();
            return self.complete_subtree(level, start >> level);
        }
        let k = split_point(n);
        let left = self.range_root(start, start + k)?;
        let right = self.range_root(start + k, end)?;
        Ok(node_hash(&left, &right))
    }

    /// Root of the complete subtree at `level`, `index` (leaves `[index·2^level,
    /// (index+1)·2^level)`), which must exist.
    fn complete_subtree(&self, level: u32, index: u64) -> Result<HashValue, LogError> {
        if level == 0 {
            return self.store.leaf(index);
        }
        if level < self.cache_floor {
            let left = self.complete_subtree(level - 1, 2 * index)?;
            let right = self.complete_subtree(level - 1, 2 * index + 1)?;
            return Ok(node_hash(&left, &right));
        }
        self.levels
            .get((level - self.cache_floor) as usize)
            .and_then(|nodes| nodes.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or_else(|| {
                LogError::Inconsistent(format!(
                    "complete subtree ({level}, {index}) missing from the cache of a tree of {} leaves",
                    self.size
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u64) -> HashValue {
        leaf_hash(&i.to_be_bytes())
    }

    #[test]
    fn split_point_is_the_largest_power_of_two_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn cache_floors_agree_and_reopening_rebuilds_the_same_tree() {
        let mut default = MerkleTree::new();
        for i in 0..300 {
            default.append(leaf(i)).unwrap();
        }
        for floor in [1, 2, 3, 5, 9] {
            let tree = MerkleTree::open_with_cache_floor(default.store().clone(), floor).unwrap();
            assert_eq!(tree.size(), 300);
            assert_eq!(tree.root(), default.root());
            for size in [1, 2, 3, 64, 65, 127, 128, 299, 300] {
                assert_eq!(tree.root_at(size).unwrap(), default.root_at(size).unwrap());
                assert_eq!(
                    tree.inclusion_proof(size / 2, size).unwrap(),
                    default.inclusion_proof(size / 2, size).unwrap()
                );
                assert_eq!(
                    tree.consistency_proof(size / 3, size).unwrap(),
                    default.consistency_proof(size / 3, size).unwrap()
                );
            }
            if floor > 1 {
                assert!(tree.cached_nodes() < default.cached_nodes());
            }
        }
        assert!(MerkleTree::open_with_cache_floor(InMemoryLeafStore::new(), 0).is_err());
        assert!(MerkleTree::open_with_cache_floor(InMemoryLeafStore::new(), 17).is_err());
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        let mut tree = MerkleTree::new();
        assert_eq!(tree.root(), empty_tree_hash());
        assert_eq!(tree.root_at(0).unwrap(), empty_tree_hash());
        assert!(tree.inclusion_proof(0, 0).is_err());
        for i in 0..5 {
            tree.append(leaf(i)).unwrap();
        }
        assert!(matches!(
            tree.inclusion_proof(5, 5),
            Err(LogError::LeafIndexOutOfRange { .. })
        ));
        assert!(matches!(
            tree.root_at(6),
            Err(LogError::TreeSizeOutOfRange { .. })
        ));
        assert!(tree.consistency_proof(4, 3).is_err());
        assert!(tree.consistency_proof(3, 6).is_err());
        assert!(tree.leaf(5).is_err());
        assert_eq!(tree.leaf(4).unwrap(), leaf(4));
    }

    #[derive(Debug)]
    struct FailingStore;
    impl LeafStore for FailingStore {
        fn size(&self) -> Result<u64, LogError> {
            Ok(0)
        }
        fn append(&mut self, _: u64, _: &HashValue) -> Result<(), LogError> {
            Err(LogError::Storage("disk full".into()))
        }
        fn leaf(&self, index: u64) -> Result<HashValue, LogError> {
            Err(LogError::LeafIndexOutOfRange {
                index,
                tree_size: 0,
            })
        }
    }

    #[test]
    fn a_failed_store_write_leaves_the_tree_unchanged() {
        let mut tree = MerkleTree::open(FailingStore).unwrap();
        assert!(matches!(tree.append(leaf(0)), Err(LogError::Storage(_))));
        assert_eq!(tree.size(), 0);
        assert_eq!(tree.root(), empty_tree_hash());
    }

    #[test]
    fn the_in_memory_store_refuses_out_of_order_appends() {
        let mut store = InMemoryLeafStore::new();
        store.append(0, &leaf(0)).unwrap();
        assert!(store.append(0, &leaf(1)).is_err());
        assert!(store.append(2, &leaf(1)).is_err());
        assert!(store.leaves(0, 2).is_err());
    }
}
