//! Isolated stores for tests, in this crate and in others (Cargo feature `testing`).
//!
//! - SQLite: a fresh file in a temporary directory, removed with the [`TestDatabase`].
//! - PostgreSQL: a fresh schema in the database named by `JPKI_TEST_POSTGRES_URL`
//!   (default [`DEFAULT_POSTGRES_URL`]), selected through the connection's
//!   `search_path` and dropped with the [`TestDatabase`]; so tests run in parallel.
//!   When the server cannot be reached, [`TestDatabase::postgres`] writes
//!   `SKIPPED postgres: <reason>` to the process's stderr (past the test harness's
//!   capture) and returns `Ok(None)`; with `JPKI_REQUIRE_POSTGRES=1` it returns the
//!   error instead, so a CI job that promises PostgreSQL cannot silently skip it.
//!
//! This module only adds API; `Store` behaves the same with or without the feature.
//!
//! ```no_run
//! # async fn example() -> Result<(), jpki_store::StoreError> {
//! use jpki_store::testing;
//! let (store, _guard) = testing::sqlite_test_store().await?;
//! if let Some((pg_store, _pg_guard)) = testing::postgres_test_store().await? {
//!     // … the same assertions on `pg_store` …
//! #   drop(pg_store);
//! }
//! # drop(store);
//! # Ok(()) }
//! ```

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, Connection, SqliteConnection};

use crate::error::database_error;
use crate::store::{BackendKind, redact_url};
use crate::{Store, StoreError};

/// Environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_ENV: &str = "JPKI_TEST_POSTGRES_URL";
/// Environment variable that, set to `1`, turns a skipped PostgreSQL test into a failure.
pub const REQUIRE_POSTGRES_ENV: &str = "JPKI_REQUIRE_POSTGRES";
/// Used when [`POSTGRES_URL_ENV`] is not set (trust authentication on localhost).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Whether `JPKI_REQUIRE_POSTGRES` asks for PostgreSQL tests to fail rather than skip.
pub fn postgres_required() -> bool {
    std::env::var(REQUIRE_POSTGRES_ENV)
        .is_ok_and(|value| matches!(value.trim(), "1" | "true" | "yes"))
}

/// The PostgreSQL URL tests use.
pub fn postgres_url() -> String {
    std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// The usage log's pseudonym key of every test store: 32 bytes of 0x5a (a test value,
/// never a secret).
pub fn test_pseudonym_key() -> Result<jpki_log::PseudonymKey, StoreError> {
    jpki_log::PseudonymKey::from_bytes(&[0x5a; 32])
        .map_err(|error| StoreError::Invalid(error.to_string()))
}

/// A SQLite test store on a fresh file; the guard removes the file.
pub async fn sqlite_test_store() -> Result<(Store, TestDatabase), StoreError> {
    let database = TestDatabase::sqlite()?;
    let store = database.open().await?;
    Ok((store, database))
}

/// A PostgreSQL test store in a fresh schema; the guard drops the schema. `Ok(None)`
/// (after a `SKIPPED postgres:` line on stderr) when the server is unreachable, unless
/// PostgreSQL is required.
pub async fn postgres_test_store() -> Result<Option<(Store, TestDatabase)>, StoreError> {
    let Some(database) = TestDatabase::postgres().await? else {
        return Ok(None);
    };
    let store = database.open().await?;
    Ok(Some((store, database)))
}

/// An empty, private database for one test. Open stores on it with
/// [`TestDatabase::open`] (as often as needed: each call is a new pool on the same
/// data). Dropping it deletes the data.
pub struct TestDatabase {
    target: Target,
}

enum Target {
    Sqlite {
        // Held for its Drop, which deletes the directory.
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        /// Connects to the test database, default schema.
        admin: Box<PgConnectOptions>,
        /// The same, with `search_path` set to the test schema.
        scoped: Box<PgConnectOptions>,
        schema: String,
        location: String,
    },
}

impl fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Sqlite { path, .. } => f
                .debug_struct("TestDatabase")
                .field("backend", &BackendKind::Sqlite)
                .field("path", path)
                .finish(),
            Target::Postgres {
                schema, location, ..
            } => f
                .debug_struct("TestDatabase")
                .field("backend", &BackendKind::Postgres)
                .field("location", location)
                .field("schema", schema)
                .finish(),
        }
    }
}

impl TestDatabase {
    /// A temporary directory that will hold `jpki.db` once a store is opened.
    pub fn sqlite() -> Result<Self, StoreError> {
        let dir = tempfile::Builder::new()
            .prefix("jpki-store-test-")
            .tempdir()
            .map_err(|source| StoreError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let path = dir.path().join("jpki.db");
        Ok(Self {
            target: Target::Sqlite { _dir: dir, path },
        })
    }

    /// A fresh, empty schema on the test server, or `Ok(None)` if the server is
    /// unreachable and PostgreSQL is not required.
    pub async fn postgres() -> Result<Option<Self>, StoreError> {
        let url = postgres_url();
        let location = redact_url(&url);
        match Self::create_schema(&url, &location).await {
            Ok(database) => Ok(Some(database)),
            Err(error) if !postgres_required() => {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED postgres: {error} (set {REQUIRE_POSTGRES_ENV}=1 to fail instead)"
                );
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    async fn create_schema(url: &str, location: &str) -> Result<Self, StoreError> {
        let open_error = |message: String| StoreError::Open {
            location: location.to_owned(),
            message,
        };
        let admin = PgConnectOptions::from_str(url)
            .map_err(|error| open_error(format!("bad {POSTGRES_URL_ENV}: {error}")))?;
        let mut connection =
            tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&admin))
                .await
                .map_err(|_| open_error(format!("no answer within {CONNECT_TIMEOUT:?}")))?
                .map_err(|error| open_error(database_error("connect", error).to_string()))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let schema = format!(
            "jpki_test_{}_{}_{nanos:x}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        // The name is made of [a-z0-9_] only, so quoting it is enough.
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut connection)
            .await
            .map_err(|error| open_error(database_error("create schema", error).to_string()))?;
        let _ = connection.close().await;
        let scoped = admin.clone().options([("search_path", schema.as_str())]);
        Ok(Self {
            target: Target::Postgres {
                admin: Box::new(admin),
                scoped: Box::new(scoped),
                location: format!("{location} (schema {schema})"),
                schema,
            },
        })
    }

    pub fn backend_kind(&self) -> BackendKind {
        match self.target {
            Target::Sqlite { .. } => BackendKind::Sqlite,
            Target::Postgres { .. } => BackendKind::Postgres,
        }
    }

    /// The SQLite file, for a SQLite test database.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.target {
            Target::Sqlite { path, .. } => Some(path),
            Target::Postgres { .. } => None,
        }
    }

    /// The schema, for a PostgreSQL test database.
    pub fn postgres_schema(&self) -> Option<&str> {
        match &self.target {
            Target::Postgres { schema, .. } => Some(schema),
            Target::Sqlite { .. } => None,
        }
    }

    /// Opens a store on this database (migrating it, as [`Store::open`] does), with the
    /// usage log's pseudonym key set to [`test_pseudonym_key`].
    pub async fn open(&self) -> Result<Store, StoreError> {
        let store = match &self.target {
            Target::Sqlite { path, .. } => Store::open_sqlite(path).await?,
            Target::Postgres {
                scoped, location, ..
            } => Store::open_postgres_with(scoped.as_ref().clone(), location.clone()).await?,
        };
        store.set_log_pseudonym_key(test_pseudonym_key()?)?;
        Ok(store)
    }

    /// Opens a store on this database without the usage log's pseudonym key (as a
    /// process that was not given it): a person's first usage entry is refused.
    pub async fn open_without_log_key(&self) -> Result<Store, StoreError> {
        match &self.target {
            Target::Sqlite { path, .. } => Store::open_sqlite(path).await,
            Target::Postgres {
                scoped, location, ..
            } => Store::open_postgres_with(scoped.as_ref().clone(), location.clone()).await,
        }
    }

    /// Runs SQL on this database over a connection of its own, bypassing the store:
    /// for tests that must break or inspect the schema (triggers, a future
    /// `schema_migrations` row). Several statements are allowed.
    pub async fn execute_unchecked(&self, sql: &str) -> Result<(), StoreError> {
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.target {
            Target::Sqlite { path, .. } => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .foreign_keys(true);
                let mut connection = SqliteConnection::connect_with(&options)
                    .await
                    .map_err(|error| database_error("execute_unchecked", error))?;
                sqlx::raw_sql(sql)
                    .execute(&mut connection)
                    .await
                    .map_err(|error| database_error("execute_unchecked", error))?;
                let _ = connection.close().await;
            }
            Target::Postgres { scoped, .. } => {
                let mut connection = PgConnection::connect_with(scoped.as_ref())
                    .await
                    .map_err(|error| database_error("execute_unchecked", error))?;
                sqlx::raw_sql(sql)
                    .execute(&mut connection)
                    .await
                    .map_err(|error| database_error("execute_unchecked", error))?;
                let _ = connection.close().await;
            }
        }
        Ok(())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Target::Postgres { admin, schema, .. } = &self.target else {
            return;
        };
        // Drop cannot await, and may run inside a runtime that must not be blocked on
        // itself: do the work on a thread with its own small runtime, and wait for it.
        let admin = admin.as_ref().clone();
        let schema = schema.clone();
        let worker = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                let mut connection = PgConnection::connect_with(&admin)
                    .await
                    .map_err(|error| database_error("drop schema", error).to_string())?;
                let sql =
                    format!("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&mut connection)
                    .await
                    .map_err(|error| database_error("drop schema", error).to_string())?;
                let _ = connection.close().await;
                Ok(())
            })
        });
        let outcome = worker
            .join()
            .unwrap_or_else(|_| Err("the clean-up thread panicked".into()));
        if let Err(message) = outcome {
            let _ = writeln!(
                std::io::stderr(),
                "warning: could not drop test schema {}: {message}",
                self.postgres_schema().unwrap_or_default()
            );
        }
    }
}

/// Bulk-loads `count` revoked phone authentication certificates of `issuer` into CRL
/// shard `shard` (random 16-byte serials, a one-byte placeholder DER), held by `device`
/// of `resident` (both recorded first), revoked at `at` with reason keyCompromise and
/// valid until `not_after`: the population of a CRL benchmark, in one statement per
/// table instead of a transaction per certificate. Certificates are told apart by `at`:
/// call it with a new `at` for each batch. Returns how many were loaded.
/// What [`bulk_revoked_certificates`] loads.
#[derive(Debug, Clone)]
pub struct BulkRevoked<'a> {
    pub issuer: &'a str,
    pub shard: u32,
    pub count: u64,
    pub resident: crate::ResidentId,
    pub device: &'a str,
    pub at: time::OffsetDateTime,
    pub not_after: time::OffsetDateTime,
}

pub async fn bulk_revoked_certificates(
    store: &Store,
    bulk: &BulkRevoked<'_>,
) -> Result<u64, StoreError> {
    let BulkRevoked {
        issuer,
        shard,
        count,
        resident,
        device,
        at,
        not_after,
    } = bulk.clone();
    use crate::codec::to_micros;
    use crate::error::db;
    use crate::store::BackendPool;
    let at = to_micros(at)?;
    let not_after = to_micros(not_after)?;
    let count = i64::try_from(count).map_err(|_| StoreError::Invalid("count".into()))?;
    // New serials are marked by their reservation time, so that only they become
    // certificates.
    let random_serial = match store.backend_kind() {
        BackendKind::Sqlite => "randomblob(16)",
        BackendKind::Postgres => "decode(md5(random()::text || x::text), 'hex')",
    };
    let serials = format!(
        "INSERT INTO serials (issuer_name, serial, reserved_at) \
         WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $2) \
         SELECT $1, {random_serial}, $3 FROM n"
    );
    let certificates = "INSERT INTO certificates \
         (issuer_name, serial, kind, resident_id, card_id, device_id, subject_cn, not_before, \
          not_after, der, issued_at, renewal_of_issuer, renewal_of_serial, status, held_since, \
          revoked_at, revocation_reason, crl_shard, status_changed_at) \
         SELECT issuer_name, serial, 'phone_auth', $2, NULL, $3, 'BENCH', $4, $5, $6, $4, NULL, \
          NULL, 'revoked', NULL, $4, 1, $7, $4 FROM serials WHERE issuer_name = $1 AND reserved_at = $4";
    let loaded = crate::store::dispatch!(store, |pool| {
        let mut tx = pool.begin_write().await.map_err(db("bulk_revoked"))?;
        sqlx::query(AssertSqlSafe(serials.as_str()))
            .bind(issuer)
            .bind(count)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db("bulk_revoked"))?;
        let result = sqlx::query(certificates)
            .bind(issuer)
            .bind(resident.0)
            .bind(device)
            .bind(at)
            .bind(not_after)
            .bind(vec![0x30u8])
            .bind(i64::from(shard))
            .execute(&mut *tx)
            .await
            .map_err(db("bulk_revoked"))?;
        tx.commit().await.map_err(db("bulk_revoked"))?;
        result.rows_affected()
    });
    // A steady state for what is measured next: the bulk load's pages moved from the
    // WAL into the database file.
    if let crate::store::Backend::Sqlite(pool, _) = &store.backend {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await
            .map_err(db("bulk_revoked"))?;
    }
    Ok(loaded)
}
