//! Persistent state of the jpki issuing authority, behind one narrow trait per
//! consumer, on SQLite (the embedded default) or PostgreSQL.
//!
//! # Scope
//!
//! - [`Store`]: a pool opened from a URL or path ([`Store::open`],
//!   [`Store::open_sqlite`]); opening creates the SQLite file if needed and applies
//!   pending migrations with the crate's own runner (`schema_migrations`, one
//!   transaction per migration, an advisory lock against concurrent first opens on
//!   PostgreSQL), and refuses a database whose schema is newer than the program
//!   ([`StoreError::SchemaTooNew`]).
//! - The consumer traits, all implemented by [`Store`]: [`RegistryStore`] (the
//!   municipality), [`CaStore`] (the CA, which cannot list residents),
//!   [`CertificateStore`] (portal, status services, CLI), [`CardStore`],
//!   [`NonceStore`] and [`AuditStore`].
//! - Behind the `testing` feature, `testing`: isolated SQLite and PostgreSQL stores for
//!   any crate's tests, PostgreSQL skipped with a visible line when the server is
//!   unreachable (unless `JPKI_REQUIRE_POSTGRES=1`).
//!
//! Not here: business rules (who may hold which certificate, lifecycle transitions,
//! service hours: `jpki-authority`), certificate encoding (`jpki-pkix`). Migration 2
//! adds the phone tables, migration 3 the lifecycle's (each certificate's CRL shard and
//! last status change, accounts, published CRLs).
//!
//! # Tables, and the trait that writes each
//!
//! | table | written by | notes |
//! |---|---|---|
//! | `schema_migrations` | the migration runner | version, name, SHA-256 of the SQL, time |
//! | `residents` | [`RegistryStore`] | current record; My Number UNIQUE; `history_seq` |
//! | `resident_history` | [`RegistryStore`] | append-only; key (resident, seq) |
//! | `authorities` | [`CaStore::save_authority`] | CA generations; UNIQUE (name, SHA-256) |
//! | `serials` | [`CaStore::reserve_serial`], [`PhoneStore::accept_application`] | key (issuer, serial); never deleted |
//! | `certificates` | [`CaStore::record_certificate`], [`PhoneStore::accept_application`], [`CertificateStore::set_status`] | key (issuer, serial) → `serials`; holder → `cards`; `renewal_of` → itself |
//! | `cards` | [`CardStore`] | card id key; (card, resident) referenced by certificates |
//! | `nonces` | [`NonceStore`] | single use through a conditional `UPDATE` |
//! | `audit_log` | [`AuditStore`], [`LifecycleStore`] | append-only from the API |
//! | `accounts` | [`AccountStore`] | operators and registered verifiers; API keys as SHA-256 digests |
//! | `crl_publications` | [`CrlStore`] | the latest full CRL per shard and the deltas over it |
//! | `usage_history`, `log_state`, `log_persons`, `log_leaves`, `log_links` | the usage module only ([`PhoneStore::append_usage`], and every transaction that records usage) | migration 5: each usage row is its person's next chain link and the log's next Merkle leaf, in the row's transaction; read by [`UsageStore`] (history pages) and [`UsageLogStore`] |
//! | `log_tree_heads` | [`UsageLogStore::save_tree_head`] | published signed tree heads, one per size, in order |
//! | `operator_sessions`, `accounts.password_hash` | [`OperatorStore`] | migration 6: the operator console's sessions (token digests) and argon2id password hashes |
//!
//! Times are `BIGINT` microseconds since the Unix epoch (UTC); binary data is
//! BLOB/BYTEA; enums are stored by their stable names (`card_sign`, `held`, …) and
//! checked by `CHECK` constraints; uniqueness is the database's job, and a violation
//! comes back as [`StoreError::Conflict`].
//!
//! # Decisions a reviewer will question
//!
//! - **Two typed pools, not `sqlx::Any`.** [`Store`] holds either a `SqlitePool` or a
//!   `PgPool`, and each method's body is written once and compiled for both by a small
//!   `dispatch!` macro. `Any` would give one code path too, but it can only be
//!   configured through a URL: no `journal_mode`, `synchronous` or busy timeout for
//!   SQLite, and no way to start SQLite write transactions with `BEGIN IMMEDIATE`. The
//!   SQL text is identical for both (`$1` placeholders work in SQLite through sqlx,
//!   `RETURNING` and `IS NOT DISTINCT FROM` in both); only the migrations differ
//!   (`STRICT`/`INTEGER`/`BLOB` against `BIGINT`/`BYTEA`/identity).
//! - **SQLite keeps `synchronous=FULL` in WAL mode**: every commit is on disk before
//!   it returns, so nothing acknowledged is lost on a power cut. `NORMAL` would be
//!   faster but may lose the last transactions, which for serials and nonces means a
//!   reuse. Write transactions start with `BEGIN IMMEDIATE`, so two writers queue on
//!   the busy timeout instead of failing on a lock upgrade.
//! - **Uniqueness and single use are enforced by one statement each** (a primary key
//!   for serials, a conditional `UPDATE … WHERE used_at IS NULL` for nonces, a
//!   conditional `UPDATE` for status compare-and-set), so they hold across processes
//!   sharing one PostgreSQL database, not just within one `Store`.
//! - **Accepted phone applications are written by one writer per `Store`, in groups**
//!   ([`PhoneStore::accept_application`], module `accept`): everything an application
//!   writes is one transaction, and concurrent applications share one (a `SAVEPOINT`
//!   each, so a failing one is rolled back alone), acknowledged only after `COMMIT`.
//!   Every transaction that appends usage holds the log's lock until it commits, so
//!   without grouping each application would pay a full commit (a disk flush) in
//!   series. The writer is a thread with its own runtime and connection (one more than
//!   the pool's maximum): its many short round trips must not queue behind the
//!   application's CPU work on the shared runtime.
//! - **The My Number is stored in clear**: the registry must look residents up by it.
//!   It is never logged by this crate (bound as a parameter, masked by `Debug`), and a
//!   duplicate is reported without it. Database error DETAIL (which PostgreSQL fills
//!   with key values) is dropped when errors are converted.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod accept;
mod audit;
mod ca;
mod cards;
mod codec;
mod direct;
mod error;
mod lifecycle;
mod migrate;
mod nonces;
mod phone;
mod records;
mod registry;
mod relying;
mod store;
mod traits;
mod usage;
mod web;

#[cfg(feature = "testing")]
pub mod testing;

pub use accept::{AcceptedApplication, AcceptedOutcome};
pub use codec::stored_instant;
pub use error::{NonceError, StoreError};
pub use migrate::SCHEMA_VERSION;
pub use records::{
    AccountRecord, AccountRole, CrlRecord, LifecycleBatch, LifecycleOutcome, ListedCertificate,
    NewAccount, NewDeviceEvent, StatusChange, StatusChangeRecord, StatusRecord,
};
pub use records::{
    ApplicationId, ApplicationRecord, ApplicationState, AuditEntry, AuditId, AuditRecord,
    AuthorityRecord, CardRecord, CertificateRecord, ChangeKind, ConsumedNonce, DeviceEvent,
    DeviceRecord, DeviceState, HistoryEntry, HistoryKind, Holder, NewApplication, NewCertificate,
    NewNonce, NewResident, RegistrationOutcome, Resident, ResidentChange, ResidentId, UsageEntry,
    UsageOutcome, UsageRecord,
};
pub use records::{
    LoginApproval, LoginChallengeRecord, NewLoginChallenge, NewSession, NewSignRequest,
    NewSubmission, PlatformUser, RelyingPartyRecord, SessionRecord, SignRequestRecord,
    SignRequestState, SubmissionRecord,
};
pub use registry::MAX_PAGE_SIZE;
pub use store::{BackendKind, Store, redact_url};
pub use traits::{AccountStore, CrlStore, LifecycleStore, StatusStore};
pub use traits::{
    AuditStore, CaStore, CardStore, CertificateStore, NonceStore, PhoneStore, RegistryStore,
    RelyingStore,
};
pub use usage::{
    LogLinkRecord, LoggedUsage, MAX_USAGE_PAGE, UsageKind, UsageLogStore, UsagePage, UsageQuery,
    UsageRow, UsageStore,
};
pub use web::{NewOperatorSession, OperatorSessionRecord, OperatorStore};
