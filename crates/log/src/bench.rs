//! The measurements `jpki bench log` prints (a function, not a timed test: it measures,
//! it asserts no budget). Run it on a release build.
//!
//! 1. Raw bound: SHA-256 node hashes per second (65-byte input), in the same run, so a
//!    figure from another machine compares by its ratio.
//! 2. Appending full usage entries (canonical encoding, entry hash, chain link, leaf
//!    hash, tree append, chain store append) with the tree root recomputed **after every
//!    entry**.
//! 3. Appending `proof_tree_size` entries into a fresh log with the root recomputed once
//!    **per batch** of `batch_size` entries; this log is the large tree of steps 4 to 7.
//! 4. Re-opening the tree over its stored leaves (the cache rebuild a restart pays).
//! 5. Inclusion proofs for random leaves against the full tree (generation, and
//!    verification separately), each timed alone; then generation again with the tree
//!    re-opened at a higher cache floor (less memory, more hashing per proof).
//! 6. Consistency proofs between random pairs of sizes.
//! 7. One person's history bundle (build, JSON round trip, verification) with a
//!    consistency proof from a tree head at half the size, and the tree head signature
//!    (P-256).
//!
//! Entry content comes from a pool of 1,024 prepared events over `persons` pseudonymous
//! people, so the figures are the log's work, not the caller's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jpki_crypto::ManualClock;
use serde_json::json;
use time::OffsetDateTime;

use crate::bundle::{HistoryBundle, verify_bundle};
use crate::entry::{LogTime, PersonLogId, UsageEvent};
use crate::error::LogError;
use crate::hash::{HashValue, node_hash};
use crate::key::LogKey;
use crate::log::VerifiableLog;
use crate::merkle::MerkleTree;
use crate::proof::verify_inclusion;
use crate::sth::TreeHead;

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBenchConfig {
    /// Entries appended with a root after each (step 2).
    pub append_entries: u64,
    /// Leaves of the large tree, appended in batches (step 3).
    pub proof_tree_size: u64,
    /// Entries per root in step 3.
    pub batch_size: u64,
    /// People the entries are spread over.
    pub persons: u64,
    /// Inclusion proofs and consistency proofs timed (steps 5 and 6).
    pub proofs: u64,
    /// A second cache floor to time inclusion proofs at (step 5, the memory trade-off).
    pub high_cache_floor: u32,
    /// Seed of the (non-cryptographic) generator that picks leaves and people.
    pub seed: u64,
}

impl Default for LogBenchConfig {
    fn default() -> Self {
        Self {
            append_entries: 200_000,
            proof_tree_size: 1_000_000,
            batch_size: 1_000,
            persons: 10_000,
            proofs: 10_000,
            high_cache_floor: 5,
            seed: 0x6a70_6b69_2d6c_6f67,
        }
    }
}

/// Distribution of individually timed operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LatencySummary {
    pub count: u64,
    pub mean: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl LatencySummary {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let count = samples.len() as u64;
        let total: Duration = samples.iter().sum();
        // Nearest-rank percentiles.
        let rank = |p: u64| -> Duration {
            let index = (count * p).div_ceil(100).saturating_sub(1);
            usize::try_from(index)
                .ok()
                .and_then(|i| samples.get(i))
                .copied()
                .unwrap_or_default()
        };
        Self {
            count,
            mean: u32::try_from(count)
                .ok()
                .filter(|&n| n > 0)
                .map_or(Duration::ZERO, |n| total / n),
            p50: rank(50),
            p99: rank(99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// What [`bench()`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LogBenchReport {
    pub config: LogBenchConfig,
    /// Step 1: SHA-256 node hashes per second.
    pub node_hashes_per_second: f64,
    /// Step 2: time for `append_entries` entries with a root after each.
    pub append_root_each: Duration,
    pub append_root_each_per_second: f64,
    /// Step 3: time for `proof_tree_size` entries with a root per `batch_size`.
    pub append_batched: Duration,
    pub append_batched_per_second: f64,
    /// Step 4: re-opening the large tree over its leaves.
    pub reopen: Duration,
    /// Hashes the large tree keeps in memory besides its leaves, and their bytes.
    pub cached_nodes: u64,
    pub cache_bytes: u64,
    /// Bytes of the leaf hashes themselves.
    pub leaf_bytes: u64,
    /// Step 5.
    pub inclusion_proof: LatencySummary,
    pub inclusion_verify: LatencySummary,
    /// Mean inclusion proof length, in hashes.
    pub inclusion_proof_len: f64,
    /// Inclusion proofs with the tree re-opened at `high_cache_floor`, and that cache's
    /// size in hashes.
    pub inclusion_proof_high_floor: LatencySummary,
    pub cached_nodes_high_floor: u64,
    /// Step 6.
    pub consistency_proof: LatencySummary,
    /// Step 7.
    pub sign_tree_head: Duration,
    pub bundle_entries: usize,
    pub bundle_build: Duration,
    pub bundle_json_bytes: usize,
    pub bundle_parse: Duration,
    pub bundle_verify: Duration,
}

/// SplitMix64: a small deterministic generator for picking leaves (not for secrets).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..bound` for `bound` far below 2^64.
    fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next() % bound }
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

fn people(count: u64) -> Result<Vec<PersonLogId>, LogError> {
    let key = [0x42u8; 32];
    (0..count.max(1))
        .map(|i| {
            Ok(PersonLogId::pseudonymous(
                &key,
                &format!("bench-resident-{i}"),
            )?)
        })
        .collect()
}

fn event_pool() -> Result<Vec<UsageEvent>, LogError> {
    let actions = [
        "signed",
        "authenticated",
        "issued",
        "registered",
        "notified",
    ];
    let start = 1_775_000_000_000_000i64;
    (0..1_024i64)
        .map(|i| {
            let index = usize::try_from(i).unwrap_or_default();
            Ok(UsageEvent {
                at: LogTime::from_unix_micros(start + i * 1_000_003)?,
                device_id: if i % 3 == 0 {
                    None
                } else {
                    Some(format!("device-{:04}", i % 97))
                },
                action: actions
                    .get(index % actions.len())
                    .copied()
                    .unwrap_or("signed")
                    .to_owned(),
                outcome: if i % 17 == 0 { "refused" } else { "ok" }.to_owned(),
                detail: json!({
                    "purpose": if i % 2 == 0 { "signature" } else { "authentication" },
                    "relying_party": format!("rp-{}", i % 31),
                    "serial": format!("{:016x}", i * 7919),
                }),
            })
        })
        .collect()
}

/// Runs the steps in the module docs.
pub fn bench(config: &LogBenchConfig) -> Result<LogBenchReport, LogError> {
    let persons = people(config.persons)?;
    let events = event_pool()?;
    let pick = |i: u64, rng: &mut SplitMix64| -> (usize, usize) {
        let person = usize::try_from(rng.below(persons.len() as u64)).unwrap_or_default();
        let event = usize::try_from(i % events.len() as u64).unwrap_or_default();
        (person, event)
    };
    let mut rng = SplitMix64(config.seed);

    // Step 1: raw node hashes.
    let raw_count = 1_000_000u64;
    let mut acc = HashValue::from_bytes([7; 32]);
    let started = Instant::now();
    for _ in 0..raw_count {
        acc = node_hash(&acc, &acc);
    }
    let node_hashes_per_second = per_second(raw_count, started.elapsed());
    std::hint::black_box(acc);

    // Step 2: append with a root after every entry.
    let mut log = VerifiableLog::in_memory();
    let started = Instant::now();
    for i in 0..config.append_entries {
        let (person, event) = pick(i, &mut rng);
        if let (Some(person), Some(event)) = (persons.get(person), events.get(event)) {
            log.append(person, event)?;
            std::hint::black_box(log.tree().root());
        }
    }
    let append_root_each = started.elapsed();
    drop(log);

    // Step 3: the large tree, a root per batch.
    let mut log = VerifiableLog::in_memory();
    let batch = config.batch_size.max(1);
    // The events of person 0, in order: the usage rows step 7 bundles.
    let mut first_person_events = Vec::new();
    let started = Instant::now();
    for i in 0..config.proof_tree_size {
        let (person_index, event_index) = pick(i, &mut rng);
        if let (Some(person), Some(event)) = (persons.get(person_index), events.get(event_index)) {
            log.append(person, event)?;
            if person_index == 0 {
                first_person_events.push(event_index);
            }
        }
        if (i + 1).is_multiple_of(batch) {
            std::hint::black_box(log.tree().root());
        }
    }
    std::hint::black_box(log.tree().root());
    let append_batched = started.elapsed();
    let tree = log.tree();
    let size = tree.size();

    // Step 4: re-open.
    let started = Instant::now();
    let reopened = MerkleTree::open(tree.store().clone())?;
    let reopen = started.elapsed();
    if reopened.root() != tree.root() {
        return Err(LogError::Inconsistent(
            "re-opened tree has another root".into(),
        ));
    }
    drop(reopened);

    // Step 5: inclusion proofs for random leaves.
    let root = tree.root();
    let mut generation = Vec::new();
    let mut verification = Vec::new();
    let mut proof_nodes = 0u64;
    for _ in 0..config.proofs {
        let index = rng.below(size);
        let started = Instant::now();
        let proof = tree.inclusion_proof(index, size)?;
        generation.push(started.elapsed());
        let leaf = tree.leaf(index)?;
        let started = Instant::now();
        let verdict = verify_inclusion(&leaf, index, size, &proof, &root);
        verification.push(started.elapsed());
        if verdict.is_err() {
            return Err(LogError::Inconsistent(format!(
                "inclusion proof for leaf {index} does not verify"
            )));
        }
        proof_nodes += proof.len() as u64;
    }

    let high = MerkleTree::open_with_cache_floor(tree.store().clone(), config.high_cache_floor)?;
    let mut high_floor = Vec::new();
    for _ in 0..config.proofs {
        let index = rng.below(size);
        let started = Instant::now();
        std::hint::black_box(high.inclusion_proof(index, size)?);
        high_floor.push(started.elapsed());
    }
    let cached_nodes_high_floor = high.cached_nodes();
    drop(high);

    // Step 6: consistency proofs between random sizes.
    let mut consistency = Vec::new();
    for _ in 0..config.proofs {
        let second = 1 + rng.below(size);
        let first = 1 + rng.below(second);
        let started = Instant::now();
        std::hint::black_box(tree.consistency_proof(first, second)?);
        consistency.push(started.elapsed());
    }

    // Step 7: one person's bundle, from a head at half the size.
    let key = LogKey::generate_p256()?;
    let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000));
    let half = TreeHead::now(size / 2, tree.root_at(size / 2)?, &clock)?;
    let since = key.sign(half)?;
    clock.advance(time::Duration::hours(1));
    let started = Instant::now();
    let tree_head = log.sign_tree_head(&key, &clock)?;
    let sign_tree_head = started.elapsed();
    let person = persons
        .first()
        .ok_or_else(|| LogError::Inconsistent("no people".into()))?;
    // The usage rows of this person, by seq, as the store would return them.
    let rows: BTreeMap<u64, UsageEvent> = (1u64..)
        .zip(&first_person_events)
        .filter_map(|(seq, &event)| Some((seq, events.get(event)?.clone())))
        .collect();
    let started = Instant::now();
    let bundle = log.history_bundle(person, &rows, &tree_head, Some(&since))?;
    let bundle_build = started.elapsed();
    let json = bundle.to_json()?;
    let started = Instant::now();
    let parsed = HistoryBundle::from_json(&json)?;
    let bundle_parse = started.elapsed();
    let started = Instant::now();
    let verified = verify_bundle(&parsed, key.public_key())?;
    let bundle_verify = started.elapsed();

    let cached_nodes = tree.cached_nodes();
    Ok(LogBenchReport {
        config: config.clone(),
        node_hashes_per_second,
        append_root_each,
        append_root_each_per_second: per_second(config.append_entries, append_root_each),
        append_batched,
        append_batched_per_second: per_second(config.proof_tree_size, append_batched),
        reopen,
        cached_nodes,
        cache_bytes: cached_nodes * 32,
        leaf_bytes: size * 32,
        inclusion_proof: LatencySummary::of(generation),
        inclusion_verify: LatencySummary::of(verification),
        inclusion_proof_len: if config.proofs > 0 {
            proof_nodes as f64 / config.proofs as f64
        } else {
            0.0
        },
        inclusion_proof_high_floor: LatencySummary::of(high_floor),
        cached_nodes_high_floor,
        consistency_proof: LatencySummary::of(consistency),
        sign_tree_head,
        bundle_entries: verified.entries.len(),
        bundle_build,
        bundle_json_bytes: json.len(),
        bundle_parse,
        bundle_verify,
    })
}
