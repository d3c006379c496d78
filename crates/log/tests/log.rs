//! jpki-log's system tests, in one binary: Merkle conformance (RFC 9162 against an
//! independent recursive implementation and Certificate Transparency's reference
//! vectors), property tests over every small tree, and tamper drills over a log of
//! several people's usage histories.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jpki_crypto::{ManualClock, RsaKeySize, SoftwareRsaKey};
use jpki_log::{
    BundleEntry, ChainHead, Checkpoint, ConsistencyProofDocument, HashValue, HistoryBundle,
    InMemoryLeafStore, LogError, LogKey, LogTime, LogVerifyError, MerkleTree, PersonLogId,
    PreviousTreeHead, ProofError, SignedTreeHead, TreeHead, TreeHeadRole, UsageEvent,
    VerifiableLog, VerifiedDocument, build_history_bundle, entry_hash, genesis, leaf_hash,
    link_leaf_hash, next_chain, root_from_inclusion_proof, verify_bundle, verify_bundle_since,
    verify_consistency, verify_document, verify_inclusion,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::macros::datetime;

// ---------------------------------------------------------------------------------------
// An independent reference: RFC 9162 §2.1 written as the recursive definitions, over
// RustCrypto's SHA-256 (the crate under test uses aws-lc).
// ---------------------------------------------------------------------------------------

type Raw = [u8; 32];

fn sha(parts: &[&[u8]]) -> Raw {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    let out = hasher.finalize();
    let mut raw = [0u8; 32];
    raw.copy_from_slice(&out);
    raw
}

fn ref_leaf(data: &[u8]) -> Raw {
    sha(&[&[0x00], data])
}

fn ref_node(left: &Raw, right: &Raw) -> Raw {
    sha(&[&[0x01], left, right])
}

fn ref_k(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]).
fn ref_mth(leaves: &[Raw]) -> Raw {
    match leaves.len() {
        0 => sha(&[]),
        1 => leaves[0],
        n => {
            let k = ref_k(n);
            ref_node(&ref_mth(&leaves[..k]), &ref_mth(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]).
fn ref_path(m: usize, leaves: &[Raw]) -> Vec<Raw> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = ref_k(n);
    if m < k {
        let mut path = ref_path(m, &leaves[..k]);
        path.push(ref_mth(&leaves[k..]));
        path
    } else {
        let mut path = ref_path(m - k, &leaves[k..]);
        path.push(ref_mth(&leaves[..k]));
        path
    }
}

/// SUBPROOF(m, D[n], b).
fn ref_subproof(m: usize, leaves: &[Raw], b: bool) -> Vec<Raw> {
    let n = leaves.len();
    if m == n {
        return if b { Vec::new() } else { vec![ref_mth(leaves)] };
    }
    let k = ref_k(n);
    if m <= k {
        let mut proof = ref_subproof(m, &leaves[..k], b);
        proof.push(ref_mth(&leaves[k..]));
        proof
    } else {
        let mut proof = ref_subproof(m - k, &leaves[k..], false);
        proof.push(ref_mth(&leaves[..k]));
        proof
    }
}

/// PROOF(m, D[n]) for 0 < m < n; empty otherwise.
fn ref_consistency(m: usize, leaves: &[Raw]) -> Vec<Raw> {
    if m == 0 || m == leaves.len() {
        Vec::new()
    } else {
        ref_subproof(m, leaves, true)
    }
}

fn raw(hashes: &[HashValue]) -> Vec<Raw> {
    hashes.iter().map(|h| *h.as_bytes()).collect()
}

fn hv(raw: &Raw) -> HashValue {
    HashValue::from_bytes(*raw)
}

fn tree_of(count: usize) -> (MerkleTree, Vec<Raw>) {
    let mut tree = MerkleTree::new();
    let mut leaves = Vec::new();
    for i in 0..count {
        let data = (i as u64).to_be_bytes();
        let ours = tree.append_leaf_data(&data).unwrap();
        assert_eq!(ours, i as u64);
        leaves.push(ref_leaf(&data));
    }
    (tree, leaves)
}

// ---------------------------------------------------------------------------------------
// Merkle conformance
// ---------------------------------------------------------------------------------------

fn h(text: &str) -> HashValue {
    HashValue::from_hex(text).unwrap()
}

/// Certificate Transparency's reference tree: eight leaves and the root after each
/// append, the inclusion paths and the consistency proofs, from
/// google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc (commit c25edc2)
/// (`kInputs`, `kSHA256Roots`, `kSHA256Paths`, `kSHA256Proofs`; its leaf numbers are
/// 1-based, ours are 0-based). The empty-tree hash is `kSHA256EmptyTreeHash`.
#[test]
fn certificate_transparency_reference_vectors() {
    let inputs: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let mut tree = MerkleTree::new();
    assert_eq!(
        tree.root(),
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    for (i, input) in inputs.iter().enumerate() {
        tree.append_leaf_data(input).unwrap();
        assert_eq!(tree.root(), h(roots[i]), "root after {} leaves", i + 1);
        assert_eq!(
            tree.root(),
            hv(&ref_mth(
                &inputs[..=i].iter().map(|d| ref_leaf(d)).collect::<Vec<_>>()
            ))
        );
    }
    for (i, root) in roots.iter().enumerate() {
        assert_eq!(tree.root_at(i as u64 + 1).unwrap(), h(root));
    }
    // (leaf index, tree size, path)
    let paths: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (index, size, expected) in paths {
        let proof = tree.inclusion_proof(index, size).unwrap();
        let expected: Vec<HashValue> = expected.iter().map(|e| h(e)).collect();
        assert_eq!(proof, expected, "path {index} in {size}");
        let leaf = leaf_hash(inputs[index as usize]);
        verify_inclusion(&leaf, index, size, &proof, &h(roots[size as usize - 1])).unwrap();
    }
    assert!(tree.inclusion_proof(0, 1).unwrap().is_empty());
    // (first, second, proof)
    let proofs: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (first, second, expected) in proofs {
        let proof = tree.consistency_proof(first, second).unwrap();
        let expected: Vec<HashValue> = expected.iter().map(|e| h(e)).collect();
        assert_eq!(proof, expected, "consistency {first} -> {second}");
        verify_consistency(
            first,
            second,
            &h(roots[first as usize - 1]),
            &h(roots[second as usize - 1]),
            &proof,
        )
        .unwrap();
    }
}

/// Every inclusion proof and every consistency proof of every tree of 1 to 64 leaves
/// equals the reference's, verifies, and stops verifying when any one byte of any hash
/// involved is flipped, or when a node is removed or added.
#[test]
fn every_proof_of_every_tree_up_to_64_leaves() {
    let (tree, leaves) = tree_of(64);
    for size in 1..=64usize {
        let root = tree.root_at(size as u64).unwrap();
        assert_eq!(*root.as_bytes(), ref_mth(&leaves[..size]), "root of {size}");
        for index in 0..size {
            let proof = tree.inclusion_proof(index as u64, size as u64).unwrap();
            assert_eq!(raw(&proof), ref_path(index, &leaves[..size]));
            let leaf = hv(&leaves[index]);
            let (i, n) = (index as u64, size as u64);
            verify_inclusion(&leaf, i, n, &proof, &root).unwrap();
            for byte in 0..32 {
                assert!(
                    verify_inclusion(&leaf.with_flipped_bit(byte), i, n, &proof, &root).is_err()
                );
                assert!(
                    verify_inclusion(&leaf, i, n, &proof, &root.with_flipped_bit(byte)).is_err()
                );
                for j in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[j] = bad[j].with_flipped_bit(byte);
                    assert!(verify_inclusion(&leaf, i, n, &bad, &root).is_err());
                }
            }
            let mut longer = proof.clone();
            longer.push(root);
            assert_eq!(
                verify_inclusion(&leaf, i, n, &longer, &root),
                Err(ProofError::TooLong)
            );
            if !proof.is_empty() {
                let mut shorter = proof.clone();
                shorter.pop();
                assert_eq!(
                    verify_inclusion(&leaf, i, n, &shorter, &root),
                    Err(ProofError::TooShort)
                );
            }
            // The same proof does not prove another index or another size.
            if size > 1 {
                let other = (index + 1) % size;
                assert!(verify_inclusion(&leaf, other as u64, n, &proof, &root).is_err());
            }
            assert!(verify_inclusion(&leaf, i, n * 2, &proof, &root).is_err());
        }
        for first in 0..=size {
            let proof = tree.consistency_proof(first as u64, size as u64).unwrap();
            assert_eq!(raw(&proof), ref_consistency(first, &leaves[..size]));
            let first_root = tree.root_at(first as u64).unwrap();
            let (m, n) = (first as u64, size as u64);
            verify_consistency(m, n, &first_root, &root, &proof).unwrap();
            if first == 0 || first == size {
                continue;
            }
            for byte in 0..32 {
                assert!(
                    verify_consistency(m, n, &first_root.with_flipped_bit(byte), &root, &proof)
                        .is_err()
                );
                assert!(
                    verify_consistency(m, n, &first_root, &root.with_flipped_bit(byte), &proof)
                        .is_err()
                );
                for j in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[j] = bad[j].with_flipped_bit(byte);
                    assert!(verify_consistency(m, n, &first_root, &root, &bad).is_err());
                }
            }
            let mut shorter = proof.clone();
            shorter.pop();
            assert!(verify_consistency(m, n, &first_root, &root, &shorter).is_err());
            let mut longer = proof.clone();
            longer.push(root);
            assert!(verify_consistency(m, n, &first_root, &root, &longer).is_err());
            // Swapped roots, and a proof presented for other sizes, do not verify.
            assert!(verify_consistency(m, n, &root, &first_root, &proof).is_err());
            if first + 1 < size {
                let next_root = tree.root_at(m + 1).unwrap();
                assert!(verify_consistency(m + 1, n, &next_root, &root, &proof).is_err());
            }
        }
    }
}

/// Random (index, size) and (first, second) pairs in a tree of 3,000 leaves, with the
/// default cache and with a cache floor of 4: proofs equal the reference's and verify,
/// and a flipped byte breaks them.
#[test]
fn random_proofs_in_a_larger_tree_match_the_reference() {
    let (tree, leaves) = tree_of(3_000);
    let floor4 = MerkleTree::open_with_cache_floor(tree.store().clone(), 4).unwrap();
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    for round in 0..150 {
        let size = 1 + next(leaves.len());
        let index = next(size);
        let root = tree.root_at(size as u64).unwrap();
        assert_eq!(*root.as_bytes(), ref_mth(&leaves[..size]));
        let proof = tree.inclusion_proof(index as u64, size as u64).unwrap();
        assert_eq!(raw(&proof), ref_path(index, &leaves[..size]));
        assert_eq!(
            floor4.inclusion_proof(index as u64, size as u64).unwrap(),
            proof
        );
        let leaf = hv(&leaves[index]);
        verify_inclusion(&leaf, index as u64, size as u64, &proof, &root).unwrap();
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let j = round % bad.len();
            bad[j] = bad[j].with_flipped_bit(round);
            assert_eq!(
                verify_inclusion(&leaf, index as u64, size as u64, &bad, &root),
                Err(ProofError::RootMismatch)
            );
        }

        let first = next(size + 1);
        let proof = tree.consistency_proof(first as u64, size as u64).unwrap();
        assert_eq!(raw(&proof), ref_consistency(first, &leaves[..size]));
        assert_eq!(
            floor4.consistency_proof(first as u64, size as u64).unwrap(),
            proof
        );
        let first_root = tree.root_at(first as u64).unwrap();
        verify_consistency(first as u64, size as u64, &first_root, &root, &proof).unwrap();
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let j = round % bad.len();
            bad[j] = bad[j].with_flipped_bit(round);
            assert!(
                verify_consistency(first as u64, size as u64, &first_root, &root, &bad).is_err()
            );
        }
    }
}

#[test]
fn proof_verification_edge_cases() {
    let leaf = leaf_hash(b"x");
    // A one-leaf tree's root is its leaf, with an empty path.
    verify_inclusion(&leaf, 0, 1, &[], &leaf).unwrap();
    assert_eq!(
        verify_inclusion(&leaf, 0, 0, &[], &leaf),
        Err(ProofError::IndexOutOfRange {
            index: 0,
            tree_size: 0
        })
    );
    assert!(root_from_inclusion_proof(&leaf, u64::MAX, u64::MAX, &[]).is_err());
    assert_eq!(
        verify_inclusion(&leaf, 0, 2, &[], &leaf),
        Err(ProofError::TooShort)
    );
    assert_eq!(
        verify_inclusion(&leaf, 0, 1, &vec![leaf; 200], &leaf),
        Err(ProofError::TooLong)
    );
    // In a tree of 2^64 - 1 leaves the first leaf's path has 64 nodes and the last
    // leaf's 63: the arithmetic does not overflow at the edge.
    assert_eq!(
        root_from_inclusion_proof(&leaf, 0, u64::MAX, &[leaf; 63]),
        Err(ProofError::TooShort)
    );
    assert!(root_from_inclusion_proof(&leaf, 0, u64::MAX, &[leaf; 64]).is_ok());
    assert_eq!(
        root_from_inclusion_proof(&leaf, 0, u64::MAX, &[leaf; 65]),
        Err(ProofError::TooLong)
    );
    assert_eq!(
        root_from_inclusion_proof(&leaf, u64::MAX - 1, u64::MAX, &[leaf; 62]),
        Err(ProofError::TooShort)
    );
    assert!(root_from_inclusion_proof(&leaf, u64::MAX - 1, u64::MAX, &[leaf; 63]).is_ok());

    let a = leaf_hash(b"a");
    let b = leaf_hash(b"b");
    assert_eq!(
        verify_consistency(3, 2, &a, &b, &[]),
        Err(ProofError::SizesOutOfOrder {
            first: 3,
            second: 2
        })
    );
    verify_consistency(2, 2, &a, &a, &[]).unwrap();
    assert_eq!(
        verify_consistency(2, 2, &a, &b, &[]),
        Err(ProofError::SameSizeDifferentRoots { size: 2 })
    );
    assert_eq!(
        verify_consistency(2, 2, &a, &a, &[a]),
        Err(ProofError::ExpectedEmpty)
    );
    verify_consistency(0, 5, &a, &b, &[]).unwrap();
    assert_eq!(
        verify_consistency(0, 5, &a, &b, &[a]),
        Err(ProofError::ExpectedEmpty)
    );
    assert_eq!(
        verify_consistency(1, 2, &a, &b, &[]),
        Err(ProofError::TooShort)
    );
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &a, &b, &[a; 64]).is_err());
}

/// The worked example of docs/verifiable-log.md §7. The expected values were computed
/// independently, in Python (hashlib, struct, json with sort_keys and compact
/// separators), from the byte layouts the document gives, not by this crate.
#[test]
fn worked_example_matches_an_independent_computation() {
    let person = PersonLogId::new("p1-abc").unwrap();
    let event = UsageEvent {
        at: LogTime::parse_rfc3339("2026-04-01T09:30:00.123456Z").unwrap(),
        device_id: Some("dev-1".into()),
        action: "signed".into(),
        outcome: "ok".into(),
        detail: json!({"purpose": "signature", "count": 2}),
    };
    assert_eq!(
        hex::encode(jpki_log::entry_bytes(&person, 1, &event).unwrap()),
        "6a706b692d6c6f6720656e7472792076310670312d616263000000000000000100064e62ba547840\
         0100056465762d3100067369676e656400026f6b000000217b22636f756e74223a322c2270757270\
         6f7365223a227369676e6174757265227d"
    );
    let entry = entry_hash(&person, 1, &event).unwrap();
    assert_eq!(
        entry,
        h("608b42f51281c8f0dc1e2491c70ba321c52e2e91346787418c19a58295b90ea7")
    );
    assert_eq!(
        genesis(&person),
        h("fadbb51335ddcc7a2b5c92f75e1303fce4d7ec801ee88e1b36b6c3a0e6362433")
    );
    let chain = next_chain(&genesis(&person), &entry);
    assert_eq!(
        chain,
        h("83a321aedef96239343a770cebd7aec1ed46bef6c6f5e133f7253e9dd00901de")
    );
    assert_eq!(
        link_leaf_hash(&person, 1, &chain, &entry),
        h("55b50827683717de62f30ace0f6c4a8a3dd5ee6e2d98b0447db5569a5574cdcf")
    );
}

// ---------------------------------------------------------------------------------------
// The log: several people's histories, and what an operator could try
// ---------------------------------------------------------------------------------------

/// The usage history table: person → seq → content.
type Database = HashMap<PersonLogId, BTreeMap<u64, UsageEvent>>;

struct Fixture {
    log: VerifiableLog,
    key: LogKey,
    clock: ManualClock,
    people: Vec<PersonLogId>,
    database: Database,
    /// Signed after the first 90 entries.
    early: SignedTreeHead,
    /// Signed after all 150.
    current: SignedTreeHead,
}

/// Whose entry `i` is: uneven interleaving, person 0 gets the most entries.
fn who(i: u64) -> usize {
    const PATTERN: [usize; 11] = [0, 1, 0, 2, 0, 3, 1, 0, 4, 2, 0];
    PATTERN[(i % 11) as usize]
}

const ENTRIES: u64 = 150;
const EARLY: u64 = 90;

fn event(i: u64) -> UsageEvent {
    let actions = ["applied", "issued", "signed", "authenticated", "registered"];
    UsageEvent {
        at: LogTime::from_unix_micros(1_775_000_000_000_000 + i as i64 * 61_000_000).unwrap(),
        device_id: (!i.is_multiple_of(4)).then(|| format!("phone-{}", i % 3)),
        action: actions[(i % 5) as usize].to_owned(),
        outcome: if i.is_multiple_of(11) {
            "refused"
        } else {
            "ok"
        }
        .to_owned(),
        detail: json!({"relying_party": format!("rp-{}", i % 7), "serial": i, "note": "利用"}),
    }
}

fn append(
    log: &mut VerifiableLog,
    database: &mut Database,
    person: &PersonLogId,
    event: UsageEvent,
) {
    let receipt = log.append(person, &event).unwrap();
    database
        .entry(person.clone())
        .or_default()
        .insert(receipt.seq, event);
}

fn fixture_with(key: LogKey) -> Fixture {
    let clock = ManualClock::new(datetime!(2026-04-01 00:00 UTC));
    let people: Vec<PersonLogId> = (0..5)
        .map(|i| PersonLogId::pseudonymous(&[9u8; 32], &format!("resident-{i}")).unwrap())
        .collect();
    let mut log = VerifiableLog::in_memory();
    let mut database = Database::new();
    let mut early = None;
    for i in 0..ENTRIES {
        let person = &people[who(i)];
        append(&mut log, &mut database, person, event(i));
        if i + 1 == EARLY {
            early = Some(log.sign_tree_head(&key, &clock).unwrap());
            clock.advance(time::Duration::hours(1));
        }
    }
    let current = log.sign_tree_head(&key, &clock).unwrap();
    Fixture {
        log,
        key,
        clock,
        people,
        database,
        early: early.unwrap(),
        current,
    }
}

fn fixture() -> Fixture {
    fixture_with(LogKey::generate_p256().unwrap())
}

impl Fixture {
    fn person(&self) -> &PersonLogId {
        &self.people[0]
    }

    fn rows(&self, person: &PersonLogId) -> &BTreeMap<u64, UsageEvent> {
        &self.database[person]
    }

    fn bundle(&self, person: &PersonLogId, since: Option<&SignedTreeHead>) -> HistoryBundle {
        self.log
            .history_bundle(person, &self.rows(person).clone(), &self.current, since)
            .unwrap()
    }

    fn verify(&self, bundle: &HistoryBundle) -> Result<jpki_log::VerifiedHistory, LogVerifyError> {
        verify_bundle(bundle, self.key.public_key())
    }
}

/// Re-computes entry hashes and chain links of `entries` from `from` on, as an operator
/// covering up an edit would (the inclusion proofs stay what they were).
fn relink(person: &PersonLogId, entries: &mut [BundleEntry], from: usize) {
    let mut previous = if from == 0 {
        genesis(person)
    } else {
        entries[from - 1].chain
    };
    for entry in entries.iter_mut().skip(from) {
        entry.entry_hash = entry_hash(person, entry.seq, entry.event.as_ref().unwrap()).unwrap();
        entry.chain = next_chain(&previous, &entry.entry_hash);
        previous = entry.chain;
    }
}

#[test]
fn honest_histories_verify_with_and_without_an_earlier_tree_head() {
    let f = fixture();
    let mut total = 0;
    for person in &f.people {
        let rows = f.rows(person);
        let bundle = f.bundle(person, Some(&f.early));
        let verified = f.verify(&bundle).unwrap();
        assert_eq!(verified.entries.len(), rows.len());
        for (entry, (seq, row)) in verified.entries.iter().zip(rows) {
            assert_eq!(entry.seq, *seq);
            assert_eq!(&entry.event, row);
            assert_eq!(entry.in_previous_tree, entry.leaf_index < EARLY);
        }
        assert_eq!(verified.previous_tree_head.as_ref(), Some(&f.early));
        total += rows.len();

        // The JSON form verifies the same, through the document entry point.
        let json = bundle.to_json().unwrap();
        match verify_document(&json, f.key.public_key()).unwrap() {
            VerifiedDocument::History(history) => assert_eq!(history, verified),
            other => panic!("{other:?}"),
        }
        // Without the earlier head too.
        f.verify(&f.bundle(person, None)).unwrap();
    }
    assert_eq!(total as u64, ENTRIES);
    assert!(
        f.rows(f.person()).len() >= 40,
        "person 0 has a long history"
    );
}

#[test]
fn a_checkpoint_carries_over_to_the_next_verification() {
    let mut f = fixture();
    let person = f.person().clone();
    // The citizen verified as of the early head and kept a checkpoint.
    let early_bundle = f
        .log
        .history_bundle(&person, f.rows(&person), &f.early, None)
        .unwrap();
    let checkpoint = f.verify(&early_bundle).unwrap().checkpoint();
    let checkpoint = Checkpoint::from_json(&checkpoint.to_json().unwrap()).unwrap();
    let head = checkpoint.head.unwrap();
    assert!(head.seq > 10);

    // Later: a bundle with a consistency proof from that head.
    let later = f.bundle(&person, Some(&f.early));
    let verified = verify_bundle_since(&later, f.key.public_key(), &checkpoint).unwrap();
    assert!(verified.entries.len() as u64 > head.seq);
    // The same tree head as the checkpoint's needs no proof.
    verify_bundle_since(&early_bundle, f.key.public_key(), &checkpoint).unwrap();

    // New entries later still extend it.
    append(&mut f.log, &mut f.database, &person, event(999));
    f.clock.advance(time::Duration::hours(1));
    let newest = f.log.sign_tree_head(&f.key, &f.clock).unwrap();
    let bundle = f
        .log
        .history_bundle(&person, f.rows(&person), &newest, Some(&f.early))
        .unwrap();
    let verified = verify_bundle_since(&bundle, f.key.public_key(), &checkpoint).unwrap();
    assert_eq!(verified.entries.last().unwrap().event, event(999));
}

#[test]
fn editing_an_entry_in_the_database_is_detected() {
    let mut f = fixture();
    let person = f.person().clone();
    let rows = f.database.get_mut(&person).unwrap();
    rows.get_mut(&5).unwrap().action = "nothing-to-see".into();
    assert_eq!(
        f.verify(&f.bundle(&person, None)),
        Err(LogVerifyError::EntryContent { seq: 5 })
    );
    // Only the detail, only the time, only the device: each is caught.
    let mut f = fixture();
    f.database
        .get_mut(&person)
        .unwrap()
        .get_mut(&9)
        .unwrap()
        .detail = json!({"relying_party": "rp-0", "serial": 9, "note": "利用"});
    assert_eq!(
        f.verify(&f.bundle(&person, None)),
        Err(LogVerifyError::EntryContent { seq: 9 })
    );
    let mut f = fixture();
    let row = f.database.get_mut(&person).unwrap().get_mut(&2).unwrap();
    row.at = LogTime::from_unix_micros(row.at.unix_micros() + 1).unwrap();
    let error = f.verify(&f.bundle(&person, None)).unwrap_err();
    assert_eq!(error, LogVerifyError::EntryContent { seq: 2 });
    assert_eq!(error.code(), "LOGV-ENTRY-CONTENT");
    assert_eq!(error.seq(), Some(2));
}

#[test]
fn deleting_an_entry_from_the_database_is_detected() {
    let mut f = fixture();
    let person = f.person().clone();
    f.database.get_mut(&person).unwrap().remove(&7);
    let error = f.verify(&f.bundle(&person, None)).unwrap_err();
    assert_eq!(error, LogVerifyError::EntryContentMissing { seq: 7 });
    assert!(error.to_string().contains("seq 7"), "{error}");
}

#[test]
fn an_entry_left_out_of_the_bundle_is_detected() {
    let f = fixture();
    let person = f.person();
    let mut bundle = f.bundle(person, None);
    bundle.entries.remove(6);
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::EntryDeleted {
            seq: 7,
            next_present: 8
        })
    );
    // The first one too.
    let mut bundle = f.bundle(person, None);
    bundle.entries.remove(0);
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::EntryDeleted {
            seq: 1,
            next_present: 2
        })
    );
}

#[test]
fn reordering_entries_is_detected() {
    // Two rows swapped in the database (each row now holds the other's content).
    let mut f = fixture();
    let person = f.person().clone();
    let rows = f.database.get_mut(&person).unwrap();
    let third = rows[&3].clone();
    let fourth = rows[&4].clone();
    rows.insert(3, fourth);
    rows.insert(4, third);
    assert_eq!(
        f.verify(&f.bundle(&person, None)),
        Err(LogVerifyError::EntryContent { seq: 3 })
    );
    // Two entries swapped in the bundle.
    let f = fixture();
    let mut bundle = f.bundle(&person, None);
    bundle.entries.swap(2, 3);
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::EntryOutOfOrder {
            position: 2,
            expected: 3,
            found: 4
        })
    );
    // Swapped and renumbered, with the links re-computed over the new order.
    let mut bundle = f.bundle(&person, None);
    bundle.entries.swap(2, 3);
    bundle.entries[2].seq = 3;
    bundle.entries[3].seq = 4;
    relink(&person, &mut bundle.entries, 2);
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::Inclusion { seq: 3, .. })
    ));
    // A duplicated entry.
    let mut bundle = f.bundle(&person, None);
    let copy = bundle.entries[4].clone();
    bundle.entries.insert(5, copy);
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::EntryOutOfOrder {
            position: 5,
            expected: 6,
            found: 5
        })
    );
}

#[test]
fn an_edit_covered_up_in_the_chain_is_not_in_the_tree() {
    let f = fixture();
    let person = f.person();
    let mut bundle = f.bundle(person, None);
    bundle.entries[4].event.as_mut().unwrap().outcome = "ok".into();
    bundle.entries[4].event.as_mut().unwrap().action = "looked-up".into();
    relink(person, &mut bundle.entries, 4);
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::Inclusion {
            seq: 5,
            leaf_index: bundle.entries[4].leaf_index,
            tree_size: ENTRIES,
            reason: ProofError::RootMismatch
        })
    );
    // Re-computing only the edited entry's hash breaks its chain link instead.
    let mut bundle = f.bundle(person, None);
    let entry = &mut bundle.entries[4];
    entry.event.as_mut().unwrap().action = "looked-up".into();
    entry.entry_hash = entry_hash(person, 5, entry.event.as_ref().unwrap()).unwrap();
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::ChainLink {
            seq: 5,
            previous: 4
        })
    );
}

#[test]
fn a_deletion_renumbered_and_relinked_is_not_in_the_tree() {
    let f = fixture();
    let person = f.person();
    let mut bundle = f.bundle(person, None);
    bundle.entries.remove(3);
    for (position, entry) in bundle.entries.iter_mut().enumerate() {
        entry.seq = position as u64 + 1;
    }
    relink(person, &mut bundle.entries, 3);
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::Inclusion { seq: 4, .. })
    ));
}

#[test]
fn a_rewritten_log_fails_against_an_earlier_tree_head() {
    let f = fixture();
    let person = f.person().clone();
    // The operator rebuilds the whole log without person 0's entry 3 (which the early
    // head covers), and signs the new tree with the real key.
    let mut rewritten = VerifiableLog::in_memory();
    let mut database = Database::new();
    let mut skipped = false;
    for i in 0..ENTRIES {
        let owner = &f.people[who(i)];
        if owner == &person && !skipped && database.get(owner).is_some_and(|rows| rows.len() == 2) {
            skipped = true;
            continue;
        }
        append(&mut rewritten, &mut database, owner, event(i));
    }
    let forged_head = rewritten.sign_tree_head(&f.key, &f.clock).unwrap();
    let bundle = rewritten
        .history_bundle(&person, &database[&person], &forged_head, None)
        .unwrap();
    // On its own, a consistently rewritten log verifies: this is why heads are published.
    f.verify(&bundle).unwrap();

    // A citizen who saw the early head asks for a proof from it: the rewritten log cannot
    // give one (its builder refuses a head that is not its own)…
    assert!(matches!(
        rewritten.history_bundle(&person, &database[&person], &forged_head, Some(&f.early)),
        Err(LogError::ForeignTreeHead { tree_size: EARLY })
    ));
    // …and a made-up one fails.
    let mut with_previous = bundle.clone();
    with_previous.previous = Some(PreviousTreeHead {
        tree_head: f.early.clone(),
        consistency_proof: rewritten
            .tree()
            .consistency_proof(EARLY, forged_head.tree_size)
            .unwrap(),
    });
    assert!(matches!(
        f.verify(&with_previous),
        Err(LogVerifyError::Consistency { from: EARLY, .. })
    ));
    // With the citizen's checkpoint, the bundle without a proof is refused.
    let early_bundle = f
        .log
        .history_bundle(&person, f.rows(&person), &f.early, None)
        .unwrap();
    let checkpoint = f.verify(&early_bundle).unwrap().checkpoint();
    assert_eq!(
        verify_bundle_since(&bundle, f.key.public_key(), &checkpoint),
        Err(LogVerifyError::CheckpointNotCovered { tree_size: EARLY })
    );
}

#[test]
fn forged_tree_heads_are_detected() {
    let f = fixture();
    let person = f.person();
    let current = TreeHeadRole::Current;
    let mut bundle = f.bundle(person, Some(&f.early));
    bundle.tree_head.root_hash = bundle.tree_head.root_hash.with_flipped_bit(3);
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::TreeHeadSignature { role: current })
    );
    let mut bundle = f.bundle(person, None);
    bundle.tree_head.tree_size += 1;
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::TreeHeadSignature { role: current })
    );
    let mut bundle = f.bundle(person, None);
    bundle.tree_head.timestamp += 1;
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::TreeHeadSignature { role: current })
    );
    let mut bundle = f.bundle(person, None);
    bundle.tree_head.signature[10] ^= 1;
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::TreeHeadSignature { role: current })
    );
    // Signed by another key (under its own log id, or under ours).
    let other = LogKey::generate_p256().unwrap();
    let mut bundle = f.bundle(person, None);
    bundle.tree_head = other.sign(bundle.tree_head.head()).unwrap();
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::WrongLog {
            role: TreeHeadRole::Current,
            ..
        })
    ));
    bundle.tree_head.log_id = f.key.log_id();
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::TreeHeadSignature { role: current })
    );
    // The earlier head forged.
    let mut bundle = f.bundle(person, Some(&f.early));
    bundle.previous.as_mut().unwrap().tree_head.tree_size -= 1;
    assert_eq!(
        f.verify(&bundle),
        Err(LogVerifyError::TreeHeadSignature {
            role: TreeHeadRole::Previous
        })
    );
    // Heads in the wrong order.
    let mut bundle = f
        .log
        .history_bundle(person, f.rows(person), &f.early, None)
        .unwrap();
    bundle.previous = Some(PreviousTreeHead {
        tree_head: f.current.clone(),
        consistency_proof: Vec::new(),
    });
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::TreeHeadsOutOfOrder { .. })
    ));
    // A head that changed nothing but the time is not newer if the time runs backwards.
    let late = f
        .key
        .sign(TreeHead {
            timestamp: f.current.timestamp + 5,
            ..f.early.head()
        })
        .unwrap();
    let mut bundle = f.bundle(person, None);
    bundle.previous = Some(PreviousTreeHead {
        tree_head: late,
        consistency_proof: f.log.tree().consistency_proof(EARLY, ENTRIES).unwrap(),
    });
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::TreeHeadsOutOfOrder { .. })
    ));
}

#[test]
fn a_consistency_proof_between_unrelated_trees_is_refused() {
    let f = fixture();
    let person = f.person();
    // Another tree, same key: different entries.
    let mut other = VerifiableLog::in_memory();
    let mut other_database = Database::new();
    for i in 0..EARLY {
        append(&mut other, &mut other_database, person, event(i + 10_000));
    }
    let unrelated = other.sign_tree_head(&f.key, &f.clock).unwrap();
    assert_eq!(unrelated.tree_size, f.early.tree_size);
    let mut bundle = f.bundle(person, Some(&f.early));
    bundle.previous.as_mut().unwrap().tree_head = unrelated.clone();
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::Consistency {
            from: EARLY,
            to: ENTRIES,
            reason: ProofError::FirstRootMismatch | ProofError::RootMismatch
        })
    ));
    // As a stand-alone document too.
    let mut document = f.log.consistency_proof(&f.early, &f.current).unwrap();
    verify_document(&document.to_json().unwrap(), f.key.public_key()).unwrap();
    document.from = unrelated;
    assert!(matches!(
        verify_document(&document.to_json().unwrap(), f.key.public_key()),
        Err(LogVerifyError::Consistency { .. })
    ));
    // The builder will not prove consistency from a head that is not its own.
    assert!(matches!(
        other.consistency_proof(&f.early, &f.current),
        Err(LogError::ForeignTreeHead { .. })
    ));
}

#[test]
fn truncated_and_padded_proofs_are_detected() {
    let f = fixture();
    let person = f.person();
    let mut bundle = f.bundle(person, Some(&f.early));
    bundle.entries[3].inclusion_proof.pop();
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::Inclusion {
            seq: 4,
            reason: ProofError::TooShort,
            ..
        })
    ));
    let mut bundle = f.bundle(person, Some(&f.early));
    let extra = bundle.tree_head.root_hash;
    bundle.entries[3].inclusion_proof.push(extra);
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::Inclusion {
            seq: 4,
            reason: ProofError::TooLong,
            ..
        })
    ));
    let mut bundle = f.bundle(person, Some(&f.early));
    bundle.previous.as_mut().unwrap().consistency_proof.pop();
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::Consistency {
            reason: ProofError::TooShort,
            ..
        })
    ));
    let mut bundle = f.bundle(person, Some(&f.early));
    bundle.previous.as_mut().unwrap().consistency_proof.clear();
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::Consistency { .. })
    ));
    // A proof for another leaf index, and an index moved backwards.
    let mut bundle = f.bundle(person, None);
    bundle.entries[3].leaf_index += 1;
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::Inclusion { seq: 4, .. })
    ));
    let mut bundle = f.bundle(person, None);
    bundle.entries[3].leaf_index = bundle.entries[2].leaf_index;
    assert!(matches!(
        f.verify(&bundle),
        Err(LogVerifyError::LeafOrder { seq: 4, .. })
    ));
}

#[test]
fn a_history_cut_at_the_end_is_caught_by_the_checkpoint() {
    let f = fixture();
    let person = f.person();
    let full = f.bundle(person, None);
    let checkpoint = f.verify(&full).unwrap().checkpoint();
    let known = checkpoint.head.unwrap().seq;
    let mut cut = f.bundle(person, None);
    cut.entries.truncate(cut.entries.len() - 2);
    // Alone, a shorter history is indistinguishable from an older one…
    f.verify(&cut).unwrap();
    // …but not for a citizen who saw more.
    assert_eq!(
        verify_bundle_since(&cut, f.key.public_key(), &checkpoint),
        Err(LogVerifyError::HistoryTruncated {
            known_seq: known,
            last_seq: known - 2
        })
    );
    let mut empty = f.bundle(person, None);
    empty.entries.clear();
    assert_eq!(
        verify_bundle_since(&empty, f.key.public_key(), &checkpoint),
        Err(LogVerifyError::HistoryTruncated {
            known_seq: known,
            last_seq: 0
        })
    );
    // A checkpoint for someone else does not apply.
    let other = f.bundle(&f.people[1], None);
    assert!(matches!(
        verify_bundle_since(&other, f.key.public_key(), &checkpoint),
        Err(LogVerifyError::CheckpointPerson { .. })
    ));
}

/// The gap a bundle alone cannot close: the operator appends, later in the tree, a whole
/// second chain for the person with one entry changed, and presents that one. It is
/// append-only and internally consistent; the citizen's checkpoint catches it.
#[test]
fn an_alternative_chain_appended_later_is_caught_by_the_checkpoint() {
    let f = fixture();
    let person = f.person().clone();
    let early_bundle = f
        .log
        .history_bundle(&person, f.rows(&person), &f.early, None)
        .unwrap();
    let checkpoint = f.verify(&early_bundle).unwrap().checkpoint();
    let ChainHead { seq: known, .. } = checkpoint.head.unwrap();

    let mut tree = MerkleTree::open(InMemoryLeafStore::from_leaves(
        f.log.tree().store().as_slice().to_vec(),
    ))
    .unwrap();
    let mut rows = f.rows(&person).clone();
    rows.get_mut(&2).unwrap().action = "forged".into();
    let mut links = Vec::new();
    let mut previous = genesis(&person);
    for (seq, row) in &rows {
        let entry_hash = entry_hash(&person, *seq, row).unwrap();
        let chain = next_chain(&previous, &entry_hash);
        let leaf_index = tree
            .append(link_leaf_hash(&person, *seq, &chain, &entry_hash))
            .unwrap();
        links.push(jpki_log::ChainLink {
            seq: *seq,
            leaf_index,
            entry_hash,
            chain,
        });
        previous = chain;
    }
    let head = f
        .key
        .sign(TreeHead::now(tree.size(), tree.root(), &f.clock).unwrap())
        .unwrap();
    let bundle =
        build_history_bundle(&tree, &person, &links, &rows, &head, Some(&f.early)).unwrap();
    let verified = f.verify(&bundle).unwrap();
    // Tell-tale: none of the entries was in the earlier tree.
    assert!(verified.entries.iter().all(|e| !e.in_previous_tree));
    assert_eq!(
        verify_bundle_since(&bundle, f.key.public_key(), &checkpoint),
        Err(LogVerifyError::CheckpointChain { seq: known })
    );
}

#[test]
fn entry_proofs_verify_alone_and_detect_tampering() {
    let f = fixture();
    let person = f.person();
    let rows = f.rows(person);
    for seq in [1, 2, rows.len() as u64] {
        let proof = f
            .log
            .entry_proof(person, seq, rows.get(&seq), &f.current)
            .unwrap();
        match verify_document(&proof.to_json().unwrap(), f.key.public_key()).unwrap() {
            VerifiedDocument::Entry { entry, .. } => {
                assert_eq!(entry.seq, seq);
                assert_eq!(&entry.event, &rows[&seq]);
            }
            other => panic!("{other:?}"),
        }
    }
    let good = f
        .log
        .entry_proof(person, 3, rows.get(&3), &f.current)
        .unwrap();
    let mut edited = good.clone();
    edited.entry.event.as_mut().unwrap().outcome = "ok-ish".into();
    assert_eq!(
        jpki_log::verify_entry_proof(&edited, f.key.public_key()),
        Err(LogVerifyError::EntryContent { seq: 3 })
    );
    let mut wrong_previous = good.clone();
    wrong_previous.previous_chain = wrong_previous.previous_chain.with_flipped_bit(0);
    assert_eq!(
        jpki_log::verify_entry_proof(&wrong_previous, f.key.public_key()),
        Err(LogVerifyError::ChainLink {
            seq: 3,
            previous: 2
        })
    );
    let first = f
        .log
        .entry_proof(person, 1, rows.get(&1), &f.current)
        .unwrap();
    let mut not_genesis = first.clone();
    not_genesis.previous_chain = good.previous_chain;
    assert!(matches!(
        jpki_log::verify_entry_proof(&not_genesis, f.key.public_key()),
        Err(LogVerifyError::ChainLink { seq: 1, .. })
    ));
    let missing = f.log.entry_proof(person, 3, None, &f.current).unwrap();
    assert_eq!(
        jpki_log::verify_entry_proof(&missing, f.key.public_key()),
        Err(LogVerifyError::EntryContentMissing { seq: 3 })
    );
}

#[test]
fn documents_are_typed_by_format_and_bounded() {
    let f = fixture();
    let sth_json = f.current.to_json().unwrap();
    assert!(matches!(
        verify_document(&sth_json, f.key.public_key()).unwrap(),
        VerifiedDocument::TreeHead(_)
    ));
    let bundle_json = f.bundle(f.person(), None).to_json().unwrap();
    let renamed = bundle_json.replace("jpki-log/history-bundle/v1", "jpki-log/history-bundle/v2");
    assert!(matches!(
        verify_document(&renamed, f.key.public_key()),
        Err(LogVerifyError::UnsupportedFormat { .. })
    ));
    assert!(matches!(
        HistoryBundle::from_json(&renamed),
        Err(LogVerifyError::UnsupportedFormat { .. })
    ));
    assert!(matches!(
        ConsistencyProofDocument::from_json(&bundle_json),
        Err(LogVerifyError::UnsupportedFormat { .. })
    ));
    let extra = bundle_json.replacen('{', "{\"comment\":\"hi\",", 1);
    assert!(matches!(
        verify_document(&extra, f.key.public_key()),
        Err(LogVerifyError::Malformed(_))
    ));
    assert!(matches!(
        verify_document("[1,2]", f.key.public_key()),
        Err(LogVerifyError::Malformed(_))
    ));
    // A float in a detail cannot be canonicalised: the entry says so.
    let float = bundle_json.replacen("\"serial\":0", "\"serial\":0.5", 1);
    assert_ne!(float, bundle_json);
    assert!(matches!(
        verify_document(&float, f.key.public_key()),
        Err(LogVerifyError::EntryEncoding { seq: 1, .. })
    ));
    // An empty history verifies, and its checkpoint has no head.
    let nobody = PersonLogId::new("p1-nobody").unwrap();
    let empty = f
        .log
        .history_bundle(&nobody, &BTreeMap::new(), &f.current, None)
        .unwrap();
    let verified = f.verify(&empty).unwrap();
    assert!(verified.entries.is_empty());
    assert_eq!(verified.checkpoint().head, None);
}

/// Every byte of a bundle's JSON, changed: the verifier never panics, and whatever it
/// still accepts (a change of hex case, say) verifies to exactly the same history.
#[test]
fn mutated_bundles_never_panic_and_never_change_the_verdict() {
    let f = fixture();
    let person = &f.people[2];
    let bundle = f.bundle(person, Some(&f.early));
    let original = f.verify(&bundle).unwrap();
    let json = bundle.to_json().unwrap().into_bytes();
    let mut accepted = 0;
    let replacements = [b'0', b'a', b'A', b'"', b'}', b' ', b'9'];
    for (i, position) in (0..json.len()).step_by(3).enumerate() {
        let mut mutated = json.clone();
        let replacement = replacements[i % replacements.len()];
        if mutated[position] == replacement {
            continue;
        }
        mutated[position] = replacement;
        let Ok(text) = String::from_utf8(mutated) else {
            continue;
        };
        if let Ok(VerifiedDocument::History(history)) = verify_document(&text, f.key.public_key()) {
            assert_eq!(
                history, original,
                "mutation at {position} changed the content"
            );
            accepted += 1;
        }
    }
    // Upper-casing hex digits is the kind of change that must be harmless.
    assert!(accepted > 0);
}

#[test]
fn the_builder_refuses_tree_heads_of_other_trees() {
    let f = fixture();
    let person = f.person();
    // A longer tree (the fixture's plus one entry): a size this tree never had.
    let mut other = fixture();
    append(&mut other.log, &mut other.database, person, event(7_777));
    let longer = other.log.sign_tree_head(&other.key, &other.clock).unwrap();
    assert!(matches!(
        f.log.history_bundle(person, f.rows(person), &longer, None),
        Err(LogError::ForeignTreeHead { tree_size }) if tree_size == ENTRIES + 1
    ));
    // A head of this tree's size with another root.
    let forged = f
        .key
        .sign(TreeHead {
            root_hash: other
                .log
                .tree()
                .root_at(ENTRIES)
                .unwrap()
                .with_flipped_bit(1),
            ..f.current.head()
        })
        .unwrap();
    assert!(matches!(
        f.log.history_bundle(person, f.rows(person), &forged, None),
        Err(LogError::ForeignTreeHead { tree_size: ENTRIES })
    ));
}

/// The log key may be RSA; the tree heads' signatures are checked by OpenSSL, an
/// implementation independent of aws-lc, for RSA and P-256 alike.
#[test]
fn rsa_log_key_and_openssl_verifies_tree_head_signatures() {
    let rsa = LogKey::new(Arc::new(
        SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap(),
    ))
    .unwrap();
    let f = fixture_with(rsa);
    f.verify(&f.bundle(f.person(), Some(&f.early))).unwrap();
    let p256 = fixture();
    for (key, head) in [(&f.key, &f.current), (&p256.key, &p256.current)] {
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path().join("log.pub.pem");
        let message = dir.path().join("sth.bin");
        let signature = dir.path().join("sth.sig");
        std::fs::write(&public, key.public_key().to_pem().unwrap()).unwrap();
        std::fs::write(&message, head.signed_bytes()).unwrap();
        std::fs::write(&signature, &head.signature).unwrap();
        let output = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&public)
            .arg("-signature")
            .arg(&signature)
            .arg(&message)
            .output()
            .expect("openssl must be installed");
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // And OpenSSL refuses a changed tree head.
        let mut changed = head.signed_bytes();
        changed[60] ^= 1;
        std::fs::write(&message, changed).unwrap();
        let output = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&public)
            .arg("-signature")
            .arg(&signature)
            .arg(&message)
            .output()
            .unwrap();
        assert!(!output.status.success());
    }
}
