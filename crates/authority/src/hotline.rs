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
//! | suspend ([`HotlineService::suspend`]) | `hotline` |
//! | look a person up ([`HotlineService::lookup`]) | `hotline`, `auditor` |
//! | certificate links ([`HotlineService::links`]) | `verifier`, `auditor`, `hotline` |
//!
//! Every suspension and lookup is in the audit log with the operator's name; a refused
//! role is audited too.

use std::sync::Arc;

use jpki_api::{
    CertificateLinks, CertificateRef, ErrorCode, LookupRequest, PersonIdentification, PersonStatus,
    SuspensionRequest, SuspensionResult, SuspensionScope,
};
use jpki_crypto::{Clock, SecretString, random_bytes, sha256};
use jpki_model::{BirthDate, CertificateStatus, MyNumber, SerialNumber};
use jpki_status::StatusNotifier;
use jpki_store::{
    AccountRecord, AccountRole, AccountStore, AuditEntry, AuditStore, CertificateStore,
    LifecycleStore, NewAccount, RegistryStore, Resident,
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
    S: AccountStore + AuditStore + CertificateStore + LifecycleStore + RegistryStore + Clone,
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

    /// The account of `api_key`, if its role is one of `roles`; a refusal is audited.
    async fn require(
        &self,
        api_key: &str,
        roles: &[AccountRole],
        operation: &str,
    ) -> Result<AccountRecord, RaError> {
        let account = self.authenticate(api_key).await?;
        if roles.contains(&account.role) {
            return Ok(account);
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
            .require(api_key, &[AccountRole::Hotline], "hotline.suspend")
            .await?;
        let resident = self.identify(&request.person).await?;
        let now = self.clock.now();
        let scope = match request.scope {
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
        if plan.changes.is_empty() {
            return Err(RaError::new(
                ErrorCode::NothingToSuspend,
                "no active certificate in that scope (already held, revoked or expired)",
            ));
        }
        if let (Some(note), Some(detail)) = (&request.note, plan.detail.as_object_mut()) {
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
            .require(
                api_key,
                &[AccountRole::Hotline, AccountRole::Auditor],
                "hotline.lookup",
            )
            .await?;
        let resident = self.identify(&request.person).await?;
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
