//! The usage log service: publishes the log's signed tree heads, builds a person's
//! verifiable history, proves consistency between published heads, and audits the whole
//! log against the usage history (`docs/verifiable-log.md`).
//!
//! The store appends every usage row as a chain link and a leaf in the row's own
//! transaction (`jpki_store`'s usage module); this service only reads what was
//! committed. It keeps the tree in memory ([`jpki_log::MerkleTree`]: the leaves and a
//! cache of complete subtree roots, about 64 bytes a leaf), filled from the stored
//! leaves at start and topped up with the leaves committed since, by any process, before
//! each head it signs and each proof it gives: proofs cost O(log n) and never recompute
//! the tree.
//!
//! Tree heads are signed on demand, at most about once per
//! [`UsageLogConfig::min_sign_interval`], and by `jpki serve`'s timer
//! ([`UsageLog::sign_if_grown`]). `/api/v1/log/sth` gets the latest head, or a new one if
//! the tree grew and the latest is old enough ([`UsageLog::current_tree_head`]); a
//! history bundle needs a head covering every entry of its person, and waits for the
//! rest of the interval when the latest does not ([`UsageLog::tree_head_covering`]), so
//! a citizen always sees what they just did. Before signing,
//! the service checks that its tree still extends the latest published head; if the
//! stored leaves were altered under a published head it refuses to sign or prove
//! anything ([`UsageLogError::Inconsistent`]) rather than publish a head that
//! contradicts an earlier one.
//!
//! Not here: the HTTP routes (`jpki-portal`), key files (`jpki`'s data directory). The
//! log key is any [`LogKey`]; [`generate_log_key`] and [`open_log_key`] handle the
//! software key as an encrypted PKCS#8 file like the CA keys.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jpki_crypto::{Clock, SecretString};
use jpki_log::{
    ConsistencyProofDocument, HashValue, HistoryBundle, LogError, LogKey, LogPublicKey, MerkleTree,
    PersonLogId, PseudonymKey, SignedTreeHead, TreeHead, UsageEvent, build_history_bundle, genesis,
    link_leaf_hash, next_chain,
};
use jpki_store::{ResidentId, StoreError, UsageLogStore};
use tokio::sync::Mutex;

/// How many leaves one read of the store returns while the tree catches up.
const LEAF_CHUNK: u32 = 1 << 16;
/// How many links or heads the audit reads at once.
const AUDIT_CHUNK: u32 = 10_000;

/// Why the log service could not answer.
#[derive(Debug, thiserror::Error)]
pub enum UsageLogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Log(#[from] LogError),
    /// The stored log contradicts what was published: the leaves were altered under a
    /// published tree head, or the log lost leaves. Nothing is signed or proven until
    /// an operator has looked (`jpki log verify`).
    #[error("the usage log is inconsistent: {0}; run `jpki log verify` (operator audit)")]
    Inconsistent(String),
    /// No tree head of that size was published.
    #[error("no tree head of {0} leaves was published")]
    UnknownTreeHead(u64),
    /// A consistency proof from a larger tree to a smaller one.
    #[error("tree size {first} is larger than tree size {second}")]
    SizesOutOfOrder { first: u64, second: u64 },
    /// A stored person log id that the format refuses.
    #[error("stored data: {0}")]
    Corrupt(String),
}

/// What [`UsageLog::head`] is asked for.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// The latest head, or a new one if the tree grew and the latest is `min_age` old.
    Latest { min_age: Duration },
    /// A head of at least this many leaves.
    Covering { tree_size: u64 },
}

/// Settings of the service.
#[derive(Debug, Clone, Copy)]
pub struct UsageLogConfig {
    /// Tree heads are signed on demand at most this often (0: whenever the tree grew).
    pub min_sign_interval: Duration,
}

impl Default for UsageLogConfig {
    fn default() -> Self {
        Self {
            min_sign_interval: Duration::from_secs(1),
        }
    }
}

struct TreeState {
    tree: MerkleTree,
    /// Why the stored log no longer extends what was published, once seen.
    broken: Option<String>,
}

/// The operator's side of the usage log (see the module docs).
pub struct UsageLog<S> {
    store: S,
    key: LogKey,
    pseudonym: PseudonymKey,
    clock: Arc<dyn Clock>,
    config: UsageLogConfig,
    state: Mutex<TreeState>,
}

impl<S> fmt::Debug for UsageLog<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsageLog")
            .field("log_id", &self.key.log_id())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A new software log key (P-256), its PKCS#8 encrypted under `passphrase` (PEM) and its
/// public key (PEM).
pub fn generate_log_key(
    passphrase: &SecretString,
    kdf_iterations: u32,
) -> Result<(LogKey, String, String), LogError> {
    let software = jpki_log::SoftwareP256Key::generate()?;
    let encrypted =
        jpki_crypto::encrypt_private_key(software.pkcs8_der(), passphrase, kdf_iterations)?;
    let key = LogKey::new(Arc::new(software))?;
    let public = key.public_key().to_pem()?;
    Ok((key, encrypted, public))
}

/// Opens an encrypted log key file (PEM or DER `EncryptedPrivateKeyInfo`).
pub fn open_log_key(encrypted: &[u8], passphrase: &SecretString) -> Result<LogKey, LogError> {
    let pkcs8 = jpki_crypto::decrypt_private_key(encrypted, passphrase)?;
    LogKey::from_pkcs8_der(&pkcs8)
}

impl<S: UsageLogStore> UsageLog<S> {
    /// The service over `store`, its tree filled from the stored leaves and checked
    /// against the latest published head. A mismatch does not stop the service (the
    /// rest of the portal goes on); it refuses log requests until the log is repaired.
    pub async fn open(
        store: S,
        key: LogKey,
        pseudonym: PseudonymKey,
        clock: Arc<dyn Clock>,
        config: UsageLogConfig,
    ) -> Result<Self, UsageLogError> {
        let log = Self {
            store,
            key,
            pseudonym,
            clock,
            config,
            state: Mutex::new(TreeState {
                tree: MerkleTree::new(),
                broken: None,
            }),
        };
        {
            let mut state = log.state.lock().await;
            log.catch_up(&mut state).await?;
            if let Some(latest) = log.store.latest_tree_head().await? {
                // A mismatch is recorded in the state, not returned.
                let _ = log.ensure_extends(&mut state, &latest).await;
            }
            if let Some(reason) = &state.broken {
                tracing::error!(%reason, "the usage log does not match its published tree heads");
            }
        }
        Ok(log)
    }

    pub fn public_key(&self) -> &LogPublicKey {
        self.key.public_key()
    }

    /// The leaves the service has read so far.
    pub async fn tree_size(&self) -> u64 {
        self.state.lock().await.tree.size()
    }

    /// Reads the leaves committed since the last read into the tree.
    async fn catch_up(&self, state: &mut TreeState) -> Result<(), UsageLogError> {
        // Every leaf below this size is committed, so it must be read.
        let committed = self.store.log_tree_size().await?;
        if committed < state.tree.size() && state.broken.is_none() {
            state.broken = Some(format!(
                "the log has {committed} leaves, fewer than the {} already read",
                state.tree.size()
            ));
        }
        loop {
            let start = state.tree.size();
            let leaves = self.store.log_leaves(start, LEAF_CHUNK).await?;
            let read = leaves.len();
            for leaf in leaves {
                state.tree.append(leaf)?;
            }
            if read < LEAF_CHUNK as usize {
                break;
            }
        }
        if state.tree.size() < committed && state.broken.is_none() {
            state.broken = Some(format!(
                "leaf {} of the {committed} committed is missing",
                state.tree.size()
            ));
        }
        Ok(())
    }

    /// Marks the state broken unless the tree extends `head`.
    fn check_extends(&self, state: &mut TreeState, head: &SignedTreeHead) {
        if state.broken.is_some() {
            return;
        }
        if head.log_id != self.key.log_id() {
            state.broken = Some(format!(
                "the published head of size {} is from another log key",
                head.tree_size
            ));
            return;
        }
        if head.tree_size > state.tree.size() {
            state.broken = Some(format!(
                "a head of {} leaves is published but only {} leaves are stored",
                head.tree_size,
                state.tree.size()
            ));
            return;
        }
        match state.tree.root_at(head.tree_size) {
            Ok(root) if root == head.root_hash => {}
            _ => {
                state.broken = Some(format!(
                    "the stored leaves no longer hash to the published root of size {}",
                    head.tree_size
                ));
            }
        }
    }

    fn refuse_if_broken(state: &TreeState) -> Result<(), UsageLogError> {
        match &state.broken {
            Some(reason) => Err(UsageLogError::Inconsistent(reason.clone())),
            None => Ok(()),
        }
    }

    /// The head to serve now: the latest published one, or a new one when the tree has
    /// grown and the latest is at least `min_sign_interval` old.
    pub async fn current_tree_head(&self) -> Result<SignedTreeHead, UsageLogError> {
        self.head(Want::Latest {
            min_age: self.config.min_sign_interval,
        })
        .await
    }

    /// Signs a head if the tree grew since the latest (whatever its age); returns the
    /// latest head. `jpki serve` calls it on a timer.
    pub async fn sign_if_grown(&self) -> Result<SignedTreeHead, UsageLogError> {
        self.head(Want::Latest {
            min_age: Duration::ZERO,
        })
        .await
    }

    /// A published head of at least `tree_size` leaves: the latest if it is large
    /// enough, else a new one, signed once the latest is `min_sign_interval` old (this
    /// waits for the rest of the interval, so that a history always shows the entries
    /// its person just made and heads stay at most about one per interval).
    pub async fn tree_head_covering(
        &self,
        tree_size: u64,
    ) -> Result<SignedTreeHead, UsageLogError> {
        self.head(Want::Covering { tree_size }).await
    }

    async fn head(&self, want: Want) -> Result<SignedTreeHead, UsageLogError> {
        let mut waited = false;
        loop {
            let mut state = self.state.lock().await;
            Self::refuse_if_broken(&state)?;
            self.catch_up(&mut state).await?;
            let latest = self.store.latest_tree_head().await?;
            if let Some(latest) = &latest {
                self.ensure_extends(&mut state, latest).await?;
            }
            let now = jpki_log::timestamp_millis(self.clock.now())?;
            // Heads never go back in time, even if the clock does.
            let floor = latest.as_ref().map_or(0, |head| head.timestamp);
            if let Some(latest) = latest {
                let age = Duration::from_millis(now.saturating_sub(latest.timestamp));
                match want {
                    Want::Latest { min_age } => {
                        if state.tree.size() <= latest.tree_size || age < min_age {
                            return Ok(latest);
                        }
                    }
                    Want::Covering { tree_size } => {
                        if latest.tree_size >= tree_size {
                            return Ok(latest);
                        }
                        let min_age = self.config.min_sign_interval;
                        if age < min_age && !waited {
                            drop(state);
                            tokio::time::sleep(min_age - age).await;
                            waited = true;
                            continue;
                        }
                    }
                }
            }
            let head = self.key.sign(TreeHead {
                tree_size: state.tree.size(),
                root_hash: state.tree.root(),
                timestamp: now.max(floor),
            })?;
            // Another process may have published a head meanwhile; the latest is served.
            let published = self.store.save_tree_head(&head).await?;
            if published == head {
                tracing::debug!(tree_size = head.tree_size, "tree head signed");
            }
            self.ensure_extends(&mut state, &published).await?;
            return Ok(published);
        }
    }

    /// Reads leaves committed since if `head` covers more than the tree has, then checks
    /// that the tree extends it.
    async fn ensure_extends(
        &self,
        state: &mut TreeState,
        head: &SignedTreeHead,
    ) -> Result<(), UsageLogError> {
        if head.tree_size > state.tree.size() {
            self.catch_up(state).await?;
        }
        self.check_extends(state, head);
        Self::refuse_if_broken(state)
    }

    /// The published head of `tree_size` leaves.
    pub async fn tree_head(&self, tree_size: u64) -> Result<SignedTreeHead, UsageLogError> {
        self.store
            .tree_head(tree_size)
            .await?
            .ok_or(UsageLogError::UnknownTreeHead(tree_size))
    }

    /// The person's log id: the stored one (what their leaves commit), else the one
    /// their first entry will get.
    pub async fn person_log_id(&self, resident: ResidentId) -> Result<PersonLogId, UsageLogError> {
        match self.store.person_log_id(resident).await? {
            Some(text) => PersonLogId::new(text)
                .map_err(|error| UsageLogError::Corrupt(format!("person log id: {error}"))),
            None => Ok(self
                .pseudonym
                .person_log_id(resident.0)
                .map_err(LogError::from)?),
        }
    }

    /// `resident`'s whole history as of the current tree head, with an inclusion proof
    /// per entry and, when `since` names a published head, the consistency proof from
    /// it: what the citizen downloads and checks offline (`jpki log verify`). The web
    /// UI and the API both call this.
    pub async fn history_bundle(
        &self,
        resident: ResidentId,
        since: Option<u64>,
    ) -> Result<HistoryBundle, UsageLogError> {
        let logged = self.store.logged_usage(resident).await?;
        // The head must show every entry the person has made so far.
        let covering = logged.last().map_or(0, |item| item.link.leaf_index + 1);
        let head = self.tree_head_covering(covering).await?;
        let since = match since {
            Some(size) if size > head.tree_size => {
                return Err(UsageLogError::SizesOutOfOrder {
                    first: size,
                    second: head.tree_size,
                });
            }
            Some(size) => Some(self.tree_head(size).await?),
            None => None,
        };
        let person = self.person_log_id(resident).await?;
        let mut links = Vec::with_capacity(logged.len());
        let mut events: BTreeMap<u64, UsageEvent> = BTreeMap::new();
        for item in logged {
            if let Some(row) = item.row {
                events.insert(item.link.seq, row.event);
            }
            links.push(item.link);
        }
        let state = self.state.lock().await;
        Self::refuse_if_broken(&state)?;
        build_history_bundle(&state.tree, &person, &links, &events, &head, since.as_ref())
            .map_err(|error| self.proof_error(error))
    }

    /// The proof that the published head of `second` leaves extends the one of `first`.
    pub async fn consistency(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProofDocument, UsageLogError> {
        if first > second {
            return Err(UsageLogError::SizesOutOfOrder { first, second });
        }
        let from = self.tree_head(first).await?;
        let to = self.tree_head(second).await?;
        let mut state = self.state.lock().await;
        Self::refuse_if_broken(&state)?;
        if to.tree_size > state.tree.size() {
            self.catch_up(&mut state).await?;
        }
        let proof = state
            .tree
            .consistency_proof(from.tree_size, to.tree_size)
            .map_err(|error| self.proof_error(error))?;
        for head in [&from, &to] {
            if state.tree.root_at(head.tree_size)? != head.root_hash {
                return Err(UsageLogError::Inconsistent(format!(
                    "the stored leaves no longer hash to the published root of size {}",
                    head.tree_size
                )));
            }
        }
        Ok(ConsistencyProofDocument {
            format: jpki_log::CONSISTENCY_PROOF_FORMAT.to_owned(),
            from,
            to,
            proof,
        })
    }

    fn proof_error(&self, error: LogError) -> UsageLogError {
        match error {
            LogError::ForeignTreeHead { tree_size } => UsageLogError::Inconsistent(format!(
                "the published head of size {tree_size} is not a head of the stored tree"
            )),
            other => other.into(),
        }
    }

    /// The operator's full audit ([`audit`]) with this log's keys.
    pub async fn verify_all(&self) -> Result<AuditReport, UsageLogError> {
        audit(&self.store, self.key.public_key(), &self.pseudonym).await
    }
}

/// What one finding of the audit is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditProblem {
    /// The stored log id is not the pseudonym of the resident id.
    PersonLogId { stored: String },
    /// The usage row the link commits is gone.
    RowDeleted,
    /// The usage row was moved to another resident.
    RowMoved { now: ResidentId },
    /// The usage row's content no longer hashes to the committed entry hash.
    RowEdited,
    /// The link's `seq` is not the next of the person's chain.
    SeqGap { expected: u64 },
    /// The link's chain value does not follow from the previous link and its entry hash.
    ChainBroken,
    /// The stored leaf at the link's index is not the leaf the link commits to.
    LeafMismatch,
    /// The leaf at the link's index is missing.
    LeafMissing,
    /// A leaf no link commits (a link was deleted).
    OrphanLeaf,
    /// A usage row no link commits (inserted behind the log's back).
    RowNotLogged,
    /// The number of leaves stored differs from the log's count.
    TreeSize { counted: u64, stored: u64 },
    /// A published head's signature does not verify, or it is of another log.
    HeadSignature { tree_size: u64 },
    /// A published head's root is not the root of the stored leaves at its size.
    HeadRoot { tree_size: u64 },
}

/// One problem the audit found, with what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFinding {
    pub resident: Option<ResidentId>,
    pub seq: Option<u64>,
    pub leaf_index: Option<u64>,
    pub usage_id: Option<i64>,
    pub problem: AuditProblem,
}

impl fmt::Display for AuditFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut about = Vec::new();
        if let Some(resident) = self.resident {
            about.push(format!("resident {}", resident.0));
        }
        if let Some(seq) = self.seq {
            about.push(format!("entry seq {seq}"));
        }
        if let Some(usage) = self.usage_id {
            about.push(format!("usage row {usage}"));
        }
        if let Some(leaf) = self.leaf_index {
            about.push(format!("leaf {leaf}"));
        }
        if !about.is_empty() {
            write!(f, "{}: ", about.join(", "))?;
        }
        match &self.problem {
            AuditProblem::PersonLogId { stored } => write!(
                f,
                "the stored log id {stored} is not this resident's pseudonym"
            ),
            AuditProblem::RowDeleted => {
                f.write_str("the usage row was deleted (the log still commits it)")
            }
            AuditProblem::RowMoved { now } => write!(
                f,
                "the usage row was moved to resident {} (the log commits it to this one)",
                now.0
            ),
            AuditProblem::RowEdited => f.write_str(
                "the usage row was edited: its content does not match the committed entry hash",
            ),
            AuditProblem::SeqGap { expected } => {
                write!(f, "the chain skips from seq {} to this one", expected - 1)
            }
            AuditProblem::ChainBroken => {
                f.write_str("the chain link does not follow from the previous entry")
            }
            AuditProblem::LeafMismatch => {
                f.write_str("the stored leaf is not the leaf this entry commits to")
            }
            AuditProblem::LeafMissing => f.write_str("the leaf of this entry is missing"),
            AuditProblem::OrphanLeaf => f.write_str("no chain link commits this leaf"),
            AuditProblem::RowNotLogged => {
                f.write_str("the usage row is not in the log (inserted behind its back)")
            }
            AuditProblem::TreeSize { counted, stored } => {
                write!(f, "{counted} leaves are stored but the log counts {stored}")
            }
            AuditProblem::HeadSignature { tree_size } => write!(
                f,
                "the published tree head of size {tree_size} does not verify with the log key"
            ),
            AuditProblem::HeadRoot { tree_size } => write!(
                f,
                "the published tree head of size {tree_size} is not the root of the stored leaves"
            ),
        }
    }
}

/// What [`audit`] read and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub tree_size: u64,
    pub links: u64,
    pub persons: u64,
    pub tree_heads: u64,
    pub latest_tree_head: Option<SignedTreeHead>,
    pub root: HashValue,
    pub findings: Vec<AuditFinding>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

struct ChainState {
    person: Option<PersonLogId>,
    next_seq: u64,
    chain: HashValue,
}

/// The operator's audit of the whole log, from the database alone (no in-memory state):
///
/// 1. every link, in leaf order: its person's log id is the pseudonym of the resident
///    id; its usage row exists, belongs to that resident and hashes to the committed
///    entry hash; its `seq` continues the person's chain and its chain value follows;
///    the stored leaf is the leaf it commits to;
/// 2. every stored leaf has a link, and the leaf count is the log's;
/// 3. every usage row has a link;
/// 4. every published tree head verifies with `public_key` and is the root of the
///    stored leaves at its size.
///
/// Returns every problem found, each naming the resident and entry (`seq`) it is about.
/// A content problem is reported once: the chain is checked over the committed entry
/// hashes, so an edited row does not also break every later link.
pub async fn audit<S: UsageLogStore>(
    store: &S,
    public_key: &LogPublicKey,
    pseudonym: &PseudonymKey,
) -> Result<AuditReport, UsageLogError> {
    let mut findings = Vec::new();
    let stored_size = store.log_tree_size().await?;
    // Step 2 first: the leaves, into a tree.
    let mut tree = MerkleTree::new();
    loop {
        let leaves = store.log_leaves(tree.size(), LEAF_CHUNK).await?;
        let read = leaves.len();
        for leaf in leaves {
            tree.append(leaf)?;
        }
        if read < LEAF_CHUNK as usize {
            break;
        }
    }
    if tree.size() != stored_size {
        findings.push(AuditFinding {
            resident: None,
            seq: None,
            leaf_index: None,
            usage_id: None,
            problem: AuditProblem::TreeSize {
                counted: tree.size(),
                stored: stored_size,
            },
        });
    }
    // Step 1: the links.
    let mut chains: HashMap<ResidentId, ChainState> = HashMap::new();
    let mut covered = vec![false; usize::try_from(tree.size()).unwrap_or(usize::MAX)];
    let mut links = 0u64;
    let mut start = 0;
    loop {
        let page = store.log_links(start, AUDIT_CHUNK).await?;
        let Some(last) = page.last() else { break };
        start = last.link.leaf_index + 1;
        for record in &page {
            links += 1;
            let finding = |problem| AuditFinding {
                resident: Some(record.resident_id),
                seq: Some(record.link.seq),
                leaf_index: Some(record.link.leaf_index),
                usage_id: Some(record.usage_id),
                problem,
            };
            let state = chains.entry(record.resident_id).or_insert_with(|| {
                let person = PersonLogId::new(record.person_log_id.clone()).ok();
                let chain = person
                    .as_ref()
                    .map(genesis)
                    .unwrap_or(HashValue::from_bytes([0; 32]));
                ChainState {
                    person,
                    next_seq: 1,
                    chain,
                }
            });
            if state.next_seq == 1 {
                let expected = pseudonym.person_log_id(record.resident_id.0).ok();
                if expected.as_ref().map(PersonLogId::as_str) != Some(record.person_log_id.as_str())
                {
                    findings.push(finding(AuditProblem::PersonLogId {
                        stored: record.person_log_id.clone(),
                    }));
                }
            }
            let Some(person) = state.person.clone() else {
                continue;
            };
            // The row.
            match &record.row {
                None => findings.push(finding(AuditProblem::RowDeleted)),
                Some(row) if row.resident_id != record.resident_id => {
                    findings.push(finding(AuditProblem::RowMoved {
                        now: row.resident_id,
                    }));
                }
                Some(row) => {
                    let hash = jpki_log::entry_hash(&person, record.link.seq, &row.event);
                    if hash.ok() != Some(record.link.entry_hash) {
                        findings.push(finding(AuditProblem::RowEdited));
                    }
                }
            }
            // The chain.
            if record.link.seq != state.next_seq {
                findings.push(finding(AuditProblem::SeqGap {
                    expected: state.next_seq,
                }));
            }
            if next_chain(&state.chain, &record.link.entry_hash) != record.link.chain {
                findings.push(finding(AuditProblem::ChainBroken));
            }
            state.next_seq = record.link.seq.saturating_add(1);
            state.chain = record.link.chain;
            // The leaf.
            let expected = link_leaf_hash(
                &person,
                record.link.seq,
                &record.link.chain,
                &record.link.entry_hash,
            );
            match record.leaf_hash {
                None => findings.push(finding(AuditProblem::LeafMissing)),
                Some(leaf) if leaf != expected => {
                    findings.push(finding(AuditProblem::LeafMismatch))
                }
                Some(_) => {}
            }
            if let Some(slot) = usize::try_from(record.link.leaf_index)
                .ok()
                .and_then(|index| covered.get_mut(index))
            {
                *slot = true;
            }
        }
    }
    for (index, covered) in covered.iter().enumerate() {
        if !covered {
            findings.push(AuditFinding {
                resident: None,
                seq: None,
                leaf_index: Some(index as u64),
                usage_id: None,
                problem: AuditProblem::OrphanLeaf,
            });
        }
    }
    // Step 3: rows without a link.
    let mut after = 0;
    loop {
        let rows = store.unlogged_usage(after, AUDIT_CHUNK).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        for row in &rows {
            findings.push(AuditFinding {
                resident: Some(row.resident_id),
                seq: None,
                leaf_index: None,
                usage_id: Some(row.id),
                problem: AuditProblem::RowNotLogged,
            });
        }
    }
    // Step 4: the published heads.
    let mut heads = 0u64;
    let mut latest = None;
    let mut after_size = None;
    loop {
        let page = store.tree_heads(after_size, AUDIT_CHUNK).await?;
        let Some(last) = page.last() else { break };
        after_size = Some(last.tree_size);
        for head in page {
            heads += 1;
            if head.verify(public_key).is_err() {
                findings.push(AuditFinding {
                    resident: None,
                    seq: None,
                    leaf_index: None,
                    usage_id: None,
                    problem: AuditProblem::HeadSignature {
                        tree_size: head.tree_size,
                    },
                });
            }
            let root = tree.root_at(head.tree_size).ok();
            if root != Some(head.root_hash) {
                findings.push(AuditFinding {
                    resident: None,
                    seq: None,
                    leaf_index: None,
                    usage_id: None,
                    problem: AuditProblem::HeadRoot {
                        tree_size: head.tree_size,
                    },
                });
            }
            latest = Some(head);
        }
    }
    Ok(AuditReport {
        tree_size: tree.size(),
        links,
        persons: chains.len() as u64,
        tree_heads: heads,
        latest_tree_head: latest,
        root: tree.root(),
        findings,
    })
}
