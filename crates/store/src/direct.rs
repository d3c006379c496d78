//! SQLite statements run on the calling thread: the group-commit writer's connection
//! (`crate::accept`) and the readers of the request path's point reads
//! (`crate::store::dispatch_read`).
//!
//! sqlx runs every SQLite connection on a worker thread of its own and hands each
//! statement over to it and each result back: two thread switches per statement, each
//! of which also waits for a core while the CA's signatures and the HTTP work keep both
//! busy (measured: about a dozen switches per phone application for its reads alone,
//! docs/benchmarks.md). This module runs the same statements on the calling thread
//! through rusqlite, over the same SQLite library sqlx links (`libsqlite3-sys`).
//!
//! It mirrors the small part of sqlx's API those statements use (`query`,
//! `QueryBuilder`, `raw_sql`, a transaction), so that the statements are written once
//! (the macros of `crate::accept` and `crate::usage`, `dispatch_read!`) and compiled for
//! sqlx's PostgreSQL and SQLite connections and for this one. Parameters follow sqlx's SQLite
//! conventions: `$N` (or `?N`) is the N-th bound value, a bare `?` the next one. The
//! futures are ready at once: nothing here waits for another thread.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags};
use sqlx::SqlSafeStr;

use crate::error::StoreError;
use crate::store::RowExt;

/// One SQLite connection used from a single thread.
pub(crate) struct DirectConnection {
    connection: Connection,
}

impl DirectConnection {
    /// Opens the existing database at `path` as the store's pool does: WAL, `synchronous
    /// = FULL`, foreign keys enforced, waiting `busy_timeout` for another writer; keeps up
    /// to `statement_cache` prepared statements.
    pub(crate) fn open(
        path: &Path,
        busy_timeout: Duration,
        statement_cache: usize,
    ) -> Result<Self, rusqlite::Error> {
        let connection = Self::open_existing(path, busy_timeout, statement_cache)?;
        let mode: String =
            connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                Some(format!(
                    "the database stays in journal mode {mode}, not WAL"
                )),
            ));
        }
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Self { connection })
    }

    /// Opens a connection for reads only (`query_only`), for `dispatch_read!`. It never
    /// waits for a lock: `SQLITE_BUSY` comes back at once, and the caller reads through
    /// sqlx's pool instead.
    pub(crate) fn open_reader(path: &Path) -> Result<Self, rusqlite::Error> {
        let connection = Self::open_existing(path, Duration::ZERO, READER_STATEMENT_CACHE)?;
        connection.pragma_update(None, "query_only", "ON")?;
        Ok(Self { connection })
    }

    /// The database at `path`, which must exist (the store's pool creates it).
    fn open_existing(
        path: &Path,
        busy_timeout: Duration,
        statement_cache: usize,
    ) -> Result<Connection, rusqlite::Error> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(busy_timeout)?;
        connection.set_prepared_statement_cache_capacity(statement_cache);
        Ok(connection)
    }

    /// Starts a transaction with `begin` (`BEGIN IMMEDIATE` for a writer).
    pub(crate) async fn begin_with(
        &mut self,
        begin: &'static str,
    ) -> Result<DirectTransaction<'_>, rusqlite::Error> {
        self.connection.execute_batch(begin)?;
        Ok(DirectTransaction {
            connection: self,
            open: true,
        })
    }

    /// Prepares (or takes from the cache) `sql`, binds `params` and steps through every
    /// row, handing each to `each`.
    fn run(
        &self,
        sql: &str,
        params: &[ValueRef<'_>],
        mut each: impl FnMut(&rusqlite::Row<'_>, &Arc<[String]>) -> Result<(), rusqlite::Error>,
    ) -> Result<u64, rusqlite::Error> {
        let mut statement = self.connection.prepare_cached(sql)?;
        let mut next = 0usize;
        for index in 1..=statement.parameter_count() {
            let position = match statement.parameter_name(index) {
                Some(name) => numbered(name)
                    .ok_or_else(|| rusqlite::Error::InvalidParameterName(name.to_owned()))?,
                None => next,
            };
            next = position + 1;
            let value = params
                .get(position)
                .ok_or(rusqlite::Error::InvalidParameterCount(
                    position + 1,
                    params.len(),
                ))?;
            statement.raw_bind_parameter(index, ToSqlOutput::Borrowed(*value))?;
        }
        let columns: Arc<[String]> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut rows = statement.raw_query();
        while let Some(row) = rows.next()? {
            each(row, &columns)?;
        }
        drop(rows);
        Ok(self.connection.changes())
    }
}

/// Prepared statements a reader keeps (a handful of point reads).
const READER_STATEMENT_CACHE: usize = 32;
/// Idle readers kept open; more are opened when more threads read at once, and closed
/// after use.
const IDLE_READERS: usize = 8;

/// The SQLite store's readers for point reads on the request path.
///
/// A read through sqlx's pool is handed to the connection's worker thread and its rows
/// handed back: for a lookup by primary key that takes a few dozen microseconds in
/// SQLite, the two thread switches cost more than the read (measured: about twelve
/// context switches per phone application for its four reads, docs/benchmarks.md). A
/// reader runs the statement on the calling thread instead. Only short index lookups go
/// this way: the calling thread is a runtime worker. WAL readers do not wait for the
/// writer, and a reader that would wait for a lock gives up at once.
pub(crate) struct DirectReaders {
    path: PathBuf,
    idle: Mutex<Vec<DirectConnection>>,
}

impl DirectReaders {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle reader, or a new one.
    pub(crate) fn take(&self) -> Result<Reader<'_>, rusqlite::Error> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match idle {
            Some(connection) => connection,
            None => DirectConnection::open_reader(&self.path)?,
        };
        Ok(Reader {
            readers: self,
            connection: Some(connection),
        })
    }

    /// Closes the idle readers (the store is closing).
    pub(crate) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

/// A reader taken from [`DirectReaders`]; it goes back when dropped.
pub(crate) struct Reader<'r> {
    readers: &'r DirectReaders,
    connection: Option<DirectConnection>,
}

impl Reader<'_> {
    pub(crate) fn connection(&mut self) -> Result<&mut DirectConnection, rusqlite::Error> {
        self.connection
            .as_mut()
            .ok_or(rusqlite::Error::InvalidQuery)
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let (Some(connection), Ok(mut idle)) = (self.connection.take(), self.readers.idle.lock())
            && idle.len() < IDLE_READERS
            // A reader left inside a transaction (it never is) would pin an old snapshot.
            && connection.connection.is_autocommit()
        {
            idle.push(connection);
        }
    }
}

/// The 0-based position of a `$N` or `?N` parameter.
fn numbered(name: &str) -> Option<usize> {
    let digits = name.strip_prefix('$').or_else(|| name.strip_prefix('?'))?;
    digits.parse::<usize>().ok()?.checked_sub(1)
}

/// A write transaction; rolled back when dropped without [`commit`](Self::commit).
pub(crate) struct DirectTransaction<'c> {
    connection: &'c mut DirectConnection,
    open: bool,
}

impl DirectTransaction<'_> {
    pub(crate) async fn commit(mut self) -> Result<(), rusqlite::Error> {
        self.open = false;
        self.connection.connection.execute_batch("COMMIT")
    }

    pub(crate) async fn rollback(mut self) -> Result<(), rusqlite::Error> {
        self.open = false;
        self.connection.connection.execute_batch("ROLLBACK")
    }
}

impl Drop for DirectTransaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // As sqlx's transactions: an abandoned transaction is rolled back. If even
            // that fails the connection is in an unknown state; the writer opens a new
            // one after any failure of the transaction itself.
            let _ = self.connection.connection.execute_batch("ROLLBACK");
        }
    }
}

impl Deref for DirectTransaction<'_> {
    type Target = DirectConnection;
    fn deref(&self) -> &DirectConnection {
        self.connection
    }
}

impl DerefMut for DirectTransaction<'_> {
    fn deref_mut(&mut self) -> &mut DirectConnection {
        self.connection
    }
}

/// A value a statement binds, borrowed from the caller.
pub(crate) trait Bind<'a> {
    fn value(self) -> ValueRef<'a>;
}

impl<'a> Bind<'a> for i64 {
    fn value(self) -> ValueRef<'a> {
        ValueRef::Integer(self)
    }
}

impl<'a> Bind<'a> for &'a str {
    fn value(self) -> ValueRef<'a> {
        ValueRef::Text(self.as_bytes())
    }
}

impl<'a> Bind<'a> for &'a String {
    fn value(self) -> ValueRef<'a> {
        ValueRef::Text(self.as_bytes())
    }
}

impl<'a> Bind<'a> for &'a [u8] {
    fn value(self) -> ValueRef<'a> {
        ValueRef::Blob(self)
    }
}

impl<'a> Bind<'a> for &'a Vec<u8> {
    fn value(self) -> ValueRef<'a> {
        ValueRef::Blob(self.as_slice())
    }
}

impl<'a, T: Bind<'a>> Bind<'a> for Option<T> {
    fn value(self) -> ValueRef<'a> {
        self.map_or(ValueRef::Null, Bind::value)
    }
}

/// A statement's text and its values, ready to run (as `sqlx::query`).
pub(crate) struct Query<'a> {
    sql: QueryText,
    params: Vec<ValueRef<'a>>,
}

enum QueryText {
    Sql(sqlx::SqlStr),
    Built(String),
}

impl QueryText {
    fn as_str(&self) -> &str {
        match self {
            Self::Sql(sql) => sql.as_str(),
            Self::Built(sql) => sql,
        }
    }
}

/// `sqlx::query` for a [`DirectConnection`].
pub(crate) fn query<'a>(sql: impl SqlSafeStr) -> Query<'a> {
    Query {
        sql: QueryText::Sql(sql.into_sql_str()),
        params: Vec::new(),
    }
}

/// What an executed statement did.
pub(crate) struct Done {
    rows: u64,
}

impl Done {
    pub(crate) fn rows_affected(&self) -> u64 {
        self.rows
    }
}

impl<'a> Query<'a> {
    pub(crate) fn bind(mut self, value: impl Bind<'a>) -> Self {
        self.params.push(value.value());
        self
    }

    pub(crate) async fn execute(
        self,
        connection: &mut DirectConnection,
    ) -> Result<Done, rusqlite::Error> {
        let rows = connection.run(self.sql.as_str(), &self.params, |_, _| Ok(()))?;
        Ok(Done { rows })
    }

    pub(crate) async fn fetch_all(
        self,
        connection: &mut DirectConnection,
    ) -> Result<Vec<DirectRow>, rusqlite::Error> {
        let mut all = Vec::new();
        connection.run(self.sql.as_str(), &self.params, |row, columns| {
            all.push(DirectRow::read(row, columns)?);
            Ok(())
        })?;
        Ok(all)
    }

    pub(crate) async fn fetch_optional(
        self,
        connection: &mut DirectConnection,
    ) -> Result<Option<DirectRow>, rusqlite::Error> {
        Ok(self.fetch_all(connection).await?.into_iter().next())
    }

    pub(crate) async fn fetch_one(
        self,
        connection: &mut DirectConnection,
    ) -> Result<DirectRow, rusqlite::Error> {
        self.fetch_optional(connection)
            .await?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)
    }
}

/// `sqlx::raw_sql` for a [`DirectConnection`]: statements without parameters, run in
/// order (savepoints).
pub(crate) fn raw_sql(sql: impl SqlSafeStr) -> RawSql {
    RawSql(sql.into_sql_str())
}

pub(crate) struct RawSql(sqlx::SqlStr);

impl RawSql {
    pub(crate) async fn execute(
        self,
        connection: &mut DirectConnection,
    ) -> Result<(), rusqlite::Error> {
        connection.connection.execute_batch(self.0.as_str())
    }
}

/// `sqlx::QueryBuilder` for a [`DirectConnection`]: text with `?` for each value bound,
/// in order.
pub(crate) struct QueryBuilder<'a> {
    sql: String,
    params: Vec<ValueRef<'a>>,
}

impl<'a> QueryBuilder<'a> {
    pub(crate) fn new(start: impl Into<String>) -> Self {
        Self {
            sql: start.into(),
            params: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write as _;
        let _ = write!(self.sql, "{sql}");
        self
    }

    pub(crate) fn push_bind(&mut self, value: impl Bind<'a>) -> &mut Self {
        self.sql.push('?');
        self.params.push(value.value());
        self
    }

    pub(crate) fn separated<'b>(&'b mut self, separator: &'static str) -> Separated<'b, 'a> {
        Separated {
            builder: self,
            separator,
            first: true,
        }
    }

    /// `VALUES (…), (…)`: one parenthesised tuple per item, written by `tuple`.
    pub(crate) fn push_values<I: IntoIterator>(
        &mut self,
        items: I,
        mut tuple: impl FnMut(Separated<'_, 'a>, I::Item),
    ) -> &mut Self {
        self.sql.push_str("VALUES ");
        for (index, item) in items.into_iter().enumerate() {
            if index > 0 {
                self.sql.push_str(", ");
            }
            self.sql.push('(');
            tuple(self.separated(", "), item);
            self.sql.push(')');
        }
        self
    }

    pub(crate) fn build(&mut self) -> Query<'a> {
        Query {
            sql: QueryText::Built(std::mem::take(&mut self.sql)),
            params: std::mem::take(&mut self.params),
        }
    }
}

/// Parts of a [`QueryBuilder`] list, `separator` between them.
pub(crate) struct Separated<'b, 'a> {
    builder: &'b mut QueryBuilder<'a>,
    separator: &'static str,
    first: bool,
}

impl<'a> Separated<'_, 'a> {
    fn separate(&mut self) {
        if !self.first {
            self.builder.sql.push_str(self.separator);
        }
        self.first = false;
    }

    pub(crate) fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.separate();
        self.builder.push(sql);
        self
    }

    pub(crate) fn push_unseparated(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.builder.push(sql);
        self
    }

    pub(crate) fn push_bind(&mut self, value: impl Bind<'a>) -> &mut Self {
        self.separate();
        self.builder.push_bind(value);
        self
    }

    pub(crate) fn push_bind_unseparated(&mut self, value: impl Bind<'a>) -> &mut Self {
        self.builder.push_bind(value);
        self
    }
}

/// A row read from a [`DirectConnection`], owned.
pub(crate) struct DirectRow {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl DirectRow {
    fn read(row: &rusqlite::Row<'_>, columns: &Arc<[String]>) -> Result<Self, rusqlite::Error> {
        let mut values = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            values.push(Value::try_from(row.get_ref(index)?)?);
        }
        Ok(Self {
            columns: Arc::clone(columns),
            values,
        })
    }

    fn get(&self, column: &str) -> Result<&Value, StoreError> {
        self.columns
            .iter()
            .position(|name| name == column)
            .and_then(|index| self.values.get(index))
            .ok_or_else(|| StoreError::corrupt(column, "no such column in the row"))
    }
}

fn mismatch(column: &str, wanted: &str, found: &Value) -> StoreError {
    let found = match found {
        Value::Null => "NULL",
        Value::Integer(_) => "INTEGER",
        Value::Real(_) => "REAL",
        Value::Text(_) => "TEXT",
        Value::Blob(_) => "BLOB",
    };
    StoreError::corrupt(column, format!("expected {wanted}, found {found}"))
}

impl RowExt for DirectRow {
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        match self.get(column)? {
            Value::Integer(value) => Ok(*value),
            other => Err(mismatch(column, "INTEGER", other)),
        }
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Integer(value) => Ok(Some(*value)),
            other => Err(mismatch(column, "INTEGER", other)),
        }
    }

    fn text(&self, column: &str) -> Result<String, StoreError> {
        match self.get(column)? {
            Value::Text(value) => Ok(value.clone()),
            other => Err(mismatch(column, "TEXT", other)),
        }
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Text(value) => Ok(Some(value.clone())),
            other => Err(mismatch(column, "TEXT", other)),
        }
    }

    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        match self.get(column)? {
            Value::Blob(value) => Ok(value.clone()),
            other => Err(mismatch(column, "BLOB", other)),
        }
    }

    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Blob(value) => Ok(Some(value.clone())),
            other => Err(mismatch(column, "BLOB", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> DirectConnection {
        DirectConnection {
            connection: Connection::open_in_memory().unwrap(),
        }
    }

    /// A database file with `schema` applied through a writer connection, which is
    /// returned with the file's directory (deleted when dropped) and its path.
    async fn file_database(schema: &str) -> (tempfile::TempDir, PathBuf, DirectConnection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("direct.db");
        // An empty file is an empty database (the store's pool creates it in practice).
        std::fs::File::create(&path).unwrap();
        let mut writer = DirectConnection::open(&path, Duration::from_secs(1), 8).unwrap();
        raw_sql(sqlx::AssertSqlSafe(schema.to_owned()))
            .execute(&mut writer)
            .await
            .unwrap();
        (dir, path, writer)
    }

    #[tokio::test]
    async fn numbered_parameters_bind_by_number_in_any_order() {
        let mut connection = memory();
        raw_sql("CREATE TABLE t (a INTEGER, b TEXT, c BLOB)")
            .execute(&mut connection)
            .await
            .unwrap();
        let done = query("INSERT INTO t (c, a, b) VALUES ($3, $1, $2), ($3, $1 + 1, $2)")
            .bind(7)
            .bind("seven")
            .bind(&b"\x07"[..])
            .execute(&mut connection)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 2);
        let rows = query("SELECT a, b, c FROM t WHERE b = ?1 ORDER BY a")
            .bind("seven")
            .fetch_all(&mut connection)
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].int("a").unwrap(), 7);
        assert_eq!(rows[1].int("a").unwrap(), 8);
        assert_eq!(rows[1].text("b").unwrap(), "seven");
        assert_eq!(rows[1].bytes("c").unwrap(), b"\x07");
        // A value of another type, or a column the row lacks, is an error, not a panic.
        assert!(matches!(rows[0].text("a"), Err(StoreError::Corrupt { .. })));
        assert!(matches!(rows[0].int("d"), Err(StoreError::Corrupt { .. })));
        // Too few values: SQLite's error, nothing written.
        let short = query("INSERT INTO t (a, b) VALUES ($1, $2)")
            .bind(1)
            .execute(&mut connection)
            .await;
        assert!(short.is_err());
    }

    #[tokio::test]
    async fn the_builder_writes_tuples_and_lists() {
        let mut connection = memory();
        raw_sql("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
            .execute(&mut connection)
            .await
            .unwrap();
        let items = [(1, Some("one")), (2, None), (3, Some("three"))];
        let mut insert = QueryBuilder::new("INSERT INTO t (a, b) ");
        insert.push_values(&items, |mut row, (a, b)| {
            row.push_bind(*a).push_bind(*b);
        });
        insert.push(" RETURNING a");
        let returned = insert.build().fetch_all(&mut connection).await.unwrap();
        assert_eq!(returned.len(), 3);
        let mut select = QueryBuilder::new("SELECT a, b FROM t WHERE ");
        let mut any = select.separated(" OR ");
        for a in [1, 2] {
            any.push("(a = ")
                .push_bind_unseparated(a)
                .push_unseparated(")");
        }
        select.push(" ORDER BY a");
        let rows = select.build().fetch_all(&mut connection).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].opt_text("b").unwrap().as_deref(), Some("one"));
        assert_eq!(rows[1].opt_text("b").unwrap(), None);
        assert!(
            query("SELECT a FROM t WHERE a = 9")
                .fetch_one(&mut connection)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back() {
        let mut connection = memory();
        raw_sql("CREATE TABLE t (a INTEGER)")
            .execute(&mut connection)
            .await
            .unwrap();
        {
            let mut tx = connection.begin_with("BEGIN IMMEDIATE").await.unwrap();
            query("INSERT INTO t (a) VALUES (1)")
                .execute(&mut tx)
                .await
                .unwrap();
        }
        let tx = connection.begin_with("BEGIN IMMEDIATE").await.unwrap();
        tx.commit().await.unwrap();
        let count = query("SELECT COUNT(*) AS n FROM t")
            .fetch_one(&mut connection)
            .await
            .unwrap();
        assert_eq!(count.int("n").unwrap(), 0);
    }

    #[tokio::test]
    async fn readers_read_what_is_committed_and_write_nothing() {
        let (_dir, path, mut writer) = file_database("CREATE TABLE t (a INTEGER)").await;
        let readers = DirectReaders::new(path);
        {
            let mut reader = readers.take().unwrap();
            let connection = reader.connection().unwrap();
            let refused = query("INSERT INTO t (a) VALUES (1)")
                .execute(connection)
                .await;
            assert!(refused.is_err(), "a reader is query_only");
        }
        assert_eq!(
            readers.idle.lock().unwrap().len(),
            1,
            "the reader went back"
        );
        let mut tx = writer.begin_with("BEGIN IMMEDIATE").await.unwrap();
        query("INSERT INTO t (a) VALUES (7)")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut reader = readers.take().unwrap();
        let row = query("SELECT a FROM t")
            .fetch_one(reader.connection().unwrap())
            .await
            .unwrap();
        assert_eq!(
            row.int("a").unwrap(),
            7,
            "the reused reader sees the new commit"
        );
        drop(reader);
        readers.close();
        assert!(readers.idle.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_reader_answers_busy_at_once_instead_of_waiting_for_a_lock() {
        let (_dir, path, _holder) = file_database(
            "CREATE TABLE t (a INTEGER); PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; \
             INSERT INTO t VALUES (1)",
        )
        .await;
        let readers = DirectReaders::new(path);
        let started = std::time::Instant::now();
        let refused = match readers.take() {
            Ok(mut reader) => query("SELECT a FROM t")
                .fetch_all(reader.connection().unwrap())
                .await
                .map(|rows| rows.len()),
            Err(error) => Err(error),
        };
        let error = crate::error::db("test")(refused.unwrap_err());
        assert!(crate::store::is_busy_error(&error), "{error}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "it did not wait"
        );
    }

    #[test]
    fn busy_and_locked_codes_are_told_apart_from_other_errors() {
        let error = |code: Option<&str>| StoreError::Database {
            operation: "test",
            code: code.map(str::to_owned),
            message: String::new(),
        };
        // SQLITE_BUSY, BUSY_RECOVERY, BUSY_SNAPSHOT, SQLITE_LOCKED.
        for code in ["5", "261", "517", "6"] {
            assert!(crate::store::is_busy_error(&error(Some(code))), "{code}");
        }
        // CANTOPEN, CONSTRAINT_UNIQUE, a PostgreSQL SQLSTATE, no code.
        for code in [Some("14"), Some("2067"), Some("40001"), None] {
            assert!(!crate::store::is_busy_error(&error(code)), "{code:?}");
        }
    }
}
