//! The certificate lifecycle: the one place where a certificate's status changes.
//!
//! ```text
//!             ┌──────── hold (hotline 一時利用停止 / card 一時保留) ────────┐
//!             │                                                               ▼
//! Pending ──register──▶ Active ◀──────────────── release (lifting) ────────── Held
//!    │                    │                                                    │
//!    └──── revoke ──────▶ Revoked { reason } ◀────────── revoke ───────────────┘
//! ```
//!
//! - [`next_status`] is the state machine, as a pure function: every transition any
//!   part of jpki makes is checked here (registration, Pending → Active, is the store's
//!   one-phone-per-person transaction; its revocations of replaced phones are
//!   `superseded`, as [`next_status`] would allow).
//! - [`Lifecycle::apply`] carries out a [`Plan`]: every change is checked, then written
//!   in one transaction with the person's usage history (利用履歴), an audit entry, the
//!   phones' notifications and, for an 異動, the resident's new record
//!   ([`jpki_store::LifecycleStore::apply_lifecycle`]); then the status services are
//!   told ([`jpki_status::StatusNotifier`]), so that OCSP answers the new status before
//!   the caller acknowledges.
//! - The policies that build plans live here too: [`suspension_plan`] (hotline),
//!   [`attribute_change_plan`] (異動等失効), and the phone's own (lift, voluntary and
//!   remote revocation) in `phone::lifecycle`.
//!
//! Revocation reasons (JPKI-FACTS §3.2, J-LIS's mapping onto RFC 5280):
//!
//! | event | reason |
//! |---|---|
//! | hotline suspension | `certificateHold` (a hold, not a revocation) |
//! | a pending phone certificate of a suspended person (not delivered) | `unspecified` ("destroyed before delivery") |
//! | lifting: the held phone signature certificate, re-issued | `superseded` |
//! | voluntary revocation in the app | `cessationOfOperation` ("no longer needed") |
//! | revoking another (lost, sold) phone's certificates | `keyCompromise` |
//! | move, rename, correction of the signature certificate's data | `affiliationChanged` |
//! | death: every certificate | `cessationOfOperation` |
//! | a newer phone registered, a card replaced | `superseded` |
//!
//! The decision a reviewer will question: **a hold can be released** (the found phone's
//! authentication certificate), which J-LIS never does on its CRLs ("一時保留の解除は行わ
//! ない"); the CRLs follow with `removeFromCRL` (docs/divergences.md).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use jpki_crypto::Clock;
use jpki_model::{
    CertificateKind, CertificateStatus, Medium, Purpose, RevocationReason, SerialNumber,
};
use jpki_status::StatusNotifier;
use jpki_store::{
    AuditEntry, CertificateRecord, CertificateStore, ChangeKind, DeviceState, HistoryKind, Holder,
    LifecycleBatch, LifecycleOutcome, LifecycleStore, NewDeviceEvent, ResidentChange, ResidentId,
    StatusChange, StoreError, UsageEntry, UsageOutcome,
};
use time::OffsetDateTime;

/// What can happen to a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// certificateHold: Active → Held.
    Hold,
    /// Lifting a hold: Held → Active.
    Release,
    /// Pending, Active or Held → Revoked with this reason.
    Revoke(RevocationReason),
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::Release => "release",
            Self::Revoke(_) => "revoke",
        }
    }
}

/// Why [`next_status`] refuses a transition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("it is already revoked ({}); a revoked certificate never changes again", .0.as_str())]
    AlreadyRevoked(RevocationReason),
    #[error("it is not on hold")]
    NotHeld,
    #[error("it is already on hold")]
    AlreadyHeld,
    #[error("it is not registered yet; a pending certificate can be revoked, not held")]
    Pending,
    #[error("it expired at {0}")]
    Expired(OffsetDateTime),
    #[error("{} is not a reason to revoke with", .0.as_str())]
    InvalidReason(RevocationReason),
}

/// The state machine: the status after `transition` at `at`, or why not. A revoked
/// certificate never changes; revocation is allowed from every other status, even
/// after expiry (it costs nothing and keeps the record true); holds and releases only
/// within the validity period.
pub fn next_status(
    current: &CertificateStatus,
    transition: Transition,
    at: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateStatus, TransitionError> {
    use CertificateStatus::{Active, Held, Pending, Revoked};
    match (current, transition) {
        (Revoked { reason, .. }, _) => Err(TransitionError::AlreadyRevoked(*reason)),
        (_, Transition::Revoke(reason))
            if matches!(
                reason,
                RevocationReason::CertificateHold | RevocationReason::RemoveFromCrl
            ) =>
        {
            Err(TransitionError::InvalidReason(reason))
        }
        (_, Transition::Revoke(reason)) => Ok(Revoked { at, reason }),
        (_, _) if at > not_after => Err(TransitionError::Expired(not_after)),
        (Active, Transition::Hold) => Ok(Held { since: at }),
        (Held { .. }, Transition::Hold) => Err(TransitionError::AlreadyHeld),
        (Pending, Transition::Hold) => Err(TransitionError::Pending),
        (Held { .. }, Transition::Release) => Ok(Active),
        (Active | Pending, Transition::Release) => Err(TransitionError::NotHeld),
    }
}

/// Whether a certificate is still alive (may be used or come back).
pub fn is_live(status: &CertificateStatus) -> bool {
    !matches!(status, CertificateStatus::Revoked { .. })
}

/// One planned change.
#[derive(Debug, Clone)]
pub struct PlannedChange {
    pub certificate: CertificateRecord,
    pub transition: Transition,
}

/// What a lifecycle operation will do, in one transaction (see [`Lifecycle::apply`]).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Who acts, for the audit log: `operator:<name>`, `citizen:#<resident>`,
    /// `registry`, `counter`.
    pub actor: String,
    /// The audit action, e.g. `hotline.suspend`.
    pub action: String,
    /// The usage-history action shown to the person, e.g. `suspended`.
    pub usage_action: String,
    /// The phone the person acted from, for the usage history.
    pub device: Option<String>,
    pub changes: Vec<PlannedChange>,
    /// Added to the usage and audit details.
    pub detail: serde_json::Value,
    /// The resident the plan is about (their usage history and audit subject), also
    /// when no certificate changes.
    pub resident: ResidentId,
    pub resident_change: Option<ResidentChange>,
    pub cancel_applications: Option<String>,
    pub device_states: Vec<(String, DeviceState)>,
    pub events: Vec<NewDeviceEvent>,
}

impl Plan {
    pub fn new(
        resident: ResidentId,
        actor: impl Into<String>,
        action: impl Into<String>,
        usage_action: impl Into<String>,
    ) -> Self {
        Self {
            actor: actor.into(),
            action: action.into(),
            usage_action: usage_action.into(),
            device: None,
            changes: Vec::new(),
            detail: serde_json::json!({}),
            resident,
            resident_change: None,
            cancel_applications: None,
            device_states: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn change(mut self, certificate: CertificateRecord, transition: Transition) -> Self {
        self.changes.push(PlannedChange {
            certificate,
            transition,
        });
        self
    }
}

/// Why a plan was not carried out. Nothing was changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("the {kind} {serial} cannot be changed ({transition}): {error}", kind = .kind.label_en(), transition = .transition.as_str())]
    Refused {
        kind: CertificateKind,
        serial: SerialNumber,
        transition: Transition,
        error: TransitionError,
    },
    #[error("a status changed meanwhile: {0}")]
    Concurrent(String),
    #[error("resident {0} is deceased")]
    Deceased(ResidentId),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for LifecycleError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { what } => Self::Concurrent(what),
            StoreError::ResidentDeceased(id) => Self::Deceased(id),
            other => Self::Store(other),
        }
    }
}

/// The one mapping of lifecycle failures to the API's codes.
impl From<LifecycleError> for crate::phone::RaError {
    fn from(error: LifecycleError) -> Self {
        use jpki_api::ErrorCode;
        let detail = error.to_string();
        match error {
            LifecycleError::Refused { error, .. } => {
                let code = match error {
                    TransitionError::AlreadyRevoked(_) => ErrorCode::CertificateAlreadyRevoked,
                    TransitionError::NotHeld => ErrorCode::CertificateNotHeld,
                    TransitionError::AlreadyHeld | TransitionError::Pending => {
                        ErrorCode::StatusChanged
                    }
                    TransitionError::Expired(_) => ErrorCode::CertificateExpired,
                    TransitionError::InvalidReason(_) => ErrorCode::Internal,
                };
                Self::new(code, detail)
            }
            LifecycleError::Concurrent(_) => Self::new(ErrorCode::StatusChanged, detail),
            LifecycleError::Deceased(_) => Self::new(ErrorCode::ResidentDeceased, detail),
            LifecycleError::Store(store) => store.into(),
        }
    }
}

/// A certificate's name in usage and audit details: `<issuer>:<serial>`.
pub fn certificate_label(certificate: &CertificateRecord) -> String {
    format!("{}:{}", certificate.issuer_name, certificate.serial)
}

/// Carries out [`Plan`]s (see the module docs).
pub struct Lifecycle<S> {
    store: S,
    clock: Arc<dyn Clock>,
    notifier: Option<Arc<dyn StatusNotifier>>,
}

impl<S> fmt::Debug for Lifecycle<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifecycle")
            .field("notifier", &self.notifier)
            .finish_non_exhaustive()
    }
}

impl<S: LifecycleStore + CertificateStore> Lifecycle<S> {
    pub fn new(store: S, clock: Arc<dyn Clock>, notifier: Option<Arc<dyn StatusNotifier>>) -> Self {
        Self {
            store,
            clock,
            notifier,
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Carries out `plan`:
    /// 1. every change is checked by [`next_status`] against the status read when the
    ///    plan was made; the first refusal refuses the plan;
    /// 2. the changes, the resident's change, cancelled applications, phone states and
    ///    events, one usage line and one audit entry are written in one transaction, each
    ///    change a compare-and-set on the status it was planned from
    ///    ([`LifecycleError::Concurrent`] if another request changed it meanwhile);
    /// 3. the status services are told, so OCSP answers the new statuses at once.
    pub async fn apply(&self, plan: Plan) -> Result<LifecycleOutcome, LifecycleError> {
        let at = self.clock.now();
        // Step 1.
        let mut batch = LifecycleBatch::new(at);
        let mut labels = Vec::with_capacity(plan.changes.len());
        for planned in &plan.changes {
            let certificate = &planned.certificate;
            let new = next_status(
                &certificate.status,
                planned.transition,
                at,
                certificate.not_after,
            )
            .map_err(|error| LifecycleError::Refused {
                kind: certificate.kind,
                serial: certificate.serial.clone(),
                transition: planned.transition,
                error,
            })?;
            labels.push(serde_json::json!({
                "certificate": certificate_label(certificate),
                "kind": certificate.kind.as_str(),
                "status": new.label(),
                "reason": match &new {
                    CertificateStatus::Revoked { reason, .. } => Some(reason.as_str()),
                    CertificateStatus::Held { .. } => Some("certificateHold"),
                    _ => None,
                },
            }));
            batch.changes.push(StatusChange {
                issuer_name: certificate.issuer_name.clone(),
                serial: certificate.serial.clone(),
                expected: certificate.status.clone(),
                new,
            });
        }
        // Step 2.
        let mut detail = serde_json::json!({ "certificates": labels });
        if let (Some(target), Some(extra)) = (detail.as_object_mut(), plan.detail.as_object()) {
            for (key, value) in extra {
                target.insert(key.clone(), value.clone());
            }
        }
        batch.resident_change = plan.resident_change.map(|change| (plan.resident, change));
        batch.cancel_applications = plan
            .cancel_applications
            .map(|reason| (plan.resident, reason));
        batch.device_states = plan.device_states;
        batch.events = plan.events;
        batch.usage.push(UsageEntry {
            resident_id: plan.resident,
            at,
            device_id: plan.device,
            action: plan.usage_action,
            outcome: UsageOutcome::Ok,
            detail: detail.clone(),
        });
        batch.audit.push(AuditEntry {
            at,
            actor: plan.actor,
            action: plan.action.clone(),
            subject: format!("resident:{}", plan.resident.0),
            detail_json: detail,
        });
        let outcome = self.store.apply_lifecycle(&batch).await?;
        tracing::info!(action = %plan.action, resident = %plan.resident, changed = outcome.certificates.len(), "lifecycle transition applied");
        // Step 3.
        self.notify(&outcome.certificates).await;
        Ok(outcome)
    }

    /// Tells the status services about changed certificates (also for changes made by
    /// the store's registration transaction).
    pub async fn notify(&self, certificates: &[CertificateRecord]) {
        if let Some(notifier) = &self.notifier
            && !certificates.is_empty()
        {
            let changed: Vec<(String, SerialNumber)> = certificates
                .iter()
                .map(|c| (c.issuer_name.clone(), c.serial.clone()))
                .collect();
            notifier.certificates_changed(&changed).await;
        }
    }

    /// 異動 (move, rename, correction) or death, with the revocations it causes, in one
    /// transaction ([`attribute_change_plan`]).
    pub async fn record_resident_change(
        &self,
        resident: ResidentId,
        change: ResidentChange,
        actor: &str,
    ) -> Result<LifecycleOutcome, LifecycleError> {
        let certificates = self.store.certificates_of_resident(resident).await?;
        let plan = attribute_change_plan(resident, change, &certificates, actor);
        self.apply(plan).await
    }
}

/// What a hotline suspension covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuspensionScope {
    pub phone: bool,
    pub card: bool,
}

/// The hotline's suspension (一時利用停止 for phones, 一時保留 for cards) of a person:
/// every active certificate of the scope is held; a pending phone certificate (issued,
/// not delivered) is revoked `unspecified` and the person's open applications are
/// cancelled, so that nothing new appears on a lost phone. Expired and revoked
/// certificates are left alone. Returns a plan with no change when there is nothing to
/// suspend.
pub fn suspension_plan(
    resident: ResidentId,
    certificates: &[CertificateRecord],
    scope: SuspensionScope,
    actor: &str,
    now: OffsetDateTime,
) -> Plan {
    let mut plan = Plan::new(resident, actor, "hotline.suspend", "suspended");
    for certificate in certificates {
        let in_scope = match certificate.kind.medium {
            Medium::Phone => scope.phone,
            Medium::Card => scope.card,
        };
        if !in_scope || certificate.not_after < now {
            continue;
        }
        match certificate.status {
            CertificateStatus::Active => {
                plan.changes.push(PlannedChange {
                    certificate: certificate.clone(),
                    transition: Transition::Hold,
                });
            }
            CertificateStatus::Pending => {
                plan.changes.push(PlannedChange {
                    certificate: certificate.clone(),
                    transition: Transition::Revoke(RevocationReason::Unspecified),
                });
            }
            CertificateStatus::Held { .. } | CertificateStatus::Revoked { .. } => {}
        }
    }
    if scope.phone {
        plan.cancel_applications = Some("cancelled: hotline suspension".to_owned());
    }
    plan.detail = serde_json::json!({ "scope": { "phone": scope.phone, "card": scope.card } });
    // The phones are told, so the app can show the suspension.
    let mut devices: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for change in &plan.changes {
        if let Holder::Device(device) = &change.certificate.holder {
            devices
                .entry(device.clone())
                .or_default()
                .push(certificate_label(&change.certificate));
        }
    }
    for (device, certificates) in devices {
        plan.events.push(NewDeviceEvent {
            device_id: device,
            kind: "suspended".into(),
            payload: serde_json::json!({ "certificates": certificates }),
        });
    }
    plan
}

/// 異動等失効: a move, rename or correction revokes every live signature certificate of
/// the person (card and phone) with `affiliationChanged`; the authentication
/// certificates carry no personal data and survive. Death revokes every live
/// certificate with `cessationOfOperation`. The phones holding revoked certificates get
/// a `revoked` event.
pub fn attribute_change_plan(
    resident: ResidentId,
    change: ResidentChange,
    certificates: &[CertificateRecord],
    actor: &str,
) -> Plan {
    let (reason, all, usage_action) = match change.kind {
        ChangeKind::Death => (RevocationReason::CessationOfOperation, true, "death"),
        ChangeKind::Move => (RevocationReason::AffiliationChanged, false, "moved"),
        ChangeKind::Rename => (RevocationReason::AffiliationChanged, false, "renamed"),
        ChangeKind::Correction => (RevocationReason::AffiliationChanged, false, "corrected"),
    };
    let action = format!("registry.{usage_action}");
    let mut plan = Plan::new(resident, actor, action, usage_action);
    for certificate in certificates {
        let affected = all || certificate.kind.purpose == Purpose::Signature;
        if affected && is_live(&certificate.status) {
            plan.changes.push(PlannedChange {
                certificate: certificate.clone(),
                transition: Transition::Revoke(reason),
            });
        }
    }
    if change.kind == ChangeKind::Death {
        plan.cancel_applications = Some("cancelled: the person died".to_owned());
    }
    let mut devices: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for planned in &plan.changes {
        if let Holder::Device(device) = &planned.certificate.holder {
            devices
                .entry(device.clone())
                .or_default()
                .push(certificate_label(&planned.certificate));
        }
    }
    for (device, certificates) in devices {
        plan.events.push(NewDeviceEvent {
            device_id: device,
            kind: "revoked".into(),
            payload: serde_json::json!({ "reason": reason.as_str(), "certificates": certificates }),
        });
    }
    plan.detail = serde_json::json!({ "change": HistoryKind::from(change.kind).as_str() });
    plan.resident_change = Some(change);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);
    const NOT_AFTER: OffsetDateTime = datetime!(2031-01-02 14:59:59 UTC);

    fn revoked(reason: RevocationReason) -> CertificateStatus {
        CertificateStatus::Revoked { at: AT, reason }
    }

    #[test]
    fn the_state_machine_allows_exactly_the_documented_transitions() {
        use CertificateStatus::{Active, Held, Pending};
        let held = Held {
            since: datetime!(2026-11-01 00:00 UTC),
        };
        let superseded = revoked(RevocationReason::Superseded);
        let cases: Vec<(
            CertificateStatus,
            Transition,
            Result<CertificateStatus, TransitionError>,
        )> = vec![
            (Active, Transition::Hold, Ok(Held { since: AT })),
            (Active, Transition::Release, Err(TransitionError::NotHeld)),
            (
                Active,
                Transition::Revoke(RevocationReason::KeyCompromise),
                Ok(revoked(RevocationReason::KeyCompromise)),
            ),
            (
                held.clone(),
                Transition::Hold,
                Err(TransitionError::AlreadyHeld),
            ),
            (held.clone(), Transition::Release, Ok(Active)),
            (
                held.clone(),
                Transition::Revoke(RevocationReason::Superseded),
                Ok(superseded.clone()),
            ),
            (Pending, Transition::Hold, Err(TransitionError::Pending)),
            (Pending, Transition::Release, Err(TransitionError::NotHeld)),
            (
                Pending,
                Transition::Revoke(RevocationReason::Unspecified),
                Ok(revoked(RevocationReason::Unspecified)),
            ),
            (
                superseded.clone(),
                Transition::Release,
                Err(TransitionError::AlreadyRevoked(
                    RevocationReason::Superseded,
                )),
            ),
            (
                superseded.clone(),
                Transition::Hold,
                Err(TransitionError::AlreadyRevoked(
                    RevocationReason::Superseded,
                )),
            ),
            (
                superseded.clone(),
                Transition::Revoke(RevocationReason::KeyCompromise),
                Err(TransitionError::AlreadyRevoked(
                    RevocationReason::Superseded,
                )),
            ),
            (
                Active,
                Transition::Revoke(RevocationReason::CertificateHold),
                Err(TransitionError::InvalidReason(
                    RevocationReason::CertificateHold,
                )),
            ),
            (
                Active,
                Transition::Revoke(RevocationReason::RemoveFromCrl),
                Err(TransitionError::InvalidReason(
                    RevocationReason::RemoveFromCrl,
                )),
            ),
        ];
        for (current, transition, expected) in cases {
            assert_eq!(
                next_status(&current, transition, AT, NOT_AFTER),
                expected,
                "{current:?} {transition:?}"
            );
        }
    }

    #[test]
    fn expired_certificates_are_revoked_but_never_held_or_released() {
        let after = NOT_AFTER + time::Duration::seconds(1);
        assert_eq!(
            next_status(
                &CertificateStatus::Active,
                Transition::Hold,
                after,
                NOT_AFTER
            ),
            Err(TransitionError::Expired(NOT_AFTER))
        );
        let held = CertificateStatus::Held { since: AT };
        assert_eq!(
            next_status(&held, Transition::Release, after, NOT_AFTER),
            Err(TransitionError::Expired(NOT_AFTER))
        );
        assert!(matches!(
            next_status(
                &held,
                Transition::Revoke(RevocationReason::Superseded),
                after,
                NOT_AFTER
            ),
            Ok(CertificateStatus::Revoked { .. })
        ));
    }
}
