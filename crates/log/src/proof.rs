//! Verification of inclusion and consistency proofs, exactly as RFC 9162 §2.1.3.2 and
//! §2.1.4.2 specify (the step numbers in the comments are the RFC's). These functions
//! take attacker input and never panic: every failure is a [`ProofError`].

use crate::hash::{HashValue, node_hash};

/// The longest proof accepted: a tree of at most 2^64 leaves has paths of at most 64
/// nodes, and a consistency proof has at most 2 × 64 (RFC 9162 bounds both by
/// log2(n) + 1; this bound only keeps absurd input cheap).
pub const MAX_PROOF_LEN: usize = 128;

/// Why a proof does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is outside a tree of {tree_size} leaves")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    #[error("the proof has more nodes than the tree needs")]
    TooLong,
    #[error("the proof has fewer nodes than the tree needs")]
    TooShort,
    #[error("the proof does not lead to the tree head's root")]
    RootMismatch,
    #[error("the proof does not lead to the earlier tree head's root")]
    FirstRootMismatch,
    #[error("the earlier tree ({first} leaves) is larger than the later one ({second})")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("two tree heads of the same size {size} have different roots")]
    SameSizeDifferentRoots { size: u64 },
    #[error("a proof between these sizes must be empty")]
    ExpectedEmpty,
}

/// The root that an inclusion proof for `leaf_hash` at `index` in a tree of
/// `tree_size` leaves leads to (RFC 9162 §2.1.3.2 steps 1 to 4; step 5 is
/// [`verify_inclusion`]'s comparison).
pub fn root_from_inclusion_proof(
    leaf_hash: &HashValue,
    index: u64,
    tree_size: u64,
    proof: &[HashValue],
) -> Result<HashValue, ProofError> {
    // 1. Compare leaf_index from the inclusion proof against tree_size. If leaf_index is
    //    greater than or equal to tree_size, then fail the proof verification.
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange { index, tree_size });
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::TooLong);
    }
    // 2. Set fn to leaf_index and sn to tree_size - 1.
    let mut fn_ = index;
    let mut sn = tree_size - 1;
    // 3. Set r to hash.
    let mut r = *leaf_hash;
    // 4. For each value p in the inclusion_path array:
    for p in proof {
        // a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0 {
            return Err(ProofError::TooLong);
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn_ & 1 == 1 || fn_ == sn {
            // i. Set r to HASH(0x01 || p || r).
            r = node_hash(p, &r);
            // ii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            //     either LSB(fn) is set or fn is 0.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            // Otherwise: Set r to HASH(0x01 || r || p).
            r = node_hash(&r, p);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. (first half) Compare sn to 0.
    if sn != 0 {
        return Err(ProofError::TooShort);
    }
    Ok(r)
}

/// RFC 9162 §2.1.3.2: does `proof` show `leaf_hash` at `index` in the tree of
/// `tree_size` leaves whose root is `root`?
pub fn verify_inclusion(
    leaf_hash: &HashValue,
    index: u64,
    tree_size: u64,
    proof: &[HashValue],
    root: &HashValue,
) -> Result<(), ProofError> {
    // 5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and
    //    the root_hash are equal, then the log has proven the inclusion of hash.
    let computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)?;
    if &computed != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: does `proof` show that the tree of `first` leaves with root
/// `first_root` is a prefix of the tree of `second` leaves with root `second_root`?
///
/// The RFC defines the algorithm for `0 < first < second`. The two edge cases are
/// decided here without a proof, and a non-empty proof for them is refused:
/// `first == second` holds when the roots are equal; `first == 0` always holds (every
/// tree extends the empty tree), so it proves nothing.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &HashValue,
    second_root: &HashValue,
    proof: &[HashValue],
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::ExpectedEmpty);
        }
        if first_root != second_root {
            return Err(ProofError::SameSizeDifferentRoots { size: first });
        }
        return Ok(());
    }
    if first == 0 {
        if !proof.is_empty() {
            return Err(ProofError::ExpectedEmpty);
        }
        return Ok(());
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::TooLong);
    }
    // 1. If consistency_path is an empty array, stop and fail the proof verification.
    if proof.is_empty() {
        return Err(ProofError::TooShort);
    }
    // 2. If first is an exact power of 2, then prepend first_hash to the
    //    consistency_path array.
    let mut path: Vec<&HashValue> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(first_root);
    }
    path.extend(proof.iter());
    // 3. Set fn to first - 1 and sn to second - 1.
    let mut fn_ = first - 1;
    let mut sn = second - 1;
    // 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not
    //    set.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. Set both fr and sr to the first value in the consistency_path array.
    let Some((&first_node, rest)) = path.split_first() else {
        return Err(ProofError::TooShort);
    };
    let mut fr = *first_node;
    let mut sr = *first_node;
    // 6. For each subsequent value c in the consistency_path array:
    for &c in rest {
        // a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0 {
            return Err(ProofError::TooLong);
        }
        // b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn_ & 1 == 1 || fn_ == sn {
            // i. Set fr to HASH(0x01 || c || fr). Set sr to HASH(0x01 || c || sr).
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // ii. If LSB(fn) is not set, then right-shift both fn and sn equally until
            //     either LSB(fn) is set or fn is 0.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            // Otherwise: Set sr to HASH(0x01 || sr || c).
            sr = node_hash(&sr, c);
        }
        // c. Finally, right-shift both fn and sn one time.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7. After completing iterating through the consistency_path array as described
    //    above, verify that the fr calculated is equal to the first_hash supplied, that
    //    the sr calculated is equal to the second_hash supplied, and that sn is 0.
    if sn != 0 {
        return Err(ProofError::TooShort);
    }
    if &fr != first_root {
        return Err(ProofError::FirstRootMismatch);
    }
    if &sr != second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
