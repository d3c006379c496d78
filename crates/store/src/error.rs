//! The crate's one error type, and the single place where `sqlx` errors become it.

use std::path::PathBuf;

use jpki_model::SerialNumber;

use crate::records::ResidentId;

/// Everything a store operation can fail with.
///
/// Messages never carry personal data or secrets: a duplicate My Number is reported
/// without the number, database errors keep the server's primary message but not its
/// `DETAIL` (PostgreSQL puts the offending key values there), and URLs are redacted.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule or a compare-and-set precondition failed; nothing was changed.
    #[error("conflict: {what}")]
    Conflict { what: String },

    /// The record an operation acts on (or refers to) does not exist.
    #[error("{what} not found")]
    NotFound { what: String },

    /// The resident has died; the registry accepts no further change for them.
    #[error("resident {0} is deceased; no further change is accepted")]
    ResidentDeceased(ResidentId),

    /// A certificate was recorded under a serial that was never reserved: the CA must
    /// persist the serial before signing.
    #[error(
        "serial {serial} was not reserved for issuer {issuer:?} before the certificate was recorded"
    )]
    SerialNotReserved {
        issuer: String,
        serial: SerialNumber,
    },

    /// A certificate was to be recorded under a serial already used for its issuer
    /// (a collision of random serials): nothing was written; the CA signs again under
    /// a new serial.
    #[error("serial {serial} is already used for issuer {issuer:?}")]
    SerialInUse {
        issuer: String,
        serial: SerialNumber,
    },

    /// Consuming a nonce failed.
    #[error(transparent)]
    Nonce(#[from] NonceError),

    /// A person's first usage entry needs their pseudonymous log id, derived from the
    /// log's pseudonym key, which this store was not given.
    #[error(
        "the usage log's pseudonym key is not configured (Store::set_log_pseudonym_key; `jpki init` creates it in the data directory)"
    )]
    LogPseudonymKeyMissing,

    /// The caller passed something the store refuses before touching the database.
    #[error("invalid input: {0}")]
    Invalid(String),

    /// `Store::open` could not make sense of the location it was given.
    #[error("unsupported database location {location}: {reason}")]
    UnsupportedLocation { location: String, reason: String },

    /// The database could not be opened or reached (`location` is redacted).
    #[error("cannot open database {location}: {message}")]
    Open { location: String, message: String },

    /// The database was migrated by a newer program than this one.
    #[error(
        "database schema version {found} is newer than this program supports \
         (latest known: {supported}); run a jpki release at least as new as the one \
         that last migrated this database"
    )]
    SchemaTooNew { found: i64, supported: i64 },

    /// An applied migration differs from the one this program carries (edited after
    /// release, or a gap in the sequence).
    #[error("migration {version} does not match this program: {reason}")]
    MigrationMismatch { version: i64, reason: String },

    /// A stored value could not be turned back into a domain value.
    #[error("stored data is not valid ({what}): {message}")]
    Corrupt { what: String, message: String },

    /// The database reported an error (or could not be reached) during `operation`.
    #[error("database error during {operation}: {message}")]
    Database {
        operation: &'static str,
        /// SQLSTATE (PostgreSQL) or extended result code (SQLite), when there is one.
        code: Option<String>,
        message: String,
    },

    /// A file-system operation on the SQLite database's directory failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Why a nonce could not be consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    #[error("nonce unknown (never issued, or purged)")]
    Unknown,
    #[error("nonce already used")]
    AlreadyUsed,
    #[error("nonce expired")]
    Expired,
    #[error("nonce was issued for another purpose")]
    WrongPurpose,
}

impl StoreError {
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    pub(crate) fn conflict(what: impl Into<String>) -> Self {
        Self::Conflict { what: what.into() }
    }

    pub(crate) fn corrupt(what: impl Into<String>, message: impl ToString) -> Self {
        Self::Corrupt {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

/// The class of a database error, for the few cases that become typed errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DbErrorClass {
    UniqueViolation,
    ForeignKeyViolation,
    Other,
}

/// Converts a `sqlx` error without keeping it: a PostgreSQL error's `Debug` includes
/// its DETAIL, which names key values (a My Number, for instance).
pub(crate) fn database_error(operation: &'static str, error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => StoreError::Database {
            operation,
            code: db.code().map(|code| code.into_owned()),
            message: db.message().to_owned(),
        },
        other => StoreError::Database {
            operation,
            code: None,
            message: other.to_string(),
        },
    }
}

/// An error of a database driver: sqlx's, or rusqlite's for the writer's own SQLite
/// connection (`crate::direct`).
pub(crate) trait DriverError {
    fn class(&self) -> DbErrorClass;
    fn into_store(self, operation: &'static str) -> StoreError;
}

impl DriverError for sqlx::Error {
    fn class(&self) -> DbErrorClass {
        match self.as_database_error().map(|db| db.kind()) {
            Some(sqlx::error::ErrorKind::UniqueViolation) => DbErrorClass::UniqueViolation,
            Some(sqlx::error::ErrorKind::ForeignKeyViolation) => DbErrorClass::ForeignKeyViolation,
            _ => DbErrorClass::Other,
        }
    }

    fn into_store(self, operation: &'static str) -> StoreError {
        database_error(operation, self)
    }
}

impl DriverError for rusqlite::Error {
    fn class(&self) -> DbErrorClass {
        use rusqlite::ffi;
        match self.sqlite_error().map(|error| error.extended_code) {
            Some(ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
                DbErrorClass::UniqueViolation
            }
            Some(ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => DbErrorClass::ForeignKeyViolation,
            _ => DbErrorClass::Other,
        }
    }

    /// As sqlx reports SQLite's errors: the extended result code as the code, SQLite's
    /// message as the message.
    fn into_store(self, operation: &'static str) -> StoreError {
        match &self {
            rusqlite::Error::SqliteFailure(error, message) => StoreError::Database {
                operation,
                code: Some(error.extended_code.to_string()),
                message: message.clone().unwrap_or_else(|| error.to_string()),
            },
            other => StoreError::Database {
                operation,
                code: None,
                message: other.to_string(),
            },
        }
    }
}

/// `map_err` helper: every database error becomes [`StoreError::Database`].
pub(crate) fn db<E: DriverError>(operation: &'static str) -> impl Fn(E) -> StoreError {
    move |error| error.into_store(operation)
}

/// `map_err` helper for writes that may hit a UNIQUE constraint: that case becomes
/// [`StoreError::Conflict`] with the given description.
pub(crate) fn unique_conflict<E: DriverError>(
    operation: &'static str,
    what: &'static str,
) -> impl Fn(E) -> StoreError {
    move |error| match error.class() {
        DbErrorClass::UniqueViolation => StoreError::conflict(what),
        DbErrorClass::ForeignKeyViolation => StoreError::NotFound {
            what: format!("a record referred to by {operation}"),
        },
        DbErrorClass::Other => error.into_store(operation),
    }
}
