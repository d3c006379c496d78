//! The portal (マイナポータル's role for the phone flow): the versioned JSON API the phone
//! app talks to, its OpenAPI document, and notifications to phones.
//!
//! Scope: HTTP only. Every decision is made by `jpki-authority`'s [`PhoneService`];
//! this crate maps requests to it and its [`RaError`]s to RFC 9457 problem documents in
//! exactly one place ([`ApiError`]'s `IntoResponse`).
//!
//! Testable by construction: [`app`] returns a `Router` that tests drive with
//! `tower::ServiceExt::oneshot`, no socket needed; `jpki serve` binds it to a listener.
//!
//! A decision a reviewer may question: notifications are read from the database (the
//! `device_events` table) by every stream, woken by an in-process signal when this process
//! appended one and by a short poll otherwise. Several portal processes sharing one
//! PostgreSQL database therefore all deliver every event, without a message broker.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod attestation;
mod error;
mod lifecycle_routes;
mod log_routes;
mod openapi;
mod relying_routes;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use jpki_authority::phone::PhoneService;
use jpki_store::Store;
use tokio::sync::Notify;

pub use attestation::SeAttestationVerifier;
pub use error::ApiError;
pub use jpki_authority::phone::RaError;
pub use log_routes::LOG_ROUTES;
pub use openapi::openapi_document;
pub use relying_routes::RELYING_ROUTES;
pub use routes::ROUTES;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub phone: Arc<PhoneService<Store>>,
    /// Signalled whenever this process may have appended a device event.
    pub events: Arc<Notify>,
    /// How often an idle event stream re-reads the database.
    pub event_poll: Duration,
    /// Login, signed submissions, the platform-operator API, sign requests.
    pub relying: Option<Arc<jpki_authority::relying::RelyingService<Store>>>,
    /// The hotline and the certificate links (accounts with API keys).
    pub hotline: Option<Arc<jpki_authority::hotline::HotlineService<Store>>>,
    /// The verifiable usage log (`/api/v1/log/…`).
    pub log: Option<Arc<jpki_authority::usage_log::UsageLog<Store>>>,
}

impl AppState {
    pub fn new(phone: Arc<PhoneService<Store>>) -> Self {
        Self {
            phone,
            events: Arc::new(Notify::new()),
            event_poll: Duration::from_millis(500),
            relying: None,
            log: None,
            hotline: None,
        }
    }

    /// Adds the hotline (suspension, lookup) and the certificate links.
    pub fn with_hotline(
        mut self,
        hotline: Arc<jpki_authority::hotline::HotlineService<Store>>,
    ) -> Self {
        self.hotline = Some(hotline);
        self
    }

    /// Adds the verifiable usage log (tree heads, history bundles, consistency proofs).
    pub fn with_log(mut self, log: Arc<jpki_authority::usage_log::UsageLog<Store>>) -> Self {
        self.log = Some(log);
        self
    }

    /// Adds the relying-party services (login, submissions, platform API, sign requests).
    pub fn with_relying(
        mut self,
        relying: Arc<jpki_authority::relying::RelyingService<Store>>,
    ) -> Self {
        self.relying = Some(relying);
        self
    }
}

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Runs the background work of the phone flow until `shutdown` resolves: issuing queued
/// applications when the service hours open, and activating registrations whose delay
/// has passed. Wakes event streams after each round.
pub async fn run_worker(
    state: AppState,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut interval = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = interval.tick() => {
                match state.phone.process_queue().await {
                    Ok(0) => {}
                    Ok(issued) => tracing::info!(issued, "queued applications issued"),
                    Err(error) => tracing::warn!(%error, "processing the application queue failed"),
                }
                if let Err(error) = state.phone.activate_due().await {
                    tracing::warn!(%error, "activating registrations failed");
                }
                state.events.notify_waiters();
            }
        }
    }
}
