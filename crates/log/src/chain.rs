//! Per-person hash chains and the leaf that commits each link into the global tree.
//!
//! ```text
//! chain(0)   = SHA-256("jpki-log genesis v1" || person_len (u8) || person_log_id)
//! chain(i)   = SHA-256("jpki-log chain v1" || chain(i-1) || E(i))        i >= 1
//! leaf data  = "jpki-log leaf v1" || person_len (u8) || person_log_id
//!              || i (u64 BE) || chain(i) || E(i)
//! leaf hash  = SHA-256(0x00 || leaf data)                                 RFC 9162 §2.1.1
//! ```
//!
//! `E(i)` is the entry hash of the person's entry number `i` ([`crate::entry_hash`]); the
//! tags are 19, 17 and 16 bytes of ASCII with no terminator. `chain(i)` commits to the
//! person's whole history up to `i`: editing, deleting, inserting or reordering any
//! earlier entry changes it.

use serde::{Deserialize, Serialize};

use crate::entry::PersonLogId;
use crate::hash::{HashValue, leaf_hash, sha256_concat};

pub const GENESIS_TAG_V1: &[u8; 19] = b"jpki-log genesis v1";
pub const CHAIN_TAG_V1: &[u8; 17] = b"jpki-log chain v1";
pub const LEAF_TAG_V1: &[u8; 16] = b"jpki-log leaf v1";

/// `chain(0)` of `person`.
pub fn genesis(person: &PersonLogId) -> HashValue {
    sha256_concat(&[GENESIS_TAG_V1, &person.length_prefixed()])
}

/// `chain(i)` from `chain(i-1)` and `E(i)`.
pub fn next_chain(previous: &HashValue, entry_hash: &HashValue) -> HashValue {
    sha256_concat(&[CHAIN_TAG_V1, previous.as_bytes(), entry_hash.as_bytes()])
}

/// The leaf data of link `seq` (layout in the module docs).
pub fn leaf_data(
    person: &PersonLogId,
    seq: u64,
    chain: &HashValue,
    entry_hash: &HashValue,
) -> Vec<u8> {
    let person = person.length_prefixed();
    let mut out = Vec::with_capacity(LEAF_TAG_V1.len() + person.len() + 8 + 64);
    out.extend_from_slice(LEAF_TAG_V1);
    out.extend_from_slice(&person);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(chain.as_bytes());
    out.extend_from_slice(entry_hash.as_bytes());
    out
}

/// `SHA-256(0x00 || leaf data)` of link `seq`.
pub fn link_leaf_hash(
    person: &PersonLogId,
    seq: u64,
    chain: &HashValue,
    entry_hash: &HashValue,
) -> HashValue {
    leaf_hash(&leaf_data(person, seq, chain, entry_hash))
}

/// One link of a person's chain as the log stores it: what the leaf at `leaf_index`
/// commits to. The entry's content is not here; it stays in the usage history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainLink {
    /// Position in the person's chain, from 1.
    pub seq: u64,
    /// Index of the leaf in the global tree.
    pub leaf_index: u64,
    /// `E(seq)`.
    pub entry_hash: HashValue,
    /// `chain(seq)`.
    pub chain: HashValue,
}

/// The last link of a person's chain that someone has seen: what a citizen keeps to
/// detect later truncation of their history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    pub seq: u64,
    pub chain: HashValue,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_the_documented_bytes() {
        let person = PersonLogId::new("p1-x").unwrap();
        assert_eq!(
            genesis(&person),
            sha256_concat(&[b"jpki-log genesis v1\x04p1-x"])
        );
        let a = HashValue::from_bytes([0xAA; 32]);
        let b = HashValue::from_bytes([0xBB; 32]);
        let mut chain_input = b"jpki-log chain v1".to_vec();
        chain_input.extend_from_slice(&[0xAA; 32]);
        chain_input.extend_from_slice(&[0xBB; 32]);
        assert_eq!(next_chain(&a, &b), sha256_concat(&[&chain_input]));
        let data = leaf_data(&person, 3, &a, &b);
        let mut expected = b"jpki-log leaf v1\x04p1-x".to_vec();
        expected.extend_from_slice(&3u64.to_be_bytes());
        expected.extend_from_slice(&[0xAA; 32]);
        expected.extend_from_slice(&[0xBB; 32]);
        assert_eq!(data, expected);
        assert_eq!(link_leaf_hash(&person, 3, &a, &b), leaf_hash(&expected));
        // The chain is order-sensitive.
        assert_ne!(
            next_chain(&next_chain(&a, &b), &a),
            next_chain(&next_chain(&a, &a), &b)
        );
    }
}
