//! [`RelyingStore`] for [`Store`].

use time::OffsetDateTime;

use crate::codec::{opt_time_column, serial_column, time_column, to_micros};
use crate::error::{StoreError, db, unique_conflict};
use crate::records::{
    LoginApproval, LoginChallengeRecord, NewLoginChallenge, NewSession, NewSignRequest,
    NewSubmission, PlatformUser, RelyingPartyRecord, ResidentId, SessionRecord, SignRequestRecord,
    SignRequestState, SubmissionRecord,
};
use crate::store::{BackendPool, RowExt, Store, dispatch};
use crate::traits::RelyingStore;

const CHALLENGE_COLUMNS: &str = "id, challenge, code, created_at, expires_at, approved_at, resident_id, device_id, \
     certificate_issuer, certificate_serial, collected_at";

fn challenge_from_row(row: &impl RowExt) -> Result<LoginChallengeRecord, StoreError> {
    let approval = match opt_time_column(row, "approved_at")? {
        Some(at) => Some(LoginApproval {
            at,
            resident_id: ResidentId(
                row.opt_int("resident_id")?
                    .ok_or_else(|| StoreError::corrupt("resident_id", "missing"))?,
            ),
            device_id: row.opt_text("device_id")?,
            certificate: (
                row.opt_text("certificate_issuer")?
                    .ok_or_else(|| StoreError::corrupt("certificate_issuer", "missing"))?,
                serial_column(row, "certificate_serial")?,
            ),
        }),
        None => None,
    };
    Ok(LoginChallengeRecord {
        id: row.text("id")?,
        challenge: row.bytes("challenge")?,
        code: row.text("code")?,
        created_at: time_column(row, "created_at")?,
        expires_at: time_column(row, "expires_at")?,
        approval,
        collected_at: opt_time_column(row, "collected_at")?,
    })
}

const SUBMISSION_COLUMNS: &str = "id, public_id, resident_id, certificate_issuer, certificate_serial, title, \
     content_type, content, signature, report_json, received_at";

fn submission_from_row(row: &impl RowExt) -> Result<SubmissionRecord, StoreError> {
    Ok(SubmissionRecord {
        id: row.int("id")?,
        submission: NewSubmission {
            public_id: row.text("public_id")?,
            resident_id: ResidentId(row.int("resident_id")?),
            certificate: (
                row.text("certificate_issuer")?,
                serial_column(row, "certificate_serial")?,
            ),
            title: row.text("title")?,
            content_type: row.text("content_type")?,
            content: row.bytes("content")?,
            signature: row.bytes("signature")?,
            report: serde_json::from_str(&row.text("report_json")?)
                .map_err(|error| StoreError::corrupt("report_json", error))?,
            received_at: time_column(row, "received_at")?,
        },
    })
}

fn party_from_row(row: &impl RowExt) -> Result<RelyingPartyRecord, StoreError> {
    Ok(RelyingPartyRecord {
        id: row.int("id")?,
        name: row.text("name")?,
        created_at: time_column(row, "created_at")?,
        disabled_at: opt_time_column(row, "disabled_at")?,
    })
}

fn user_from_row(row: &impl RowExt) -> Result<PlatformUser, StoreError> {
    Ok(PlatformUser {
        relying_party_id: row.int("relying_party_id")?,
        resident_id: ResidentId(row.int("resident_id")?),
        user_id: row.text("user_id")?,
        created_at: time_column(row, "created_at")?,
    })
}

const REQUEST_COLUMNS: &str = "r.public_id, r.relying_party_id, r.resident_id, r.purpose, r.kind, r.content, \
     r.verification_code, r.created_at, r.expires_at, r.state, r.answered_at, r.device_id, r.signature, \
     r.certificate, p.name AS relying_party_name";

fn request_from_row(row: &impl RowExt) -> Result<SignRequestRecord, StoreError> {
    let state = row.text("state")?;
    Ok(SignRequestRecord {
        request: NewSignRequest {
            public_id: row.text("public_id")?,
            relying_party_id: row.int("relying_party_id")?,
            resident_id: ResidentId(row.int("resident_id")?),
            purpose: row.text("purpose")?,
            kind: row.text("kind")?,
            content: row.bytes("content")?,
            verification_code: row.text("verification_code")?,
            created_at: time_column(row, "created_at")?,
            expires_at: time_column(row, "expires_at")?,
        },
        relying_party_name: row.text("relying_party_name")?,
        state: SignRequestState::from_stored(&state).ok_or_else(|| {
            StoreError::corrupt("sign_requests.state", format!("unknown {state:?}"))
        })?,
        answered_at: opt_time_column(row, "answered_at")?,
        device_id: row.opt_text("device_id")?,
        signature: row.opt_bytes("signature")?,
        certificate: row.opt_bytes("certificate")?,
    })
}

/// Inserts a session row through any executor of either backend.
macro_rules! insert_session {
    ($executor:expr, $session:expr) => {{
        let session: &NewSession = $session;
        sqlx::query(
            "INSERT INTO sessions (token_hash, resident_id, created_at, expires_at, login_challenge, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(&session.token_hash)
        .bind(session.resident_id.0)
        .bind(to_micros(session.created_at)?)
        .bind(to_micros(session.expires_at)?)
        .bind(session.login_challenge.as_deref())
        .execute($executor)
        .await
        .map_err(unique_conflict("create_session", "this session token exists"))
    }};
}

impl RelyingStore for Store {
    async fn create_login_challenge(
        &self,
        challenge: &NewLoginChallenge,
    ) -> Result<(), StoreError> {
        if challenge.expires_at <= challenge.created_at {
            return Err(StoreError::Invalid(
                "a login challenge must expire after it is created".into(),
            ));
        }
        let created_at = to_micros(challenge.created_at)?;
        let expires_at = to_micros(challenge.expires_at)?;
        dispatch!(self, |pool| {
            sqlx::query(
                "INSERT INTO login_challenges (id, challenge, code, browser_secret_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&challenge.id)
            .bind(&challenge.challenge)
            .bind(&challenge.code)
            .bind(&challenge.browser_secret_hash)
            .bind(created_at)
            .bind(expires_at)
            .execute(pool)
            .await
            .map_err(unique_conflict("create_login_challenge", "a challenge with this id or code exists"))?;
        });
        Ok(())
    }

    async fn login_challenge(&self, id: &str) -> Result<Option<LoginChallengeRecord>, StoreError> {
        let sql = format!("SELECT {CHALLENGE_COLUMNS} FROM login_challenges WHERE id = $1");
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(db("login_challenge"))?
                .map(|row| challenge_from_row(&row))
                .transpose()
        })
    }

    async fn login_challenge_by_code(
        &self,
        code: &str,
    ) -> Result<Option<LoginChallengeRecord>, StoreError> {
        let sql = format!("SELECT {CHALLENGE_COLUMNS} FROM login_challenges WHERE code = $1");
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(code)
                .fetch_optional(pool)
                .await
                .map_err(db("login_challenge_by_code"))?
                .map(|row| challenge_from_row(&row))
                .transpose()
        })
    }

    async fn approve_login_challenge(
        &self,
        id: &str,
        approval: &LoginApproval,
    ) -> Result<(), StoreError> {
        let at = to_micros(approval.at)?;
        dispatch!(self, |pool| {
            let result = sqlx::query(
                "UPDATE login_challenges SET approved_at = $2, resident_id = $3, device_id = $4, \
                 certificate_issuer = $5, certificate_serial = $6 \
                 WHERE id = $1 AND approved_at IS NULL AND expires_at > $2",
            )
            .bind(id)
            .bind(at)
            .bind(approval.resident_id.0)
            .bind(approval.device_id.as_deref())
            .bind(&approval.certificate.0)
            .bind(approval.certificate.1.as_bytes())
            .execute(pool)
            .await
            .map_err(db("approve_login_challenge"))?;
            if result.rows_affected() == 0 {
                return Err(StoreError::conflict(
                    "the challenge is unknown, expired or already approved",
                ));
            }
        });
        Ok(())
    }

    async fn collect_login_session(
        &self,
        id: &str,
        browser_secret_hash: &[u8],
        session: &NewSession,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "collect_login_session";
        let at = to_micros(session.created_at)?;
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            let result = sqlx::query(
                "UPDATE login_challenges SET collected_at = $3 \
                 WHERE id = $1 AND browser_secret_hash = $2 AND approved_at IS NOT NULL \
                 AND collected_at IS NULL AND resident_id = $4",
            )
            .bind(id)
            .bind(browser_secret_hash)
            .bind(at)
            .bind(session.resident_id.0)
            .execute(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            if result.rows_affected() == 0 {
                return Err(StoreError::conflict(
                    "the challenge is not approved, already collected, or the secret is wrong",
                ));
            }
            insert_session!(&mut *tx, session)?;
            tx.commit().await.map_err(db(OPERATION))?;
        });
        Ok(())
    }

    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError> {
        if session.expires_at <= session.created_at {
            return Err(StoreError::Invalid(
                "a session must expire after it is created".into(),
            ));
        }
        dispatch!(self, |pool| {
            insert_session!(pool, session)?;
        });
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let now = to_micros(now)?;
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT resident_id, created_at, expires_at, login_challenge FROM sessions \
                 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await
            .map_err(db("session"))?
            .map(|row| -> Result<SessionRecord, StoreError> {
                Ok(SessionRecord {
                    resident_id: ResidentId(row.int("resident_id")?),
                    created_at: time_column(&row, "created_at")?,
                    expires_at: time_column(&row, "expires_at")?,
                    login_challenge: row.opt_text("login_challenge")?,
                })
            })
            .transpose()
        })
    }

    async fn revoke_session(
        &self,
        token_hash: &[u8],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = to_micros(at)?;
        dispatch!(self, |pool| {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
            )
            .bind(token_hash)
            .bind(at)
            .execute(pool)
            .await
            .map_err(db("revoke_session"))?;
        });
        Ok(())
    }

    async fn insert_submission(
        &self,
        submission: &NewSubmission,
    ) -> Result<SubmissionRecord, StoreError> {
        let received_at = to_micros(submission.received_at)?;
        let report = submission.report.to_string();
        let sql = format!(
            "INSERT INTO submissions (public_id, resident_id, certificate_issuer, certificate_serial, title, \
             content_type, content, signature, report_json, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {SUBMISSION_COLUMNS}"
        );
        dispatch!(self, |pool| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(&submission.public_id)
                .bind(submission.resident_id.0)
                .bind(&submission.certificate.0)
                .bind(submission.certificate.1.as_bytes())
                .bind(&submission.title)
                .bind(&submission.content_type)
                .bind(&submission.content)
                .bind(&submission.signature)
                .bind(&report)
                .bind(received_at)
                .fetch_one(pool)
                .await
                .map_err(unique_conflict(
                    "insert_submission",
                    "a submission with this id exists",
                ))?;
            submission_from_row(&row)
        })
    }

    async fn submission(&self, public_id: &str) -> Result<Option<SubmissionRecord>, StoreError> {
        let sql = format!("SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE public_id = $1");
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(public_id)
                .fetch_optional(pool)
                .await
                .map_err(db("submission"))?
                .map(|row| submission_from_row(&row))
                .transpose()
        })
    }

    async fn submissions_of_resident(
        &self,
        resident_id: ResidentId,
    ) -> Result<Vec<SubmissionRecord>, StoreError> {
        let sql = format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE resident_id = $1 ORDER BY id"
        );
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(resident_id.0)
                .fetch_all(pool)
                .await
                .map_err(db("submissions_of_resident"))?
                .iter()
                .map(submission_from_row)
                .collect()
        })
    }

    async fn add_relying_party(
        &self,
        name: &str,
        key_hash: &[u8],
        at: OffsetDateTime,
    ) -> Result<RelyingPartyRecord, StoreError> {
        if name.trim().is_empty() || key_hash.is_empty() {
            return Err(StoreError::Invalid(
                "a relying party needs a name and a key hash".into(),
            ));
        }
        let at = to_micros(at)?;
        dispatch!(self, |pool| {
            let row = sqlx::query(
                "INSERT INTO relying_parties (name, key_hash, created_at) VALUES ($1, $2, $3) \
                 RETURNING id, name, created_at, disabled_at",
            )
            .bind(name.trim())
            .bind(key_hash)
            .bind(at)
            .fetch_one(pool)
            .await
            .map_err(unique_conflict(
                "add_relying_party",
                "a relying party with this name exists",
            ))?;
            party_from_row(&row)
        })
    }

    async fn relying_party_by_key(
        &self,
        key_hash: &[u8],
    ) -> Result<Option<RelyingPartyRecord>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT id, name, created_at, disabled_at FROM relying_parties \
                 WHERE key_hash = $1 AND disabled_at IS NULL",
            )
            .bind(key_hash)
            .fetch_optional(pool)
            .await
            .map_err(db("relying_party_by_key"))?
            .map(|row| party_from_row(&row))
            .transpose()
        })
    }

    async fn platform_user(
        &self,
        relying_party_id: i64,
        resident_id: ResidentId,
        new_user_id: &str,
        at: OffsetDateTime,
    ) -> Result<PlatformUser, StoreError> {
        const OPERATION: &str = "platform_user";
        let at = to_micros(at)?;
        dispatch!(self, |pool| {
            let mut tx = pool.begin_write().await.map_err(db(OPERATION))?;
            sqlx::query(
                "INSERT INTO platform_users (relying_party_id, resident_id, user_id, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (relying_party_id, resident_id) DO NOTHING",
            )
            .bind(relying_party_id)
            .bind(resident_id.0)
            .bind(new_user_id)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(unique_conflict(OPERATION, "this user id is taken"))?;
            let row = sqlx::query(
                "SELECT relying_party_id, resident_id, user_id, created_at FROM platform_users \
                 WHERE relying_party_id = $1 AND resident_id = $2",
            )
            .bind(relying_party_id)
            .bind(resident_id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db(OPERATION))?;
            let user = user_from_row(&row)?;
            tx.commit().await.map_err(db(OPERATION))?;
            Ok(user)
        })
    }

    async fn platform_user_by_resident(
        &self,
        relying_party_id: i64,
        resident_id: ResidentId,
    ) -> Result<Option<PlatformUser>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT relying_party_id, resident_id, user_id, created_at FROM platform_users \
                 WHERE relying_party_id = $1 AND resident_id = $2",
            )
            .bind(relying_party_id)
            .bind(resident_id.0)
            .fetch_optional(pool)
            .await
            .map_err(db("platform_user_by_resident"))?
            .map(|row| user_from_row(&row))
            .transpose()
        })
    }

    async fn platform_user_by_id(
        &self,
        relying_party_id: i64,
        user_id: &str,
    ) -> Result<Option<PlatformUser>, StoreError> {
        dispatch!(self, |pool| {
            sqlx::query(
                "SELECT relying_party_id, resident_id, user_id, created_at FROM platform_users \
                 WHERE relying_party_id = $1 AND user_id = $2",
            )
            .bind(relying_party_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await
            .map_err(db("platform_user_by_id"))?
            .map(|row| user_from_row(&row))
            .transpose()
        })
    }

    async fn create_sign_request(&self, request: &NewSignRequest) -> Result<(), StoreError> {
        if request.expires_at <= request.created_at {
            return Err(StoreError::Invalid(
                "a sign request must expire after it is created".into(),
            ));
        }
        let created_at = to_micros(request.created_at)?;
        let expires_at = to_micros(request.expires_at)?;
        dispatch!(self, |pool| {
            sqlx::query(
                "INSERT INTO sign_requests (public_id, relying_party_id, resident_id, purpose, kind, content, \
                 verification_code, state, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)",
            )
            .bind(&request.public_id)
            .bind(request.relying_party_id)
            .bind(request.resident_id.0)
            .bind(&request.purpose)
            .bind(&request.kind)
            .bind(&request.content)
            .bind(&request.verification_code)
            .bind(created_at)
            .bind(expires_at)
            .execute(pool)
            .await
            .map_err(unique_conflict("create_sign_request", "a request with this id exists"))?;
        });
        Ok(())
    }

    async fn sign_request(&self, public_id: &str) -> Result<Option<SignRequestRecord>, StoreError> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM sign_requests r JOIN relying_parties p ON p.id = r.relying_party_id \
             WHERE r.public_id = $1"
        );
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(public_id)
                .fetch_optional(pool)
                .await
                .map_err(db("sign_request"))?
                .map(|row| request_from_row(&row))
                .transpose()
        })
    }

    async fn pending_sign_requests(
        &self,
        resident_id: ResidentId,
        now: OffsetDateTime,
    ) -> Result<Vec<SignRequestRecord>, StoreError> {
        let now = to_micros(now)?;
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM sign_requests r JOIN relying_parties p ON p.id = r.relying_party_id \
             WHERE r.resident_id = $1 AND r.state = 'pending' AND r.expires_at > $2 ORDER BY r.id"
        );
        dispatch!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(resident_id.0)
                .bind(now)
                .fetch_all(pool)
                .await
                .map_err(db("pending_sign_requests"))?
                .iter()
                .map(request_from_row)
                .collect()
        })
    }

    async fn answer_sign_request(
        &self,
        public_id: &str,
        approved: bool,
        device_id: &str,
        signature: Option<&[u8]>,
        certificate: Option<&[u8]>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let state = if approved {
            SignRequestState::Approved
        } else {
            SignRequestState::Declined
        };
        let at = to_micros(at)?;
        dispatch!(self, |pool| {
            let result = sqlx::query(
                "UPDATE sign_requests SET state = $2, answered_at = $3, device_id = $4, signature = $5, \
                 certificate = $6 WHERE public_id = $1 AND state = 'pending' AND expires_at > $3",
            )
            .bind(public_id)
            .bind(state.as_str())
            .bind(at)
            .bind(device_id)
            .bind(signature)
            .bind(certificate)
            .execute(pool)
            .await
            .map_err(db("answer_sign_request"))?;
            if result.rows_affected() == 0 {
                return Err(StoreError::conflict(
                    "the request is unknown, expired or already answered",
                ));
            }
        });
        Ok(())
    }
}
