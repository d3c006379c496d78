//! The relying-party side the portal runs: login with an authentication certificate,
//! signed online applications kept with their validation evidence, the
//! platform-operator API for private relying parties, and sign requests from private
//! apps to a person's phone.
//!
//! Every signature and certificate is checked with `jpki-verify`, the same SDK a relying
//! party outside uses — path to the JPKI CAs, and status from the CA's own OCSP responder
//! (or CRLs), whose response is kept as evidence. The store then says who the
//! certificate belongs to.

use std::fmt;
use std::sync::Arc;

use jpki_api::{
    BasicInfoView, ErrorCode, LoginApprovalRequest, LoginChallengeCreated, LoginChallengeView,
    PendingSignRequest, PhoneKind, PlatformProof, PlatformReplacement, PlatformUserView,
    SessionCreated, SignRequestAnswer, SignRequestCreate, SignRequestCreated, SignRequestResult,
    SubmissionReceipt, SubmissionRequest, SubmissionView, decode_der, decode_token, encode_der,
    encode_token, login_to_be_signed, platform_to_be_signed, verification_code,
};
use jpki_crypto::{Clock, SignatureAlgorithm, random_bytes, sha256};
use jpki_model::{BasicInfo, CertificateStatus, Purpose};
use jpki_store::{
    CertificateRecord, CertificateStore, Holder, LoginApproval, NewLoginChallenge, NewNonce,
    NewSession, NewSignRequest, NewSubmission, NonceStore, PhoneStore, RegistryStore,
    RelyingPartyRecord, RelyingStore, ResidentId, SignRequestState, StoreError, UsageEntry,
    UsageOutcome,
};
use jpki_verify::{InvalidReason, Report, Verdict, Verifier};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::hierarchy::issuer_name;
use crate::phone::RaError;

fn rfc3339(instant: OffsetDateTime) -> String {
    instant
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn random_token(bytes: usize) -> Result<String, RaError> {
    random_bytes(bytes)
        .map(|value| encode_token(&value))
        .map_err(|_| RaError::new(ErrorCode::Internal, "random number generator failed"))
}

fn decode(field: &str, text: &str) -> Result<Vec<u8>, RaError> {
    decode_der(text).map_err(|_| {
        RaError::new(
            ErrorCode::MalformedRequest,
            format!("{field} is not base64"),
        )
    })
}

/// Lifetimes of what this service hands out.
#[derive(Debug, Clone)]
pub struct RelyingConfig {
    pub login_challenge_lifetime: Duration,
    pub session_lifetime: Duration,
    pub sign_request_lifetime: Duration,
    pub platform_nonce_lifetime: Duration,
}

impl Default for RelyingConfig {
    fn default() -> Self {
        Self {
            login_challenge_lifetime: Duration::minutes(5),
            session_lifetime: Duration::minutes(30),
            sign_request_lifetime: Duration::minutes(5),
            platform_nonce_lifetime: Duration::minutes(5),
        }
    }
}

/// The portal as a relying party.
pub struct RelyingService<S> {
    store: S,
    verifier: Arc<Verifier>,
    clock: Arc<dyn Clock>,
    config: RelyingConfig,
}

impl<S> fmt::Debug for RelyingService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelyingService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A session the portal recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub resident_id: ResidentId,
    pub expires_at: OffsetDateTime,
}

/// Maps a verification verdict to the API's codes.
fn verdict_error(report: &Report, invalid_code: ErrorCode) -> RaError {
    match &report.verdict {
        Verdict::Valid => RaError::new(ErrorCode::Internal, "a valid verdict is not an error"),
        Verdict::Invalid { reason } => match reason {
            InvalidReason::Revoked { .. } => {
                RaError::new(ErrorCode::CertificateRevoked, "the certificate is revoked")
            }
            InvalidReason::Held { .. } => {
                RaError::new(ErrorCode::CertificateHeld, "the certificate is on hold")
            }
            InvalidReason::Expired { .. } | InvalidReason::NotYetValid { .. } => RaError::new(
                ErrorCode::CertificateExpired,
                "the certificate is outside its validity",
            ),
            InvalidReason::UnknownIssuer { .. }
            | InvalidReason::WrongPolicy { .. }
            | InvalidReason::WrongKeyUsage { .. }
            | InvalidReason::NotACa { .. }
            | InvalidReason::NameMismatch { .. } => RaError::new(
                ErrorCode::CertificateUntrusted,
                jpki_verify::invalid_text(reason).1,
            ),
            other => RaError::new(invalid_code, jpki_verify::invalid_text(other).1),
        },
        Verdict::Indeterminate { reason } => RaError::new(
            ErrorCode::StatusUnavailable,
            jpki_verify::indeterminate_text(reason).1,
        ),
    }
}

/// The verifier the issuer's own portal relies on: the given anchors, OCSP first and
/// always asked afresh ([`jpki_verify::StatusOptions::prefer_fresh`]) through `transport`
/// (in a server: `jpki_status::LocalTransport`, its own status service in-process). A
/// relying party may cache a `good` until its nextUpdate; the issuer may not, or a
/// revocation it has just made would be accepted by its own platform API until then.
pub fn portal_verifier(
    trust: jpki_verify::TrustStore,
    transport: Arc<dyn jpki_verify::status::http::HttpTransport>,
) -> Verifier {
    Verifier::with_status(
        trust,
        jpki_verify::StatusOptions {
            prefer_fresh: true,
            ..jpki_verify::StatusOptions::default()
        },
        transport,
    )
}

impl<S> RelyingService<S>
where
    S: RelyingStore + CertificateStore + RegistryStore + NonceStore + PhoneStore + Clone + 'static,
{
    pub fn new(
        store: S,
        verifier: Arc<Verifier>,
        clock: Arc<dyn Clock>,
        config: RelyingConfig,
    ) -> Self {
        Self {
            store,
            verifier,
            clock,
            config,
        }
    }

    /// Runs a (blocking: it may fetch OCSP/CRL over HTTP) verification off the async runtime.
    async fn verify<F>(&self, check: F) -> Result<Report, RaError>
    where
        F: FnOnce(&Verifier) -> Report + Send + 'static,
    {
        let verifier = self.verifier.clone();
        tokio::task::spawn_blocking(move || check(&verifier))
            .await
            .map_err(|_| RaError::new(ErrorCode::Internal, "the verification task failed"))
    }

    /// The issuance record of a verified certificate: who it belongs to.
    async fn record_of(&self, report: &Report) -> Result<CertificateRecord, RaError> {
        let summary = report
            .certificate
            .as_ref()
            .ok_or_else(|| RaError::new(ErrorCode::CertificateUntrusted, "no certificate"))?;
        let kind = report.kind.ok_or_else(|| {
            RaError::new(ErrorCode::CertificateUntrusted, "not a JPKI certificate")
        })?;
        self.store
            .certificate(issuer_name(kind.purpose), &summary.serial)
            .await?
            .ok_or_else(|| {
                RaError::new(
                    ErrorCode::CertificateUntrusted,
                    "not in the issuance records",
                )
            })
    }

    async fn history(
        &self,
        resident: ResidentId,
        device: Option<String>,
        action: &str,
        outcome: UsageOutcome,
        detail: serde_json::Value,
    ) -> Result<(), RaError> {
        self.store
            .append_usage(&UsageEntry {
                resident_id: resident,
                at: self.clock.now(),
                device_id: device,
                action: action.into(),
                outcome,
                detail,
            })
            .await?;
        Ok(())
    }

    /// When `report` names one of our certificates, writes the refusal to its holder's
    /// usage history (an attempt with their revoked, held or expired certificate is
    /// theirs to see); returns `error`. A report names a certificate's kind only once
    /// the signature by its key verified, so a forged signature under someone's
    /// (public) certificate is not written to their history: that is nobody's attempt
    /// of theirs, and would let anyone fill it.
    async fn refused_for(
        &self,
        report: &Report,
        action: &str,
        mut detail: serde_json::Value,
        error: RaError,
    ) -> RaError {
        let Ok(owner) = self.record_of(report).await else {
            return error;
        };
        if let Some(map) = detail.as_object_mut() {
            map.insert("code".into(), error.code.as_str().into());
            map.insert("certificate".into(), owner.kind.as_str().into());
            map.insert("serial".into(), owner.serial.to_hex().into());
        }
        match self
            .history(
                owner.resident_id,
                device_of(&owner),
                action,
                UsageOutcome::Refused,
                detail,
            )
            .await
        {
            Ok(()) => error,
            Err(history) => history,
        }
    }

    // ------------------------------------------------------------------ login

    /// A new login challenge (the page shows its code; the browser keeps the secret).
    pub async fn create_login(&self) -> Result<LoginChallengeCreated, RaError> {
        let now = self.clock.now();
        let id = random_token(12)?;
        let challenge =
            random_bytes(32).map_err(|_| RaError::new(ErrorCode::Internal, "random"))?;
        let secret = random_bytes(32).map_err(|_| RaError::new(ErrorCode::Internal, "random"))?;
        let code = short_code()?;
        let expires_at = now + self.config.login_challenge_lifetime;
        self.store
            .create_login_challenge(&NewLoginChallenge {
                id: id.clone(),
                challenge: challenge.clone(),
                code: code.clone(),
                browser_secret_hash: sha256(&secret).to_vec(),
                created_at: now,
                expires_at,
            })
            .await?;
        Ok(LoginChallengeCreated {
            challenge_id: id,
            challenge: encode_token(&challenge),
            code,
            browser_secret: encode_token(&secret),
            expires_at: rfc3339(expires_at),
        })
    }

    fn challenge_view(record: &jpki_store::LoginChallengeRecord) -> LoginChallengeView {
        LoginChallengeView {
            challenge_id: record.id.clone(),
            challenge: encode_token(&record.challenge),
            expires_at: rfc3339(record.expires_at),
            approved: record.approval.is_some(),
        }
    }

    pub async fn login_by_code(&self, code: &str) -> Result<LoginChallengeView, RaError> {
        let normalized = code.trim().to_ascii_uppercase();
        let record = self
            .store
            .login_challenge_by_code(&normalized)
            .await?
            .ok_or_else(|| {
                RaError::new(
                    ErrorCode::LoginChallengeUnknown,
                    "no login is waiting for this code",
                )
            })?;
        if record.expires_at <= self.clock.now() {
            return Err(RaError::new(
                ErrorCode::LoginChallengeExpired,
                "the code has expired",
            ));
        }
        Ok(Self::challenge_view(&record))
    }

    pub async fn login_view(&self, id: &str) -> Result<LoginChallengeView, RaError> {
        let record = self.store.login_challenge(id).await?.ok_or_else(|| {
            RaError::new(ErrorCode::LoginChallengeUnknown, "no such login challenge")
        })?;
        Ok(Self::challenge_view(&record))
    }

    /// The phone (or a card) answers a challenge with its authentication certificate.
    pub async fn approve_login(
        &self,
        id: &str,
        answer: &LoginApprovalRequest,
    ) -> Result<(), RaError> {
        let now = self.clock.now();
        let record = self.store.login_challenge(id).await?.ok_or_else(|| {
            RaError::new(ErrorCode::LoginChallengeUnknown, "no such login challenge")
        })?;
        if record.approval.is_some() {
            return Err(RaError::new(
                ErrorCode::LoginAlreadyApproved,
                "already approved",
            ));
        }
        if record.expires_at <= now {
            return Err(RaError::new(
                ErrorCode::LoginChallengeExpired,
                "the login challenge has expired",
            ));
        }
        let certificate = decode("certificate", &answer.certificate)?;
        let signature = decode("signature", &answer.signature)?;
        let text = login_to_be_signed(&record.id, &encode_token(&record.challenge));
        let report = self
            .verify(move |verifier| {
                verifier.verify_login(
                    &certificate,
                    &[],
                    &text,
                    &signature,
                    SignatureAlgorithm::RsaPkcs1Sha256,
                    now,
                )
            })
            .await?;
        if !report.verdict.is_valid() {
            let error = verdict_error(&report, ErrorCode::LoginResponseInvalid);
            if let Ok(owner) = self.record_of(&report).await {
                self.history(
                    owner.resident_id,
                    device_of(&owner),
                    "login",
                    UsageOutcome::Refused,
                    serde_json::json!({ "code": error.code.as_str() }),
                )
                .await?;
            }
            return Err(error);
        }
        let owner = self.record_of(&report).await?;
        self.store
            .approve_login_challenge(
                id,
                &LoginApproval {
                    at: now,
                    resident_id: owner.resident_id,
                    device_id: device_of(&owner),
                    certificate: (owner.issuer_name.clone(), owner.serial.clone()),
                },
            )
            .await
            .map_err(|error| match error {
                StoreError::Conflict { .. } => RaError::new(
                    ErrorCode::LoginAlreadyApproved,
                    "already approved or expired",
                ),
                other => other.into(),
            })?;
        self.history(owner.resident_id, device_of(&owner), "login", UsageOutcome::Ok,
            serde_json::json!({ "certificate": owner.kind.as_str(), "serial": owner.serial.to_hex() })).await?;
        Ok(())
    }

    /// The browser collects its session once the challenge is approved.
    pub async fn collect_session(
        &self,
        id: &str,
        browser_secret: &str,
    ) -> Result<SessionCreated, RaError> {
        let now = self.clock.now();
        let record = self.store.login_challenge(id).await?.ok_or_else(|| {
            RaError::new(ErrorCode::LoginChallengeUnknown, "no such login challenge")
        })?;
        let Some(approval) = record.approval else {
            return Err(RaError::new(
                ErrorCode::SessionInvalid,
                "the login is not approved yet",
            ));
        };
        let secret = decode_token(browser_secret)
            .map_err(|_| RaError::new(ErrorCode::SessionInvalid, "wrong browser secret"))?;
        let token = random_bytes(32).map_err(|_| RaError::new(ErrorCode::Internal, "random"))?;
        let expires_at = now + self.config.session_lifetime;
        self.store
            .collect_login_session(
                id,
                &sha256(&secret),
                &NewSession {
                    token_hash: sha256(&token).to_vec(),
                    resident_id: approval.resident_id,
                    created_at: now,
                    expires_at,
                    login_challenge: Some(id.to_owned()),
                },
            )
            .await
            .map_err(|error| match error {
                StoreError::Conflict { .. } => RaError::new(
                    ErrorCode::SessionInvalid,
                    "already collected, or the secret is wrong",
                ),
                other => other.into(),
            })?;
        let resident = self
            .store
            .resident(approval.resident_id)
            .await?
            .ok_or_else(|| RaError::new(ErrorCode::ResidentUnknown, "no such resident"))?;
        Ok(SessionCreated {
            session_token: encode_token(&token),
            expires_at: rfc3339(expires_at),
            name: resident.basic_info.name().to_owned(),
        })
    }

    /// The live session a bearer token names.
    pub async fn session(&self, token: &str) -> Result<SessionInfo, RaError> {
        let invalid = || RaError::new(ErrorCode::SessionInvalid, "no valid session");
        let token = decode_token(token).map_err(|_| invalid())?;
        let session = self
            .store
            .session(&sha256(&token), self.clock.now())
            .await?
            .ok_or_else(invalid)?;
        Ok(SessionInfo {
            resident_id: session.resident_id,
            expires_at: session.expires_at,
        })
    }

    /// Who a session is for (`GET /api/v1/session`).
    pub async fn session_view(&self, token: &str) -> Result<jpki_api::SessionView, RaError> {
        let session = self.session(token).await?;
        let resident = self
            .store
            .resident(session.resident_id)
            .await?
            .ok_or_else(|| {
                RaError::new(ErrorCode::SessionInvalid, "the session's person is unknown")
            })?;
        Ok(jpki_api::SessionView {
            name: resident.basic_info.name().to_owned(),
            expires_at: rfc3339(session.expires_at),
        })
    }

    pub async fn logout(&self, token: &str) -> Result<(), RaError> {
        let token = decode_token(token)
            .map_err(|_| RaError::new(ErrorCode::SessionInvalid, "no valid session"))?;
        self.store
            .revoke_session(&sha256(&token), self.clock.now())
            .await?;
        Ok(())
    }

    // ------------------------------------------------------------------ submissions

    /// Verifies a signed online application, keeps it with its evidence, returns a receipt.
    pub async fn submit(&self, request: &SubmissionRequest) -> Result<SubmissionReceipt, RaError> {
        let now = self.clock.now();
        if request.title.trim().is_empty() || request.title.chars().count() > 200 {
            return Err(RaError::new(
                ErrorCode::MalformedRequest,
                "a title of 1 to 200 characters is required",
            ));
        }
        let content = decode("content", &request.content)?;
        let signature = decode("signature", &request.signature)?;
        let (cms, body) = (signature.clone(), content.clone());
        let report = self
            .verify(move |verifier| verifier.verify_cms_detached(&cms, &body, now))
            .await?;
        if !report.verdict.is_valid() {
            let error = verdict_error(&report, ErrorCode::SignatureInvalid);
            let detail = serde_json::json!({ "title": request.title.trim() });
            return Err(self.refused_for(&report, "submitted", detail, error).await);
        }
        let owner = self.record_of(&report).await?;
        let public_id = random_token(12)?;
        let report_json = serde_json::to_value(&report)
            .map_err(|_| RaError::new(ErrorCode::Internal, "report encoding"))?;
        let record = self
            .store
            .insert_submission(&NewSubmission {
                public_id,
                resident_id: owner.resident_id,
                certificate: (owner.issuer_name.clone(), owner.serial.clone()),
                title: request.title.trim().to_owned(),
                content_type: request.content_type.clone(),
                content,
                signature,
                report: report_json,
                received_at: now,
            })
            .await?;
        self.history(owner.resident_id, device_of(&owner), "submitted", UsageOutcome::Ok,
            serde_json::json!({ "receipt": record.submission.public_id, "title": record.submission.title,
                "certificate": owner.kind.as_str(), "serial": owner.serial.to_hex() })).await?;
        Ok(receipt(&record.submission, &report))
    }

    /// A person's submissions with their receipts, each re-checked from its kept evidence.
    pub async fn submissions_of(
        &self,
        resident: ResidentId,
    ) -> Result<Vec<SubmissionView>, RaError> {
        let mut views = Vec::new();
        for record in self.store.submissions_of_resident(resident).await? {
            views.push(self.view(&record.submission).await?);
        }
        Ok(views)
    }

    pub async fn submission(
        &self,
        resident: ResidentId,
        public_id: &str,
    ) -> Result<SubmissionView, RaError> {
        let record = self
            .store
            .submission(public_id)
            .await?
            .filter(|record| record.submission.resident_id == resident)
            .ok_or_else(|| RaError::new(ErrorCode::SubmissionNotFound, "no such submission"))?;
        self.view(&record.submission).await
    }

    /// Re-verifies a kept signature at its submission time with only its kept evidence:
    /// what a reviewer can do years later, with no network.
    async fn view(&self, submission: &NewSubmission) -> Result<SubmissionView, RaError> {
        let report: Report = serde_json::from_value(submission.report.clone())
            .map_err(|_| RaError::new(ErrorCode::Internal, "a stored report does not decode"))?;
        let trust = self.verifier.trust_store().clone();
        let evidence: Vec<Vec<u8>> = report
            .evidence
            .status
            .iter()
            .filter_map(|(_, evidence)| match evidence {
                jpki_verify::StatusEvidence::Ocsp { response_der, .. } => {
                    Some(response_der.0.clone())
                }
                _ => None,
            })
            .collect();
        let (cms, content, at) = (
            submission.signature.clone(),
            submission.content.clone(),
            submission.received_at,
        );
        let recheck = tokio::task::spawn_blocking(move || {
            let options = jpki_verify::StatusOptions {
                policy: jpki_verify::StatusPolicy::Offline,
                ..Default::default()
            };
            let offline = Verifier::with_status(
                trust,
                options,
                Arc::new(jpki_verify::status::http::StdHttpTransport::default()),
            );
            for response in &evidence {
                let _ = offline.supply_ocsp_response(response);
            }
            offline.verify_cms_detached(&cms, &content, at)
        })
        .await
        .map_err(|_| RaError::new(ErrorCode::Internal, "the re-check failed"))?;
        Ok(SubmissionView {
            receipt: receipt(submission, &report),
            report: submission.report.clone(),
            recheck_valid: recheck.verdict.is_valid(),
        })
    }

    // ------------------------------------------------------------------ platform operator

    /// The relying party an API key names.
    pub async fn relying_party(&self, api_key: &str) -> Result<RelyingPartyRecord, RaError> {
        let unauthorized = || {
            RaError::new(
                ErrorCode::RelyingPartyUnauthorized,
                "unknown or disabled API key",
            )
        };
        let key = decode_token(api_key).map_err(|_| unauthorized())?;
        self.store
            .relying_party_by_key(&sha256(&key))
            .await?
            .ok_or_else(unauthorized)
    }

    /// Registers a relying party; returns it and its API key (shown once, stored hashed).
    pub async fn add_relying_party(
        &self,
        name: &str,
    ) -> Result<(RelyingPartyRecord, String), RaError> {
        let key = random_bytes(32).map_err(|_| RaError::new(ErrorCode::Internal, "random"))?;
        let record = self
            .store
            .add_relying_party(name, &sha256(&key), self.clock.now())
            .await
            .map_err(|error| match error {
                StoreError::Conflict { what } => RaError::new(ErrorCode::MalformedRequest, what),
                other => other.into(),
            })?;
        Ok((record, encode_token(&key)))
    }

    pub async fn platform_nonce(&self) -> Result<jpki_api::NonceResponse, RaError> {
        let now = self.clock.now();
        let value = random_bytes(32).map_err(|_| RaError::new(ErrorCode::Internal, "random"))?;
        let expires_at = now + self.config.platform_nonce_lifetime;
        self.store
            .issue_nonce(&NewNonce {
                value: value.clone(),
                purpose: "platform".into(),
                subject: None,
                issued_at: now,
                expires_at,
            })
            .await?;
        Ok(jpki_api::NonceResponse {
            nonce: encode_token(&value),
            purpose: jpki_api::NoncePurpose::Application,
            expires_at: rfc3339(expires_at),
        })
    }

    /// Checks a platform proof (nonce + signature over the platform text + certificate of
    /// `purpose`); returns the certificate's record and the verification report.
    async fn check_proof(
        &self,
        party: &RelyingPartyRecord,
        proof: &PlatformProof,
        action: &'static str,
        purpose: Purpose,
    ) -> Result<(CertificateRecord, Report), RaError> {
        let usage_action = format!("platform_{action}");
        let usage_detail = || serde_json::json!({ "relying_party": party.name });
        let now = self.clock.now();
        let nonce = decode_token(&proof.nonce)
            .map_err(|_| RaError::new(ErrorCode::MalformedRequest, "nonce is not base64url"))?;
        self.store
            .consume_nonce(&nonce, "platform", now)
            .await
            .map_err(|error| match error {
                StoreError::Nonce(jpki_store::NonceError::AlreadyUsed) => {
                    RaError::new(ErrorCode::NonceReused, "nonce already used")
                }
                StoreError::Nonce(jpki_store::NonceError::Expired) => {
                    RaError::new(ErrorCode::NonceExpired, "nonce expired")
                }
                StoreError::Nonce(_) => {
                    RaError::new(ErrorCode::NonceUnknown, "no such platform nonce")
                }
                other => other.into(),
            })?;
        let certificate = decode("certificate", &proof.certificate)?;
        let signature = decode("signature", &proof.signature)?;
        let text = platform_to_be_signed(action, &proof.nonce);
        let report = self
            .verify(move |verifier| {
                // A login response and a registration proof are the same check: the key's
                // signature over our text, then the certificate's path and status.
                let mut report = verifier.verify_login(
                    &certificate,
                    &[],
                    &text,
                    &signature,
                    SignatureAlgorithm::RsaPkcs1Sha256,
                    now,
                );
                if purpose == Purpose::Signature
                    && matches!(
                        report.verdict,
                        Verdict::Invalid {
                            reason: InvalidReason::WrongPolicy { .. }
                                | InvalidReason::WrongKeyUsage { .. }
                        }
                    )
                {
                    // verify_login expects an authentication certificate: redo for a signature one.
                    report =
                        verifier.verify_certificate(&certificate, &[], Purpose::Signature, now);
                    if report.verdict.is_valid()
                        && jpki_verify::verify_challenge_signature(
                            &certificate,
                            &text,
                            &signature,
                            SignatureAlgorithm::RsaPkcs1Sha256,
                        )
                        .is_err()
                    {
                        report.verdict = Verdict::Invalid {
                            reason: InvalidReason::BadSignature {
                                target: jpki_verify::SignatureTarget::Challenge,
                            },
                        };
                    }
                }
                report
            })
            .await?;
        if !report.verdict.is_valid() {
            let error = verdict_error(&report, ErrorCode::SignatureInvalid);
            return Err(self
                .refused_for(&report, &usage_action, usage_detail(), error)
                .await);
        }
        if report.kind.map(|kind| kind.purpose) != Some(purpose) {
            let error = RaError::new(
                ErrorCode::CertificateUntrusted,
                format!(
                    "a {} certificate is required",
                    if purpose == Purpose::Signature {
                        "signature"
                    } else {
                        "user-authentication"
                    }
                ),
            );
            return Err(self
                .refused_for(&report, &usage_action, usage_detail(), error)
                .await);
        }
        let record = self.record_of(&report).await?;
        Ok((record, report))
    }

    /// 利用者登録: a signature certificate's holder becomes a user of the relying party.
    pub async fn platform_register(
        &self,
        party: &RelyingPartyRecord,
        proof: &PlatformProof,
    ) -> Result<PlatformUserView, RaError> {
        let (record, report) = self
            .check_proof(party, proof, "register", Purpose::Signature)
            .await?;
        let user = self
            .store
            .platform_user(
                party.id,
                record.resident_id,
                &random_token(16)?,
                self.clock.now(),
            )
            .await?;
        self.history(
            record.resident_id,
            device_of(&record),
            "platform_register",
            UsageOutcome::Ok,
            serde_json::json!({ "relying_party": party.name, "user_id": user.user_id,
                "certificate": record.kind.as_str(), "serial": record.serial.to_hex() }),
        )
        .await?;
        Ok(PlatformUserView {
            user_id: user.user_id,
            basic_info: report.basic_info.as_ref().map(basic_info_view),
            certificate_serial: record.serial.to_hex(),
            replaces_serial: None,
        })
    }

    /// ログイン: an authentication certificate's holder, as the same user id.
    pub async fn platform_login(
        &self,
        party: &RelyingPartyRecord,
        proof: &PlatformProof,
    ) -> Result<PlatformUserView, RaError> {
        let (record, _) = self
            .check_proof(party, proof, "login", Purpose::Authentication)
            .await?;
        let user = self
            .store
            .platform_user_by_resident(party.id, record.resident_id)
            .await?
            .ok_or_else(|| {
                RaError::new(
                    ErrorCode::UserNotRegistered,
                    "register with a signature certificate first",
                )
            })?;
        self.history(
            record.resident_id,
            device_of(&record),
            "platform_login",
            UsageOutcome::Ok,
            serde_json::json!({ "relying_party": party.name, "user_id": user.user_id,
                "certificate": record.kind.as_str(), "serial": record.serial.to_hex() }),
        )
        .await?;
        Ok(PlatformUserView {
            user_id: user.user_id,
            basic_info: None,
            certificate_serial: record.serial.to_hex(),
            replaces_serial: None,
        })
    }

    /// 新旧紐付け: a new signature certificate, linked to the one it replaced, keeps the user id.
    pub async fn platform_replacement(
        &self,
        party: &RelyingPartyRecord,
        replacement: &PlatformReplacement,
    ) -> Result<PlatformUserView, RaError> {
        let now = self.clock.now();
        let certificate = decode("certificate", &replacement.certificate)?;
        let report = self
            .verify(move |verifier| {
                verifier.verify_certificate(&certificate, &[], Purpose::Signature, now)
            })
            .await?;
        if !report.verdict.is_valid() {
            let error = verdict_error(&report, ErrorCode::SignatureInvalid);
            let detail = serde_json::json!({ "relying_party": party.name });
            return Err(self
                .refused_for(&report, "platform_replacement", detail, error)
                .await);
        }
        let record = self.record_of(&report).await?;
        let (_, old_serial) = record.renewal_of.clone().ok_or_else(|| {
            RaError::new(
                ErrorCode::NoPredecessor,
                "this certificate replaces no earlier certificate",
            )
        })?;
        let user = self
            .store
            .platform_user_by_resident(party.id, record.resident_id)
            .await?
            .ok_or_else(|| {
                RaError::new(
                    ErrorCode::UserNotRegistered,
                    "the earlier certificate's holder is not registered here",
                )
            })?;
        self.history(
            record.resident_id,
            device_of(&record),
            "platform_replacement",
            UsageOutcome::Ok,
            serde_json::json!({ "relying_party": party.name, "user_id": user.user_id,
                "certificate": record.kind.as_str(), "serial": record.serial.to_hex(),
                "replaces_serial": old_serial.to_hex() }),
        )
        .await?;
        Ok(PlatformUserView {
            user_id: user.user_id,
            basic_info: report.basic_info.as_ref().map(basic_info_view),
            certificate_serial: record.serial.to_hex(),
            replaces_serial: Some(old_serial.to_hex()),
        })
    }

    // ------------------------------------------------------------------ sign requests

    pub async fn create_sign_request(
        &self,
        party: &RelyingPartyRecord,
        request: &SignRequestCreate,
    ) -> Result<SignRequestCreated, RaError> {
        let now = self.clock.now();
        if request.purpose.trim().is_empty() || request.purpose.chars().count() > 200 {
            return Err(RaError::new(
                ErrorCode::MalformedRequest,
                "a purpose of 1 to 200 characters is required",
            ));
        }
        let user = self
            .store
            .platform_user_by_id(party.id, &request.user_id)
            .await?
            .ok_or_else(|| RaError::new(ErrorCode::UserNotRegistered, "no such user"))?;
        let content = decode("content", &request.content)?;
        let public_id = random_token(12)?;
        let code = verification_code(&public_id, &party.name, &content);
        let expires_at = now + self.config.sign_request_lifetime;
        self.store
            .create_sign_request(&NewSignRequest {
                public_id: public_id.clone(),
                relying_party_id: party.id,
                resident_id: user.resident_id,
                purpose: request.purpose.trim().to_owned(),
                kind: request.kind.as_str().to_owned(),
                content,
                verification_code: code.clone(),
                created_at: now,
                expires_at,
            })
            .await?;
        Ok(SignRequestCreated {
            request_id: public_id,
            verification_code: code,
            expires_at: rfc3339(expires_at),
        })
    }

    pub async fn sign_request_result(
        &self,
        party: &RelyingPartyRecord,
        id: &str,
    ) -> Result<SignRequestResult, RaError> {
        let record = self
            .store
            .sign_request(id)
            .await?
            .filter(|record| record.request.relying_party_id == party.id)
            .ok_or_else(|| RaError::new(ErrorCode::SignRequestUnknown, "no such request"))?;
        let state = match record.state {
            SignRequestState::Pending if record.request.expires_at <= self.clock.now() => "expired",
            state => state.as_str(),
        };
        Ok(SignRequestResult {
            request_id: record.request.public_id,
            state: state.to_owned(),
            signature: record.signature.as_deref().map(encode_der),
            certificate: record.certificate.as_deref().map(encode_der),
        })
    }

    /// Pending requests for the person this (active) phone belongs to.
    pub async fn pending_requests(
        &self,
        resident: ResidentId,
    ) -> Result<Vec<PendingSignRequest>, RaError> {
        Ok(self
            .store
            .pending_sign_requests(resident, self.clock.now())
            .await?
            .into_iter()
            .map(|record| PendingSignRequest {
                request_id: record.request.public_id,
                relying_party: record.relying_party_name,
                purpose: record.request.purpose,
                kind: if record.request.kind == "signature" {
                    PhoneKind::Signature
                } else {
                    PhoneKind::Authentication
                },
                content: encode_der(&record.request.content),
                verification_code: record.request.verification_code,
                expires_at: rfc3339(record.request.expires_at),
            })
            .collect())
    }

    /// The phone answers. Only the person's registered phone may, with a live certificate
    /// of the requested kind held by that phone; the signature must verify.
    pub async fn answer_request(
        &self,
        device: &jpki_store::DeviceRecord,
        id: &str,
        answer: &SignRequestAnswer,
    ) -> Result<(), RaError> {
        let now = self.clock.now();
        let record = self
            .store
            .sign_request(id)
            .await?
            .ok_or_else(|| RaError::new(ErrorCode::SignRequestUnknown, "no such request"))?;
        if record.state != SignRequestState::Pending {
            return Err(RaError::new(
                ErrorCode::SignRequestAnswered,
                "already answered",
            ));
        }
        if record.request.expires_at <= now {
            return Err(RaError::new(
                ErrorCode::SignRequestExpired,
                "the request has expired",
            ));
        }
        if device.resident_id != Some(record.request.resident_id)
            || device.state != jpki_store::DeviceState::Active
        {
            return Err(RaError::new(
                ErrorCode::DeviceMismatch,
                "this phone is not the person's registered phone",
            ));
        }
        let (signature, certificate) = if answer.approve {
            let signature = decode("signature", answer.signature.as_deref().unwrap_or_default())?;
            let certificate = decode(
                "certificate",
                answer.certificate.as_deref().unwrap_or_default(),
            )?;
            let kind = if record.request.kind == "signature" {
                PhoneKind::Signature
            } else {
                PhoneKind::Authentication
            };
            let holder_certificates = self
                .store
                .certificates_of_holder(&Holder::Device(device.device_id.clone()))
                .await?;
            let held = holder_certificates.iter().any(|held| {
                held.der == certificate
                    && held.kind == kind.certificate_kind()
                    && held.status == CertificateStatus::Active
            });
            if !held {
                return Err(RaError::new(
                    ErrorCode::DeviceMismatch,
                    "the certificate is not a live certificate of this phone",
                ));
            }
            let (content, cms, cert) = (
                record.request.content.clone(),
                signature.clone(),
                certificate.clone(),
            );
            let report = match kind {
                PhoneKind::Signature => {
                    self.verify(move |verifier| verifier.verify_cms_detached(&cms, &content, now))
                        .await?
                }
                PhoneKind::Authentication => {
                    self.verify(move |verifier| {
                        verifier.verify_login(
                            &cert,
                            &[],
                            &content,
                            &cms,
                            SignatureAlgorithm::RsaPkcs1Sha256,
                            now,
                        )
                    })
                    .await?
                }
            };
            if !report.verdict.is_valid() {
                let error = verdict_error(&report, ErrorCode::SignatureInvalid);
                self.history(
                    record.request.resident_id,
                    Some(device.device_id.clone()),
                    "sign_request",
                    UsageOutcome::Refused,
                    serde_json::json!({ "relying_party": record.relying_party_name,
                        "purpose": record.request.purpose, "approved": true,
                        "code": error.code.as_str() }),
                )
                .await?;
                return Err(error);
            }
            (Some(signature), Some(certificate))
        } else {
            (None, None)
        };
        self.store
            .answer_sign_request(
                id,
                answer.approve,
                &device.device_id,
                signature.as_deref(),
                certificate.as_deref(),
                now,
            )
            .await
            .map_err(|error| match error {
                StoreError::Conflict { .. } => RaError::new(
                    ErrorCode::SignRequestAnswered,
                    "already answered or expired",
                ),
                other => other.into(),
            })?;
        self.history(record.request.resident_id, Some(device.device_id.clone()), "sign_request",
            if answer.approve { UsageOutcome::Ok } else { UsageOutcome::Refused },
            serde_json::json!({ "relying_party": record.relying_party_name, "purpose": record.request.purpose, "approved": answer.approve })).await?;
        Ok(())
    }
}

fn device_of(record: &CertificateRecord) -> Option<String> {
    match &record.holder {
        Holder::Device(device) => Some(device.clone()),
        Holder::Card(_) => None,
    }
}

fn basic_info_view(info: &BasicInfo) -> BasicInfoView {
    BasicInfoView {
        name: info.name().to_owned(),
        name_substitute: info.name_substitute().to_owned(),
        address: info.address().to_owned(),
        address_substitute: info.address_substitute().to_owned(),
        date_of_birth: info.date_of_birth().to_string(),
        sex: info.sex().code().to_owned(),
    }
}

fn receipt(submission: &NewSubmission, report: &Report) -> SubmissionReceipt {
    let evidence = report
        .evidence
        .status
        .first()
        .map(|(_, evidence)| match evidence {
            jpki_verify::StatusEvidence::Ocsp { .. } => "ocsp",
            jpki_verify::StatusEvidence::Crl { .. } => "crl",
        })
        .unwrap_or("none");
    SubmissionReceipt {
        receipt_id: submission.public_id.clone(),
        title: submission.title.clone(),
        received_at: rfc3339(submission.received_at),
        content_sha256: sha256(&submission.content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        signer_name: report
            .basic_info
            .as_ref()
            .map(|info| info.name().to_owned())
            .unwrap_or_default(),
        certificate_kind: report
            .kind
            .map(|kind| kind.as_str().to_owned())
            .unwrap_or_default(),
        certificate_serial: submission.certificate.1.to_hex(),
        evidence: evidence.to_owned(),
    }
}

/// An 8-character code of unambiguous letters and digits, `XXXX-XXXX`.
fn short_code() -> Result<String, RaError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes = random_bytes(8).map_err(|_| RaError::new(ErrorCode::Internal, "random"))?;
    let mut code = String::with_capacity(9);
    for (index, byte) in bytes.iter().enumerate() {
        if index == 4 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[usize::from(byte % 32)]));
    }
    Ok(code)
}
