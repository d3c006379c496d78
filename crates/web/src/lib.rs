//! The portal on the web: server-rendered pages for citizens (マイナポータル's role) and
//! the operator console, mounted at `/` beside the JSON API (`/api/v1`, `jpki-portal`).
//!
//! # Scope
//!
//! - Citizens ([`citizen`]): cross-device login (the page shows a code and its QR code;
//!   the phone approves with its authentication PIN through `jpki-portal`'s login API),
//!   then a server-side session; the dashboard (every certificate: kind, medium, status,
//!   expiry in JST, device; revoking a phone certificate after a confirmation); the usage
//!   history (filters by period and kind, paging, CSV and JSON export); signed online
//!   applications with their receipts.
//! - Operators ([`operator`]): password login (argon2id, `jpki operator add --password-file`),
//!   search a person, see their certificates and history, suspend phone or card
//!   certificates through the hotline service (so the lifecycle state machine, OCSP/CRLs
//!   and the audit log with the operator's name all apply). Roles are checked on every
//!   action: `hotline` and `admin` suspend; `counter` and `auditor` only look.
//! - Security ([`security`]): `__Host-` cookies (HttpOnly, Secure, SameSite), a CSRF
//!   token on every POST form (checked by the form extractors before any handler runs,
//!   so a handler cannot forget it), one middleware for CSP and the other headers, and
//!   token-bucket rate limits on logins ([`ratelimit`]).
//! - Japanese first, English by a toggle ([`i18n`]): every string exists in both.
//!
//! Not here: any decision about certificates. Logins are `RelyingService`'s,
//! suspensions `HotlineService`'s, revocations the lifecycle's (`jpki-authority`); this
//! crate maps forms to them and their errors to pages.
//!
//! # Decisions a reviewer will question
//!
//! - **The citizen session is the portal's session** (`sessions` table, created by
//!   `RelyingService::collect_session`, SHA-256 digest of the token only). The page keeps
//!   the pending login's browser secret in a short-lived `__Host-` cookie, so no
//!   server-side state exists before the phone approves.
//! - **CSRF tokens are derived, not stored**: HMAC-SHA256 keyed by the session token
//!   (which only the browser holds, in an HttpOnly cookie) over a fixed label. A token is
//!   therefore bound to its session, dies with it, and the database never sees it.
//!   Before a session exists (login forms), the key is a random `__Host-` cookie set
//!   with the form (double submit, which the `__Host-` prefix makes sound).
//! - **Revoking from the web needs a recent login** ([`WebConfig::reauthentication`]):
//!   the session proves only that the person held an authentication key (card or phone)
//!   when they logged in, so an irreversible revocation asks for that proof to be fresh,
//!   the way the phone app asks for the card. Suspension stays with the hotline, lifting
//!   with the phone.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod assets;
pub mod citizen;
mod error;
mod history;
pub mod i18n;
mod layout;
pub mod operator;
mod qr;
pub mod ratelimit;
pub mod security;
mod session;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use jpki_authority::hotline::HotlineService;
use jpki_authority::relying::RelyingService;
use jpki_authority::usage_log::UsageLog;
use jpki_crypto::Clock;
use jpki_status::StatusNotifier;
use jpki_store::Store;
use time::Duration;

pub use error::WebError;
pub use history::{HistoryCategory, HistoryQuery};
pub use ratelimit::{RateLimit, RateLimiter};

/// Settings of the pages.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// History lines per page.
    pub page_size: usize,
    /// How recent a citizen's login must be to revoke a certificate.
    pub reauthentication: Duration,
    /// How long an operator's session lasts.
    pub operator_session_lifetime: Duration,
    /// Starting a citizen login (per client IP).
    pub citizen_login: RateLimit,
    /// Operator password attempts per client IP.
    pub operator_login_ip: RateLimit,
    /// Failed operator password attempts per account name.
    pub operator_login_account: RateLimit,
    /// The origin phones reach the portal at (`http://host:port`), for the QR code; by
    /// default the `Host` the browser used.
    pub public_url: Option<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            page_size: 50,
            reauthentication: Duration::minutes(10),
            operator_session_lifetime: Duration::hours(8),
            citizen_login: RateLimit::new(10, Duration::minutes(1)),
            operator_login_ip: RateLimit::new(10, Duration::minutes(1)),
            operator_login_account: RateLimit::new(5, Duration::minutes(15)),
            public_url: None,
        }
    }
}

/// The services the pages call.
#[derive(Clone)]
pub struct WebServices {
    pub store: Store,
    /// Login and sessions, signed submissions.
    pub relying: Arc<RelyingService<Store>>,
    /// Operators: passwords, roles, search, look-up, suspension.
    pub hotline: Arc<HotlineService<Store>>,
    /// The verifiable usage log: the history page offers the person's bundle when set.
    pub log: Option<Arc<UsageLog<Store>>>,
    pub clock: Arc<dyn Clock>,
    /// Told about revocations made from the dashboard (the status services), as every
    /// lifecycle change tells it.
    pub notifier: Option<Arc<dyn StatusNotifier>>,
}

impl fmt::Debug for WebServices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebServices")
            .field("store", &self.store)
            .field("log", &self.log.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) relying: Arc<RelyingService<Store>>,
    pub(crate) hotline: Arc<HotlineService<Store>>,
    pub(crate) log: Option<Arc<UsageLog<Store>>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) notifier: Option<Arc<dyn StatusNotifier>>,
    pub(crate) config: WebConfig,
    pub(crate) citizen_login: RateLimiter,
    pub(crate) operator_ip: RateLimiter,
    pub(crate) operator_account: RateLimiter,
}

/// What every page handler shares. Cheap to clone.
#[derive(Clone)]
pub struct WebState {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for WebState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl WebState {
    pub fn new(services: WebServices, config: WebConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                citizen_login: RateLimiter::new(config.citizen_login),
                operator_ip: RateLimiter::new(config.operator_login_ip),
                operator_account: RateLimiter::new(config.operator_login_account),
                store: services.store,
                relying: services.relying,
                hotline: services.hotline,
                log: services.log,
                clock: services.clock,
                notifier: services.notifier,
                config,
            }),
        }
    }

    /// The pages over the services of the portal `state` serves (its relying-party
    /// services and hotline are required; its usage log is used when it has one).
    pub fn from_portal(
        portal: &jpki_portal::AppState,
        store: Store,
        clock: Arc<dyn Clock>,
        notifier: Option<Arc<dyn StatusNotifier>>,
        config: WebConfig,
    ) -> Result<Self, WebError> {
        let missing =
            |what: &str| WebError::Internal(format!("the web pages need the portal's {what}"));
        Ok(Self::new(
            WebServices {
                store,
                relying: portal
                    .relying
                    .clone()
                    .ok_or_else(|| missing("relying-party services"))?,
                hotline: portal
                    .hotline
                    .clone()
                    .ok_or_else(|| missing("hotline service"))?,
                log: portal.log.clone(),
                clock,
                notifier,
            },
            config,
        ))
    }

    pub fn config(&self) -> &WebConfig {
        &self.inner.config
    }
}

/// Every page route: (method, path). A test posts to each POST route without a CSRF
/// token and expects a refusal.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/login"),
    ("post", "/login/start"),
    ("get", "/login/status"),
    ("get", "/login/qr.svg"),
    ("post", "/login/complete"),
    ("post", "/logout"),
    ("get", "/lang/{lang}"),
    ("get", "/dashboard"),
    ("get", "/certificates/{issuer}/{serial}/revoke"),
    ("post", "/certificates/{issuer}/{serial}/revoke"),
    ("get", "/history"),
    ("get", "/history.csv"),
    ("get", "/history.json"),
    ("get", "/history/bundle.json"),
    ("get", "/applications"),
    ("get", "/applications/{receipt}"),
    ("get", "/operator"),
    ("post", "/operator/login"),
    ("post", "/operator/logout"),
    ("get", "/operator/search"),
    ("get", "/operator/residents/{resident}"),
    ("post", "/operator/residents/{resident}/suspend"),
    ("get", "/static/style.css"),
    ("get", "/static/login.js"),
    ("get", "/static/icon.svg"),
];

/// The pages, with the security headers on every response. Merge it with the API
/// router; serve with `into_make_service_with_connect_info::<SocketAddr>()` so that the
/// login rate limits see the client's address.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(citizen::home))
        .route("/login", get(citizen::login_page))
        .route("/login/start", post(citizen::login_start))
        .route("/login/status", get(citizen::login_status))
        .route("/login/qr.svg", get(citizen::login_qr))
        .route("/login/complete", post(citizen::login_complete))
        .route("/logout", post(citizen::logout))
        .route("/lang/{lang}", get(citizen::set_language))
        .route("/dashboard", get(citizen::dashboard))
        .route(
            "/certificates/{issuer}/{serial}/revoke",
            get(citizen::revoke_page).post(citizen::revoke),
        )
        .route("/history", get(citizen::history_page))
        .route("/history.csv", get(citizen::history_csv))
        .route("/history.json", get(citizen::history_json))
        .route("/history/bundle.json", get(citizen::history_bundle))
        .route("/applications", get(citizen::applications))
        .route("/applications/{receipt}", get(citizen::application))
        .route("/operator", get(operator::console))
        .route("/operator/login", post(operator::login))
        .route("/operator/logout", post(operator::logout))
        .route("/operator/search", get(operator::search))
        .route("/operator/residents/{resident}", get(operator::person))
        .route(
            "/operator/residents/{resident}/suspend",
            post(operator::suspend),
        )
        .route("/static/style.css", get(assets::style))
        .route("/static/login.js", get(assets::login_script))
        .route("/static/icon.svg", get(assets::icon))
        .layer(axum::middleware::from_fn(security::page_headers))
        .with_state(state)
}
