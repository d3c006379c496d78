//! The usage history (利用履歴) and its verifiable log: the one place a usage row is
//! written ([`AppendUsage`], used by every transaction that records usage), the
//! history pages the citizen's screens read ([`UsageStore`]), and what the log service
//! reads and publishes ([`UsageLogStore`]).
//!
//! # The append, step by step
//!
//! Every usage row is appended, in the transaction that writes it, as the next link of
//! its person's hash chain and the next leaf of the log's Merkle tree
//! (`docs/verifiable-log.md` §3–§4, §8). For the rows of one transaction, written last
//! in it:
//!
//! 1. `log_state.tree_size` is raised by the number of rows: the leaf indices are the
//!    ones below the new size. This takes the log's lock: SQLite's write transaction
//!    already excludes other writers, and in PostgreSQL the row lock is held until
//!    commit, so appends are serialized across processes, two writers never get the same
//!    index, and leaves commit in index order (the committed leaves are always a prefix
//!    of the tree). Taking it last keeps the lock short and means a transaction that
//!    holds it never waits for another row lock (no deadlock with a transaction that
//!    locked a resident and is queued for the log).
//! 2. The person's log id and chain head are read (one indexed lookup); a person's first
//!    entry makes their pseudonymous log id from the store's pseudonym key
//!    ([`Store::set_log_pseudonym_key`]).
//! 3. The entry hash `E(seq)`, `chain(seq)` and the leaf hash are computed.
//! 4. The usage rows, then the leaves, then the links are inserted, a multi-row
//!    `INSERT` per table for up to 64 rows (the hashes of every row are computed
//!    first, in order, so a batch of lines costs three statements, not three a line).
//!
//! If anything fails, the transaction rolls back: no row is ever without its leaf and
//! link, nor a leaf without its row. An entry that cannot be encoded (a detail with a
//! non-integer number, a field too long) is refused before the transaction starts.

use std::collections::HashMap;

use jpki_log::{
    ChainLink, HashValue, LogTime, PersonLogId, PseudonymKey, SignedTreeHead, UsageEvent, genesis,
    link_leaf_hash, next_chain,
};
use sqlx::{Postgres, Sqlite, Transaction};
use time::OffsetDateTime;

use crate::codec::{time_column, to_micros};
use crate::error::{StoreError, db};
use crate::records::{ResidentId, UsageEntry, UsageOutcome, UsageRecord};
use crate::store::{BackendPool, RowExt, Store, dispatch};

/// Most rows one [`UsageStore::usage_page`] or [`UsageStore::usage_export`] returns.
pub const MAX_USAGE_PAGE: u32 = 500;

/// What kind of event a usage line records: the filter of the history pages. Each kind
/// is a fixed set of `action`s ([`UsageKind::actions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageKind {
    /// A card issued or replaced, a phone applied for, issued, registered, replaced,
    /// wiped.
    Registration,
    /// Logins: the portal's cross-device login, a relying party's platform login.
    Login,
    /// Signatures verified by the portal: signed submissions, answered sign requests.
    Signature,
    /// A relying party's checks through the platform API (register, login, replacement).
    RelyingParty,
    /// Suspensions, lifts, revocations and PIN resets.
    Status,
    /// Moves, renames, corrections, death (異動).
    Change,
}

impl UsageKind {
    pub const ALL: [UsageKind; 6] = [
        Self::Registration,
        Self::Login,
        Self::Signature,
        Self::RelyingParty,
        Self::Status,
        Self::Change,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Login => "login",
            Self::Signature => "signature",
            Self::RelyingParty => "relying_party",
            Self::Status => "status",
            Self::Change => "change",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The actions of this kind. `platform_login` is both a login and a relying-party
    /// check.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            Self::Registration => &[
                "card_issued",
                "card_replaced",
                "card_abandoned",
                "applied",
                "issued",
                "notified",
                "registered",
                "superseded",
                "wiped",
            ],
            Self::Login => &["login", "platform_login"],
            Self::Signature => &["submitted", "sign_request"],
            Self::RelyingParty => &[
                "platform_register",
                "platform_login",
                "platform_replacement",
            ],
            Self::Status => &[
                "suspended",
                "lifted",
                "released",
                "revoked",
                "revoked_other",
                "pin_reset",
            ],
            Self::Change => &["moved", "renamed", "corrected", "death"],
        }
    }

    /// The first kind whose actions include `action`.
    pub fn of_action(action: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.actions().contains(&action))
    }
}

/// Which lines of a person's history to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageQuery {
    /// Lines at or after this instant.
    pub from: Option<OffsetDateTime>,
    /// Lines before this instant.
    pub to: Option<OffsetDateTime>,
    /// Only these actions (empty: every action). See [`UsageKind::actions`].
    pub actions: Vec<String>,
    pub outcome: Option<UsageOutcome>,
    /// The cursor: lines with a smaller id than this (the previous page's
    /// [`UsagePage::next_before_id`]).
    pub before_id: Option<i64>,
    /// At most this many lines (1 to [`MAX_USAGE_PAGE`]; 0 means the maximum).
    pub limit: u32,
}

/// One page of a person's history.
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePage {
    /// Newest first (by id, the order they were written).
    pub records: Vec<UsageRecord>,
    /// The cursor for the next (older) page, `None` when this is the last.
    pub next_before_id: Option<i64>,
}

/// A usage row as stored, read leniently for the log: a row edited into something the
/// history screen could not parse still appears (and fails its content check) instead
/// of making the whole history unreadable.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    pub id: i64,
    pub resident_id: ResidentId,
    /// The event as the entry encoding reads it (an unparsable `detail_json` becomes the
    /// JSON string of its text; a time outside the encoding's range, the epoch).
    pub event: UsageEvent,
}

/// One link of a person's chain with the usage row it commits.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedUsage {
    pub link: ChainLink,
    pub usage_id: i64,
    /// `None` when the row is gone.
    pub row: Option<UsageRow>,
}

/// One link in tree order, with everything the operator's audit checks it against.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLinkRecord {
    pub resident_id: ResidentId,
    /// The stored log id, as text (checked by the audit, so not parsed here).
    pub person_log_id: String,
    pub link: ChainLink,
    pub usage_id: i64,
    pub row: Option<UsageRow>,
    /// The stored leaf at `link.leaf_index`, `None` when it is missing.
    pub leaf_hash: Option<HashValue>,
}

/// A person's history as the usage history screens read it.
pub trait UsageStore: Send + Sync {
    /// One page of `resident_id`'s history, newest first, filtered by `query`. Served
    /// by the `(resident_id, id)` and `(resident_id, action, id)` indexes, so a page
    /// costs about the same for a person with ten lines or a hundred thousand.
    fn usage_page(
        &self,
        resident_id: ResidentId,
        query: &UsageQuery,
    ) -> impl Future<Output = Result<UsagePage, StoreError>> + Send;

    /// `resident_id`'s lines with an id greater than `after_id`, oldest first, at most
    /// `limit` (capped at [`MAX_USAGE_PAGE`]): call again from the last id to export a
    /// whole history.
    fn usage_export(
        &self,
        resident_id: ResidentId,
        after_id: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<UsageRecord>, StoreError>> + Send;
}

/// What the log service reads and publishes.
pub trait UsageLogStore: Send + Sync {
    /// The number of committed leaves.
    fn log_tree_size(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Committed leaves from index `start`, in order, at most `limit` (capped at
    /// 65,536). Fewer (or none) at the end of the tree, or before a missing leaf (the
    /// leaves returned are always leaves `start`, `start + 1`, …).
    fn log_leaves(
        &self,
        start: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<HashValue>, StoreError>> + Send;

    /// The person's stored log id (`None` before their first entry).
    fn person_log_id(
        &self,
        resident_id: ResidentId,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Every link of the person's chain in `seq` order, with its usage row.
    fn logged_usage(
        &self,
        resident_id: ResidentId,
    ) -> impl Future<Output = Result<Vec<LoggedUsage>, StoreError>> + Send;

    /// Links in leaf order from leaf `start`, at most `limit` (capped at 10,000), with
    /// their person, row and stored leaf: the operator's audit reads them all.
    fn log_links(
        &self,
        start: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<LogLinkRecord>, StoreError>> + Send;

    /// Usage rows that no link commits (rows inserted behind the log's back), id order
    /// after `after_id`, at most `limit` (capped at 10,000).
    fn unlogged_usage(
        &self,
        after_id: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<UsageRow>, StoreError>> + Send;

    /// Publishes a signed tree head, unless a head of a tree as large or a later head is
    /// already published (another process published first: its head is kept, so heads
    /// grow with time). Returns the latest published head. Refuses a head of more leaves
    /// than the log has committed.
    fn save_tree_head(
        &self,
        head: &SignedTreeHead,
    ) -> impl Future<Output = Result<SignedTreeHead, StoreError>> + Send;

    /// The published head of the largest tree.
    fn latest_tree_head(
        &self,
    ) -> impl Future<Output = Result<Option<SignedTreeHead>, StoreError>> + Send;

    /// The published head of the tree of `tree_size` leaves.
    fn tree_head(
        &self,
        tree_size: u64,
    ) -> impl Future<Output = Result<Option<SignedTreeHead>, StoreError>> + Send;

    /// Published heads of trees larger than `after_size`, smallest first, at most
    /// `limit` (capped at 10,000).
    fn tree_heads(
        &self,
        after_size: Option<u64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<SignedTreeHead>, StoreError>> + Send;
}

// ---------------------------------------------------------------------------------------
// The pseudonym key
// ---------------------------------------------------------------------------------------

impl Store {
    /// Sets the secret each person's pseudonymous log id is derived from (at their first
    /// usage entry; `jpki init` creates it, `jpki` loads it from the data directory).
    /// Shared by every clone of this store. Setting the same key again is accepted; a
    /// different one is refused (ids already made would no longer match).
    pub fn set_log_pseudonym_key(&self, key: PseudonymKey) -> Result<(), StoreError> {
        let stored = self.log_pseudonym.get_or_init(|| key.clone());
        if stored.same_as(&key) {
            Ok(())
        } else {
            Err(StoreError::Invalid(
                "this store already has another log pseudonym key".into(),
            ))
        }
    }

    /// Whether [`Store::set_log_pseudonym_key`] was called.
    pub fn has_log_pseudonym_key(&self) -> bool {
        self.log_pseudonym.get().is_some()
    }
}

// ---------------------------------------------------------------------------------------
// The append (the one place a usage row is written)
// ---------------------------------------------------------------------------------------

/// A usage entry checked and encoded for the append, before any transaction starts.
#[derive(Debug, Clone)]
pub(crate) struct PreparedUsage {
    resident_id: i64,
    at: i64,
    device_id: Option<String>,
    action: String,
    outcome: &'static str,
    detail_json: String,
    event: UsageEvent,
}

/// Checks `entry` and encodes it the way it will be stored and read back: a bad entry
/// is refused here, before anything is written.
pub(crate) fn prepare_usage(entry: &UsageEntry) -> Result<PreparedUsage, StoreError> {
    if entry.action.is_empty() {
        return Err(StoreError::Invalid("a usage entry needs an action".into()));
    }
    let at = to_micros(entry.at)?;
    let detail_json = entry.detail.to_string();
    // What is hashed is what a reader parses back from the row.
    let detail: serde_json::Value = serde_json::from_str(&detail_json)
        .map_err(|error| StoreError::Invalid(format!("usage detail: {error}")))?;
    let event = UsageEvent {
        at: LogTime::from_unix_micros(at)
            .map_err(|error| StoreError::Invalid(format!("usage time: {error}")))?,
        device_id: entry.device_id.clone(),
        action: entry.action.clone(),
        outcome: entry.outcome.as_str().to_owned(),
        detail,
    };
    // Encoding under any valid person and seq checks every field and the detail.
    let probe = PersonLogId::new("p").map_err(|error| StoreError::Invalid(error.to_string()))?;
    jpki_log::entry_bytes(&probe, 1, &event)
        .map_err(|error| StoreError::Invalid(format!("usage entry: {error}")))?;
    Ok(PreparedUsage {
        resident_id: entry.resident_id.0,
        at,
        device_id: entry.device_id.clone(),
        action: entry.action.clone(),
        outcome: entry.outcome.as_str(),
        detail_json,
        event,
    })
}

pub(crate) fn prepare_all(entries: &[UsageEntry]) -> Result<Vec<PreparedUsage>, StoreError> {
    entries.iter().map(prepare_usage).collect()
}

const RAISE_TREE_SIZE: &str =
    "UPDATE log_state SET tree_size = tree_size + $1 WHERE id = 1 RETURNING tree_size";

const CHAIN_HEAD: &str = "SELECT p.person_log_id, l.seq, l.chain FROM log_persons p \
     LEFT JOIN log_links l ON l.resident_id = p.resident_id \
     AND l.seq = (SELECT MAX(seq) FROM log_links WHERE resident_id = $1) \
     WHERE p.resident_id = $1";

const INSERT_PERSON: &str =
    "INSERT INTO log_persons (resident_id, person_log_id, created_at) VALUES ($1, $2, $3)";

/// A person's chain head inside one append.
struct Head {
    person: PersonLogId,
    seq: u64,
    chain: HashValue,
}

fn hash_column(row: &impl RowExt, column: &str) -> Result<HashValue, StoreError> {
    let bytes = row.bytes(column)?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(HashValue::from_bytes)
        .map_err(|_| StoreError::corrupt(column, format!("{} bytes, not 32", bytes.len())))
}

fn u64_column(row: &impl RowExt, column: &str) -> Result<u64, StoreError> {
    let value = row.int(column)?;
    u64::try_from(value).map_err(|_| StoreError::corrupt(column, format!("negative: {value}")))
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Invalid(format!("{what} {value} is too large")))
}

/// Appends prepared usage rows inside a write transaction (see the module docs).
pub(crate) trait AppendUsage {
    /// Appends `entries` in order, as the last writes of the transaction; returns
    /// their usage row ids.
    async fn append_usage_rows(
        &mut self,
        key: Option<&PseudonymKey>,
        entries: &[PreparedUsage],
        operation: &'static str,
    ) -> Result<Vec<i64>, StoreError>;
}

/// Rows one multi-row `INSERT` of the append writes at most: a batch of up to this many
/// lines is one statement per table (its text depends on the row count, so a table has
/// at most this many texts, and the writer's statement cache keeps the ones in use
/// prepared); a longer one is written in chunks of this size and one for the rest.
const MAX_ROWS_PER_INSERT: usize = 64;

/// The chunks `count` rows are written in, in order.
fn insert_chunks(count: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..count)
        .step_by(MAX_ROWS_PER_INSERT)
        .map(move |start| start..count.min(start + MAX_ROWS_PER_INSERT))
}

/// One entry with everything computed: its leaf index, seq, E(seq), chain(seq), leaf.
struct ComputedLink {
    leaf_index: i64,
    seq: i64,
    entry_hash: HashValue,
    chain: HashValue,
    leaf: HashValue,
}

/// Implements [`AppendUsage`] for a transaction type, given the driver's statement
/// builder and `query` function (sqlx's, or `crate::direct`'s for the group-commit
/// writer's SQLite connection).
macro_rules! impl_append_usage {
    ($transaction:ty, $builder:ty, $query:path) => {
        impl AppendUsage for $transaction {
            async fn append_usage_rows(
                &mut self,
                key: Option<&PseudonymKey>,
                entries: &[PreparedUsage],
                operation: &'static str,
            ) -> Result<Vec<i64>, StoreError> {
                if entries.is_empty() {
                    return Ok(Vec::new());
                }
                let count = entries.len() as u64;
                // Step 1: the log's lock and the leaf indices.
                let size = $query(RAISE_TREE_SIZE)
                    .bind(to_i64(count, "batch")?)
                    .fetch_one(&mut **self)
                    .await
                    .map_err(db(operation))?;
                let size = u64_column(&size, "tree_size")?;
                let first = size.checked_sub(count).ok_or_else(|| {
                    StoreError::corrupt("log_state.tree_size", "below the batch just added")
                })?;
                let mut heads: HashMap<i64, Head> = HashMap::new();
                let mut links = Vec::with_capacity(entries.len());
                for (offset, entry) in entries.iter().enumerate() {
                    let leaf_index = first + offset as u64;
                    // Step 2: the person's log id and chain head.
                    if !heads.contains_key(&entry.resident_id) {
                        let row = $query(CHAIN_HEAD)
                            .bind(entry.resident_id)
                            .fetch_optional(&mut **self)
                            .await
                            .map_err(db(operation))?;
                        let head = match row {
                            Some(row) => {
                                let person = PersonLogId::new(row.text("person_log_id")?).map_err(
                                    |error| StoreError::corrupt("log_persons.person_log_id", error),
                                )?;
                                match row.opt_int("seq")? {
                                    Some(_) => Head {
                                        seq: u64_column(&row, "seq")?,
                                        chain: hash_column(&row, "chain")?,
                                        person,
                                    },
                                    None => Head {
                                        chain: genesis(&person),
                                        seq: 0,
                                        person,
                                    },
                                }
                            }
                            None => {
                                let key = key.ok_or(StoreError::LogPseudonymKeyMissing)?;
                                let person =
                                    key.person_log_id(entry.resident_id).map_err(|error| {
                                        StoreError::Invalid(format!("person log id: {error}"))
                                    })?;
                                $query(INSERT_PERSON)
                                    .bind(entry.resident_id)
                                    .bind(person.as_str())
                                    .bind(entry.at)
                                    .execute(&mut **self)
                                    .await
                                    .map_err(crate::error::unique_conflict(
                                        operation,
                                        "the person's log id is already taken",
                                    ))?;
                                Head {
                                    chain: genesis(&person),
                                    seq: 0,
                                    person,
                                }
                            }
                        };
                        heads.insert(entry.resident_id, head);
                    }
                    let head = heads.get_mut(&entry.resident_id).ok_or_else(|| {
                        StoreError::corrupt("log chain head", "lost during the append")
                    })?;
                    // Step 3: E(seq), chain(seq), the leaf.
                    let seq = head.seq + 1;
                    let entry_hash = jpki_log::entry_hash(&head.person, seq, &entry.event)
                        .map_err(|error| StoreError::Invalid(format!("usage entry: {error}")))?;
                    let chain = next_chain(&head.chain, &entry_hash);
                    let leaf = link_leaf_hash(&head.person, seq, &chain, &entry_hash);
                    head.seq = seq;
                    head.chain = chain;
                    links.push(ComputedLink {
                        leaf_index: to_i64(leaf_index, "leaf index")?,
                        seq: to_i64(seq, "seq")?,
                        entry_hash,
                        chain,
                        leaf,
                    });
                }
                // Step 4: the rows, the leaves, the links, a multi-row INSERT per chunk.
                let mut ids = Vec::with_capacity(entries.len());
                for range in insert_chunks(entries.len()) {
                    let mut insert = <$builder>::new(
                        "INSERT INTO usage_history \
                         (resident_id, occurred_at, device_id, action, outcome, detail_json) ",
                    );
                    insert.push_values(&entries[range.clone()], |mut row, entry| {
                        row.push_bind(entry.resident_id)
                            .push_bind(entry.at)
                            .push_bind(entry.device_id.as_deref())
                            .push_bind(entry.action.as_str())
                            .push_bind(entry.outcome)
                            .push_bind(entry.detail_json.as_str());
                    });
                    insert.push(" RETURNING id");
                    let mut chunk = insert
                        .build()
                        .fetch_all(&mut **self)
                        .await
                        .map_err(db(operation))?
                        .iter()
                        .map(|row| row.int("id"))
                        .collect::<Result<Vec<i64>, StoreError>>()?;
                    if chunk.len() != range.len() {
                        return Err(StoreError::corrupt(
                            "usage_history",
                            format!("{} ids for {} rows", chunk.len(), range.len()),
                        ));
                    }
                    // RETURNING lists the rows in no promised order; the ids were drawn
                    // in the order of the VALUES (an increasing sequence, SQLite's
                    // AUTOINCREMENT), so ascending order is row order.
                    chunk.sort_unstable();
                    ids.append(&mut chunk);
                }
                for range in insert_chunks(links.len()) {
                    let mut insert = <$builder>::new(
                        "INSERT INTO log_leaves (leaf_index, leaf_hash) ",
                    );
                    insert.push_values(&links[range], |mut row, link| {
                        row.push_bind(link.leaf_index)
                            .push_bind(link.leaf.as_bytes().as_slice());
                    });
                    insert
                        .build()
                        .execute(&mut **self)
                        .await
                        .map_err(db(operation))?;
                }
                for range in insert_chunks(links.len()) {
                    let mut insert = <$builder>::new(
                        "INSERT INTO log_links \
                         (resident_id, seq, leaf_index, usage_id, entry_hash, chain) ",
                    );
                    let rows = entries[range.clone()]
                        .iter()
                        .zip(&links[range.clone()])
                        .zip(&ids[range]);
                    insert.push_values(rows, |mut row, ((entry, link), id)| {
                        row.push_bind(entry.resident_id)
                            .push_bind(link.seq)
                            .push_bind(link.leaf_index)
                            .push_bind(*id)
                            .push_bind(link.entry_hash.as_bytes().as_slice())
                            .push_bind(link.chain.as_bytes().as_slice());
                    });
                    insert
                        .build()
                        .execute(&mut **self)
                        .await
                        .map_err(db(operation))?;
                }
                Ok(ids)
            }
        }
    };
}

impl_append_usage!(
    Transaction<'_, Sqlite>,
    sqlx::QueryBuilder<Sqlite>,
    sqlx::query
);
impl_append_usage!(
    Transaction<'_, Postgres>,
    sqlx::QueryBuilder<Postgres>,
    sqlx::query
);
impl_append_usage!(
    crate::direct::DirectTransaction<'_>,
    crate::direct::QueryBuilder,
    crate::direct::query
);

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

const USAGE_COLUMNS: &str = "id, resident_id, occurred_at, device_id, action, outcome, detail_json";

pub(crate) fn usage_from_row(row: &impl RowExt) -> Result<UsageRecord, StoreError> {
    let outcome_text = row.text("outcome")?;
    Ok(UsageRecord {
        id: row.int("id")?,
        entry: UsageEntry {
            resident_id: ResidentId(row.int("resident_id")?),
            at: time_column(row, "occurred_at")?,
            device_id: row.opt_text("device_id")?,
            action: row.text("action")?,
            outcome: UsageOutcome::from_stored(&outcome_text).ok_or_else(|| {
                StoreError::corrupt("usage_history.outcome", format!("unknown {outcome_text:?}"))
            })?,
            detail: serde_json::from_str(&row.text("detail_json")?)
                .map_err(|error| StoreError::corrupt("detail_json", error))?,
        },
    })
}

/// A usage row read leniently (see [`UsageRow`]), from columns prefixed `u_`; `None`
/// when the LEFT JOIN found no row.
fn lenient_row(row: &impl RowExt) -> Result<Option<UsageRow>, StoreError> {
    let Some(id) = row.opt_int("u_id")? else {
        return Ok(None);
    };
    let micros = row.opt_int("u_occurred_at")?.unwrap_or_default();
    let detail_text = row.opt_text("u_detail_json")?.unwrap_or_default();
    Ok(Some(UsageRow {
        id,
        resident_id: ResidentId(row.opt_int("u_resident_id")?.unwrap_or_default()),
        event: UsageEvent {
            at: LogTime::from_unix_micros(micros)
                .or_else(|_| LogTime::from_unix_micros(0))
                .map_err(|error| StoreError::corrupt("usage_history.occurred_at", error))?,
            device_id: row.opt_text("u_device_id")?,
            action: row.opt_text("u_action")?.unwrap_or_default(),
            outcome: row.opt_text("u_outcome")?.unwrap_or_default(),
            detail: serde_json::from_str(&detail_text)
                .unwrap_or(serde_json::Value::String(detail_text)),
        },
    }))
}

const LENIENT_USAGE_COLUMNS: &str = "u.id AS u_id, u.resident_id AS u_resident_id, \
     u.occurred_at AS u_occurred_at, u.device_id AS u_device_id, u.action AS u_action, \
     u.outcome AS u_outcome, u.detail_json AS u_detail_json";

fn link_from_row(row: &impl RowExt) -> Result<ChainLink, StoreError> {
    Ok(ChainLink {
        seq: u64_column(row, "seq")?,
        leaf_index: u64_column(row, "leaf_index")?,
        entry_hash: hash_column(row, "entry_hash")?,
        chain: hash_column(row, "chain")?,
    })
}

fn tree_head_from_row(row: &impl RowExt) -> Result<SignedTreeHead, StoreError> {
    Ok(SignedTreeHead {
        log_id: hash_column(row, "log_id")?,
        tree_size: u64_column(row, "tree_size")?,
        timestamp: u64_column(row, "timestamp_ms")?,
        root_hash: hash_column(row, "root_hash")?,
        signature: row.bytes("signature")?,
    })
}

const TREE_HEAD_COLUMNS: &str = "tree_size, timestamp_ms, root_hash, log_id, signature";

fn page_limit(limit: u32) -> u32 {
    if limit == 0 {
        MAX_USAGE_PAGE
    } else {
        limit.min(MAX_USAGE_PAGE)
    }
}

impl UsageStore for Store {
    async fn usage_page(
        &self,
        resident_id: ResidentId,
        query: &UsageQuery,
    ) -> Result<UsagePage, StoreError> {
        let limit = page_limit(query.limit);
        if query.actions.len() > 64 {
            return Err(StoreError::Invalid(
                "at most 64 actions can be filtered on".into(),
            ));
        }
        let from = query.from.map(to_micros).transpose()?;
        let to = query.to.map(to_micros).transpose()?;
        // The SQL is built from fixed fragments and numbered placeholders only.
        let mut sql = format!("SELECT {USAGE_COLUMNS} FROM usage_history WHERE resident_id = $1");
        let mut next = 2;
        let mut placeholder = || {
            let text = format!("${next}");
            next += 1;
            text
        };
        if query.before_id.is_some() {
            sql.push_str(&format!(" AND id < {}", placeholder()));
        }
        if from.is_some() {
            sql.push_str(&format!(" AND occurred_at >= {}", placeholder()));
        }
        if to.is_some() {
            sql.push_str(&format!(" AND occurred_at < {}", placeholder()));
        }
        if query.outcome.is_some() {
            sql.push_str(&format!(" AND outcome = {}", placeholder()));
        }
        if !query.actions.is_empty() {
            let list: Vec<String> = query.actions.iter().map(|_| placeholder()).collect();
            sql.push_str(&format!(" AND action IN ({})", list.join(", ")));
        }
        // One more than the page, to know whether another follows.
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", placeholder()));
        let mut records = dispatch!(self, |pool| {
            let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(resident_id.0);
            if let Some(before) = query.before_id {
                statement = statement.bind(before);
            }
            if let Some(from) = from {
                statement = statement.bind(from);
            }
            if let Some(to) = to {
                statement = statement.bind(to);
            }
            if let Some(outcome) = query.outcome {
                statement = statement.bind(outcome.as_str());
            }
            for action in &query.actions {
                statement = statement.bind(action.as_str());
            }
            statement
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
                .map_err(db("usage_page"))?
                .iter()
                .map(usage_from_row)
                .collect::<Result<Vec<_>, _>>()?
        });
        let next_before_id = if records.len() > limit as usize {
            records.truncate(limit as usize);
            records.last().map(|record| record.id)
        } else {
            None
        };
        Ok(UsagePage {
            records,
            next_before_id,
        })
    }

    async fn usage_export(
        &self,
        resident_id: ResidentId,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        let sql = format!(
            "SELECT {USAGE_COLUMNS} FROM usage_history WHERE resident_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        );
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(resident_id.0)
                .bind(after_id)
                .bind(i64::from(page_limit(limit)))
                .fetch_all(pool)
                .await
                .map_err(db("usage_export"))?
                .iter()
                .map(usage_from_row)
                .collect()
        })
    }
}

impl UsageLogStore for Store {
    async fn log_tree_size(&self) -> Result<u64, StoreError> {
        dispatch!(self, |pool| {
            let row = sqlx::query("SELECT tree_size FROM log_state WHERE id = 1")
                .fetch_one(pool)
                .await
                .map_err(db("log_tree_size"))?;
            u64_column(&row, "tree_size")
        })
    }

    async fn log_leaves(&self, start: u64, limit: u32) -> Result<Vec<HashValue>, StoreError> {
        let first = to_i64(start, "leaf index")?;
        let limit = i64::from(limit.min(1 << 16));
        let rows = dispatch!(self, |pool| {
            sqlx::query(
                "SELECT leaf_index, leaf_hash FROM log_leaves WHERE leaf_index >= $1 \
                 ORDER BY leaf_index LIMIT $2",
            )
            .bind(first)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(db("log_leaves"))?
            .iter()
            .map(|row| {
                Ok((
                    u64_column(row, "leaf_index")?,
                    hash_column(row, "leaf_hash")?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?
        });
        // Only the run without a gap: a missing leaf ends it.
        Ok(rows
            .into_iter()
            .zip(start..)
            .take_while(|((index, _), expected)| index == expected)
            .map(|((_, leaf), _)| leaf)
            .collect())
    }

    async fn person_log_id(&self, resident_id: ResidentId) -> Result<Option<String>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query("SELECT person_log_id FROM log_persons WHERE resident_id = $1")
                .bind(resident_id.0)
                .fetch_optional(pool)
                .await
                .map_err(db("person_log_id"))?
                .map(|row| row.text("person_log_id"))
                .transpose()
        })
    }

    async fn logged_usage(&self, resident_id: ResidentId) -> Result<Vec<LoggedUsage>, StoreError> {
        let sql = format!(
            "SELECT l.seq, l.leaf_index, l.usage_id, l.entry_hash, l.chain, \
             {LENIENT_USAGE_COLUMNS} FROM log_links l \
             LEFT JOIN usage_history u ON u.id = l.usage_id \
             WHERE l.resident_id = $1 ORDER BY l.seq"
        );
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(resident_id.0)
                .fetch_all(pool)
                .await
                .map_err(db("logged_usage"))?
                .iter()
                .map(|row| {
                    Ok(LoggedUsage {
                        link: link_from_row(row)?,
                        usage_id: row.int("usage_id")?,
                        row: lenient_row(row)?,
                    })
                })
                .collect()
        })
    }

    async fn log_links(&self, start: u64, limit: u32) -> Result<Vec<LogLinkRecord>, StoreError> {
        let sql = format!(
            "SELECT l.resident_id, p.person_log_id, l.seq, l.leaf_index, l.usage_id, \
             l.entry_hash, l.chain, f.leaf_hash, {LENIENT_USAGE_COLUMNS} FROM log_links l \
             JOIN log_persons p ON p.resident_id = l.resident_id \
             LEFT JOIN log_leaves f ON f.leaf_index = l.leaf_index \
             LEFT JOIN usage_history u ON u.id = l.usage_id \
             WHERE l.leaf_index >= $1 ORDER BY l.leaf_index LIMIT $2"
        );
        let start = to_i64(start, "leaf index")?;
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(start)
                .bind(i64::from(limit.min(10_000)))
                .fetch_all(pool)
                .await
                .map_err(db("log_links"))?
                .iter()
                .map(|row| {
                    Ok(LogLinkRecord {
                        resident_id: ResidentId(row.int("resident_id")?),
                        person_log_id: row.text("person_log_id")?,
                        link: link_from_row(row)?,
                        usage_id: row.int("usage_id")?,
                        row: lenient_row(row)?,
                        leaf_hash: match row.opt_bytes("leaf_hash")? {
                            Some(_) => Some(hash_column(row, "leaf_hash")?),
                            None => None,
                        },
                    })
                })
                .collect()
        })
    }

    async fn unlogged_usage(&self, after_id: i64, limit: u32) -> Result<Vec<UsageRow>, StoreError> {
        let sql = format!(
            "SELECT {LENIENT_USAGE_COLUMNS} FROM usage_history u \
             WHERE u.id > $1 AND NOT EXISTS (SELECT 1 FROM log_links l WHERE l.usage_id = u.id) \
             ORDER BY u.id LIMIT $2"
        );
        dispatch!(self, |pool| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(after_id)
                .bind(i64::from(limit.min(10_000)))
                .fetch_all(pool)
                .await
                .map_err(db("unlogged_usage"))?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                if let Some(usage) = lenient_row(row)? {
                    out.push(usage);
                }
            }
            Ok(out)
        })
    }

    async fn save_tree_head(&self, head: &SignedTreeHead) -> Result<SignedTreeHead, StoreError> {
        const OPERATION: &str = "save_tree_head";
        let tree_size = to_i64(head.tree_size, "tree size")?;
        let timestamp = to_i64(head.timestamp, "timestamp")?;
        let latest = format!(
            "SELECT {TREE_HEAD_COLUMNS} FROM log_tree_heads ORDER BY tree_size DESC LIMIT 1"
        );
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            // The log's lock: heads are published in order, and never beyond the
            // committed leaves.
            let committed = sqlx::query(
                "UPDATE log_state SET tree_size = tree_size WHERE id = 1 RETURNING tree_size",
            )
            .fetch_one(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            let committed = u64_column(&committed, "tree_size")?;
            if head.tree_size > committed {
                return Err(StoreError::Invalid(format!(
                    "a tree head of {} leaves, but the log has {committed}",
                    head.tree_size
                )));
            }
            sqlx::query(
                "INSERT INTO log_tree_heads (tree_size, timestamp_ms, root_hash, log_id, signature) \
                 SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS \
                 (SELECT 1 FROM log_tree_heads WHERE tree_size >= $1 OR timestamp_ms > $2)",
            )
            .bind(tree_size)
            .bind(timestamp)
            .bind(head.root_hash.as_bytes().as_slice())
            .bind(head.log_id.as_bytes().as_slice())
            .bind(head.signature.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            let row = sqlx::query(sqlx::AssertSqlSafe(latest.as_str()))
                .fetch_one(&mut *tx)
                .await
                .map_err(db(OPERATION))?;
            let stored = tree_head_from_row(&row)?;
            tx.commit().await.map_err(db(OPERATION))?;
            Ok(stored)
        })
    }

    async fn latest_tree_head(&self) -> Result<Option<SignedTreeHead>, StoreError> {
        let sql = format!(
            "SELECT {TREE_HEAD_COLUMNS} FROM log_tree_heads ORDER BY tree_size DESC LIMIT 1"
        );
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .fetch_optional(pool)
                .await
                .map_err(db("latest_tree_head"))?
                .map(|row| tree_head_from_row(&row))
                .transpose()
        })
    }

    async fn tree_head(&self, tree_size: u64) -> Result<Option<SignedTreeHead>, StoreError> {
        let sql = format!("SELECT {TREE_HEAD_COLUMNS} FROM log_tree_heads WHERE tree_size = $1");
        let tree_size = to_i64(tree_size, "tree size")?;
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(tree_size)
                .fetch_optional(pool)
                .await
                .map_err(db("tree_head"))?
                .map(|row| tree_head_from_row(&row))
                .transpose()
        })
    }

    async fn tree_heads(
        &self,
        after_size: Option<u64>,
        limit: u32,
    ) -> Result<Vec<SignedTreeHead>, StoreError> {
        let sql = format!(
            "SELECT {TREE_HEAD_COLUMNS} FROM log_tree_heads WHERE tree_size > $1 \
             ORDER BY tree_size LIMIT $2"
        );
        let after = match after_size {
            Some(size) => to_i64(size, "tree size")?,
            None => -1,
        };
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(after)
                .bind(i64::from(limit.min(10_000)))
                .fetch_all(pool)
                .await
                .map_err(db("tree_heads"))?
                .iter()
                .map(tree_head_from_row)
                .collect()
        })
    }
}

impl Store {
    /// Appends usage rows in a transaction of their own (the usage log's choke point for
    /// callers outside a larger transaction).
    pub(crate) async fn append_usage_now(
        &self,
        entries: &[UsageEntry],
        operation: &'static str,
    ) -> Result<Vec<i64>, StoreError> {
        let prepared = prepare_all(entries)?;
        let key = self.log_pseudonym.get();
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(operation))?;
            let ids = tx.append_usage_rows(key, &prepared, operation).await?;
            tx.commit().await.map_err(db(operation))?;
            Ok(ids)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_ROWS_PER_INSERT, insert_chunks};

    #[test]
    fn a_batch_is_one_insert_up_to_the_limit_then_full_chunks_and_the_rest() {
        // (start, end) of each chunk.
        let chunks = |count| {
            insert_chunks(count)
                .map(|range| (range.start, range.end))
                .collect::<Vec<_>>()
        };
        let max = MAX_ROWS_PER_INSERT;
        assert!(chunks(0).is_empty());
        assert_eq!(chunks(1), [(0, 1)]);
        assert_eq!(chunks(15), [(0, 15)]);
        assert_eq!(chunks(max), [(0, max)]);
        assert_eq!(
            chunks(2 * max + 2),
            [(0, max), (max, 2 * max), (2 * max, 2 * max + 2)]
        );
    }
}
