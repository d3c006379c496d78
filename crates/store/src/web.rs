//! [`OperatorStore`]: what the operator console keeps (migration 6): a password
//! credential on accounts, and the console's sessions.
//!
//! | table / column | written by | notes |
//! |---|---|---|
//! | `accounts.password_hash` | [`OperatorStore::add_account_with_password`], [`OperatorStore::set_account_password`] | an argon2id PHC string (salt and digest), never the password |
//! | `operator_sessions` | [`OperatorStore::create_operator_session`] | SHA-256 of the session token; expiry; revocation |
//!
//! Citizens' web sessions are the portal's `sessions` ([`crate::RelyingStore`]).

use std::fmt;
use std::future::Future;

use time::OffsetDateTime;

use crate::codec::{time_column, to_micros};
use crate::error::{StoreError, db, unique_conflict};
use crate::lifecycle::{ACCOUNT_COLUMNS, account_from_row};
use crate::records::{AccountRecord, NewAccount};
use crate::store::{BackendPool, RowExt, Store, dispatch};

/// A console session to create. Only the digest of its token is kept.
#[derive(Clone, PartialEq, Eq)]
pub struct NewOperatorSession {
    /// SHA-256 of the session token.
    pub token_hash: [u8; 32],
    pub account_name: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for NewOperatorSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewOperatorSession")
            .field("account_name", &self.account_name)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A live console session, with its (enabled) account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSessionRecord {
    pub account: AccountRecord,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// The operator console's view of accounts (see the module docs).
pub trait OperatorStore: Send + Sync {
    /// Creates an account, with a password credential when `password_hash` is given, in
    /// one statement. [`StoreError::Conflict`] for a name or key already recorded;
    /// [`StoreError::Invalid`] for a bad name or a hash that is not an argon2id PHC
    /// string.
    fn add_account_with_password(
        &self,
        account: &NewAccount,
        password_hash: Option<&str>,
    ) -> impl Future<Output = Result<AccountRecord, StoreError>> + Send;

    /// Sets (or replaces) an account's password and ends its console sessions, in one
    /// transaction. [`StoreError::NotFound`] for an unknown name.
    fn set_account_password(
        &self,
        name: &str,
        password_hash: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The account named `name` (disabled or not) and its password hash, if it has one.
    fn account_credentials(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<(AccountRecord, Option<String>)>, StoreError>> + Send;

    /// [`StoreError::NotFound`] for an unknown account, [`StoreError::Conflict`] for a
    /// token digest already recorded.
    fn create_operator_session(
        &self,
        session: &NewOperatorSession,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session with this token digest if it is unexpired, unrevoked, and its account
    /// is enabled.
    fn operator_session(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<OperatorSessionRecord>, StoreError>> + Send;

    /// Ends a session (logout). Revoking an unknown or revoked session changes nothing.
    fn revoke_operator_session(
        &self,
        token_hash: &[u8],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

fn check_name(name: &str) -> Result<(), StoreError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "an account name is 1 to 64 of A-Z a-z 0-9 - _ . @".into(),
        ))
    }
}

fn check_hash(hash: &str) -> Result<(), StoreError> {
    if hash.starts_with("$argon2id$") && hash.len() <= 512 {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "a password is stored as an argon2id PHC string ($argon2id$…)".into(),
        ))
    }
}

impl OperatorStore for Store {
    async fn add_account_with_password(
        &self,
        account: &NewAccount,
        password_hash: Option<&str>,
    ) -> Result<AccountRecord, StoreError> {
        check_name(&account.name)?;
        if let Some(hash) = password_hash {
            check_hash(hash)?;
        }
        let created_at = to_micros(account.created_at)?;
        let changed_at = password_hash.map(|_| created_at);
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO accounts (name, role, key_hash, created_at, disabled_at, password_hash, \
                 password_changed_at) VALUES ($1, $2, $3, $4, NULL, $5, $6) RETURNING {ACCOUNT_COLUMNS}"
            )))
            .bind(&account.name)
            .bind(account.role.as_str())
            .bind(account.key_hash.as_slice())
            .bind(created_at)
            .bind(password_hash)
            .bind(changed_at)
            .fetch_one(pool)
            .await
            .map_err(unique_conflict(
                "add_account_with_password",
                "an account with this name or key exists",
            ))
            .and_then(|row| account_from_row(&row))
        })
    }

    async fn set_account_password(
        &self,
        name: &str,
        password_hash: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "set_account_password";
        check_hash(password_hash)?;
        let at = to_micros(at)?;
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            let updated = sqlx::query(
                "UPDATE accounts SET password_hash = $2, password_changed_at = $3 WHERE name = $1",
            )
            .bind(name)
            .bind(password_hash)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::not_found(format!("account {name:?}")));
            }
            sqlx::query(
                "UPDATE operator_sessions SET revoked_at = $2 \
                 WHERE account_name = $1 AND revoked_at IS NULL",
            )
            .bind(name)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            tx.commit().await.map_err(db(OPERATION))?;
        });
        Ok(())
    }

    async fn account_credentials(
        &self,
        name: &str,
    ) -> Result<Option<(AccountRecord, Option<String>)>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {ACCOUNT_COLUMNS}, password_hash FROM accounts WHERE name = $1"
            )))
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(db("account_credentials"))?
            .map(|row| Ok((account_from_row(&row)?, row.opt_text("password_hash")?)))
            .transpose()
        })
    }

    async fn create_operator_session(
        &self,
        session: &NewOperatorSession,
    ) -> Result<(), StoreError> {
        if session.expires_at <= session.created_at {
            return Err(StoreError::Invalid(
                "a session must expire after it is created".into(),
            ));
        }
        let created_at = to_micros(session.created_at)?;
        let expires_at = to_micros(session.expires_at)?;
        dispatch!(self, |pool| {
            sqlx::query(
                "INSERT INTO operator_sessions (token_hash, account_name, created_at, expires_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, NULL)",
            )
            .bind(session.token_hash.as_slice())
            .bind(&session.account_name)
            .bind(created_at)
            .bind(expires_at)
            .execute(pool)
            .await
            .map_err(unique_conflict(
                "create_operator_session",
                "this session token exists",
            ))?;
        });
        Ok(())
    }

    async fn operator_session(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<OperatorSessionRecord>, StoreError> {
        let now = to_micros(now)?;
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT a.name, a.role, a.key_hash, a.created_at, a.disabled_at, \
                        s.created_at AS session_created_at, s.expires_at AS session_expires_at \
                 FROM operator_sessions s JOIN accounts a ON a.name = s.account_name \
                 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
                   AND a.disabled_at IS NULL",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await
            .map_err(db("operator_session"))?
            .map(|row| {
                Ok(OperatorSessionRecord {
                    account: account_from_row(&row)?,
                    created_at: time_column(&row, "session_created_at")?,
                    expires_at: time_column(&row, "session_expires_at")?,
                })
            })
            .transpose()
        })
    }

    async fn revoke_operator_session(
        &self,
        token_hash: &[u8],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = to_micros(at)?;
        dispatch!(self, |pool| {
            sqlx::query(
                "UPDATE operator_sessions SET revoked_at = $2 \
                 WHERE token_hash = $1 AND revoked_at IS NULL",
            )
            .bind(token_hash)
            .bind(at)
            .execute(pool)
            .await
            .map_err(db("revoke_operator_session"))?;
        });
        Ok(())
    }
}
