//! [`Store`]: one handle over either backend, how it is opened, and the machinery
//! that lets each query be written once and compiled for both.

use std::fmt;
use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection, Database, Postgres, Row, Sqlite, Transaction};

use crate::error::{StoreError, db};

/// Rows SQLite's worker thread may queue for the reader (sqlx's default is 50).
const SQLITE_ROW_CHANNEL: usize = 4096;
/// How long a SQLite connection waits for another writer before giving up.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Pool sizes: SQLite serialises writers anyway; PostgreSQL is shared by processes.
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long opening a PostgreSQL store waits for the server's first answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Key of the PostgreSQL advisory lock held while migrating ("jpkistor" in ASCII).
pub(crate) const MIGRATION_LOCK_KEY: i64 = 0x6a70_6b69_7374_6f72;

/// Whether a SQLite result code is `SQLITE_BUSY` or `SQLITE_LOCKED`, with any extended
/// code (recovery, snapshot, timeout).
fn is_busy_code(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
}

/// A store error for SQLite's `SQLITE_BUSY` or `SQLITE_LOCKED`.
pub(crate) fn is_busy_error(error: &StoreError) -> bool {
    matches!(error, StoreError::Database { code: Some(code), .. } if is_busy_code(code))
}

/// An sqlx error for SQLite's `SQLITE_BUSY` or `SQLITE_LOCKED`.
fn is_sqlite_busy(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(error) = error else {
        return false;
    };
    error.code().is_some_and(|code| is_busy_code(&code))
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone)]
pub(crate) enum Backend {
    /// sqlx's pool, and the readers of `dispatch_read!`.
    Sqlite(SqlitePool, Arc<crate::direct::DirectReaders>),
    Postgres(PgPool),
}

/// The store: a connection pool to SQLite or PostgreSQL, implementing every consumer
/// trait. Cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// The usage log's pseudonym key (`crate::usage`), shared by every clone.
    pub(crate) log_pseudonym: Arc<std::sync::OnceLock<jpki_log::PseudonymKey>>,
    /// Where the database is, fit to print (passwords redacted).
    location: Arc<str>,
    /// The writer that commits accepted applications in groups (`crate::accept`).
    pub(crate) group_commit: Arc<crate::accept::GroupCommit>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_kind())
            .field("location", &self.location)
            .finish()
    }
}

/// Runs `$body` with `$pool` bound to the backend's pool. The body is compiled once per
/// backend, so the same SQL text and code serve both; only the pool type differs.
macro_rules! dispatch {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool, _) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use dispatch;

/// As [`dispatch`], for the point reads on the request path: on SQLite `$pool` is a
/// reader on the calling thread (`crate::direct::DirectReaders`) and `$query` is
/// `crate::direct::query`; on PostgreSQL the pool and `sqlx::query`. The body is
/// written once for both.
///
/// The calling thread is a runtime worker, so a reader never waits for a lock: it
/// answers `SQLITE_BUSY` at once (a connection holding the database exclusively, WAL
/// recovery), and the read is then made again through sqlx's pool, whose connection
/// threads wait out the busy timeout.
macro_rules! dispatch_read {
    ($store:expr, $operation:expr, |$pool:ident, $query:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite(sqlx_pool, readers) => {
                if sqlx_pool.is_closed() {
                    return Err($crate::error::StoreError::Database {
                        operation: $operation,
                        code: None,
                        message: "the store is closed".into(),
                    });
                }
                let direct = async {
                    let mut reader = readers.take().map_err($crate::error::db($operation))?;
                    let $pool = reader.connection().map_err($crate::error::db($operation))?;
                    use $crate::direct::query as $query;
                    $body
                }
                .await;
                match direct {
                    Err(error) if $crate::store::is_busy_error(&error) => {
                        let $pool = sqlx_pool;
                        use sqlx::query as $query;
                        $body
                    }
                    answered => answered,
                }
            }
            $crate::store::Backend::Postgres($pool) => {
                use sqlx::query as $query;
                $body
            }
        }
    };
}
pub(crate) use dispatch_read;

impl Store {
    /// Opens (creating it if needed) the database at `url` and applies pending
    /// migrations.
    ///
    /// - `postgres://…` or `postgresql://…`: PostgreSQL (libpq-style URL, as sqlx reads
    ///   it; `?options=-c%20search_path%3Dname` selects a schema).
    /// - `sqlite:///abs/path/jpki.db`, `sqlite:relative/path.db`, or a plain path:
    ///   SQLite. No query parameters; in-memory databases are refused (the store
    ///   promises durability).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        match parse_location(url)? {
            Location::Sqlite(path) => Self::open_sqlite(&path).await,
            Location::Postgres => {
                let options = PgConnectOptions::from_str(url).map_err(|error| {
                    StoreError::UnsupportedLocation {
                        location: redact_url(url),
                        reason: scrub(url, &error.to_string()),
                    }
                })?;
                Self::open_postgres_with(options, redact_url(url)).await
            }
        }
    }

    /// Opens (creating it and its directory if needed) the SQLite database at `path`
    /// and applies pending migrations. A new file is created readable by its owner
    /// only: it holds personal data.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let location = path.display().to_string();
        create_private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            // Rows cross from SQLite's worker thread in batches this large before it
            // waits for the reader: a full CRL streams a million of them.
            .row_buffer_size(SQLITE_ROW_CHANNEL);
        // Processes that open a new database at the same moment race to create it and
        // switch it to WAL; SQLite answers the loser "database is locked" at once, not
        // after its busy timeout. The first connection is retried for that long.
        let deadline = std::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
        let pool = loop {
            let connected = SqlitePoolOptions::new()
                .max_connections(SQLITE_MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
                .await;
            match connected {
                Ok(pool) => break pool,
                Err(error) if is_sqlite_busy(&error) && std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(error) => {
                    return Err(StoreError::Open {
                        location,
                        message: crate::error::database_error("open", error).to_string(),
                    });
                }
            }
        };
        let readers = crate::direct::DirectReaders::new(path.to_path_buf());
        let store = Store {
            backend: Backend::Sqlite(pool, Arc::new(readers)),
            log_pseudonym: Arc::default(),
            location: location.into(),
            group_commit: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens a PostgreSQL store from ready-made options (the `testing` module uses this
    /// to pin a schema). `location` must already be redacted.
    pub(crate) async fn open_postgres_with(
        options: PgConnectOptions,
        location: String,
    ) -> Result<Store, StoreError> {
        // Probe with one plain connection first: the pool retries a refused
        // connection until its acquire timeout, which would turn a wrong URL or a
        // stopped server into a 30-second wait instead of an immediate error.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| StoreError::Open {
                location: location.clone(),
                message: format!("no answer within {CONNECT_TIMEOUT:?}"),
            })?
            .map_err(|error| StoreError::Open {
                location: location.clone(),
                message: crate::error::database_error("open", error).to_string(),
            })?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|error| StoreError::Open {
                location: location.clone(),
                message: crate::error::database_error("open", error).to_string(),
            })?;
        let store = Store {
            backend: Backend::Postgres(pool),
            log_pseudonym: Arc::default(),
            location: location.into(),
            group_commit: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend_kind(&self) -> BackendKind {
        match self.backend {
            Backend::Sqlite(..) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// The database's location, safe to print (a password in a URL is redacted).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The latest migration applied to the database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        dispatch!(self, |pool| {
            let row =
                sqlx::query("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations")
                    .fetch_one(pool)
                    .await
                    .map_err(db("schema_version"))?;
            row.int("version")
        })
    }

    /// Closes every connection; later calls fail. Dropping the last clone also closes
    /// the pool, but without waiting.
    pub async fn close(&self) {
        dispatch!(self, |pool| pool.close().await);
        // After the pool: a writer started meanwhile would find it open.
        self.stop_writer();
        if let Backend::Sqlite(_, readers) = &self.backend {
            readers.close();
        }
    }
}

/// Creates the SQLite file (and its directory) if missing, mode 0600 on Unix, so the
/// personal data in it is not world-readable whatever the umask.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(io(error)),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Location {
    Sqlite(PathBuf),
    Postgres,
}

fn parse_location(url: &str) -> Result<Location, StoreError> {
    let unsupported = |reason: &str| StoreError::UnsupportedLocation {
        location: redact_url(url),
        reason: reason.to_owned(),
    };
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return Ok(Location::Postgres);
    }
    let path = if lower.starts_with("sqlite://") {
        &url.trim_start()["sqlite://".len()..]
    } else if lower.starts_with("sqlite:") {
        &url.trim_start()["sqlite:".len()..]
    } else if let Some(scheme_end) = url.find("://") {
        let scheme = &url[..scheme_end];
        if scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err(unsupported(
                "only postgres://, postgresql:// and sqlite: URLs (or a plain file path) are supported",
            ));
        }
        url
    } else {
        url
    };
    if path.is_empty() {
        return Err(unsupported("the SQLite URL names no file"));
    }
    if path.contains('?') {
        return Err(unsupported(
            "SQLite URLs take no query parameters (the store sets WAL, synchronous=FULL and foreign keys itself)",
        ));
    }
    if path == ":memory:" {
        return Err(unsupported(
            "in-memory SQLite is not supported: the store promises that committed data survives",
        ));
    }
    Ok(Location::Sqlite(PathBuf::from(path)))
}

/// `url` with any password replaced by `***`: the userinfo password
/// (`postgres://user:secret@host`) and `password=` / `sslpassword=` query parameters.
/// Anything that is not a URL is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..authority_start]);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[authority_len..];
    let (before_query, query_and_fragment) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    out.push_str(before_query);
    if let Some(query_and_fragment) = query_and_fragment {
        let (query, fragment) = match query_and_fragment.find('#') {
            Some(h) => (&query_and_fragment[..h], Some(&query_and_fragment[h..])),
            None => (query_and_fragment, None),
        };
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_parameter(key) => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
        if let Some(fragment) = fragment {
            out.push_str(fragment);
        }
    }
    out
}

fn is_secret_parameter(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key == "password" || key == "sslpassword"
}

/// Removes the URL's password (raw and percent-decoded) from a message that may quote
/// it, e.g. an error from the URL parser.
fn scrub(url: &str, message: &str) -> String {
    let mut message = message.to_owned();
    for secret in url_secrets(url) {
        if secret.len() >= 3 {
            message = message.replace(&secret, "***");
        }
    }
    message
}

fn url_secrets(url: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@')
            && let Some((_, password)) = authority[..at].split_once(':')
        {
            secrets.push(password.to_owned());
        }
        if let Some(q) = rest.find('?') {
            for pair in rest[q + 1..].split(['&', '#']) {
                if let Some((key, value)) = pair.split_once('=')
                    && is_secret_parameter(key)
                {
                    secrets.push(value.to_owned());
                }
            }
        }
    }
    let decoded: Vec<String> = secrets.iter().map(|s| percent_decode(s)).collect();
    secrets.extend(decoded);
    secrets
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What differs between the backends beyond the pool type: how a write transaction
/// starts. Everything else is the same SQL.
pub(crate) trait BackendPool {
    type Db: Database;

    /// A transaction that will write. SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so that two writers never deadlock upgrading a read lock;
    /// PostgreSQL uses a plain `BEGIN` (READ COMMITTED), every statement being written
    /// so that it does not depend on a snapshot (conditional `UPDATE`s, UNIQUE
    /// constraints).
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;

    /// A write transaction that also excludes every other migrator of this database.
    async fn begin_migration(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BackendPool for SqlitePool {
    type Db = Sqlite;

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }

    async fn begin_migration(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        // The write lock already excludes other migrators, in this process or another.
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BackendPool for PgPool {
    type Db = Postgres;

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin().await
    }

    async fn begin_migration(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.begin().await?;
        // `CREATE TABLE IF NOT EXISTS` would otherwise send a NOTICE on every open.
        sqlx::query("SET LOCAL client_min_messages = warning")
            .execute(&mut *tx)
            .await?;
        // Held until commit or rollback; concurrent first opens queue here instead of
        // racing to create the same tables.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// Typed column access with the store's error, for both backends' rows.
pub(crate) trait RowExt {
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError>;
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

macro_rules! impl_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn int(&self, column: &str) -> Result<i64, StoreError> {
                self.try_get::<i64, _>(column)
                    .map_err(|e| StoreError::corrupt(column, e))
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
                self.try_get::<Option<i64>, _>(column)
                    .map_err(|e| StoreError::corrupt(column, e))
            }
            fn text(&self, column: &str) -> Result<String, StoreError> {
                self.try_get::<String, _>(column)
                    .map_err(|e| StoreError::corrupt(column, e))
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
                self.try_get::<Option<String>, _>(column)
                    .map_err(|e| StoreError::corrupt(column, e))
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
                self.try_get::<Vec<u8>, _>(column)
                    .map_err(|e| StoreError::corrupt(column, e))
            }
            fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
                self.try_get::<Option<Vec<u8>>, _>(column)
                    .map_err(|e| StoreError::corrupt(column, e))
            }
        }
    };
}

impl_row_ext!(SqliteRow);
impl_row_ext!(PgRow);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_select_the_backend() {
        assert_eq!(
            parse_location("sqlite:///abs/path/jpki.db").unwrap(),
            Location::Sqlite(PathBuf::from("/abs/path/jpki.db"))
        );
        assert_eq!(
            parse_location("sqlite:relative/path.db").unwrap(),
            Location::Sqlite(PathBuf::from("relative/path.db"))
        );
        assert_eq!(
            parse_location("SQLite:x.db").unwrap(),
            Location::Sqlite(PathBuf::from("x.db"))
        );
        assert_eq!(
            parse_location("data/jpki.db").unwrap(),
            Location::Sqlite(PathBuf::from("data/jpki.db"))
        );
        assert_eq!(
            parse_location("postgres://u:p@h/db").unwrap(),
            Location::Postgres
        );
        assert_eq!(
            parse_location("postgresql://h/db").unwrap(),
            Location::Postgres
        );
        for bad in [
            "mysql://u:secret@h/db",
            "sqlite:",
            "sqlite::memory:",
            "sqlite://x.db?mode=rwc",
        ] {
            let error = parse_location(bad).unwrap_err();
            assert!(
                matches!(error, StoreError::UnsupportedLocation { .. }),
                "{bad}: {error}"
            );
            assert!(!error.to_string().contains("secret"), "{error}");
        }
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        let cases = [
            (
                "postgres://jpki:s3cret@db.example:5432/jpki",
                "postgres://jpki:***@db.example:5432/jpki",
            ),
            (
                "postgresql://jpki@db/jpki?password=s3cret&sslmode=disable",
                "postgresql://jpki@db/jpki?password=***&sslmode=disable",
            ),
            (
                "postgres://a:b%40c@h/d?PassWord=x#frag",
                "postgres://a:***@h/d?PassWord=***#frag",
            ),
            ("postgres://h/d", "postgres://h/d"),
            ("/var/lib/jpki/jpki.db", "/var/lib/jpki/jpki.db"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact_url(url), expected, "{url}");
        }
    }

    #[tokio::test]
    async fn sqlite_connections_are_configured_for_durability() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("jpki.db"))
            .await
            .unwrap();
        let Backend::Sqlite(pool, _) = &store.backend else {
            panic!("a SQLite store");
        };
        let mut connection = pool.acquire().await.unwrap();
        let mut pragma = async |name: &'static str| -> String {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
                .fetch_one(&mut *connection)
                .await
                .unwrap();
            row.try_get::<String, _>(0)
                .or_else(|_| row.try_get::<i64, _>(0).map(|value| value.to_string()))
                .unwrap()
        };
        assert_eq!(pragma("journal_mode").await, "wal");
        assert_eq!(pragma("synchronous").await, "2", "2 is FULL");
        assert_eq!(pragma("foreign_keys").await, "1");
        assert_eq!(pragma("busy_timeout").await, "10000");
    }

    #[test]
    fn scrub_removes_raw_and_decoded_passwords() {
        let url = "postgres://u:p%40ssword@h/d";
        let message = scrub(url, "bad p%40ssword or p@ssword");
        assert_eq!(message, "bad *** or ***");
    }
}
