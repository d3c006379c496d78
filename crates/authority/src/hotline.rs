//! The hotline (0120-95-0178's role: 24/7 一時利用停止) and the other API-key accounts:
//! operators suspend and look people up; registered verifiers read certificate links.
//!
//! Accounts are created by `jpki operator add` / `jpki verifier add`
//! ([`create_account`]): the key is shown once and only its SHA-256 digest is stored.
//! Keys are 256 random bits, so a fast digest is enough (nothing to brute-force), and it
//! is the same digest the OCSP responder's restricted mode checks.
//!
//! | operation | roles |
//! |---|---|
//! | suspend ([`HotlineService::suspend`], [`HotlineService::suspend_as`]) | `hotline`, `admin` |
//! | look a person up ([`HotlineService::lookup`], [`HotlineService::lookup_as`], [`HotlineService::search_as`]) | `hotline`, `auditor`, `counter`, `admin` |
//! | certificate links ([`HotlineService::links`]) | `verifier`, `auditor`, `hotline`, `admin` |
//!
//! Every suspension and lookup is in the audit log with the operator's name; a refused
//! role is audited too.
//!
//! The operator console (`jpki-web`) signs operators in with a password instead of the
//! API key ([`HotlineService::authenticate_password`]): an argon2id hash
//! ([`hash_password`], OWASP's minimum parameters: 19 MiB, 2 passes) set by `jpki
//! operator add --password-file`. Its `*_as` methods take the account its session
//! authenticated, and check the same roles.

use std::sync::Arc;

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use jpki_api::{
    CertificateLinks, CertificateRef, ErrorCode, LookupRequest, PersonIdentification, PersonStatus,
    SuspensionRequest, SuspensionResult, SuspensionScope,
};
use jpki_crypto::{Clock, SecretString, random_bytes, sha256};
use jpki_model::{BirthDate, CertificateStatus, MyNumber, SerialNumber};
use jpki_status::StatusNotifier;
use jpki_store::{
    AccountRecord, AccountRole, AccountStore, AuditEntry, AuditStore, CertificateStore,
    LifecycleStore, NewAccount, OperatorStore, RegistryStore, Resident, ResidentId,
};
use time::format_description::well_known::Rfc3339;

use crate::AuthorityError;
use crate::lifecycle::{self, Lifecycle, is_live};
use crate::phone::{RaError, certificate_view};

/// The prefix of every API key, so that a leaked key is recognisable (secret scanners).
pub const API_KEY_PREFIX: &str = "jpki_";

/// Creates an account and its API key. The key is returned once; only its digest is
/// stored.
pub async fn create_account<S: AccountStore>(
    store: &S,
    name: &str,
    role: AccountRole,
    now: time::OffsetDateTime,
) -> Result<(AccountRecord, SecretString), AuthorityError> {
    let key = SecretString::from(format!(
        "{API_KEY_PREFIX}{}",
        jpki_api::encode_token(&random_bytes(32)?)
    ));
    let record = store
        .add_account(&NewAccount {
            name: name.to_owned(),
            role,
            key_hash: sha256(key.expose().as_bytes()),
            created_at: now,
        })
        .await?;
    Ok((record, key))
}

/// Roles that may suspend.
pub const SUSPEND_ROLES: &[AccountRole] = &[AccountRole::Hotline, AccountRole::Admin];
/// Roles that may find people and read their certificates and history.
pub const LOOKUP_ROLES: &[AccountRole] = &[
    AccountRole::Hotline,
    AccountRole::Auditor,
    AccountRole::Counter,
    AccountRole::Admin,
];

/// The shortest console password accepted.
pub const PASSWORD_MIN_CHARS: usize = 12;
const PASSWORD_MAX_BYTES: usize = 1024;

/// An argon2id hash of a console password, as a PHC string (salt and parameters
/// included). Refuses passwords shorter than [`PASSWORD_MIN_CHARS`].
pub fn hash_password(password: &SecretString) -> Result<String, AuthorityError> {
    let text = password.expose();
    if text.chars().count() < PASSWORD_MIN_CHARS {
        return Err(AuthorityError::Password(
            "it must have at least 12 characters",
        ));
    }
    if text.len() > PASSWORD_MAX_BYTES {
        return Err(AuthorityError::Password("it must have at most 1024 bytes"));
    }
    let salt = SaltString::encode_b64(&random_bytes(16)?)
        .map_err(|_| AuthorityError::Password("no salt could be made"))?;
    Argon2::default()
        .hash_password(text.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| AuthorityError::Password("it could not be hashed"))
}

/// Whether `password` matches the PHC string `hash` (argon2, in constant time).
pub fn verify_password(hash: &str, password: &str) -> bool {
    if password.len() > PASSWORD_MAX_BYTES {
        return false;
    }
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of a random password, checked when the name is unknown or has no password,
/// so that a failed login costs the same argon2 work whatever the reason.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let random = random_bytes(24)
            .map(|bytes| jpki_api::encode_token(&bytes))
            .unwrap_or_else(|_| "decoy password for unknown operators".to_owned());
        hash_password(&SecretString::from(random)).unwrap_or_default()
    })
}

/// Creates an operator account with its API key (returned once) and, when given, a
/// console password (hashed before it reaches the store), in one statement.
pub async fn create_operator<S: OperatorStore>(
    store: &S,
    name: &str,
    role: AccountRole,
    password: Option<&SecretString>,
    now: time::OffsetDateTime,
) -> Result<(AccountRecord, SecretString), AuthorityError> {
    let password_hash = password.map(hash_password).transpose()?;
    let key = SecretString::from(format!(
        "{API_KEY_PREFIX}{}",
        jpki_api::encode_token(&random_bytes(32)?)
    ));
    let record = store
        .add_account_with_password(
            &NewAccount {
                name: name.to_owned(),
                role,
                key_hash: sha256(key.expose().as_bytes()),
                created_at: now,
            },
            password_hash.as_deref(),
        )
        .await?;
    Ok((record, key))
}

/// A person to find on the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonQuery {
    /// By the registry's resident number.
    Resident(ResidentId),
    /// By the exact current name and date of birth.
    NameAndBirthDate {
        name: String,
        date_of_birth: BirthDate,
    },
}

/// Operators' and verifiers' requests (see the module docs).
pub struct HotlineService<S> {
    store: S,
    clock: Arc<dyn Clock>,
    notifier: Option<Arc<dyn StatusNotifier>>,
}

impl<S> std::fmt::Debug for HotlineService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotlineService").finish_non_exhaustive()
    }
}

fn rfc3339(instant: time::OffsetDateTime) -> String {
    instant
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl<S> HotlineService<S>
where
    S: AccountStore
        + AuditStore
        + CertificateStore
        + LifecycleStore
        + RegistryStore
        + OperatorStore
        + Clone,
{
    pub fn new(store: S, clock: Arc<dyn Clock>, notifier: Option<Arc<dyn StatusNotifier>>) -> Self {
        Self {
            store,
            clock,
            notifier,
        }
    }

    /// The enabled account holding `api_key`.
    pub async fn authenticate(&self, api_key: &str) -> Result<AccountRecord, RaError> {
        let unauthorized = || {
            RaError::new(
                ErrorCode::AccountUnauthorized,
                "an Authorization: Bearer API key of an enabled account is required",
            )
        };
        let key = api_key.trim();
        if key.is_empty() {
            return Err(unauthorized());
        }
        let account = self
            .store
            .account_by_key_hash(&sha256(key.as_bytes()))
            .await?
            .ok_or_else(|| {
                tracing::warn!(code = "AUTH0001", "unknown API key presented");
                unauthorized()
            })?;
        if account.disabled_at.is_some() {
            tracing::warn!(code = "AUTH0002", account = %account.name, "disabled account's key presented");
            return Err(unauthorized());
        }
        Ok(account)
    }

    /// The console's login: the enabled account `name` with this password. Every
    /// failure is the same error, whether the name is unknown, the account disabled or
    /// without a password, or the password wrong; each costs one argon2 check. Logins
    /// and refusals of known accounts are audited.
    pub async fn authenticate_password(
        &self,
        name: &str,
        password: SecretString,
    ) -> Result<AccountRecord, RaError> {
        let refused = || {
            RaError::new(
                ErrorCode::OperatorLoginFailed,
                "unknown operator, disabled account or wrong password",
            )
        };
        let credentials = self.store.account_credentials(name).await?;
        let hash = credentials
            .as_ref()
            .and_then(|(_, hash)| hash.clone())
            .unwrap_or_default();
        let matches = tokio::task::spawn_blocking(move || {
            let checked = if hash.is_empty() { decoy_hash() } else { &hash };
            verify_password(checked, password.expose()) && !hash.is_empty()
        })
        .await
        .unwrap_or(false);
        let Some((account, _)) = credentials else {
            tracing::warn!(
                code = "AUTH0003",
                "console login with an unknown operator name"
            );
            return Err(refused());
        };
        let at = self.clock.now();
        if matches && account.disabled_at.is_none() {
            self.store
                .append(&AuditEntry {
                    at,
                    actor: format!("operator:{}", account.name),
                    action: "console.login".into(),
                    subject: format!("account:{}", account.name),
                    detail_json: serde_json::json!({ "role": account.role.as_str() }),
                })
                .await?;
            return Ok(account);
        }
        tracing::warn!(code = "AUTH0004", account = %account.name, "console login refused");
        self.store
            .append(&AuditEntry {
                at,
                actor: "console".into(),
                action: "console.login.refused".into(),
                subject: format!("account:{}", account.name),
                detail_json: serde_json::json!({
                    "reason": if account.disabled_at.is_some() { "disabled" } else { "password" }
                }),
            })
            .await?;
        Err(refused())
    }

    /// The account of `api_key`, if its role is one of `roles`; a refusal is audited.
    async fn require(
        &self,
        api_key: &str,
        roles: &[AccountRole],
        operation: &str,
    ) -> Result<AccountRecord, RaError> {
        let account = self.authenticate(api_key).await?;
        self.permit(&account, roles, operation).await?;
        Ok(account)
    }

    /// `Ok` if the account's role is one of `roles`; a refusal is audited.
    pub async fn permit(
        &self,
        account: &AccountRecord,
        roles: &[AccountRole],
        operation: &str,
    ) -> Result<(), RaError> {
        if roles.contains(&account.role) {
            return Ok(());
        }
        self.store
            .append(&AuditEntry {
                at: self.clock.now(),
                actor: format!("operator:{}", account.name),
                action: format!("{operation}.refused"),
                subject: format!("account:{}", account.name),
                detail_json: serde_json::json!({ "role": account.role.as_str() }),
            })
            .await?;
        Err(RaError::new(
            ErrorCode::RoleForbidden,
            format!(
                "{operation} needs the role {}; this account is {}",
                roles
                    .iter()
                    .map(|role| role.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                account.role
            ),
        ))
    }

    /// 本人確認: the one resident the identification names.
    async fn identify(&self, person: &PersonIdentification) -> Result<Resident, RaError> {
        let not_found = || RaError::new(ErrorCode::PersonNotFound, "no resident matches");
        if let Some(text) = &person.my_number {
            let my_number = MyNumber::parse(text).map_err(|error| {
                RaError::new(ErrorCode::MalformedRequest, format!("my_number: {error}"))
            })?;
            return self
                .store
                .resident_by_my_number(&my_number)
                .await?
                .ok_or_else(not_found);
        }
        let (Some(name), Some(date_of_birth)) = (&person.name, &person.date_of_birth) else {
            return Err(RaError::new(
                ErrorCode::MalformedRequest,
                "identify the person by my_number, or by name and date_of_birth (and address)",
            ));
        };
        let date_of_birth = BirthDate::parse(date_of_birth).map_err(|error| {
            RaError::new(
                ErrorCode::MalformedRequest,
                format!("date_of_birth: {error}"),
            )
        })?;
        let mut found = self
            .store
            .find_residents(name, date_of_birth, person.address.as_deref())
            .await?;
        match found.len() {
            0 => Err(not_found()),
            1 => found.pop().ok_or_else(not_found),
            count => Err(RaError::new(
                ErrorCode::PersonAmbiguous,
                format!("{count} residents match"),
            )),
        }
    }

    /// 一時利用停止 (phone) / 一時保留 (card) of a person
    /// ([`lifecycle::suspension_plan`]).
    pub async fn suspend(
        &self,
        api_key: &str,
        request: &SuspensionRequest,
    ) -> Result<SuspensionResult, RaError> {
        let account = self
            .require(api_key, SUSPEND_ROLES, "hotline.suspend")
            .await?;
        let resident = self.identify(&request.person).await?;
        self.suspend_resident(&account, &resident, request.scope, request.note.as_deref())
            .await
    }

    /// The console's suspension, by an account its session authenticated: the same
    /// roles, plan and audit as [`Self::suspend`].
    pub async fn suspend_as(
        &self,
        account: &AccountRecord,
        resident: ResidentId,
        scope: SuspensionScope,
        note: Option<&str>,
    ) -> Result<SuspensionResult, RaError> {
        self.permit(account, SUSPEND_ROLES, "hotline.suspend")
            .await?;
        let resident = self
            .store
            .resident(resident)
            .await?
            .ok_or_else(|| RaError::new(ErrorCode::PersonNotFound, "no resident matches"))?;
        self.suspend_resident(account, &resident, scope, note).await
    }

    async fn suspend_resident(
        &self,
        account: &AccountRecord,
        resident: &Resident,
        scope: SuspensionScope,
        note: Option<&str>,
    ) -> Result<SuspensionResult, RaError> {
        let now = self.clock.now();
        let scope = match scope {
            SuspensionScope::Phone => lifecycle::SuspensionScope {
                phone: true,
                card: false,
            },
            SuspensionScope::Card => lifecycle::SuspensionScope {
                phone: false,
                card: true,
            },
            SuspensionScope::All => lifecycle::SuspensionScope {
                phone: true,
                card: true,
            },
        };
        let certificates = self.store.certificates_of_resident(resident.id).await?;
        let mut plan = lifecycle::suspension_plan(
            resident.id,
            &certificates,
            scope,
            &format!("operator:{}", account.name),
            now,
        );
        // The person's usage history names the operator (the audit log has them too).
        if let Some(detail) = plan.detail.as_object_mut() {
            detail.insert("operator".into(), serde_json::json!(account.name));
        }
        if plan.changes.is_empty() {
            let error = RaError::new(
                ErrorCode::NothingToSuspend,
                "no active certificate in that scope (already held, revoked or expired)",
            );
            // A refused attempt on the person's certificates is theirs to see.
            let mut refusal = jpki_store::LifecycleBatch::new(now);
            let mut detail = plan.detail.clone();
            if let Some(detail) = detail.as_object_mut() {
                detail.insert("code".into(), serde_json::json!(error.code.as_str()));
            }
            refusal.usage.push(jpki_store::UsageEntry {
                resident_id: resident.id,
                at: now,
                device_id: None,
                action: plan.usage_action.clone(),
                outcome: jpki_store::UsageOutcome::Refused,
                detail,
            });
            self.store.apply_lifecycle(&refusal).await?;
            return Err(error);
        }
        if let (Some(note), Some(detail)) = (note, plan.detail.as_object_mut()) {
            detail.insert("note".into(), serde_json::json!(note));
        }
        let outcome = Lifecycle::new(
            self.store.clone(),
            Arc::clone(&self.clock),
            self.notifier.clone(),
        )
        .apply(plan)
        .await?;
        let (held, revoked): (Vec<_>, Vec<_>) = outcome
            .certificates
            .iter()
            .partition(|c| matches!(c.status, CertificateStatus::Held { .. }));
        Ok(SuspensionResult {
            resident_id: resident.id.0,
            held: held.into_iter().map(certificate_view).collect(),
            revoked: revoked.into_iter().map(certificate_view).collect(),
            cancelled_applications: outcome.cancelled_applications,
            at: rfc3339(now),
        })
    }

    /// A person's certificates (hotline and auditors); audited.
    pub async fn lookup(
        &self,
        api_key: &str,
        request: &LookupRequest,
    ) -> Result<PersonStatus, RaError> {
        let account = self
            .require(api_key, LOOKUP_ROLES, "hotline.lookup")
            .await?;
        let resident = self.identify(&request.person).await?;
        self.person_status(&account, &resident).await
    }

    /// The console's look-up of one resident: the same roles and audit as
    /// [`Self::lookup`]. Returns the resident too (the console shows their details).
    pub async fn lookup_as(
        &self,
        account: &AccountRecord,
        resident: ResidentId,
    ) -> Result<(Resident, PersonStatus), RaError> {
        self.permit(account, LOOKUP_ROLES, "hotline.lookup").await?;
        let resident = self
            .store
            .resident(resident)
            .await?
            .ok_or_else(|| RaError::new(ErrorCode::PersonNotFound, "no resident matches"))?;
        let status = self.person_status(account, &resident).await?;
        Ok((resident, status))
    }

    /// The console's search: every resident matching `query` (possibly none, possibly
    /// several namesakes). Audited with the resident numbers found, not the name asked.
    pub async fn search_as(
        &self,
        account: &AccountRecord,
        query: &PersonQuery,
    ) -> Result<Vec<Resident>, RaError> {
        self.permit(account, LOOKUP_ROLES, "console.search").await?;
        let (by, found) = match query {
            PersonQuery::Resident(id) => (
                "resident_id",
                self.store.resident(*id).await?.into_iter().collect(),
            ),
            PersonQuery::NameAndBirthDate {
                name,
                date_of_birth,
            } => (
                "name_and_birth_date",
                self.store
                    .find_residents(name.trim(), *date_of_birth, None)
                    .await?,
            ),
        };
        let ids: Vec<i64> = found
            .iter()
            .map(|resident: &Resident| resident.id.0)
            .collect();
        self.store
            .append(&AuditEntry {
                at: self.clock.now(),
                actor: format!("operator:{}", account.name),
                action: "console.search".into(),
                subject: format!("account:{}", account.name),
                detail_json: serde_json::json!({ "by": by, "found": ids }),
            })
            .await?;
        Ok(found)
    }

    async fn person_status(
        &self,
        account: &AccountRecord,
        resident: &Resident,
    ) -> Result<PersonStatus, RaError> {
        self.store
            .append(&AuditEntry {
                at: self.clock.now(),
                actor: format!("operator:{}", account.name),
                action: "hotline.lookup".into(),
                subject: format!("resident:{}", resident.id.0),
                detail_json: serde_json::json!({}),
            })
            .await?;
        let certificates = self.store.certificates_of_resident(resident.id).await?;
        Ok(PersonStatus {
            resident_id: resident.id.0,
            name: resident.basic_info.name().to_owned(),
            deceased: resident.is_deceased(),
            certificates: certificates.iter().map(certificate_view).collect(),
        })
    }

    /// 紐付け情報: what a certificate replaced, what replaced it, and its counterparts of
    /// the other purpose on the same card or phone.
    pub async fn links(
        &self,
        api_key: &str,
        issuer: &str,
        serial: &str,
    ) -> Result<CertificateLinks, RaError> {
        self.require(
            api_key,
            &[
                AccountRole::Verifier,
                AccountRole::Auditor,
                AccountRole::Hotline,
                AccountRole::Admin,
            ],
            "certificate.links",
        )
        .await?;
        let not_found = || RaError::new(ErrorCode::CertificateNotFound, "no such certificate");
        let serial = SerialNumber::from_hex(serial).map_err(|_| not_found())?;
        let certificate = self
            .store
            .certificate(issuer, &serial)
            .await?
            .ok_or_else(not_found)?;
        let replaced_by = self.store.successors(issuer, &serial).await?;
        let counterparts = self
            .store
            .certificates_of_holder(&certificate.holder)
            .await?
            .into_iter()
            .filter(|other| {
                other.kind.purpose != certificate.kind.purpose
                    && other.resident_id == certificate.resident_id
                    && is_live(&other.status)
            })
            .collect::<Vec<_>>();
        Ok(CertificateLinks {
            replaces: certificate
                .renewal_of
                .as_ref()
                .map(|(issuer, serial)| CertificateRef {
                    issuer: issuer.clone(),
                    serial: serial.to_hex(),
                }),
            certificate: certificate_view(&certificate),
            replaced_by: replaced_by.iter().map(certificate_view).collect(),
            counterparts: counterparts.iter().map(certificate_view).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_passwords_are_argon2id_hashes_that_verify() {
        let password = SecretString::from("correct horse battery".to_owned());
        let hash = hash_password(&password).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains("correct horse"));
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery "));
        assert!(!verify_password(&hash, ""));
        assert!(!verify_password("not a hash", "correct horse battery"));
        // A fresh salt each time.
        assert_ne!(hash, hash_password(&password).unwrap());
        // Too short, too long.
        for bad in ["short", "elevenchars"] {
            assert!(matches!(
                hash_password(&SecretString::from(bad.to_owned())),
                Err(AuthorityError::Password(_))
            ));
        }
        assert!(hash_password(&SecretString::from("x".repeat(1025))).is_err());
        assert!(!verify_password(&hash, &"x".repeat(1025)));
        // The decoy is a real hash that no password of a real account matches.
        assert!(decoy_hash().starts_with("$argon2id$"));
        assert!(!verify_password(decoy_hash(), "correct horse battery"));
    }

    #[test]
    fn roles_of_the_console() {
        assert!(SUSPEND_ROLES.contains(&AccountRole::Admin));
        assert!(!SUSPEND_ROLES.contains(&AccountRole::Counter));
        assert!(!SUSPEND_ROLES.contains(&AccountRole::Auditor));
        assert!(LOOKUP_ROLES.contains(&AccountRole::Counter));
        assert!(!LOOKUP_ROLES.contains(&AccountRole::Verifier));
    }
}
